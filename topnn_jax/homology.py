"""Homology of a kNN graph's hop-scale Vietoris-Rips complex, from a neighbour table (no JAX).

The complex at hop scale s is the clique (flag) complex of the graph joining points at most s
hops apart in the symmetrised kNN graph (PAPER.md, "Measuring topology"). Everything here works
on sparse matrices (never an n x n dense array) and imports neither JAX nor the kNN code, so the
process-pool workers in `topnn_jax.ph_workers` stay light and fork-safe.

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

import importlib.util
import math
import os
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from gph import ripser_parallel
from scipy.sparse.csgraph import connected_components

from topnn_jax.errors import InputError
from topnn_jax.tree_knn import tree_knn_indices

Collapse = Literal["auto", "vertex", "edge", "none"]
COLLAPSES: tuple[str, ...] = ("auto", "vertex", "edge", "none")

# Bytes giotto-ph and scipy need per undirected edge of the hop graph (CSR, COO, giotto-ph's own
# sparse copy) and per simplex of the top dimension (giotto-ph's columns, pivots, reduction).
BYTES_PER_EDGE = 48
BYTES_PER_TOP_SIMPLEX = 32
# Rows sampled to estimate the hop graph's degrees before building it.
DEGREE_SAMPLE = 256
# Stop collapsing when a round removes fewer than this fraction of the remaining vertices:
# later rounds cost more than the giotto-ph time they save.
COLLAPSE_MIN_GAIN = 0.01
# Multiplicative hash (2^64 / golden ratio) spreading vertex indices over signature bits.
SIGNATURE_HASH = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class GraphBetti:
    """Betti numbers of one hop-scale complex, with the sizes behind them.

    Attributes:
        betti: (beta_0, ..., beta_maxdim) over F_2.
        n_edges: undirected edges of the hop-scale graph.
        n_core: vertices left after collapsing (n when nothing was collapsed).
        seconds: wall time of the homology computation (graph, collapse, giotto-ph).
    """

    betti: tuple[int, ...]
    n_edges: int
    n_core: int
    seconds: float


def default_max_bytes() -> int:
    """Half the machine's physical memory: the default ceiling for one complex."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


def knn_graph(neighbours: np.ndarray) -> sp.csr_array:
    """Symmetrised kNN graph: i ~ j if j is among i's neighbours or i among j's.

    Args:
        neighbours: int[n, k] indices of each point's k nearest other points.

    Returns:
        bool[n, n] sparse adjacency, symmetric, empty diagonal, sorted indices.
    """
    n, k = neighbours.shape
    rows = np.repeat(np.arange(n), k)
    directed = sp.csr_array((np.ones(n * k, dtype=bool), (rows, neighbours.ravel())), shape=(n, n))
    graph = (directed + directed.T).tocsr()
    graph.setdiag(False)
    graph.eliminate_zeros()
    graph.sort_indices()
    return graph


def closed_step(graph: sp.csr_array) -> sp.csr_array:
    """int32[n, n] A + I: one hop, staying put allowed. int32 so that path counts in products
    cannot overflow (int8 would wrap to 0 at 256 paths and lose an edge)."""
    n = graph.shape[0]
    return (graph + sp.eye_array(n, dtype=bool, format="csr")).astype(np.int32)


def hop_distances(graph: sp.csr_array, scale: int) -> sp.csr_array:
    """Hop distances up to `scale` by sparse matrix powers.

    Args:
        graph: bool[n, n] symmetric adjacency without diagonal.
        scale: largest hop count kept, >= 1.

    Returns:
        int32[n, n] sparse, symmetric, empty diagonal: entry (i, j) is the number of edges on a
        shortest path from i to j, stored only when it is at most `scale`.
    """
    step = closed_step(graph)
    reach = step
    # sum_{t=1..s} [dist <= t] = s + 1 - dist for every pair within s hops.
    within = step.copy()
    for _ in range(scale - 1):
        reach = (reach @ step).astype(bool).astype(np.int32)
        within = within + reach
    hops = within.tocsr()
    hops.data = scale + 1 - hops.data
    hops.setdiag(0)
    hops.eliminate_zeros()
    hops.sort_indices()
    return hops


