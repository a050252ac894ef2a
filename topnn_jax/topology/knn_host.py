"""Exact k nearest neighbours on the host, without JAX: two well-kept searches and one
certification.

* "tree": scipy's kd-tree (`cKDTree`), fast on clouds of low intrinsic dimension whatever their
  number of coordinates (network layers: ReLU features of a circle in 512 coordinates, 20,000
  points, 1.6 s against 3.3 s by brute force);
* "brute": scikit-learn's brute force (`NearestNeighbors(algorithm="brute")`: blocks of float64
  BLAS products, bounded memory), fast on clouds that truly fill many dimensions (20,000
  Gaussian points in 16 coordinates: 0.6 s against 4.2 s with the tree).

"auto" (`choose_method`) takes the tree for up to `TREE_ONLY_DIM` coordinates and otherwise times
both searches on a sample of the cloud's points, taking the tree where it promises at most
`TREE_MARGIN` of brute force's time (small clouds: the tree up to `TREE_MAX_DIM` coordinates).
The choice never changes the answer.

Either search returns `k + EXTRA_CANDIDATES` candidates per point with approximate distances
and a rigorous bound on their rounding error (relative for the tree, `relative_error`; absolute
for the products, `gemm_error`). `certified_neighbours` turns them into the exact table: a row
is certified when its k-th candidate is nearer than the (k + 1)-th beyond the bounds; other rows
(near-ties) rank their candidates by float64 distance, ties by the lower index. Rows that still
cannot rule out the points outside their candidates are searched again with the tree (the
products lose digits on tight clusters far from the centre) and, failing that, by float64
brute force (`exact_rows`).
"""

from __future__ import annotations

import contextlib
import functools
import time

import numpy as np
from scipy.spatial import cKDTree

from topnn_jax.errors import InputError

METHODS = ("auto", "tree", "brute")
# Candidates per row beyond k, so that near-ties at the k-th place rarely need brute force.
EXTRA_CANDIDATES = 4
# "auto": the kd-tree without a trial up to this many coordinates ...
TREE_ONLY_DIM = 8
# ... and, for clouds of at most SMALL_CLOUD points (where a trial costs more than it saves), up
# to this many; larger clouds time both searches on SAMPLE_QUERIES of their points.
TREE_MAX_DIM = 32
SMALL_CLOUD = 2048
SAMPLE_QUERIES = 256
TREE_PROBE_QUERIES = 64  # of those, the tree's (it can be far slower), best of 2 rounds
TREE_PROBE_ROUNDS = 2
# The tree must promise this share of brute force's time: a wrong tree can be 10x slower (a
# cloud that truly fills its coordinates), a wrong brute force at most about 2x.
TREE_MARGIN = 0.7
# Unit roundoff of float64.
F64_ROUNDOFF = 2.0**-53
# Float64 bytes of one block of candidate coordinates in `exact_candidates`.
BLOCK_BYTES = 32 * 2**20


