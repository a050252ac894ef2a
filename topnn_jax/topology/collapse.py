"""Exact reductions of a flag complex that keep its homotopy type (no JAX): the strong
(vertex) collapse, and GUDHI's edge collapse where the optional gudhi package is installed."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from topnn_jax.errors import InputError

# Stop collapsing when a round removes fewer than this fraction of the remaining vertices:
# later rounds cost more than the giotto-ph time they save.
COLLAPSE_MIN_GAIN = 0.01
# Multiplicative hash (2^64 / golden ratio) spreading vertex indices over signature bits.
SIGNATURE_HASH = np.uint64(0x9E3779B97F4A7C15)


def _neighbourhood_signatures(matrix: sp.csr_array) -> np.ndarray:
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


def strong_collapse(closed: sp.csr_array, candidates: np.ndarray) -> np.ndarray:
    """Vertices left by strong collapses of a flag complex.

    A vertex v is dominated by a neighbour u when N[v] is a subset of N[u] (closed
    neighbourhoods); removing it keeps the homotopy type of the clique complex. Each round tests
    every live vertex against its live candidate neighbours: a signature filter
    (`_neighbourhood_signatures`), then an exact count |N[v] & N[u]| == |N[v]| by one sparse
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
        signatures = _neighbourhood_signatures(matrix)
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
