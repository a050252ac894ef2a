"""The hop-scale graph of a kNN table, and the memory check made before it is built (no JAX).

The complex at hop scale s is the clique (flag) complex of the graph joining points at most s
hops apart in the symmetrised kNN graph. Everything here works on scipy sparse matrices, never
an n x n dense array.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from topnn_jax.topology.parameters import check_memory, memory_limit

# Bytes giotto-ph and scipy need per undirected edge of the hop graph (CSR, COO, giotto-ph's own
# sparse copy) and per simplex of the top dimension (giotto-ph's columns, pivots, reduction).
BYTES_PER_EDGE = 48
BYTES_PER_TOP_SIMPLEX = 32
# Bytes per entry of an [n, k] kNN table while it is found and turned into the kNN graph (the
# kd-tree's candidates and distances, the table, the graph's COO and CSR copies; measured: 76-83
# on 10^6 points).
BYTES_PER_KNN_ENTRY = 96
# Rows sampled to estimate the hop graph's degrees before building it.
DEGREE_SAMPLE = 256


def check_knn_size(n: int, k: int, max_bytes: int | None = None) -> None:
    """Refuse, before the kNN search, a cloud whose kNN graph and smallest possible hop graph
    (every kNN edge, `BYTES_PER_EDGE` each) exceed `max_bytes` (default half the RAM)."""
    need = n * k * (BYTES_PER_KNN_ENTRY + BYTES_PER_EDGE / 2)
    factor = math.ceil(need / memory_limit(max_bytes))
    check_memory(
        f"the kNN graph of {n} points with k = {k} (and its hop graph)",
        need,
        f"use a {factor}x larger stride (keep every {factor}-th point of the subsample) or a "
        "smaller k",
        max_bytes,
    )


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


def _closed_step(graph: sp.csr_array) -> sp.csr_array:
    """int32[n, n] A + I: one hop, staying put allowed. int32 so that path counts in products
    cannot overflow (int8 would wrap to 0 at 256 paths and lose an edge)."""
    n = graph.shape[0]
    return (graph + sp.eye_array(n, dtype=bool, format="csr")).astype(np.int32)


def _hop_distances(graph: sp.csr_array, scale: int) -> sp.csr_array:
    """Hop distances up to `scale` by sparse matrix powers, stopping once the reachable sets
    stop growing (at the graph's diameter: a larger scale gives the same graph).

    Args:
        graph: bool[n, n] symmetric adjacency without diagonal.
        scale: largest hop count kept, >= 1.

    Returns:
        int32[n, n] sparse, symmetric, empty diagonal: entry (i, j) is the number of edges on a
        shortest path from i to j, stored only when it is at most `scale`.
    """
    step = _closed_step(graph)
    reach = within = step
    # sum_{t=1..last} [dist <= t] = last + 1 - dist for every pair within `last` hops.
    last = 1
    while last < scale:
        grown = (reach @ step).astype(bool).astype(np.int32)
        if grown.nnz == reach.nnz:  # nothing new within last + 1 hops: no pair is farther
            break
        reach, within, last = grown, within + grown, last + 1
    hops = within.tocsr()
    hops.data = last + 1 - hops.data
    hops.setdiag(0)
    hops.eliminate_zeros()
    hops.sort_indices()
    return hops


def _estimate_hop_degrees(graph: sp.csr_array, scale: int) -> np.ndarray:
    """Exact hop-scale degrees of evenly spaced sample vertices (at most `DEGREE_SAMPLE`).

    Returns:
        int64[m] number of other vertices within `scale` hops of each sampled vertex.
    """
    n = graph.shape[0]
    rows = np.unique(np.linspace(0, n - 1, min(n, DEGREE_SAMPLE)).astype(np.int64))
    step = _closed_step(graph)
    reach = step[rows]
    for _ in range(scale - 1):
        grown = (reach @ step).astype(bool).astype(np.int32)
        if grown.nnz == reach.nnz:  # the sampled rows reach no farther (see `_hop_distances`)
            break
        reach = grown
    return np.diff(reach.tocsr().indptr) - 1


def _complex_bytes(n: int, degrees: np.ndarray, maxdim: int) -> int:
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
    n: int, degrees: np.ndarray, scale: int, maxdim: int, max_bytes: int | None = None
) -> None:
    """Refuse, before building it, a complex whose estimated memory exceeds `max_bytes`
    (default half the RAM).

    Memory grows about linearly with the number of points at a fixed k and scale (the hop degree
    depends on k and scale, not on density), so the message suggests thinning by that factor.
    """
    need = _complex_bytes(n, degrees, maxdim)
    factor = math.ceil(need / memory_limit(max_bytes))
    check_memory(
        f"the scale-{scale} complex of {n} points (mean hop degree "
        f"{float(np.mean(degrees)):.0f}, homology up to dimension {maxdim})",
        need,
        f"use a {factor}x larger stride (keep every {factor}-th point of the subsample), a "
        "smaller k or scale, or a lower maxdim",
        max_bytes,
    )


def checked_hop_graph(
    neighbours: np.ndarray, scale: int, maxdim: int, max_bytes: int | None = None
) -> tuple[sp.csr_array, sp.csr_array]:
    """The kNN graph and its hop distances up to `scale`, after checking the memory estimate
    (for homology up to `maxdim` on the whole graph) before building the hop graph."""
    graph = knn_graph(neighbours)
    degrees = _estimate_hop_degrees(graph, scale)
    check_complex_size(graph.shape[0], degrees, scale, maxdim, max_bytes)
    return graph, _hop_distances(graph, scale)
