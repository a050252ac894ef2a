"""Exact k nearest neighbours on the JAX device: blocked dense distances + `lax.top_k`.

Two device passes, both in float32 with memory bounded by `block_bytes` whatever n is (a
20,000-point cloud in 50 dimensions needs a few hundred MB):

* leaf pass: points are ordered into kd-tree leaves of `LEAF` points; each leaf's queries search
  only the `WINDOW` points nearest the leaf's centre. A triangle-inequality bound proves, row by
  row, that nothing outside the window can be among the k nearest. This is what makes low
  intrinsic dimension (the paper's clouds) fast on a CPU.
* full pass: rows the leaf pass could not certify search all n points.

The answer is exact, not approximate: each row's float32 candidates are certified against a
rigorous float32 error bound; rows with near-ties at the k-th place are re-ranked in float64
(ties by lower index), and rows that still cannot be certified are recomputed on the host.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from topnn_jax.errors import InputError
from topnn_jax.topology.knn_host import exact_rows

# Device memory for one block of distance rows (float32) and its top_k work.
DEFAULT_BLOCK_BYTES = 64 * 2**20
# Candidates per row beyond k, so that near-ties can be resolved without a full recomputation.
EXTRA_CANDIDATES = 8
# kd-tree leaf size and the number of points each leaf searches in the leaf pass.
LEAF = 64
WINDOW = 512
# Unit roundoff of float32.
F32_ROUNDOFF = 2.0**-24


def _padded_size(n: int, multiple: int = LEAF) -> int:
    """n rounded up to a coarse bucket (<= 1/8 more, a multiple of `multiple`), so clouds of
    similar size share one compiled program."""
    step = max(multiple, 2 ** max(0, int(np.log2(max(n, 1))) - 3))
    step = -(-step // multiple) * multiple
    return -(-n // step) * step


def _squared_distances(queries: jax.Array, points: jax.Array) -> jax.Array:
    """float32[..., q, p] squared distances by |x|^2 + |y|^2 - 2 x.y at full float32 precision."""
    cross = jnp.einsum("...qd,...pd->...qp", queries, points, precision=jax.lax.Precision.HIGHEST)
    return (
        jnp.sum(queries * queries, axis=-1)[..., :, None]
        + jnp.sum(points * points, axis=-1)[..., None, :]
        - 2.0 * cross
    )


@partial(jax.jit, static_argnames=("m", "block"))
def _full_pass(
    queries: jax.Array, query_ids: jax.Array, points: jax.Array, n: jax.Array, m: int, block: int
) -> tuple[jax.Array, jax.Array]:
    """Each query's m nearest among the first n points (itself excluded).

    Args:
        queries: float32[r, d], r a multiple of `block`.
        query_ids: int32[r] index of each query among `points` (excluded from its own answer).
        points: float32[p, d]; rows from n on are padding.
        n: int32 scalar, number of real points.

    Returns:
        (float32[r, m] squared distances ascending, int32[r, m] indices into `points`).
    """
    columns = jnp.arange(points.shape[0])

    def one_block(args: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        rows, ids = args
        sq = _squared_distances(rows, points)
        excluded = (columns[None, :] == ids[:, None]) | (columns[None, :] >= n)
        negative, index = jax.lax.top_k(-jnp.where(excluded, jnp.inf, sq), m)
        return -negative, index

    d = queries.shape[1]
    values, index = jax.lax.map(
        one_block, (queries.reshape(-1, block, d), query_ids.reshape(-1, block))
    )
    return values.reshape(-1, m), index.reshape(-1, m)


@partial(jax.jit, static_argnames=("m", "window", "group"))
def _leaf_pass(
    points: jax.Array, n: jax.Array, m: int, window: int, group: int
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Each point's m nearest within the `window` points nearest its leaf's centre.

    Args:
        points: float32[p, d] in kd-leaf order, p a multiple of LEAF * group; rows from n on
            are padding.
        n: int32 scalar, number of real points.

    Returns:
        float32[p, m] squared distances ascending, int32[p, m] indices into `points`,
        float32[p / LEAF, d] leaf centres, float32[p / LEAF] squared distance from each centre
        to its window's farthest point (every point outside is at least that far, up to
        rounding).
    """
    p, d = points.shape
    leaves = points.reshape(-1, LEAF, d)
    real = (jnp.arange(p) < n).reshape(-1, LEAF)
    centres = (
        jnp.sum(leaves * real[..., None], axis=1) / jnp.maximum(jnp.sum(real, axis=1), 1)[:, None]
    )
    columns = jnp.arange(p)

    def one_group(args: tuple[jax.Array, ...]) -> tuple[jax.Array, ...]:
        queries, centre, first_row = args  # [g, LEAF, d], [g, d], [g]
        to_centre = jnp.where(columns[None, :] >= n, jnp.inf, _squared_distances(centre, points))
        negative_radius, near = jax.lax.top_k(-to_centre, window)  # [g, window]
        sq = _squared_distances(queries, points[near])  # [g, LEAF, window]
        rows = first_row[:, None] + jnp.arange(LEAF)[None, :]
        sq = jnp.where(near[:, None, :] == rows[:, :, None], jnp.inf, sq)
        negative, local = jax.lax.top_k(-sq, m)
        index = jnp.take_along_axis(jnp.broadcast_to(near[:, None, :], sq.shape), local, axis=2)
        return -negative, index, -negative_radius[:, -1]

    groups = leaves.shape[0] // group
    values, index, radius = jax.lax.map(
        one_group,
        (
            leaves.reshape(groups, group, LEAF, d),
            centres.reshape(groups, group, d),
            (jnp.arange(leaves.shape[0]) * LEAF).reshape(groups, group),
        ),
    )
    return values.reshape(p, m), index.reshape(p, m), centres, radius.reshape(-1)


