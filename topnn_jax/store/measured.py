"""A store of measured networks: what `topnn_jax.measure`'s results become when saved.

Such a store has the experiments' layout (networks.csv, betti.csv, config.json,
environment.json), so `load_store`, summaries, figures and the report read it as they read any:

* networks.csv: one row per measured network; its architecture is the measured layers' widths
  ("2-8-8-3"), its accuracies and steps are empty (its training is the user's), and it counts as
  well trained;
* betti.csv: with a `step` column (empty when no step was given);
* config.json: no experiment, but a `measure` section: k, scale, maxdim, stride, the classes and
  each network's layer names. Every measurement of one store must share k, scale, maxdim and
  stride;
* diagrams/<network_id>[_step<step>].npz: persistence diagrams, when they were computed
  (`save_diagrams`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from topnn_jax.atomic import atomic_save_npz
from topnn_jax.errors import InputError, check_int
from topnn_jax.store.csv_table import CsvTable, read_rows
from topnn_jax.store.directory import environment
from topnn_jax.store.lock import StoreLock
from topnn_jax.store.records import (
    BETTI_FILE,
    CONFIG_FILE,
    ENVIRONMENT_FILE,
    MEASURE_SECTION,
    NETWORK_COLUMNS,
    NETWORK_KEY,
    NETWORKS_FILE,
    STEP_COLUMN,
    betti_row,
    betti_table,
    network_problem,
    read_json,
    widths_architecture,
    write_json,
)

if TYPE_CHECKING:
    from topnn_jax.measurement import Measurement

DIAGRAMS_DIR = "diagrams"
_DIAGRAMS_FORMAT = "topnn-jax diagrams v1"
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_SHARED = ("k", "scale", "maxdim", "stride")
"""What every measurement saved into one store must share."""


def save_measurement(
    measurement: Measurement,
    directory: Path,
    network_id: str,
    dataset: str,
    activation: str,
    seed: int,
    step: int | None,
) -> Path:
    """Add `measurement` to the store at `directory` as one network (arguments as in
    `Measurement.save`); betti.csv rows first, then the networks.csv row, so that an interrupted
    save leaves no network half measured. Returns `directory`."""
    directory = Path(directory)
    identity = (network_id, dataset, activation, seed, step)
    destination = (directory, *identity, measurement.parameters(), measurement.widths)
    check_destination(*destination)  # before the lock: a refusal writes nothing
    with StoreLock(directory):
        _save(measurement, *check_destination(*destination), directory, network_id, step)
    return directory


def _save(
    measurement: Measurement,
    section: dict,
    row: dict,
    directory: Path,
    network_id: str,
    step: int | None,
) -> None:
    """Write a checked measurement (`save_measurement`), holding the store's lock."""
    section["layer_names"][network_id] = list(measurement.layer_names)
    maxdim = measurement.maxdim
    networks = CsvTable(
        directory / NETWORKS_FILE,
        NETWORK_COLUMNS,
        NETWORK_KEY,
        check=lambda held: network_problem(held, trained=False),
    )
    betti = betti_table(directory, maxdim, steps=True)
    write_json(directory / CONFIG_FILE, {"name": directory.name, MEASURE_SECTION: section})
    write_json(directory / ENVIRONMENT_FILE, environment())
    step_text = "" if step is None else str(step)
    for entry in measurement.rows:
        values = betti_row(network_id, entry.layer, entry.label, entry.result, maxdim, step_text)
        betti.append(values)
    networks.append(row)
    betti.finalize()
    networks.finalize()
    if measurement.diagrams:
        save_diagrams(measurement, diagrams_path(directory, network_id, step))


def check_destination(
    directory: Path,
    network_id: str,
    dataset: str,
    activation: str,
    seed: int,
    step: int | None,
    parameters: dict,
    widths: Sequence[int],
) -> tuple[dict, dict]:
    """Check that a measurement made with `parameters` (k, scale, maxdim, stride, and labels
    if known) of layers of `widths` can be saved as `network_id` (at `step`) into `directory`
    (arguments as in `Measurement.save`). Returns the store's `measure` section with it added
    (layer names left to the caller) and its networks.csv row.

    Raises:
        InputError: a bad name or seed; the directory holds an experiment, or measurements with
            other parameters, or this network (at this step) already.
    """
    directory = Path(directory)
    if not isinstance(network_id, str) or not _NAME.match(network_id):
        raise InputError(
            f"network_id must be letters, digits and ._- only (it names files), got {network_id!r}"
        )
    for what, text in (("dataset", dataset), ("activation", activation)):
        if not isinstance(text, str) or not _NAME.match(text):
            raise InputError(f"{what} must be a name of letters, digits and ._-, got {text!r}")
    seed = check_int("seed", seed, 0)
    step_text = "" if step is None else str(check_int("step", step, 0))
    row = {
        "network_id": network_id,
        "dataset": dataset,
        "architecture": widths_architecture(widths),
        "activation": activation,
        "seed": seed,
        "steps": "",
        "train_accuracy": "",
        "test_accuracy": "",
        "well_trained": True,
    }
    section = _merged_section(parameters, directory)
    if (directory / NETWORKS_FILE).exists():
        _check_new(directory, row, step_text)
    return section, row