def estimate_hop_degrees(graph: sp.csr_array, scale: int) -> np.ndarray:
    """Exact hop-scale degrees of evenly spaced sample vertices (at most `DEGREE_SAMPLE`).

    Returns:
        int64[m] number of other vertices within `scale` hops of each sampled vertex.
    """
    n = graph.shape[0]
    rows = np.unique(np.linspace(0, n - 1, min(n, DEGREE_SAMPLE)).astype(np.int64))
    step = closed_step(graph)
    reach = step[rows]
    for _ in range(scale - 1):
        reach = (reach @ step).astype(bool).astype(np.int32)
    return np.diff(reach.tocsr().indptr) - 1


def complex_bytes(n: int, degrees: np.ndarray, maxdim: int) -> int:
    """Estimated memory of giotto-ph's computation on a flag complex.

    Counts the graph's edges and an upper bound on the simplices of the top dimension
    (sum over vertices of C(deg, maxdim) / (maxdim + 1)) when maxdim >= 2.

    Args:
        n: vertices.
        degrees: int[m] degrees of the vertices or of an even sample of them.
        maxdim: highest homology dimension computed.
    """
    edges = n * float(np.mean(degrees)) / 2 if len(degrees) else 0.0
    total = BYTES_PER_EDGE * edges
    if maxdim >= 2:
        top = n * float(np.mean([math.comb(int(d), maxdim) for d in degrees])) / (maxdim + 1)
        total += BYTES_PER_TOP_SIMPLEX * top
    return int(total)


def check_complex_size(
    n: int, degrees: np.ndarray, scale: int, maxdim: int, max_bytes: int
) -> None:
    """Refuse, before building it, a complex whose estimated memory exceeds `max_bytes`.

    Memory grows about linearly with the number of points at a fixed k and scale (the hop degree
    depends on k and scale, not on density), so the message suggests thinning by that factor.
    """
    need = complex_bytes(n, degrees, maxdim)
    if need > max_bytes:
        factor = math.ceil(need / max_bytes)
        raise InputError(
            f"the scale-{scale} complex of {n} points (mean hop degree "
            f"{float(np.mean(degrees)):.0f}, homology up to dimension {maxdim}) needs about "
            f"{need / 2**30:.1f} GiB, over the limit of {max_bytes / 2**30:.1f} GiB; use a "
            f"{factor}x larger stride (keep every {factor}-th point of the subsample), a smaller k "
            "or scale, or a lower maxdim"
        )


def neighbourhood_signatures(matrix: sp.csr_array) -> np.ndarray:
    """Bloom-filter bit signatures of every row's neighbourhood.

    Each vertex hashes to one of B bits (B about 8 x the mean degree, a multiple of 64); a row's
    signature is the OR of its neighbours' bits. N[v] subset of N[u] implies
    sig(v) & ~sig(u) == 0, so the test rules out most non-dominations in a few word operations.

    Returns:
        uint64[n, B / 64].
    """
    n = matrix.shape[0]
    degree = np.diff(matrix.indptr)
    bits = 64 * max(4, math.ceil(8 * float(degree.mean()) / 64))
    hashed = (matrix.indices.astype(np.uint64) * SIGNATURE_HASH) >> np.uint64(32)
    dense = np.zeros((n, bits), dtype=bool)
    dense[np.repeat(np.arange(n), degree), (hashed % np.uint64(bits)).astype(np.int64)] = True
    return np.packbits(dense, axis=1, bitorder="little").view(np.uint64)


def checked_hop_graph(
    neighbours: np.ndarray, scale: int, maxdim: int, max_bytes: int
) -> tuple[sp.csr_array, sp.csr_array]:
    """The kNN graph and its hop distances up to `scale`, after checking the memory estimate
    (for homology up to `maxdim` on the whole graph) before building the hop graph."""
    graph = knn_graph(neighbours)
    degrees = estimate_hop_degrees(graph, scale)
    check_complex_size(graph.shape[0], degrees, scale, maxdim, max_bytes)
    return graph, hop_distances(graph, scale)


