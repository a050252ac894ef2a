"""The project's error type for bad input, and the integer check every module shares."""

from __future__ import annotations

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
