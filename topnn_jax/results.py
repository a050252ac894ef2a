"""Result tables of a store: read them into per-network Betti trajectories, aggregate over seeds.

`load_store` is the one reader of a results directory; summaries, claim statistics, figures and
the report all start from the `Store` it returns.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from topnn_jax.architecture import ArchitectureSpec
from topnn_jax.errors import InputError
from topnn_jax.store.csv_table import header_difference, read_rows, row_problem
from topnn_jax.store.records import (
    BETTI_FILE,
    BETTI_KEY,
    CONFIG_FILE,
    MEASURE_SECTION,
    NETWORK_COLUMNS,
    NETWORK_KEY,
    NETWORKS_FILE,
    STEP_COLUMN,
    betti_columns,
    betti_key,
    betti_problem,
    network_problem,
    read_json,
)

_WIDTHS = re.compile(r"^\d+(-\d+)*$")

LABELS = (0, 1)
"""The classes of the paper's data sets; a store measured with `topnn_jax.measure` may have any."""
FEW_NETWORKS = 10
"""A mean over fewer networks than this is flagged as resting on few (claims, figures)."""


def class_name(label: int) -> str:
    """How a class is named everywhere (report, figures, command line): "class a (label 0)",
    "class b (label 1)", ... (letters up to label 25)."""
    letter = chr(ord("a") + label) if 0 <= label < 26 else str(label)
    return f"class {letter} (label {label})"


@dataclass(frozen=True)
class NetworkTrajectory:
    """One trained network and its measured Betti numbers per layer.

    Attributes:
        betti: float[n_layers, n_labels, n_dims], Betti number at the end of training per layer
            (0 = input, last = logits), class (position in `Store.labels`) and dimension
            (`Store.dims`); NaN where not measured. All NaN for a network that was not measured
            (not well trained, say).
        hidden: widths of the hidden layers, input side first; the Betti layers of a trained
            network are the input, one per hidden layer, and the logits (len(hidden) + 2 in
            all). A measured network's layers are those given to `topnn_jax.measure`.
        directory: the store it was read from (its parameters, if kept, are at
            `topnn_jax.store.params_path(directory, network_id)`).
        steps: training steps at which the layers were also measured during training (betti.csv's
            `step` column), ascending, the end of training last; () when only the end was.
        betti_steps: float[len(steps), n_layers, n_labels, n_dims], the Betti numbers at each of
            `steps` (the last is `betti`); None when `steps` is ().
    """

    network_id: str
    dataset: str
    architecture: str
    activation: str
    seed: int
    well_trained: bool
    test_accuracy: float
    hidden: tuple[int, ...]
    betti: np.ndarray
    directory: Path
    steps: tuple[int, ...] = ()
    betti_steps: np.ndarray | None = None

    @property
    def measured(self) -> bool:
        """Every layer and class has Betti numbers in each dimension the run computed for it
        (a store mixing data sets may hold b2 for some networks only)."""
        missing = np.isnan(self.betti).reshape(-1, self.betti.shape[-1])
        return not missing[:, 0].any() and bool((missing.all(axis=0) | ~missing.any(axis=0)).all())

    @property
    def usable(self) -> bool:
        """Well trained and fully measured: what summaries, claims and figures count."""
        return self.well_trained and self.measured

    def dims_measured(self, dims: tuple[int, ...]) -> tuple[int, ...]:
        """Those of the store's `dims` this network has values for."""
        present = ~np.isnan(self.betti).reshape(-1, self.betti.shape[-1]).all(axis=0)
        return tuple(d for d, has in zip(dims, present, strict=True) if has)

    @property
    def setting(self) -> tuple[str, str, str]:
        """(dataset, architecture, activation)."""
        return (self.dataset, self.architecture, self.activation)


