"""The measurement's parameters and their limits, in one place: configs, data-set presets, the
topology functions and the command line all check k, scale, stride and maxdim here."""

from __future__ import annotations

from topnn_jax.errors import check_int

MAX_HOMOLOGY_DIM = 3
"""Highest homology dimension computed (beta_3)."""

LIMITS: dict[str, tuple[int, int | None]] = {
    "k": (1, None),  # true nearest neighbours per point (the point itself not counted)
    "scale": (1, None),  # hop scale of the Vietoris-Rips complex
    "stride": (1, None),  # the homology subsample keeps every stride-th point of a class
    "maxdim": (0, MAX_HOMOLOGY_DIM),
}
"""Parameter -> (least, greatest or None) allowed value."""


def check_parameter(name: str, value: object, where: str = "") -> int:
    """`value` of the parameter `name` (a key of `LIMITS`) as an int within its limits, or
    `InputError` naming it, prefixed by `where` (e.g. "[topology] ")."""
    low, high = LIMITS[name]
    return check_int(f"{where}{name}", value, low, high)
