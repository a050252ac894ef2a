"""The measurement's parameters and their limits, in one place: configs, data-set presets, the
topology functions and the command line all check k, scale, stride, maxdim and the collapse
(`COLLAPSES`, the one registry of exact reductions before giotto-ph) here, and every
request that would allocate a lot (a data set, a network, a sweep, a kNN graph, a complex) is
held against one memory limit here before it is allocated."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from typing import Literal

from topnn_jax.errors import InputError, check_int

MAX_HOMOLOGY_DIM = 3
"""Highest homology dimension computed (beta_3)."""

LIMITS: dict[str, tuple[int, int | None]] = {
    "k": (1, None),  # true nearest neighbours per point (the point itself not counted)
    "scale": (1, None),  # hop scale of the Vietoris-Rips complex (hops stop at the diameter)
    "stride": (1, None),  # the homology subsample keeps every stride-th point of a class
    "maxdim": (0, MAX_HOMOLOGY_DIM),
}
"""Parameter -> (least, greatest or None) allowed value."""


def check_parameter(name: str, value: object, where: str = "") -> int:
    """`value` of the parameter `name` (a key of `LIMITS`) as an int within its limits, or
    `InputError` naming it, prefixed by `where` (e.g. "[topology] ")."""
    low, high = LIMITS[name]
    return check_int(f"{where}{name}", value, low, high)


def check_stride(class_sizes: Mapping[int, int], k: int, stride: int, where: str = "") -> None:
    """Refuse a stride that thins a class (label -> its points) of more than k points to k
    points or fewer.

    Such a cloud would be measured with fewer neighbours than asked (k_used < k; one point gives
    (1, 0, ...)), a wrong number that looks like a result. A class that has k points or fewer
    before thinning is measured as before (k reduced, reported as `k_reduced`): that is the
    data's size, not a bad stride; layer clouds that collapse to few distinct points are
    results too, so only the subsample's size is checked here.
    """
    for label, size in class_sizes.items():
        kept = -(-size // stride)
        if size > k and kept <= k:
            raise InputError(
                f"{where}stride {stride} keeps {kept} of the {size} points of class {label}, but "
                f"a cloud needs at least k + 1 = {k + 1} points for k = {k} neighbours; use "
                f"stride <= {(size - 1) // k}"
            )


def default_max_bytes() -> int:
    """Half the machine's physical memory: the default memory limit of one request."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


def memory_limit(max_bytes: int | None = None) -> int:
    """`max_bytes` checked (an integer >= 1), or `default_max_bytes()` when None."""
    return default_max_bytes() if max_bytes is None else check_int("max_bytes", max_bytes, 1)


def gib(size: float) -> str:
    """Bytes as '12.3 GiB' (or '0.4 MiB' below a GiB)."""
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / 2**20:.1f} MiB"


def check_memory(what: str, need: float, advice: str, max_bytes: int | None = None) -> None:
    """Refuse, before allocating it, a request estimated to need more than `max_bytes` (default
    half the RAM): "WHAT needs about X GiB, over the limit of Y GiB (half the RAM); ADVICE"."""
    limit = memory_limit(max_bytes)
    if need > limit:
        source = " (half the RAM)" if max_bytes is None else ""
        raise InputError(
            f"{what} needs about {gib(need)}, over the limit of {gib(limit)}{source}; {advice}"
        )


Collapse = Literal["auto", "vertex", "edge", "none"]
COLLAPSES: dict[str, str] = {
    "auto": "edge for beta_2 and up where gudhi is installed, else vertex (the default)",
    "vertex": "exact strong collapse, then giotto-ph",
    "edge": "strong collapse, then GUDHI's edge collapse (needs gudhi), then giotto-ph",
    "none": "giotto-ph straight on the hop-count filtration (the reference computation)",
}
"""The exact reductions before giotto-ph, name -> what it does; every one gives the same Betti
numbers."""


def collapse_help() -> str:
    """The `COLLAPSES` registry as one line of command-line help."""
    return "; ".join(f"{name}: {what}" for name, what in COLLAPSES.items())


EDGE_COLLAPSE_MIN_DIM = 2
""""auto" uses GUDHI's edge collapse only from this maxdim on: for beta_1 alone the vertex
collapse leaves giotto-ph little to do and the edge collapse costs more than it saves
(benchmarks/bench_collapse.py, on every layer cloud of the quick store and of D-II networks)."""


def check_collapse(collapse: str) -> Collapse:
    """`collapse` if it is a name in `COLLAPSES`, else `InputError` listing them."""
    if collapse not in COLLAPSES:
        raise InputError(f"collapse must be one of {', '.join(COLLAPSES)}, got {collapse!r}")
    return collapse  # type: ignore[return-value]


def resolve_collapse(collapse: str, maxdim: int) -> Collapse:
    """The reduction to run for Betti numbers up to `maxdim`: "auto" becomes "edge" where gudhi
    is installed and maxdim >= `EDGE_COLLAPSE_MIN_DIM`, else "vertex"; others stay.

    Every choice gives the same Betti numbers.
    """
    if check_collapse(collapse) != "auto":
        return collapse
    edge = maxdim >= EDGE_COLLAPSE_MIN_DIM and importlib.util.find_spec("gudhi") is not None
    return "edge" if edge else "vertex"
