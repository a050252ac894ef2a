"""Exact k nearest neighbours on the host with a kd-tree (scipy's `cKDTree`); no JAX.

Same contract as `topnn_jax.knn.knn_indices`: each point's k nearest other points, exact for
float64 distances with ties broken by the lower index. The tree proposes `k + EXTRA_CANDIDATES`
candidates per row; they are ranked by float64 distance and index, and a row is certified when
its k-th distance is below the farthest candidate's, so no point outside can belong. Rows that
cannot be certified (ties reaching past the candidates) are recomputed by brute force.

On a CPU this is several times faster than the device engine for the paper's clouds (thousands of
points in up to ~50 dimensions), and it needs no JAX, so the Betti worker processes run it.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from topnn_jax.errors import InputError

# Candidates per row beyond k, so that ties at the k-th place rarely need brute force.
EXTRA_CANDIDATES = 8
# Relative margin between the k-th distance and the farthest candidate's for a certified row
# (covers the tree's own float64 rounding of distances).
CERTIFY_MARGIN = 1e-9


def exact_rows(points: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """int64[len(rows), k]: exact neighbours of `rows` by float64 brute force."""
    out = np.empty((len(rows), k), dtype=np.int64)
    everyone = np.arange(len(points))
    for i, row in enumerate(rows):
        sq = np.sum((points - points[row]) ** 2, axis=1)
        sq[row] = np.inf
        out[i] = np.lexsort((everyone, sq))[:k]
    return out


def tree_knn_indices(points: np.ndarray, k: int) -> np.ndarray:
    """Each point's k nearest other points (Euclidean), exactly, nearest first.

    Args:
        points: float[n, d] finite coordinates.
        k: neighbours per point, 1 <= k <= n - 1.

    Returns:
        int64[n, k] neighbour indices.
    """
    points64 = np.asarray(points, dtype=np.float64)
    n = points64.shape[0]
    if not 1 <= k <= n - 1:
        raise InputError(f"k must be between 1 and n - 1 = {n - 1} for {n} points, got {k}")
    m = min(n - 1, k + EXTRA_CANDIDATES)  # candidates besides the point itself
    _, found = cKDTree(points64).query(points64, k=m + 1)
    found = np.asarray(found, dtype=np.int64).reshape(n, m + 1)
    rows = np.arange(n)[:, None]
    sq = np.sum((points64[found] - points64[:, None, :]) ** 2, axis=2)
    sq[found == rows] = np.inf  # the point itself (duplicates of it stay, at distance 0)
    ranked = np.lexsort((found, sq), axis=1)
    found = np.take_along_axis(found, ranked, axis=1)
    sq = np.take_along_axis(sq, ranked, axis=1)
    result = found[:, :k].copy()
    # Without the point itself among the tree's m + 1, duplicates crowded it out: unsure.
    certified = (found == rows).any(axis=1)
    if m < n - 1:  # points outside the candidates are no nearer than the farthest candidate
        certified &= sq[:, k - 1] < sq[:, m - 1] * (1 - CERTIFY_MARGIN)
    hard = np.flatnonzero(~certified)
    if len(hard):
        result[hard] = exact_rows(points64, hard, k)
    return result