def _merged_section(parameters: dict, directory: Path) -> dict:
    """The store's `measure` section with a measurement of `parameters` added; `InputError` if
    the directory holds an experiment's results or measurements made another way."""
    config_path = directory / CONFIG_FILE
    if not config_path.exists():
        tables = [name for name in (NETWORKS_FILE, BETTI_FILE) if (directory / name).exists()]
        if tables:
            raise InputError(
                f"{directory} holds {' and '.join(tables)} but no {CONFIG_FILE}: save the "
                "measurement into another directory"
            )
        return {**parameters, "labels": parameters.get("labels", []), "layer_names": {}}
    saved = read_json(config_path)
    section = saved.get(MEASURE_SECTION) if isinstance(saved, dict) else None
    if not isinstance(section, dict):
        raise InputError(
            f"{directory} holds an experiment's results, not measurements: save the measurement "
            "into another directory"
        )
    differ = [key for key in _SHARED if section.get(key) != parameters[key]]
    if differ:
        theirs = ", ".join(f"{key} {section.get(key)}" for key in differ)
        mine = ", ".join(f"{key} {parameters[key]}" for key in differ)
        raise InputError(
            f"{directory} was measured with {theirs}, this measurement with {mine}: one store "
            "holds measurements made one way; save it into another directory"
        )
    labels = sorted({*section.get("labels", []), *parameters.get("labels", [])})
    names = dict(section.get("layer_names", {}))
    return {**section, "labels": labels, "layer_names": names}


def _check_new(directory: Path, row: dict, step: str) -> None:
    """`InputError` unless the store lacks this network, or has it (the same data set, widths,
    activation and seed) without a measurement at `step`."""
    network_id = row["network_id"]
    _, networks, _ = read_rows(directory / NETWORKS_FILE)
    existing = next((held for held in networks if held["network_id"] == network_id), None)
    if existing is None:
        return
    identity = ("dataset", "architecture", "activation", "seed")
    if any(existing[key] != str(row[key]) for key in identity):
        held = ", ".join(f"{key} {existing[key]}" for key in identity)
        raise InputError(
            f"{directory} already holds a network {network_id!r} ({held}): give this one "
            "another network_id"
        )
    betti_path = directory / BETTI_FILE
    betti = read_rows(betti_path)[1] if betti_path.exists() else []
    steps = {held.get(STEP_COLUMN) for held in betti if held["network_id"] == network_id}
    if step == "" or step in steps or "" in steps:
        at = f" at step {step}" if step else ""
        raise InputError(
            f"{directory} already holds a measurement of {network_id!r}{at}: give another "
            "network_id, or a new step= for each measurement of one network"
        )


def diagrams_path(directory: Path, network_id: str, step: int | None = None) -> Path:
    """Where a store keeps a measured network's diagrams: diagrams/<id>[_step<step>].npz."""
    suffix = "" if step is None else f"_step{step}"
    return Path(directory) / DIAGRAMS_DIR / f"{network_id}{suffix}.npz"


def save_diagrams(measurement: Measurement, path: Path) -> Path:
    """Write a measurement's persistence diagrams as an .npz: per layer and class, one float64
    array [bars, 2] (birth, death in hops; death inf for bars alive at the largest scale) per
    dimension, as ripser.py and persim hold them, under "<layer>/<label>/<dim>"."""
    arrays = {
        f"{layer}/{label}/{dim}": np.asarray(diagram, np.float64)
        for (layer, label), result in measurement.diagrams.items()
        for dim, diagram in enumerate(result.diagrams)
    }
    meta = {
        "format": _DIAGRAMS_FORMAT,
        "layer_names": list(measurement.layer_names),
        "k": measurement.k,
        "max_scale": max(len(result.betti) for result in measurement.diagrams.values()),
    }
    return atomic_save_npz(path, meta=np.array(json.dumps(meta)), **arrays)


def load_diagrams(path: str | Path) -> dict[tuple[int, int], list[np.ndarray]]:
    """(layer, label) -> [diagram of dimension 0, 1, ...] from a file of `save_diagrams`; each
    diagram float64[bars, 2], as `ripser(...)["dgms"]` gives them (ready for persim)."""
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            found: dict[tuple[int, int], dict[int, np.ndarray]] = {}
            for name in archive.files:
                if name != "meta":
                    layer, label, dim = (int(part) for part in name.split("/"))
                    found.setdefault((layer, label), {})[dim] = archive[name]
    except (OSError, KeyError, ValueError) as error:
        raise InputError(f"{path}: not a saved topnn-jax diagrams file ({error})") from None
    if meta.get("format") != _DIAGRAMS_FORMAT:
        raise InputError(f"{path}: unknown format {meta.get('format')!r}")
    return {key: [dims[d] for d in sorted(dims)] for key, dims in sorted(found.items())}