@dataclass(frozen=True)
class Store:
    """A results directory, read.

    Attributes:
        directory: where it is.
        dims: Betti dimensions present in betti.csv, e.g. (0, 1, 2).
        networks: one trajectory per networks.csv row, in file order.
        configs: each store directory's experiment config (config.json) as plain data, {} if
            absent; one entry, or several for stores read together (`load_stores`).
        labels: the classes, ascending: `LABELS` for the paper's data sets, any two or more
            for a store written by `topnn_jax.measure`; `NetworkTrajectory.betti`'s second
            axis follows this order.
    """

    directory: Path
    dims: tuple[int, ...]
    networks: tuple[NetworkTrajectory, ...]
    configs: dict[Path, dict]
    labels: tuple[int, ...] = LABELS

    @property
    def during_training(self) -> bool:
        """Some network was also measured during training (`NetworkTrajectory.steps`)."""
        return any(len(network.steps) > 1 for network in self.networks)

    def to_pandas(self) -> tuple[Any, Any]:
        """(networks, betti): networks.csv and betti.csv as pandas DataFrames, values parsed
        (integers, floats, booleans; NaN where empty). Needs pandas (`pip install pandas`)."""
        from topnn_jax.frames import store_frames

        return store_frames(self)

    def config_of(self, network: NetworkTrajectory) -> dict:
        """The config of the experiment that trained `network`."""
        return self.configs.get(network.directory, {})

    def settings(self) -> list[tuple[str, str, str]]:
        """(dataset, architecture, activation) in order of first appearance."""
        return list(dict.fromkeys(network.setting for network in self.networks))

    def usable(self, setting: tuple[str, str, str] | None = None) -> list[NetworkTrajectory]:
        """Well-trained, fully measured networks, of one setting or of all."""
        return [
            network
            for network in self.networks
            if network.usable and (setting is None or network.setting == setting)
        ]


@dataclass(frozen=True)
class SettingSummary:
    """One data set x architecture x activation, aggregated over its measured networks.

    Attributes:
        networks: networks trained.
        well_trained: networks that passed the paper's rule.
        measured: well-trained networks with every layer and class measured.
        mean_betti: (label, dimension) -> float[n_layers], the mean Betti number per layer
            (layer 0 = input, last = logits) over those measured well-trained networks.
        sd_betti: the same keys -> their standard deviation over those networks.
    """

    dataset: str
    architecture: str
    activation: str
    networks: int
    well_trained: int
    measured: int
    mean_betti: dict[tuple[int, int], np.ndarray]
    sd_betti: dict[tuple[int, int], np.ndarray]


