"""Result tables as pandas DataFrames (pandas is optional: `pip install "topnn-jax[pandas]"`)."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

from topnn_jax.errors import InputError
from topnn_jax.store.csv_table import read_rows
from topnn_jax.store.records import BETTI_FILE, NETWORKS_FILE

if TYPE_CHECKING:
    from topnn_jax.results import Store

_BOOLEANS = {"true": True, "false": False}
TEXT_COLUMNS = ("network_id", "dataset", "architecture", "activation")
"""Columns kept as text (an architecture "8" or a network id "7" is a name, not a number)."""


def require_pandas() -> ModuleType:
    """The pandas module, or `InputError` saying how to install it."""
    try:
        import pandas
    except ImportError:
        raise InputError(
            'DataFrames need pandas, which is not installed: pip install "topnn-jax[pandas]" '
            "(or pip install pandas)"
        ) from None
    return pandas


def _parsed(text: str) -> Any:
    """A CSV cell as a number, a boolean, NaN (empty) or the text itself."""
    if text == "":
        return float("nan")
    if text in _BOOLEANS:
        return _BOOLEANS[text]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def store_frames(store: Store) -> tuple[Any, Any]:
    """(networks, betti) DataFrames of every directory of `store`, rows as in its files, with a
    `store` column naming the directory when it reads several."""
    pandas = require_pandas()
    frames: dict[str, list[Any]] = {NETWORKS_FILE: [], BETTI_FILE: []}
    for directory in store.configs:
        for name, parts in frames.items():
            header, rows, _ = read_rows(directory / name)
            records = [
                {c: v if c in TEXT_COLUMNS else _parsed(v) for c, v in row.items()} for row in rows
            ]
            frame = pandas.DataFrame.from_records(records, columns=header)
            if len(store.configs) > 1:
                frame.insert(0, "store", str(directory))
            parts.append(frame)
    networks, betti = (pandas.concat(parts, ignore_index=True) for parts in frames.values())
    return networks, betti
