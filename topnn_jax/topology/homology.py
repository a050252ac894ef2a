"""The persistent-homology engine: Betti numbers and diagrams of a kNN table's hop-scale
Vietoris-Rips complex (no JAX).

This is the one module that calls a PH engine (giotto-ph's, `giotto_ripser`); another engine
would plug in here, behind `betti_from_neighbours` and `hop_persistence`. `COLLAPSES` is the one
registry of the exact reductions tried before giotto-ph runs (in `parameters`, which the
command line reads without importing giotto-ph).

Fast exact path for one scale (`betti_from_neighbours`):
  1. beta_0 from connected components (scipy);
  2. strong collapse: repeatedly remove vertices whose closed neighbourhood lies inside a
     neighbour's (this keeps the homotopy type of a flag complex);
  3. optionally GUDHI's edge collapse of what is left (homotopy type kept as well);
  4. giotto-ph on the reduced graph with every edge at filtration value 1, only for dims 1..maxdim.
The persistence over hop scales (`hop_persistence`) runs giotto-ph on the uncollapsed filtration,
because a collapse at one scale says nothing about the other scales.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from topnn_jax.topology.collapse import edge_collapse, strong_collapse
from topnn_jax.topology.graph import check_complex_size, checked_hop_graph
from topnn_jax.topology.parameters import Collapse, check_memory, memory_limit, resolve_collapse


@dataclass(frozen=True)
class GraphBetti:
    """Betti numbers of one hop-scale complex, with the sizes behind them.

    Attributes:
        betti: (beta_0, ..., beta_maxdim) over F_2.
        n_edges: undirected edges of the hop-scale graph.
        n_core: vertices left after collapsing (n when nothing was collapsed).
        seconds: wall time of the homology computation (graph, collapse, giotto-ph); not
            compared: two results of the same computation are equal.
    """

    betti: tuple[int, ...]
    n_edges: int
    n_core: int
    seconds: float = field(compare=False)


def _upper_coo(matrix: sp.csr_array, flat: bool) -> sp.coo_array:
    """Upper triangle as giotto-ph's sparse input: hop counts, or 1 for every edge when `flat`."""
    upper = sp.triu(matrix, k=1, format="coo")
    values = np.ones(upper.nnz) if flat else upper.data.astype(np.float64)
    return sp.coo_array((values, (upper.row, upper.col)), shape=matrix.shape)


@functools.cache
def giotto_ripser() -> ModuleType:
    """giotto-ph's compiled engine (`gph.modules.gph_ripser`), loaded without the package's
    Python interface, which imports scikit-learn (a second of start-up for every command and
    worker process that computes Betti numbers). Where the package is laid out otherwise, the
    module that its interface imports. Tests check that `_giotto_diagrams` gives what
    `gph.ripser_parallel` gives."""
    name = "gph.modules.gph_ripser"
    if name in sys.modules:
        return sys.modules[name]
    package = importlib.util.find_spec("gph")  # finds the package without running it
    found = sorted(Path(package.submodule_search_locations[0], "modules").glob("gph_ripser.*"))
    spec = importlib.util.spec_from_file_location(name, found[0]) if found else None
    if spec is None or spec.loader is None:
        from gph.modules import gph_ripser

        return gph_ripser
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module  # the package's own import finds it there
    return module


def _giotto_diagrams(upper: sp.coo_array, maxdim: int, thresh: float, n_threads: int) -> list:
    """giotto-ph's persistence diagrams (float arrays [bars, 2] per dimension 0..maxdim) of a
    sparse filtration: what `gph.ripser_parallel(upper, metric="precomputed", maxdim=maxdim,
    thresh=thresh, n_threads=n_threads)["dgms"]` gives for an upper-triangular matrix, by the
    same call of its engine (coefficients in F_2)."""
    result = giotto_ripser().rips_dm_sparse(
        np.ascontiguousarray(upper.row, dtype=np.int64),
        np.ascontiguousarray(upper.col, dtype=np.int64),
        np.ascontiguousarray(upper.data, dtype=np.float32),
        upper.nnz,
        max(upper.shape),
        2,  # coefficients
        maxdim,
        thresh,
        n_threads,
        False,  # no generators
    )
    return [np.reshape(np.array(bars), (-1, 2)) for bars in result.births_and_deaths_by_dim()]


def betti_at(diagrams: list, scale: float) -> tuple[int, ...]:
    """Betti numbers at `scale`: bars born at or before it that die after it (or never)."""
    return tuple(int(np.sum((d[:, 0] <= scale) & (d[:, 1] > scale))) for d in diagrams)


def _betti_by_scale(diagrams: tuple[np.ndarray, ...], max_scale: int) -> np.ndarray:
    """int64[max_scale, dims]: `betti_at` at every scale 1..max_scale, without a Python loop
    over the scales: bars born by s minus bars dead by s (a bar dies no earlier than it is born).
    """
    scales = np.arange(1, max_scale + 1)
    columns = [
        np.searchsorted(np.sort(d[:, 0]), scales, side="right")
        - np.searchsorted(np.sort(d[:, 1]), scales, side="right")
        for d in diagrams
    ]
    return np.column_stack(columns).astype(np.int64)