def _read_table(
    path: Path, required: tuple[str, ...], check: Callable[[dict[str, str]], str | None]
) -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows) of a store CSV; `InputError` naming the file (and line) if it is missing,
    lacks a required column, or has a row that fails `check`.

    A torn last line (no newline: the writer was killed mid-row) is ignored, as on resume.
    """
    if not path.is_file():
        raise InputError(f"{path} is missing: is {path.parent} a topnn-jax results directory?")
    header, rows, _ = read_rows(path)
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(f"{path}: malformed, missing column(s) {', '.join(missing)}")
    for number, row in enumerate(rows, start=2):
        problem = row_problem(row, check)
        if problem is not None:
            raise InputError(f"{path}: line {number} ({row.get('network_id')}) {problem}")
    return header, rows


def _check_unique(rows: list[dict[str, str]], key: tuple[str, ...], path: Path) -> None:
    """`InputError` naming both lines if two rows have the same `key`."""
    seen: dict[tuple[str, ...], int] = {}
    for number, row in enumerate(rows, start=2):
        held = tuple(row[c] for c in key)
        if held in seen:
            named = ", ".join(f"{c} {v}" for c, v in zip(key, held, strict=True))
            raise InputError(f"{path}: line {number} repeats line {seen[held]} ({named})")
        seen[held] = number


def _check_betti_header(header: list[str], config: Any, path: Path) -> tuple[int, ...]:
    """The Betti dimensions of betti.csv; `InputError` naming the missing (or extra) columns
    unless its header is that of `topnn_jax.store.betti_columns`, up to the maxdim the config
    states (if it states one)."""
    dims = _betti_dimensions(header)
    maxdim = _stated_maxdim(config)
    maxdim = max(dims, default=0) if maxdim is None else maxdim
    expected = betti_columns(maxdim, STEP_COLUMN in header)
    if header != list(expected):
        raise InputError(f"{path}: malformed, {header_difference(header, expected)}")
    return tuple(range(maxdim + 1))


def _stated_maxdim(config: dict) -> int | None:
    """The maxdim a store's config.json sets for every network ([topology] maxdim, or a
    measure store's), or None (each data set's preset decides)."""
    for section in (MEASURE_SECTION, "topology"):
        table = config.get(section)
        value = table.get("maxdim") if isinstance(table, dict) else None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def _betti_dimensions(columns: list[str]) -> list[int]:
    """[0, 1, ...] for the b0, b1, ... columns present."""
    return sorted(int(c[1:]) for c in columns if c.startswith("b") and c[1:].isdigit())


def _layers_of(architecture: str, where: Path) -> tuple[int, tuple[int, ...]]:
    """(Betti layers, hidden widths) of an architecture name from networks.csv: "10_by_15", or
    the widths of every layer, "2-15-3-15-2" (any output width) or one width alone."""
    if _WIDTHS.match(architecture):
        widths = tuple(int(width) for width in architecture.split("-"))
        return len(widths), widths[1:-1]
    try:
        hidden = ArchitectureSpec.parse(architecture, 1, "relu").hidden
    except InputError as error:
        raise InputError(f"{where}: {error}") from None
    return len(hidden) + 2, hidden


def _optional_float(text: str) -> float:
    """A float cell, NaN where empty (a measured network has no accuracies)."""
    return float(text) if text != "" else np.nan


def load_store(directory: str | Path) -> Store:
    """Read a results directory (networks.csv, betti.csv, config.json if present).

    Raises:
        InputError: a table is missing or malformed (a column missing, a value that does not
            parse, a key held twice: naming the file and line), config.json is not an object,
            or betti.csv names a layer the network does not have.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory} is not a directory: give a results directory of a run")
    networks_path, betti_path = directory / NETWORKS_FILE, directory / BETTI_FILE
    config_path = directory / CONFIG_FILE
    config = read_json(config_path) if config_path.exists() else {}
    if not isinstance(config, dict):
        raise InputError(f"{config_path}: not a topnn-jax config (a JSON object expected)")
    trained = MEASURE_SECTION not in config
    _, network_rows = _read_table(
        networks_path, NETWORK_COLUMNS, lambda row: network_problem(row, trained)
    )
    _check_unique(network_rows, NETWORK_KEY, networks_path)
    # an empty b0 is a row not measured (NaN, never averaged), not an error
    header, betti_rows = _read_table(betti_path, BETTI_KEY, lambda row: betti_problem(row, False))
    dims = _check_betti_header(header, config, betti_path)
    _check_unique(betti_rows, betti_key(STEP_COLUMN in header), betti_path)
    labels = _store_labels(config, betti_rows, betti_path)
    # network id -> (row, Betti layers, hidden widths); -> step -> float[layers, labels, dims]
    rows: dict[str, tuple[dict[str, str], int, tuple[int, ...]]] = {}
    values: dict[str, dict[int, np.ndarray]] = {}
    for row in network_rows:
        rows[row["network_id"]] = (row, *_layers_of(row["architecture"], networks_path))
        values[row["network_id"]] = {}
    for number, row in enumerate(betti_rows, start=2):
        if row["network_id"] not in rows:
            continue  # measured before its networks.csv row was written (killed run)
        _, n_layers, _ = rows[row["network_id"]]
        layer, label = int(row["layer"]), int(row["label"])  # validated by `betti_problem`
        step = int(row[STEP_COLUMN]) if row.get(STEP_COLUMN, "") != "" else -1
        betti = [float(row[f"b{d}"]) if row[f"b{d}"] != "" else np.nan for d in dims]
        if not 0 <= layer < n_layers:
            raise InputError(
                f"{betti_path}: line {number}: {row['network_id']} has no layer {layer}"
            )
        per_step = values[row["network_id"]]
        if step not in per_step:
            per_step[step] = np.full((n_layers, len(labels), len(dims)), np.nan)
        per_step[step][layer, labels.index(label)] = betti
    trajectories = tuple(
        _trajectory(row, n_layers, hidden, values[key], (len(labels), len(dims)), directory)
        for key, (row, n_layers, hidden) in rows.items()
    )
    return Store(directory, dims, trajectories, {directory: config}, labels)


def _store_labels(config: dict, betti_rows: list[dict[str, str]], where: Path) -> tuple[int, ...]:
    """The store's classes: those a measure store's config.json declares (else `LABELS`), and
    every label in betti.csv."""
    section = config.get(MEASURE_SECTION) if isinstance(config, dict) else None
    declared = section.get("labels", LABELS) if isinstance(section, dict) else LABELS
    try:
        found = {int(row["label"]) for row in betti_rows}
    except ValueError as error:
        raise InputError(f"{where}: malformed label ({error})") from None
    return tuple(sorted({int(label) for label in declared} | found))


def _trajectory(
    row: dict[str, str],
    n_layers: int,
    hidden: tuple[int, ...],
    per_step: dict[int, np.ndarray],
    shape: tuple[int, int],
    directory: Path,
) -> NetworkTrajectory:
    """One network's trajectory from its networks.csv row and its Betti numbers per step (-1:
    a row without a step). The end of training is the row's `steps` (a measured network's
    largest step when empty)."""
    final = int(row["steps"]) if row["steps"] != "" else max(per_step, default=-1)
    empty = np.full((n_layers, *shape), np.nan)
    steps, betti_steps = (), None
    if any(step >= 0 for step in per_step):
        steps = tuple(sorted(step for step in per_step if 0 <= step <= final))
        betti_steps = np.stack([per_step[step] for step in steps]) if steps else None
        betti = per_step.get(final, empty)
    else:
        betti = per_step.get(-1, empty)
    return NetworkTrajectory(
        network_id=row["network_id"],
        dataset=row["dataset"],
        architecture=row["architecture"],
        activation=row["activation"],
        seed=int(row["seed"]),
        well_trained=row["well_trained"] == "true",
        test_accuracy=_optional_float(row["test_accuracy"]),
        hidden=hidden,
        betti=betti,
        directory=directory,
        steps=steps if betti_steps is not None else (),
        betti_steps=betti_steps,
    )