@functools.cache
def _thread_pools() -> object:
    """threadpoolctl's view of this process's BLAS and OpenMP pools (slow to find: once)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def thread_limit(threads: int) -> contextlib.AbstractContextManager:
    """A context in which BLAS and OpenMP (scikit-learn's brute force) use `threads` threads."""
    return _thread_pools().limit(limits=threads)


class Search:
    """The two searches of one cloud: each finds, for some of its points, the `count` nearest
    points of the cloud (the point itself included) with approximate squared distances and a
    bound on their error.

    Args:
        points: float64[n, d] the cloud.
        threads: threads of a search.
    """

    def __init__(self, points: np.ndarray, threads: int) -> None:
        self.points = points
        self.threads = threads
        self._tree: cKDTree | None = None
        self._centred: np.ndarray | None = None

    def tree(self, rows: np.ndarray, count: int) -> tuple[np.ndarray, ...]:
        """scipy's kd-tree. Its distances are sums of squared differences: each is within
        4 (d + 2) u of itself (relative).

        Returns:
            float64[r, count] approximate squared distances ascending, int64[r, count] indices
            (n for "no neighbour", where a squared distance overflows), float64[r, count] error
            bounds.
        """
        if self._tree is None:
            self._tree = cKDTree(self.points)
        queries = self.points if len(rows) == len(self.points) else self.points[rows]
        distances, found = self._tree.query(queries, k=count, workers=self.threads)
        approx = distances.reshape(len(rows), count) ** 2
        found = np.asarray(found, dtype=np.int64).reshape(len(rows), count)
        return approx, found, relative_error(self.points.shape[1]) * approx

    def brute(self, rows: np.ndarray, count: int) -> tuple[np.ndarray, ...]:
        """scikit-learn's brute force on the centred cloud. Its squared distances are
        |x|^2 + |y|^2 - 2 x.y in float64: each within `gemm_error` (absolute, per row).

        Returns:
            as `tree`.
        """
        from sklearn.neighbors import NearestNeighbors

        if self._centred is None:
            self._centred = self.points - self.points.mean(axis=0)
        search = NearestNeighbors(n_neighbors=count, algorithm="brute").fit(self._centred)
        queries = self._centred if len(rows) == len(self._centred) else self._centred[rows]
        with thread_limit(self.threads):
            distances, found = search.kneighbors(queries)
        approx = np.asarray(distances, np.float64) ** 2
        return approx, np.asarray(found, np.int64), gemm_error(self._centred, rows)[:, None]


def host_knn_indices(
    points: np.ndarray, k: int, method: str = "auto", threads: int = 1
) -> np.ndarray:
    """Each point's k nearest other points (Euclidean), exactly.

    The point itself is never its own neighbour; other points at distance 0 are. The set is
    exact for float64 distances with ties broken by the lower index; within the set, points are
    nearest first up to rounding.

    Args:
        points: float[n, d] finite coordinates.
        k: neighbours per point, 1 <= k <= n - 1.
        method: "auto", "tree" or "brute" (see the module docstring); all give the same table.
        threads: threads of the search.

    Returns:
        int64[n, k] neighbour indices.
    """
    points64 = np.asarray(points, dtype=np.float64)
    n = points64.shape[0]
    if not 1 <= k <= n - 1:
        raise InputError(f"k must be between 1 and n - 1 = {n - 1} for {n} points, got {k}")
    if method not in METHODS:
        raise InputError(f"kNN method must be one of {', '.join(METHODS)}, got {method!r}")
    search = Search(points64, threads)
    count = min(n, k + EXTRA_CANDIDATES + 1)  # candidates, the point itself included
    # an overflow is inf (those rows are found by brute force), as far as anything else
    with np.errstate(over="ignore", invalid="ignore"):
        if method == "auto":
            method = choose_method(search, count)
        rows = np.arange(n)
        result, hard = certified_neighbours(
            points64, rows, k, *getattr(search, method)(rows, count)
        )
        if len(hard) and method == "brute":  # cancellation in the products: the tree may certify
            result[hard], hard = certified_neighbours(points64, hard, k, *search.tree(hard, count))
    if len(hard):
        result[hard] = exact_rows(points64, hard, k)
    return result


def choose_method(search: Search, count: int) -> str:
    """The faster search for this cloud, "tree" or "brute" (see the module docstring), for
    `count` candidates per point: by the width alone for few coordinates or few points, else by
    the time per query of each search on a sample of the cloud (their set-up left out: the
    tree's build is small against a brute-force search of the whole cloud)."""
    n, d = search.points.shape
    if d <= TREE_ONLY_DIM:
        return "tree"
    if n <= SMALL_CLOUD:
        return "tree" if d <= TREE_MAX_DIM else "brute"
    sample = np.linspace(0, n - 1, SAMPLE_QUERIES).astype(np.int64)
    for name in ("brute", "tree"):
        getattr(search, name)(sample[:1], count)  # builds the tree, centres the cloud
    start = time.perf_counter()
    search.brute(sample, count)
    # scikit-learn runs one block of 256 queries on one thread; the whole cloud on all of them
    brute = (time.perf_counter() - start) / (len(sample) * search.threads)
    tree = np.inf
    for _ in range(TREE_PROBE_ROUNDS):  # the best of rounds: robust to a busy machine
        start = time.perf_counter()
        search.tree(sample[:TREE_PROBE_QUERIES], count)
        tree = min(tree, (time.perf_counter() - start) / TREE_PROBE_QUERIES)
    return "tree" if tree <= TREE_MARGIN * brute else "brute"


def relative_error(d: int) -> float:
    """Bound on the relative error of a squared distance in d coordinates computed in float64 as
    a sum of squared differences, then a square root and its square: (d + 2) u and a few more
    roundoffs; 4 (d + 2) u covers them with room to spare."""
    return 4 * (d + 2) * F64_ROUNDOFF


def gemm_error(centred: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """float64[len(rows)]: bound on the error of any squared distance from each of `rows` of a
    centred cloud computed in float64 as |x|^2 + |y|^2 - 2 x.y (then a square root and its
    square), including the rounding of the centring.

    For points x, y: |error| <= gamma_(d + 2) (|x| + |y|)^2 plus a few roundoffs of the same
    size; with |y| <= R (the largest norm), 4 (d + 2) u (|x| + R)^2 covers it with room to spare.
    """
    norms = np.sqrt(np.sum(centred**2, axis=1))
    return relative_error(centred.shape[1]) * (norms[rows] + norms.max()) ** 2


def certified_neighbours(
    points: np.ndarray,
    rows: np.ndarray,
    k: int,
    approx: np.ndarray,
    found: np.ndarray,
    error: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The exact neighbours of `rows` from a search's candidates, where they can be certified.

    A row is certified when its k-th candidate is nearer than the (k + 1)-th beyond doubt
    (their distances' error bounds do not overlap); other rows rank their candidates by float64
    distance, ties by the lower index, and are sure when the k-th is nearer than any point
    outside the candidates can be.

    Args:
        points: float64[n, d] the cloud (exact distances are taken from it).
        rows: int64[r] the points searched.
        k: neighbours per point, 1 <= k <= n - 1.
        approx: float64[r, m + 1] the candidates' approximate squared distances, ascending.
        found: int64[r, m + 1] the candidates, the m + 1 nearest by `approx` (the point itself
            among them unless near-duplicates crowd it out; n for "no neighbour");
            k <= m <= n - 1.
        error: float64 bound on |approx - exact|, broadcast to [r, m + 1] (non-decreasing
            along a row).

    Returns:
        int64[r, k] the neighbours (rows not sure hold guesses), int64[h] the rows not sure.
    """
    n, m = len(points), found.shape[1] - 1
    error = np.broadcast_to(error, approx.shape)
    # Where distances overflow, a kd-tree answers "no neighbour" (index n) and brute force may
    # repeat a candidate: such rows are never sure.
    ordered = np.sort(found, axis=1)
    broken = (ordered[:, -1] >= n) | (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
    found = np.where(found >= n, 0, found)
    is_self = found == rows[:, None]
    broken |= ~is_self.any(axis=1)
    # drop the point itself (rows without it lose their farthest candidate)
    keep = np.argsort(is_self, axis=1, kind="stable")[:, :m]
    near = np.take_along_axis(found, keep, axis=1)
    lower = np.take_along_axis(approx - error, keep, axis=1)
    upper = np.take_along_axis(approx + error, keep, axis=1)
    # every point outside the candidates is at least as far (approx) as the farthest found
    outside = np.inf if m == n - 1 else approx[:, m] - error[:, m]
    result = near[:, :k].copy()
    unsure = np.flatnonzero(broken | ~(upper[:, k - 1] < (lower[:, k] if k < m else outside)))
    if len(unsure) == 0:
        return result, unsure
    sq = exact_candidates(points, rows[unsure], near[unsure])
    ranked = np.lexsort((near[unsure], sq), axis=1)
    result[unsure] = np.take_along_axis(near[unsure], ranked, axis=1)[:, :k]
    kth = np.take_along_axis(sq, ranked[:, k - 1 : k], axis=1)[:, 0]
    outside = outside if np.isscalar(outside) else outside[unsure]
    sure = ~broken[unsure] & (kth < outside)
    return result, rows[unsure[~sure]]


def exact_candidates(points: np.ndarray, rows: np.ndarray, near: np.ndarray) -> np.ndarray:
    """float64[len(rows), m]: squared distances from each of `rows` to its candidates `near`
    (int64[len(rows), m]), in blocks of `BLOCK_BYTES`."""
    out = np.empty(near.shape)
    block = max(1, BLOCK_BYTES // (8 * max(1, near.shape[1] * points.shape[1])))
    for start in range(0, len(rows), block):
        part = slice(start, start + block)
        with np.errstate(over="ignore"):  # an overflow is inf, as far as anything else
            out[part] = np.sum((points[near[part]] - points[rows[part], None, :]) ** 2, axis=2)
    return out


def exact_rows(points: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """int64[len(rows), k]: exact neighbours of `rows` by float64 brute force."""
    out = np.empty((len(rows), k), dtype=np.int64)
    everyone = np.arange(len(points))
    for i, row in enumerate(rows):
        with np.errstate(over="ignore"):
            sq = np.sum((points - points[row]) ** 2, axis=1)
        sq[row] = np.inf
        out[i] = np.lexsort((everyone, sq))[:k]
    return out