def _reduced_betti(
    closed: sp.csr_array,
    candidates: np.ndarray,
    scale: int,
    maxdim: int,
    collapse: Collapse,
    n_threads: int,
    max_bytes: int | None,
) -> tuple[tuple[int, ...], int]:
    """beta_1..beta_maxdim of a flag complex after collapsing it, and the vertices kept.

    Args:
        closed: bool[n, n] adjacency with diagonal (closed neighbourhoods), sorted indices.
        candidates: int[n, c] possible dominators per vertex, for the strong collapse.
        scale: the hop scale (for messages).
        maxdim: >= 1.
        collapse: "vertex" or "edge".
        n_threads: giotto-ph threads.
        max_bytes: memory ceiling for giotto-ph's complex, checked on the reduced graph.
    """
    keep = strong_collapse(closed, candidates)
    core = closed[keep][:, keep]
    # Isolated vertices (collapsed components) add only to beta_0, which is known already.
    linked = np.flatnonzero(np.diff(core.indptr) > 1)
    upper = _upper_coo(core[linked][:, linked], flat=True)
    if collapse == "edge" and upper.nnz:
        upper = edge_collapse(upper)
    if upper.nnz == 0:
        return (0,) * maxdim, len(keep)
    degrees = np.bincount(np.concatenate([upper.row, upper.col]), minlength=upper.shape[0])
    check_complex_size(upper.shape[0], degrees, scale, maxdim, max_bytes)
    return betti_at(_giotto_diagrams(upper, maxdim, 1.0, n_threads), 1.0)[1:], len(keep)


def betti_from_neighbours(
    neighbours: np.ndarray,
    scale: int,
    maxdim: int,
    collapse: Collapse = "auto",
    n_threads: int = 1,
    max_bytes: int | None = None,
) -> GraphBetti:
    """Betti numbers of the hop-scale Vietoris-Rips complex of a kNN graph.

    Args:
        neighbours: int[n, k] each point's k nearest other points (n >= 2).
        scale: hop scale s >= 1.
        maxdim: highest homology dimension, 0..3.
        collapse: a name in `COLLAPSES` (default "auto", see `resolve_collapse`).
        n_threads: giotto-ph threads (they help dimensions >= 1 only).
        max_bytes: refuse complexes estimated to need more memory (default: half the RAM):
            the hop graph is checked before it is built, giotto-ph's complex before giotto-ph
            runs (on the collapsed graph when collapsing).

    Returns:
        The Betti numbers with graph sizes and timing.
    """
    collapse = resolve_collapse(collapse, maxdim)
    start = time.perf_counter()
    n = neighbours.shape[0]
    memory_limit(max_bytes)  # a bad limit is refused before any work
    checked_dim = maxdim if collapse == "none" else min(maxdim, 1)
    graph, hops = checked_hop_graph(neighbours, scale, checked_dim, max_bytes)
    beta_0 = connected_components(graph, directed=False, return_labels=False)
    if maxdim == 0:
        higher, n_core = (), n
    elif collapse == "none":
        diagrams = _giotto_diagrams(_upper_coo(hops, flat=False), maxdim, float(scale), n_threads)
        higher, n_core = betti_at(diagrams, scale)[1:], n
    else:
        closed = hops.astype(bool) + sp.eye_array(n, dtype=bool, format="csr")
        closed.sort_indices()
        higher, n_core = _reduced_betti(
            closed, neighbours, scale, maxdim, collapse, n_threads, max_bytes
        )
    return GraphBetti((int(beta_0), *higher), hops.nnz // 2, n_core, time.perf_counter() - start)


@dataclass(frozen=True)
class HopPersistence:
    """Persistence over the hop filtration 1..max_scale of one kNN graph.

    Attributes:
        diagrams: per dimension 0..maxdim, float64[bars, 2] (birth, death) in hops; death is
            inf for bars still alive at max_scale.
        betti: int64[max_scale, maxdim + 1]; row s - 1 holds the Betti numbers at scale s.
        n_edges: undirected edges of the max_scale hop graph.
        seconds: wall time.
    """

    diagrams: tuple[np.ndarray, ...]
    betti: np.ndarray
    n_edges: int
    seconds: float


def hop_persistence(
    neighbours: np.ndarray,
    max_scale: int,
    maxdim: int,
    n_threads: int = 1,
    max_bytes: int | None = None,
) -> HopPersistence:
    """Diagrams of the hop filtration (an edge's value is its hop count) and Betti per scale.

    One giotto-ph run on the uncollapsed graph up to `max_scale`; arguments as in
    `betti_from_neighbours`.
    """
    start = time.perf_counter()
    # the Betti table: the scales, two counts per dimension and the table itself, 8 bytes each
    check_memory(
        f"the Betti numbers at each of the {max_scale} hop scales",
        8 * max_scale * (2 * maxdim + 4),
        "use a smaller max_scale (beyond the graph's diameter nothing changes)",
        max_bytes,
    )
    _, hops = checked_hop_graph(neighbours, max_scale, maxdim, max_bytes)
    raw = _giotto_diagrams(_upper_coo(hops, flat=False), maxdim, float(max_scale), n_threads)
    diagrams = tuple(
        np.column_stack([d[:, 0], np.where(d[:, 1] > max_scale, np.inf, d[:, 1])]).astype(
            np.float64
        )
        for d in raw
    )
    betti = _betti_by_scale(diagrams, max_scale)
    return HopPersistence(diagrams, betti, hops.nnz // 2, time.perf_counter() - start)
