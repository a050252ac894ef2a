"""The project's error types, and the input checks every module shares: integers, files given
by the user (exist, are files, are UTF-8 text)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class InputError(ValueError):
    """Bad input from a user: the message says what was wrong and what to do.

    The CLI turns it into a one-line message and exit code 2 (no traceback).
    """


class WorkLostError(RuntimeError):
    """Work that could not be finished for a reason outside the input (a cluster's worker or
    node died more often than the retries allow): the message says how to continue.

    The CLI turns it into a one-line message and exit code 1 (no traceback).
    """


def check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """`value` as an int in [low, high], or `InputError` saying what was wrong."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in {low}..{high}"
        raise InputError(f"{name} must be {bounds}, got {value}")
    return int(value)


def existing_file(path: str | Path, what: str) -> Path:
    """The path as a `Path`, or `InputError` saying it does not exist or is a directory."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{what} {path} is a directory, not a file")
    if not path.is_file():
        raise InputError(f"{what} not found: {path} does not exist")
    return path


def read_text(path: Path, what: str) -> str:
    """A file's text, or `InputError` naming the file when it is not UTF-8."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(
            f"{what} {path} is not UTF-8 text (byte {error.object[error.start]:#04x} at offset "
            f"{error.start}); save it as UTF-8"
        ) from None
