"""An append-only CSV table, safe to interrupt: the mechanism behind networks.csv and betti.csv.

Rows are appended as results arrive, one `os.write` per row on a file opened for appending, so a
killed process leaves every finished row intact; a torn last line (if any) is dropped when the
table is opened again. Rows read back are validated by the table's `check` (see
`topnn_jax.store.records`): a row that fails it, or a key held twice with different values, is
dropped with a warning, like a torn line, so that its work is done again. `finalize` rewrites
the table sorted by key, atomically, so an interrupted and resumed run ends with the same table
as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from topnn_jax.atomic import atomic_write_text, raise_write_error
from topnn_jax.errors import InputError

RowCheck = Callable[[dict[str, str]], "str | None"]
"""What is wrong with a row read back (a sentence), or None."""


class CsvTable:
    """An append-only CSV file with a fixed header, keyed by some of its columns.

    Args:
        path: the file; created with its header if missing.
        columns: the header.
        key: columns that identify a row (a row's key appears at most once after `finalize`).
        check: validates each row read back from an existing file (None: any row).
    """

    def __init__(
        self,
        path: Path,
        columns: Sequence[str],
        key: Sequence[str],
        check: RowCheck | None = None,
    ) -> None:
        self.path = Path(path)
        self.columns = tuple(columns)
        self.key = tuple(key)
        self.check = check
        self.rows: dict[tuple[str, ...], dict[str, str]] = {}
        if self.path.exists():
            self._read_existing()
        else:
            atomic_write_text(self.path, format_row(self.columns))

    def _read_existing(self) -> None:
        header, rows, torn = read_rows(self.path)
        if header != list(self.columns):
            raise InputError(
                f"{self.path}: {header_difference(header, self.columns)}; this directory holds "
                "results of another layout or config: choose another --out"
            )
        kept: dict[tuple[str, ...], dict[str, str]] = {}
        conflicting: set[tuple[str, ...]] = set()
        dropped = torn
        for number, row in enumerate(rows, start=2):
            problem = row_problem(row, self.check)
            key = tuple(row.get(c) or "" for c in self.key)
            if problem is not None:
                self._warn(f"line {number} ({self._name(key)}) {problem}")
            elif key in kept and kept[key] != row:
                conflicting.add(key)
            else:
                dropped |= key in kept  # an exact repeat
                kept[key] = row
                continue
            dropped = True
        for key in conflicting:
            self._warn(f"{self._name(key)} is held twice with different values")
            del kept[key]
        self.rows = kept
        if dropped:  # drop the torn last line left by a killed process, and the rows above
            self._rewrite()

    def _name(self, key: tuple[str, ...]) -> str:
        return ", ".join(f"{column} {value}" for column, value in zip(self.key, key, strict=True))

    def _warn(self, what: str) -> None:
        warnings.warn(f"{self.path}: {what}: dropped, to be redone", UserWarning, stacklevel=4)

    def __contains__(self, key: tuple) -> bool:
        return tuple(str(k) for k in key) in self.rows

    def append(self, row: dict[str, Any]) -> None:
        """Add one row, durably (one write on an appending file, then fsync). A failed write
        (a full disk) leaves the file as it was and raises `InputError`."""
        values = {column: format_value(row[column]) for column in self.columns}
        line = format_row([values[c] for c in self.columns]).encode()
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        size = os.fstat(descriptor).st_size
        try:
            written = 0
            while written < len(line):
                written += os.write(descriptor, line[written:])
            os.fsync(descriptor)
        except OSError as error:
            with contextlib.suppress(OSError):
                os.ftruncate(descriptor, size)  # no torn line
            raise_write_error(error, self.path, len(line))
        finally:
            os.close(descriptor)
        self.rows[tuple(values[c] for c in self.key)] = values

    def discard(self, key: tuple) -> None:
        """Remove a row (its work is to be done again), rewriting the file."""
        self.rows.pop(tuple(str(k) for k in key), None)
        self._rewrite()

    def finalize(self) -> None:
        """Rewrite the file sorted by key, one row per key, atomically."""
        self._rewrite()

    def _rewrite(self) -> None:
        ordered = [self.rows[key] for key in sorted(self.rows, key=_sort_key)]
        body = "".join(format_row([row[c] for c in self.columns]) for row in ordered)
        atomic_write_text(self.path, format_row(self.columns) + body)


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]], bool]:
    """(header, rows, torn) of a store CSV; a torn last line (no newline: its writer was killed
    mid-row) is left out and reported as `torn`. `InputError` if it is not UTF-8 text."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError(
            f"{path}: not UTF-8 text (byte {error.start}): not a table of topnn-jax"
        ) from None
    torn = bool(text) and not text.endswith("\n")
    if torn:
        text = text[: text.rfind("\n") + 1]
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows, torn


def row_problem(row: dict[str, Any], check: RowCheck | None = None) -> str | None:
    """What is wrong with a row `csv.DictReader` read (fields missing or extra, or what
    `check` finds), or None."""
    if None in row or None in row.values():
        return "has the wrong number of fields"
    return None if check is None else check(row)


def header_difference(header: Sequence[str], columns: Sequence[str]) -> str:
    """How a table's header differs from the expected `columns`, in words."""
    missing = [c for c in columns if c not in header]
    extra = [c for c in header if c not in columns]
    parts = [f"missing column(s) {', '.join(missing)}"] if missing else []
    parts += [f"unexpected column(s) {', '.join(extra)}"] if extra else []
    return "; ".join(parts) or f"columns not in the order {','.join(columns)}"


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
