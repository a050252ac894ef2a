"""Result tables of a store: read them, aggregate Betti trajectories over seeds, summarise."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from topnn_jax.errors import InputError
from topnn_jax.store import read_rows
from topnn_jax.training import NETWORK_COLUMNS


@dataclass(frozen=True)
class SettingSummary:
    """One data set x architecture x activation, aggregated over its measured networks.

    Attributes:
        networks: networks trained.
        well_trained: networks that passed the paper's rule.
        measured: networks with every layer and class measured.
        mean_betti: (label, dimension) -> float[n_layers + 1], the mean Betti number per layer
            (layer 0 = input, last = logits) over the measured networks.
    """

    dataset: str
    architecture: str
    activation: str
    networks: int
    well_trained: int
    measured: int
    mean_betti: dict[tuple[int, int], np.ndarray]


def read_table(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a store CSV; `InputError` if it is missing or lacks a required column.

    A torn last line (no newline: the writer was killed mid-row) is ignored, as on resume.
    """
    if not path.is_file():
        raise InputError(f"{path} is missing: is {path.parent} a topnn-jax results directory?")
    header, rows, _ = read_rows(path)
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(f"{path}: malformed, missing column(s) {', '.join(missing)}")
    for number, row in enumerate(rows, start=2):
        if None in row or None in row.values():
            raise InputError(f"{path}: line {number} has the wrong number of fields")
    return rows


def betti_dimensions(columns: list[str]) -> list[int]:
    """[0, 1, ...] for the b0, b1, ... columns present."""
    return sorted(int(c[1:]) for c in columns if c.startswith("b") and c[1:].isdigit())


def summarize(directory: str | Path) -> list[SettingSummary]:
    """Aggregate a store's networks.csv and betti.csv per data set x architecture x activation."""
    directory = Path(directory)
    networks = read_table(directory / "networks.csv", NETWORK_COLUMNS)
    betti_rows = read_table(directory / "betti.csv", ("network_id", "layer", "label", "b0"))
    dims = betti_dimensions(list(betti_rows[0])) if betti_rows else [0]
    try:
        by_network: dict[str, dict[tuple[int, int], list[int | None]]] = {}
        for row in betti_rows:
            values = by_network.setdefault(row["network_id"], {})
            values[(int(row["layer"]), int(row["label"]))] = [
                int(row[f"b{d}"]) if row[f"b{d}"] != "" else None for d in dims
            ]
    except ValueError as error:
        raise InputError(f"{directory / 'betti.csv'}: malformed value ({error})") from None
    groups: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for row in networks:
        groups.setdefault((row["dataset"], row["architecture"], row["activation"]), []).append(row)
    summaries = []
    for (dataset, architecture, activation), rows in groups.items():
        complete = [by_network[r["network_id"]] for r in rows if r["network_id"] in by_network]
        complete = [values for values in complete if is_complete(values)]
        mean = {}
        if complete:
            layers = max(layer for layer, _ in complete[0]) + 1
            for label in (0, 1):
                for d_index, d in enumerate(dims):
                    column = [
                        [values[(layer, label)][d_index] for layer in range(layers)]
                        for values in complete
                    ]
                    if all(v is not None for trajectory in column for v in trajectory):
                        mean[(label, d)] = np.mean(np.array(column, dtype=float), axis=0)
        summaries.append(
            SettingSummary(
                dataset,
                architecture,
                activation,
                networks=len(rows),
                well_trained=sum(r["well_trained"] == "true" for r in rows),
                measured=len(complete),
                mean_betti=mean,
            )
        )
    return summaries


def is_complete(values: dict[tuple[int, int], list]) -> bool:
    """Every layer 0..L measured for both labels."""
    layers = {layer for layer, _ in values}
    return layers == set(range(max(layers) + 1)) and len(values) == 2 * len(layers)


def format_summary(summaries: list[SettingSummary]) -> str:
    """A text table: per setting, counts and the mean Betti numbers per layer for each class."""
    if not summaries:
        return "no networks in this store yet"
    lines = []
    for s in summaries:
        lines.append(
            f"{s.dataset} {s.architecture} {s.activation}: {s.well_trained}/{s.networks} "
            f"well trained, {s.measured} measured"
        )
        for (label, dim), trajectory in sorted(s.mean_betti.items()):
            values = " ".join(f"{v:5.1f}" for v in trajectory)
            lines.append(f"    label {label} b{dim}: {values}")
        if s.mean_betti:
            layers = len(next(iter(s.mean_betti.values())))
            lines.append("    (layers: 0 = input ... " + f"{layers - 1} = logits)")
    return "\n".join(lines)