def load_stores(directories: list[str | Path]) -> Store:
    """Several stores read as one (e.g. a data set's settings, to compare depths and widths).

    Betti dimensions are the union (NaN where a store has none). Raises `InputError` if two
    stores hold the same network id.
    """
    stores = [load_store(directory) for directory in directories]
    if len(stores) == 1:
        return stores[0]
    dims = tuple(sorted({d for store in stores for d in store.dims}))
    labels = tuple(sorted({label for store in stores for label in store.labels}))
    networks, seen = [], {}
    for store in stores:
        where = np.ix_(
            [labels.index(label) for label in store.labels], [dims.index(d) for d in store.dims]
        )
        for network in store.networks:
            if network.network_id in seen:
                raise InputError(
                    f"{network.network_id} is in both {seen[network.network_id]} and "
                    f"{store.directory}: give stores of different experiments"
                )
            seen[network.network_id] = store.directory
            betti = _widened(network.betti, where, len(labels), len(dims))
            steps = network.betti_steps
            if steps is not None:
                steps = np.stack([_widened(b, where, len(labels), len(dims)) for b in steps])
            networks.append(dataclasses.replace(network, betti=betti, betti_steps=steps))
    configs = {directory: config for store in stores for directory, config in store.configs.items()}
    common = Path(os.path.commonpath([s.directory for s in stores]))
    return Store(common, dims, tuple(networks), configs, labels)


def _widened(
    betti: np.ndarray, where: tuple[np.ndarray, np.ndarray], n_labels: int, n_dims: int
) -> np.ndarray:
    """float[n_layers, n_labels, n_dims]: `betti` placed at the (label, dim) positions `where`
    of the union of several stores' labels and dims, NaN elsewhere."""
    wide = np.full((betti.shape[0], n_labels, n_dims), np.nan)
    wide[:, where[0], where[1]] = betti
    return wide


def summarize(store: Store | str | Path) -> list[SettingSummary]:
    """Aggregate a store (or a store's directory) per data set x architecture x activation."""
    store = store if isinstance(store, Store) else load_store(store)
    summaries = []
    for setting in store.settings():
        rows = [network for network in store.networks if network.setting == setting]
        measured = store.usable(setting)
        mean, sd = {}, {}
        if measured:
            betti = np.array([network.betti for network in measured])
            average, spread = betti.mean(axis=0), betti.std(axis=0)
            for position, label in enumerate(store.labels):
                for d_index, d in enumerate(store.dims):
                    if not np.isnan(average[:, position, d_index]).any():
                        mean[(label, d)] = average[:, position, d_index]
                        sd[(label, d)] = spread[:, position, d_index]
        summaries.append(
            SettingSummary(
                *setting,
                networks=len(rows),
                well_trained=sum(network.well_trained for network in rows),
                measured=len(measured),
                mean_betti=mean,
                sd_betti=sd,
            )
        )
    return summaries


def format_summary(summaries: list[SettingSummary]) -> str:
    """A text table: per setting, counts, then per class and dimension the mean Betti number
    at each layer with its standard deviation over the well-trained, measured networks."""
    if not summaries:
        return "no networks in this store yet"
    lines = []
    for s in summaries:
        lines.append(
            f"{s.dataset} {s.architecture} {s.activation}: {s.well_trained}/{s.networks} "
            f"well trained, {s.measured} measured"
        )
        if not s.mean_betti:
            continue
        layers = len(next(iter(s.mean_betti.values())))
        names = {key: f"{class_name(key[0])} b{key[1]}" for key in s.mean_betti}
        title = f"layer (0 = input, {layers - 1} = logits)"
        width = max(len(title), *map(len, names.values()))
        header = " ".join(f"{layer:>5}" for layer in range(layers))
        lines.append(f"    {title:<{width}}  {header}")
        for key in sorted(s.mean_betti):
            means = " ".join(f"{v:5.1f}" for v in s.mean_betti[key])
            spreads = " ".join(f"{v:5.1f}" for v in s.sd_betti[key])
            lines.append(f"    {names[key]:<{width}}  {means}")
            lines.append(f"    {'  s.d.':<{width}}  {spreads}")
    return "\n".join(lines)
