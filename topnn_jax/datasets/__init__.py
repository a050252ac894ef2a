"""Data sets: the paper's D-I, D-II, D-III, scikit-learn's real data, and a user's own files.

`load(name, seed=0, **options)` is the one entry point; `REGISTRY` lists what exists.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from topnn_jax.datasets.base import Dataset, TopologyPreset, validate_labelled_points
from topnn_jax.datasets.real import (
    make_breast_cancer,
    make_digits,
    make_htru2,
    make_mnist,
    make_points_file,
)
from topnn_jax.datasets.synthetic import make_d1, make_d2, make_d3
from topnn_jax.errors import InputError

__all__ = [
    "REGISTRY",
    "Dataset",
    "DatasetEntry",
    "TopologyPreset",
    "load",
    "resolve_dataset",
    "resolve_name",
    "validate_labelled_points",
]


@dataclass(frozen=True)
class DatasetEntry:
    """A registered data set: its generator and whether it needs the user's files."""

    name: str
    factory: Callable[..., Dataset]
    needs_files: bool
    aliases: tuple[str, ...] = ()

    @property
    def options(self) -> tuple[str, ...]:
        """Keyword options the generator accepts besides `seed`."""
        names = inspect.signature(self.factory).parameters
        return tuple(name for name in names if name != "seed")


REGISTRY: dict[str, DatasetEntry] = {
    entry.name: entry
    for entry in (
        DatasetEntry("D-I", make_d1, False, ("d1", "di", "d-1")),
        DatasetEntry("D-II", make_d2, False, ("d2", "dii", "d-2")),
        DatasetEntry("D-III", make_d3, False, ("d3", "diii", "d-3")),
        DatasetEntry("digits", make_digits, False),
        DatasetEntry("breast-cancer", make_breast_cancer, False, ("breast_cancer",)),
        DatasetEntry("mnist", make_mnist, True),
        DatasetEntry("htru2", make_htru2, True),
        DatasetEntry("points", make_points_file, True, ("file",)),
    )
}

POINT_FILE_SUFFIXES = (".npz", ".csv")


def resolve_dataset(name: str) -> DatasetEntry:
    """Like `resolve_name`, but a path to a labelled .npz/.csv file means the "points" loader."""
    if str(name).lower().endswith(POINT_FILE_SUFFIXES):
        return REGISTRY["points"]
    return resolve_name(name)


def resolve_name(name: str) -> DatasetEntry:
    """The registry entry for a name or alias (case-insensitive), or `InputError` listing names."""
    wanted = str(name).strip().lower()
    for entry in REGISTRY.values():
        if wanted == entry.name.lower() or wanted in entry.aliases:
            return entry
    raise InputError(
        f"unknown data set {name!r}; available: {', '.join(REGISTRY)} "
        "(or a path to a labelled .npz/.csv file)"
    )


def load(name: str, seed: int = 0, **options) -> Dataset:
    """Generate or read a data set.

    Args:
        name: a registry name ("D-I", "D-II", "D-III", "digits", "breast-cancer", "mnist",
            "htru2", "points") or a path to a labelled .npz/.csv point cloud.
        seed: non-negative integer; the same seed gives byte-identical arrays.
        **options: generator options, e.g. `size=2000` for a small D-II, `digit=3`, `pca=20`,
            `path=...` for files. Options set to None take the default.

    Returns:
        The `Dataset`.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    if str(name).lower().endswith(POINT_FILE_SUFFIXES) and not options.get("path"):
        options["path"] = name
        name = "points"
    entry = resolve_name(name)
    if "seed" in options:
        raise InputError("give the seed as load(..., seed=N) (--seed on the command line)")
    options = {key: value for key, value in options.items() if value is not None}
    unknown = sorted(set(options) - set(entry.options))
    if unknown:
        raise InputError(
            f"{entry.name} does not take option(s) {', '.join(unknown)}; it takes: "
            f"{', '.join(entry.options) or 'none'}"
        )
    if "size" in options:
        size = options["size"]
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise InputError(f"size must be a positive integer, got {size!r}")
    return entry.factory(seed=seed, **options)


def describe_entry(entry: DatasetEntry, seed: int = 0) -> dict:
    """Listing row: the generated set's summary, or the options a file-based set needs."""
    if entry.needs_files:
        return {
            "name": entry.name,
            "description": (inspect.getdoc(entry.factory) or "").splitlines()[0],
            "needs_files": True,
            "options": list(entry.options),
        }
    return load(entry.name, seed=seed).summary() | {"needs_files": False}