def _kd_leaf_order(points: np.ndarray) -> np.ndarray:
    """Permutation putting points into kd-tree leaves of LEAF consecutive points.

    Each node splits its largest-spread axis so that the left part is a multiple of LEAF;
    only the last leaf can be short.
    """
    leaves, stack = [], [np.arange(len(points))]
    while stack:
        index = stack.pop()
        if len(index) <= LEAF:
            leaves.append(index)
            continue
        part = points[index]
        axis = int(np.argmax(part.max(axis=0) - part.min(axis=0)))
        half = LEAF * max(1, round(len(index) / (2 * LEAF)))
        split = np.argpartition(part[:, axis], half - 1)
        stack.append(index[split[half:]])
        stack.append(index[split[:half]])
    return np.concatenate(leaves)


def _float32_error(norms: np.ndarray, radius: float, d: int) -> np.ndarray:
    """Bound on |float32 squared distance - exact| for points of these (centred) norms.

    Covers rounding the centred coordinates to float32 and the |x|^2 + |y|^2 - 2 x.y
    evaluation (sums of d products); generous by a factor of about 4.
    """
    return 4 * (d + 4) * F32_ROUNDOFF * (norms + radius) ** 2


def device_knn_indices(
    points: np.ndarray, k: int, block_bytes: int = DEFAULT_BLOCK_BYTES
) -> np.ndarray:
    """Each point's k nearest other points (Euclidean), exactly.

    The point itself is never its own neighbour (the paper's k = 14 counted it, so it is k = 13
    here); other points at distance 0 are. The set is exact for float64 distances with ties
    broken by the lower index; within the set, points are nearest first.

    Args:
        points: float[n, d] finite coordinates.
        k: neighbours per point, 1 <= k <= n - 1.
        block_bytes: device memory budget for one block of distance rows.

    Returns:
        int64[n, k] neighbour indices.
    """
    points64 = np.asarray(points, dtype=np.float64)
    n, d = points64.shape
    if not 1 <= k <= n - 1:
        raise InputError(f"k must be between 1 and n - 1 = {n - 1} for {n} points, got {k}")
    p = _padded_size(n)
    # m depends on n only through its bucket p (one compiled program per bucket); when m >= n - 1
    # the candidates past the n - 1 real ones are padding, at distance inf.
    m = min(p - 1, k + EXTRA_CANDIDATES)
    centred = points64 - points64.mean(axis=0)
    norms = np.sqrt(np.sum(centred**2, axis=1))
    radius = float(norms.max())
    error = _float32_error(norms, radius, d)
    window = min(WINDOW, p)
    approx = np.empty((n, m))
    candidates = np.empty((n, m), dtype=np.int64)
    # lower bound on the exact squared distance of every point outside a row's candidates
    outside = np.full(n, np.inf)

    todo = np.arange(n)
    if n > 2 * window and 2 * m <= window:
        order = _kd_leaf_order(centred)
        leaf_points = np.zeros((p, d), dtype=np.float32)
        leaf_points[:n] = centred[order]
        per_leaf = 4 * (p + 2 * LEAF * window + window * d)  # bytes of one leaf's work
        group = max(1, min(p // LEAF, block_bytes // per_leaf))
        while (p // LEAF) % group:
            group -= 1
        values, index, centres, reach = _leaf_pass(
            jnp.asarray(leaf_points), jnp.int32(n), m, window, group
        )
        leaf = np.arange(n) // LEAF
        centres = np.asarray(centres, dtype=np.float64)[leaf]
        reach = np.asarray(reach, dtype=np.float64)[leaf]
        # Points outside a leaf's window are at least sqrt(reach) from its centre (up to
        # rounding), so at least that minus |query - centre| from the query.
        beyond = np.sqrt(
            np.maximum(reach - _float32_error(np.linalg.norm(centres, axis=1), radius, d), 0)
        )
        beyond -= np.linalg.norm(leaf_points[:n] - centres, axis=1)
        beyond -= 8 * (d + 4) * F32_ROUNDOFF * radius
        approx[order] = np.asarray(values)[:n]
        candidates[order] = order[np.asarray(index)[:n]]
        outside[order] = np.where(beyond > 0, beyond, 0.0) ** 2
        outside = np.minimum(outside, approx[:, m - 1] - error)
        todo = np.flatnonzero(~(approx[:, k - 1] + error < outside))
    if len(todo):
        device_points = np.zeros((p, d), dtype=np.float32)
        device_points[:n] = centred
        block = int(max(1, min(_padded_size(len(todo)), block_bytes // (12 * p))))
        r = -(-_padded_size(len(todo)) // block) * block
        ids = np.zeros(r, dtype=np.int32)
        ids[: len(todo)] = todo
        values, index = _full_pass(
            jnp.asarray(device_points[ids]),
            jnp.asarray(ids),
            jnp.asarray(device_points),
            jnp.int32(n),
            m,
            block,
        )
        approx[todo] = np.asarray(values)[: len(todo)]
        candidates[todo] = np.asarray(index)[: len(todo)]
        outside[todo] = np.inf if m >= n - 1 else approx[todo, m - 1] - error[todo]

    # Certified when the k-th candidate's upper bound is below every other point's lower bound.
    others = outside if m == k else np.minimum(outside, approx[:, k] - error)
    result = candidates[:, :k].copy()
    unsure = np.flatnonzero(~(approx[:, k - 1] + error < others))
    if len(unsure) == 0:
        return result
    # Near-ties at the k-th place: rank the candidates in float64, ties by lower index.
    near = candidates[unsure]
    exact_sq = np.sum((points64[np.minimum(near, n - 1)] - points64[unsure, None, :]) ** 2, axis=2)
    exact_sq[np.isinf(approx[unsure])] = np.inf  # padding
    ranked = np.lexsort((near, exact_sq), axis=1)
    result[unsure] = np.take_along_axis(near, ranked, axis=1)[:, :k]
    kth = np.take_along_axis(exact_sq, ranked[:, k - 1 : k], axis=1)[:, 0]
    hard = unsure[~(kth < outside[unsure])]
    if len(hard):
        result[hard] = exact_rows(points64, hard, k)
    return result