def strong_collapse(closed: sp.csr_array, candidates: np.ndarray) -> np.ndarray:
    """Vertices left by strong collapses of a flag complex.

    A vertex v is dominated by a neighbour u when N[v] is a subset of N[u] (closed
    neighbourhoods); removing it keeps the homotopy type of the clique complex. Each round tests
    every live vertex against its live candidate neighbours: a signature filter
    (`neighbourhood_signatures`), then an exact count |N[v] & N[u]| == |N[v]| by one sparse
    elementwise product on the pairs left. It removes every v dominated by a u of higher rank
    (degree, then index): removing them one by one in increasing rank, each v's dominator is
    still present, and a domination survives the removal of other vertices. Which dominations
    are found changes only the speed, never the homotopy type.

    Args:
        closed: bool[n, n] sparse adjacency with the diagonal set (closed neighbourhoods),
            sorted indices.
        candidates: int[n, c] possible dominators of each vertex (its kNN neighbours).

    Returns:
        int64[m] increasing indices of the vertices kept.
    """
    alive = np.arange(closed.shape[0])
    matrix = closed
    local_candidates = candidates
    while True:
        size = len(alive)
        degree = np.diff(matrix.indptr)
        rank = degree.astype(np.int64) * size + np.arange(size)
        v = np.repeat(np.arange(size), local_candidates.shape[1])
        u = local_candidates.ravel()
        keep_pair = u >= 0
        v, u = v[keep_pair], u[keep_pair]
        keep_pair = rank[u] > rank[v]
        v, u = v[keep_pair], u[keep_pair]
        signatures = neighbourhood_signatures(matrix)
        keep_pair = ~np.any(signatures[v] & ~signatures[u], axis=1)
        v, u = v[keep_pair], u[keep_pair]
        shared = (matrix[v] * matrix[u]).sum(axis=1)
        removed = np.zeros(size, dtype=bool)
        removed[v[shared == degree[v]]] = True
        count = int(removed.sum())
        if count == 0:
            break
        keep = np.flatnonzero(~removed)
        new_index = np.full(size, -1, dtype=np.int64)
        new_index[keep] = np.arange(len(keep))
        matrix = matrix[keep][:, keep]
        local_candidates = np.where(
            local_candidates[keep] >= 0, new_index[local_candidates[keep]], -1
        )
        alive = alive[keep]
        if count < COLLAPSE_MIN_GAIN * size:
            break
    return alive


def resolve_collapse(collapse: str) -> Collapse:
    """Check a collapse name; "auto" becomes "edge" where gudhi is installed, else "vertex".

    Every choice gives the same Betti numbers; "edge" is about 2x faster for beta_2 of a D-II
    class (measured in benchmarks/bench_topology.py).
    """
    if collapse not in COLLAPSES:
        raise InputError(f"collapse must be one of {', '.join(COLLAPSES)}, got {collapse!r}")
    if collapse == "auto":
        return "edge" if importlib.util.find_spec("gudhi") is not None else "vertex"
    return collapse


def edge_collapse(upper: sp.coo_array) -> sp.coo_array:
    """GUDHI's edge collapse of a flag complex, repeated until nothing changes.

    An edge whose link is a cone is removed; the flag complex of what is left has the same
    homotopy type. Needs the optional `gudhi` package.

    Args:
        upper: [m, m] sparse upper-triangular adjacency (any stored value = edge).

    Returns:
        [m, m] upper-triangular COO of the edges kept, values 1.
    """
    try:
        import gudhi
    except ImportError as error:
        raise InputError(
            "collapse='edge' needs the optional gudhi package (pip install gudhi, or "
            "pip install topnn-jax[fast]); use collapse='vertex' or 'auto' without it"
        ) from error
    m = upper.shape[0]
    tree = gudhi.SimplexTree()
    tree.insert_batch(np.arange(m)[None, :], np.zeros(m))
    tree.insert_batch(np.stack([upper.row, upper.col]), np.ones(upper.nnz))
    size = tree.num_simplices()
    while True:
        tree.collapse_edges(1)
        if tree.num_simplices() == size:
            break
        size = tree.num_simplices()
    edges = np.array([simplex for simplex, _ in tree.get_skeleton(1) if len(simplex) == 2])
    edges = edges.reshape(-1, 2)
    return sp.coo_array((np.ones(len(edges)), (edges.min(axis=1), edges.max(axis=1))), shape=(m, m))


def upper_coo(matrix: sp.csr_array, flat: bool) -> sp.coo_array:
    """Upper triangle as giotto-ph's sparse input: hop counts, or 1 for every edge when `flat`."""
    upper = sp.triu(matrix, k=1, format="coo")
    values = np.ones(upper.nnz) if flat else upper.data.astype(np.float64)
    return sp.coo_array((values, (upper.row, upper.col)), shape=matrix.shape)


def giotto_diagrams(upper: sp.coo_array, maxdim: int, thresh: float, n_threads: int) -> list:
    """giotto-ph's persistence diagrams (float arrays [bars, 2]) of a sparse filtration."""
    result = ripser_parallel(
        upper, metric="precomputed", maxdim=maxdim, thresh=thresh, n_threads=n_threads
    )
    return result["dgms"]


