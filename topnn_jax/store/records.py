"""What a store's files hold: the columns and keys of networks.csv and betti.csv, one row of
each, and the JSON files (config.json, environment.json)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from topnn_jax.atomic import atomic_write_text
from topnn_jax.errors import InputError
from topnn_jax.store.csv_table import format_row, format_value

if TYPE_CHECKING:  # readers of a store need neither
    from topnn_jax.networks import TrainedNetwork
    from topnn_jax.topology.job import BettiResult

NETWORKS_FILE = "networks.csv"
BETTI_FILE = "betti.csv"
CONFIG_FILE = "config.json"
ENVIRONMENT_FILE = "environment.json"

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
    if not path.is_file():
        raise InputError(f"{path} is missing: is {path.parent} a topnn-jax results directory?")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: malformed JSON ({error})") from None
