"""The results store: one directory per experiment, safe to interrupt and resume.

Layout::

    DIR/config.json        the resolved experiment config
    DIR/environment.json   package versions, JAX backend and devices, CPU count
    DIR/networks.csv       one row per trained network (see `NETWORK_COLUMNS`)
    DIR/betti.csv          one row per network x layer x class (see `betti_columns`)
    DIR/params/            trained parameters, one file per network

Rows are appended as results arrive, one `os.write` per row on a file opened for appending, so a
killed process leaves every finished row intact; a torn last line (if any) is dropped when the
store is opened again. `finalize` rewrites both tables sorted, atomically, so an interrupted and
resumed run ends with the same tables as an uninterrupted one.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from topnn_jax.atomic import atomic_write_text
from topnn_jax.errors import InputError

NETWORK_KEY = ("network_id",)
BETTI_KEY = ("network_id", "layer", "label")


def betti_columns(maxdim: int) -> tuple[str, ...]:
    """Columns of betti.csv for Betti numbers up to `maxdim`."""
    return (
        "network_id",
        "layer",
        "label",
        "n_points",
        "k",
        "scale",
        *(f"b{d}" for d in range(maxdim + 1)),
        "seconds",
    )


class CsvTable:
    """An append-only CSV file with a fixed header, keyed by some of its columns.

    Args:
        path: the file; created with its header if missing.
        columns: the header.
        key: columns that identify a row (a row's key appears at most once after `finalize`).
    """

    def __init__(self, path: Path, columns: Sequence[str], key: Sequence[str]) -> None:
        self.path = Path(path)
        self.columns = tuple(columns)
        self.key = tuple(key)
        self.rows: dict[tuple[str, ...], dict[str, str]] = {}
        if self.path.exists():
            self._read_existing()
        else:
            atomic_write_text(self.path, format_row(self.columns))

    def _read_existing(self) -> None:
        header, rows, torn = read_rows(self.path)
        if header != list(self.columns):
            raise InputError(
                f"{self.path}: header does not match {','.join(self.columns)}; this directory "
                "holds results of another layout or config: choose another --out"
            )
        for row in rows:
            if None in row.values() or None in row:
                continue  # a malformed row
            self.rows[tuple(row[c] for c in self.key)] = row
        if torn:  # drop the torn last line left by a killed process
            self._rewrite()

    def __contains__(self, key: tuple) -> bool:
        return tuple(str(k) for k in key) in self.rows

    def append(self, row: dict[str, Any]) -> None:
        """Add one row, durably (one write on an appending file, then fsync)."""
        values = {column: format_value(row[column]) for column in self.columns}
        self.rows[tuple(values[c] for c in self.key)] = values
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(descriptor, format_row([values[c] for c in self.columns]).encode())
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def finalize(self) -> None:
        """Rewrite the file sorted by key, one row per key, atomically."""
        self._rewrite()

    def _rewrite(self) -> None:
        ordered = [self.rows[key] for key in sorted(self.rows, key=sort_key)]
        body = "".join(format_row([row[c] for c in self.columns]) for row in ordered)
        atomic_write_text(self.path, format_row(self.columns) + body)


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]], bool]:
    """(header, rows, torn) of a store CSV; a torn last line (no newline: its writer was killed
    mid-row) is left out and reported as `torn`."""
    text = path.read_text()
    torn = bool(text) and not text.endswith("\n")
    if torn:
        text = text[: text.rfind("\n") + 1]
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows, torn


def sort_key(key: tuple[str, ...]) -> tuple:
    """Numbers sort as numbers (layer 10 after layer 9)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in key)


def format_value(value: Any) -> str:
    """CSV text of a value: floats with 6 significant digits, booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def format_row(values: Iterable[str]) -> str:
    """One CSV line, newline-terminated."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(list(values))
    return buffer.getvalue()


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