def betti_at(diagrams: list, scale: float) -> tuple[int, ...]:
    """Betti numbers at `scale`: bars born at or before it that die after it (or never)."""
    return tuple(int(np.sum((d[:, 0] <= scale) & (d[:, 1] > scale))) for d in diagrams)


def reduced_betti(
    closed: sp.csr_array,
    candidates: np.ndarray,
    scale: int,
    maxdim: int,
    collapse: Collapse,
    n_threads: int,
    max_bytes: int,
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
    upper = upper_coo(core[linked][:, linked], flat=True)
    if collapse == "edge" and upper.nnz:
        upper = edge_collapse(upper)
    if upper.nnz == 0:
        return (0,) * maxdim, len(keep)
    degrees = np.bincount(np.concatenate([upper.row, upper.col]), minlength=upper.shape[0])
    check_complex_size(upper.shape[0], degrees, scale, maxdim, max_bytes)
    return betti_at(giotto_diagrams(upper, maxdim, 1.0, n_threads), 1.0)[1:], len(keep)


def betti_from_cloud(
    cloud: np.ndarray | None,
    k: int,
    scale: int,
    maxdim: int,
    collapse: Collapse = "auto",
    n_threads: int = 1,
    max_bytes: int | None = None,
    neighbours: np.ndarray | None = None,
) -> tuple[np.ndarray, float, GraphBetti]:
    """A Betti worker's job: the exact kNN table of a distinct cloud on the host (kd-tree, no
    JAX), then `betti_from_neighbours` (arguments as there).

    Args:
        cloud: float64[n, d] distinct points, n >= 2; None when `neighbours` is given.
        k: neighbours, 1 <= k <= n - 1.
        neighbours: int[n, k] the table, when the caller already found it.

    Returns:
        (int64[n, k] neighbours, seconds the kNN took here, the Betti numbers).
    """
    start = time.perf_counter()
    if neighbours is None:
        neighbours = tree_knn_indices(cloud, k)
    seconds = time.perf_counter() - start
    graph = betti_from_neighbours(neighbours, scale, maxdim, collapse, n_threads, max_bytes)
    return neighbours, seconds, graph


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
        collapse: "auto" (the default: "edge" where gudhi is installed, else "vertex"),
            "vertex" (strong collapse, then giotto-ph), "edge" (strong
            collapse, GUDHI's edge collapse, then giotto-ph; needs gudhi) or "none" (giotto-ph
            straight on the hop-count filtration: the reference computation).
        n_threads: giotto-ph threads (they help dimensions >= 1 only).
        max_bytes: refuse complexes estimated to need more memory (default: half the RAM):
            the hop graph is checked before it is built, giotto-ph's complex before giotto-ph
            runs (on the collapsed graph when collapsing).

    Returns:
        The Betti numbers with graph sizes and timing.
    """
    collapse = resolve_collapse(collapse)
    start = time.perf_counter()
    n = neighbours.shape[0]
    max_bytes = default_max_bytes() if max_bytes is None else max_bytes
    checked_dim = maxdim if collapse == "none" else min(maxdim, 1)
    graph, hops = checked_hop_graph(neighbours, scale, checked_dim, max_bytes)
    beta_0 = connected_components(graph, directed=False, return_labels=False)
    if maxdim == 0:
        higher, n_core = (), n
    elif collapse == "none":
        diagrams = giotto_diagrams(upper_coo(hops, flat=False), maxdim, float(scale), n_threads)
        higher, n_core = betti_at(diagrams, scale)[1:], n
    else:
        closed = hops.astype(bool) + sp.eye_array(n, dtype=bool, format="csr")
        closed.sort_indices()
        higher, n_core = reduced_betti(
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
    max_bytes = default_max_bytes() if max_bytes is None else max_bytes
    _, hops = checked_hop_graph(neighbours, max_scale, maxdim, max_bytes)
    raw = giotto_diagrams(upper_coo(hops, flat=False), maxdim, float(max_scale), n_threads)
    diagrams = tuple(
        np.column_stack([d[:, 0], np.where(d[:, 1] > max_scale, np.inf, d[:, 1])]).astype(
            np.float64
        )
        for d in raw
    )
    betti = np.array([betti_at(diagrams, s) for s in range(1, max_scale + 1)], dtype=np.int64)
    return HopPersistence(diagrams, betti, hops.nnz // 2, time.perf_counter() - start)
