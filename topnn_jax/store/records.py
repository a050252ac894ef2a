"""What a store's files hold: the columns and keys of networks.csv and betti.csv, one row of
each, and the JSON files (config.json, environment.json)."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from topnn_jax.atomic import atomic_write_text
from topnn_jax.errors import InputError
from topnn_jax.store.csv_table import CsvTable, format_row, format_value

if TYPE_CHECKING:  # readers of a store need neither
    from topnn_jax.networks import TrainedNetwork
    from topnn_jax.topology.job import BettiResult

NETWORKS_FILE = "networks.csv"
BETTI_FILE = "betti.csv"
CONFIG_FILE = "config.json"
ENVIRONMENT_FILE = "environment.json"
TRAINING_FILE = "training.json"
"""The member-steps the latest run trained (`topnn_jax.training.Progress`): computed (batch rows,
fillers included, x steps) and useful (steps the networks took); zeros where it trained none."""

NETWORK_COLUMNS = (
    "network_id",
    "dataset",
    "architecture",
    "activation",
    "seed",
    "steps",
    "train_accuracy",
    "test_accuracy",
    "well_trained",
)
"""Columns of networks.csv (see `network_row`)."""
NETWORK_KEY = ("network_id",)
BETTI_KEY = ("network_id", "layer", "label")
STEP_COLUMN = "step"
"""betti.csv's column of the training step a row was measured at: present in stores measured
during training (`[topology] at_steps`) or by `topnn_jax.measure` (empty: no step given);
absent from the others, whose rows are all at the end of training."""
MEASURE_SECTION = "measure"
"""The config.json section of a store written by `topnn_jax.measure` (it has no experiment)."""


def widths_architecture(widths: Sequence[int]) -> str:
    """The architecture name networks.csv gives a measured network of these layer widths:
    "2-8-8-3" (every measured layer's width, first layer first; one layer alone is "8")."""
    return "-".join(str(int(width)) for width in widths)


def betti_key(steps: bool) -> tuple[str, ...]:
    """The columns that identify a betti.csv row, with or without the `step` column."""
    return ("network_id", STEP_COLUMN, "layer", "label") if steps else BETTI_KEY


def betti_columns(maxdim: int, steps: bool = False) -> tuple[str, ...]:
    """Columns of betti.csv for Betti numbers up to `maxdim`, with a `step` column after the
    network id when `steps`."""
    return (
        "network_id",
        *((STEP_COLUMN,) if steps else ()),
        "layer",
        "label",
        "n_points",
        "k",
        "scale",
        *(f"b{d}" for d in range(maxdim + 1)),
        "seconds",
    )


def network_row(network: TrainedNetwork) -> dict[str, Any]:
    """One networks.csv row (see `NETWORK_COLUMNS`); accuracies are fractions in [0, 1]."""
    member, result = network.member, network.result
    return {
        "network_id": member.network_id,
        "dataset": member.dataset,
        "architecture": member.spec.name,
        "activation": member.spec.activation,
        "seed": member.seed,
        "steps": result.steps,
        "train_accuracy": result.train_accuracy,
        "test_accuracy": result.test_accuracy,
        "well_trained": result.well_trained,
    }


def betti_row(
    network_id: str,
    layer: int,
    label: int,
    result: BettiResult,
    maxdim: int,
    step: int | str = "",
) -> dict[str, Any]:
    """One betti.csv row (see `betti_columns`); dimensions above the result's are left empty.
    `step` fills the `step` column where the table has one."""
    row = {
        "network_id": network_id,
        STEP_COLUMN: step,
        "layer": layer,
        "label": label,
        "n_points": result.n_points,
        "k": result.k_used,
        "scale": result.scale,
        "seconds": round(result.seconds, 4),
    }
    for d in range(maxdim + 1):
        row[f"b{d}"] = result.betti[d] if d < len(result.betti) else ""
    return row


_NATURAL = re.compile(r"^[0-9]+$")


def _natural(text: str) -> bool:
    """An integer >= 0 as the store writes one ("0", "12"; not "-3", "2.5", "x" or "")."""
    return bool(_NATURAL.match(text))


def _fraction(text: str) -> bool:
    """A float in [0, 1] (an accuracy)."""
    try:
        return 0.0 <= float(text) <= 1.0
    except ValueError:
        return False


def network_problem(row: dict[str, str], trained: bool = True) -> str | None:
    """What is wrong with a networks.csv row read back, or None. A network of a measure store
    (`trained` False) may have empty steps and accuracies."""
    for column in ("network_id", "dataset", "architecture", "activation"):
        if row[column] == "":
            return f"empty {column}"
    if not _natural(row["seed"]):
        return f"seed {row['seed']!r} is not an integer >= 0"
    if not (_natural(row["steps"]) or (not trained and row["steps"] == "")):
        return f"steps {row['steps']!r} is not an integer >= 0"
    for column in ("train_accuracy", "test_accuracy"):
        if not (_fraction(row[column]) or (not trained and row[column] == "")):
            return f"{column} {row[column]!r} is not a number in [0, 1]"
    if row["well_trained"] not in ("true", "false"):
        return f"well_trained {row['well_trained']!r} is neither true nor false"
    return None


def betti_problem(row: dict[str, str], need_b0: bool = True) -> str | None:
    """What is wrong with a betti.csv row read back, or None: counts must be integers >= 0
    (higher dimensions than b0 may be empty, and b0 too unless `need_b0`: a reader takes an
    empty value as not measured), the step empty or an integer."""
    if row["network_id"] == "":
        return "empty network_id"
    if row.get(STEP_COLUMN, "") != "" and not _natural(row[STEP_COLUMN]):
        return f"step {row[STEP_COLUMN]!r} is not an integer >= 0"
    counts = [c for c in row if c[:1] == "b" and c[1:].isdigit()]
    may_be_empty = set(counts[1:] if need_b0 else counts)
    for column in ("layer", "label", "n_points", "k", "scale", *counts):
        value = row.get(column)
        if value is not None and not (_natural(value) or (value == "" and column in may_be_empty)):
            return f"{column} {value!r} is not an integer >= 0"
    if "seconds" in row and not _duration(row["seconds"]):
        return f"seconds {row['seconds']!r} is not a duration"
    return None


def betti_table(directory: Path, maxdim: int, steps: bool = False) -> CsvTable:
    """A store's betti.csv, read (rows that do not parse dropped, to be redone) and open for
    appending; created with its header if missing."""
    return CsvTable(
        directory / BETTI_FILE, betti_columns(maxdim, steps), betti_key(steps), betti_problem
    )


def _duration(text: str) -> bool:
    """A finite float >= 0."""
    try:
        return math.isfinite(float(text)) and float(text) >= 0
    except ValueError:
        return False


def write_networks_csv(path: str | os.PathLike, networks: Sequence[TrainedNetwork]) -> None:
    """Write one row per network (columns `NETWORK_COLUMNS`) atomically, formatted as the
    results store formats it (booleans true/false, floats to 6 significant digits)."""
    rows = (network_row(network) for network in networks)
    body = "".join(format_row(format_value(row[c]) for c in NETWORK_COLUMNS) for row in rows)
    atomic_write_text(path, format_row(NETWORK_COLUMNS) + body)


def write_json(path: Path, data: Any) -> None:
    """Pretty JSON, atomically."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> Any:
    """JSON from a store file, or `InputError` naming the file if it is missing or malformed."""
    if not path.exists():
        raise InputError(f"{path} is missing: is {path.parent} a topnn-jax results directory?")
    if not path.is_file():
        raise InputError(f"{path} is a directory, not a file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: malformed JSON ({error})") from None
