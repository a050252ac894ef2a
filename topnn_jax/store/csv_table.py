"""An append-only CSV table, safe to interrupt: the mechanism behind networks.csv and betti.csv.

Rows are appended as results arrive, one `os.write` per row on a file opened for appending, so a
killed process leaves every finished row intact; a torn last line (if any) is dropped when the
table is opened again. `finalize` rewrites the table sorted by key, atomically, so an
interrupted and resumed run ends with the same table as an uninterrupted one.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from topnn_jax.atomic import atomic_write_text
from topnn_jax.errors import InputError


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
        ordered = [self.rows[key] for key in sorted(self.rows, key=_sort_key)]
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


def _sort_key(key: tuple[str, ...]) -> tuple:
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
