"""Betti numbers of a point cloud by the paper's protocol (PAPER.md, "Measuring topology").

cloud -> remove exact duplicates -> exact kNN graph (`topnn_jax.tree_knn` on the host, or
`topnn_jax.knn` on the JAX device) -> symmetrise ->
hop-scale graph -> Vietoris-Rips (clique) complex -> giotto-ph (`topnn_jax.homology`).

k counts true neighbours: the point itself is not one of them, so the paper's k = 14 is k = 13
here. The hop scale s is an integer (the paper's "epsilon = 2.5" is s = 2).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jax
import numpy as np

from topnn_jax.errors import InputError
from topnn_jax.homology import Collapse, GraphBetti, betti_from_neighbours, hop_persistence
from topnn_jax.knn import knn_indices
from topnn_jax.tree_knn import tree_knn_indices

MAX_HOMOLOGY_DIM = 3
KNN_ENGINES = ("auto", "tree", "device")
# Largest coordinate magnitude accepted: squared distances of such clouds stay finite in float64.
MAX_COORDINATE = 1e150
# Most coordinates for which a kd-tree finds the kNN by default (in the Betti workers, on a CPU).
TREE_MAX_DIM = 32


@dataclass(frozen=True, eq=False)
class NeighbourTable:
    """A validated, deduplicated cloud's kNN table: what a Betti computation starts from.

    Attributes:
        neighbours: int64[n_points, k_used] each distinct point's nearest other points.
        n_input: points given, duplicates included.
        k: neighbours asked for.
        k_used: neighbours used: min(k, n_points - 1).
        seconds: wall time of validation, deduplication and kNN.
    """

    neighbours: np.ndarray
    n_input: int
    k: int
    k_used: int
    seconds: float

    @property
    def n_points(self) -> int:
        """Distinct points."""
        return int(self.neighbours.shape[0])


@dataclass(frozen=True)
class BettiResult:
    """Betti numbers of one cloud's hop-scale Vietoris-Rips complex.

    Attributes:
        betti: (beta_0, ..., beta_maxdim) over F_2.
        n_points: distinct points (exact duplicates removed).
        n_input: points given.
        k: neighbours asked for.
        k_used: neighbours used; smaller than k when the cloud has fewer than k + 1 distinct
            points (as the original did), see `k_reduced`.
        scale: hop scale.
        n_edges: undirected edges of the hop-scale graph.
        n_core: vertices left after collapsing (n_points without a collapse).
        seconds: wall time, kNN included.
    """

    betti: tuple[int, ...]
    n_points: int
    n_input: int
    k: int
    k_used: int
    scale: int
    n_edges: int
    n_core: int
    seconds: float

    @property
    def k_reduced(self) -> bool:
        """True when fewer than k + 1 distinct points forced a smaller k."""
        return self.k_used < self.k

    def to_dict(self) -> dict:
        """JSON-ready: betti, n_points, k (used), seconds and the rest."""
        return {
            "betti": list(self.betti),
            "n_points": self.n_points,
            "k": self.k_used,
            "seconds": round(self.seconds, 6),
            "k_requested": self.k,
            "k_reduced": self.k_reduced,
            "n_input": self.n_input,
            "scale": self.scale,
            "n_edges": self.n_edges,
            "n_core": self.n_core,
        }


@dataclass(frozen=True)
class Persistence:
    """Persistence over the hop filtration 1..max_scale of one cloud.

    Attributes:
        diagrams: per dimension 0..maxdim, float64[bars, 2] (birth, death) in hops; death is
            inf for bars alive at max_scale.
        betti: int64[max_scale, maxdim + 1]; row s - 1 holds the Betti numbers at scale s.
        n_points: distinct points.
        k_used: neighbours used.
        n_edges: undirected edges of the max_scale hop graph.
        seconds: wall time, kNN included.
    """

    diagrams: tuple[np.ndarray, ...]
    betti: np.ndarray
    n_points: int
    k_used: int
    n_edges: int
    seconds: float

    def betti_at(self, scale: int) -> tuple[int, ...]:
        """Betti numbers at hop scale 1 <= scale <= max_scale."""
        if not 1 <= scale <= len(self.betti):
            raise InputError(f"scale must be in 1..{len(self.betti)}, got {scale}")
        return tuple(int(b) for b in self.betti[scale - 1])


def check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """`value` as an int in [low, high], or `InputError` saying what was wrong."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in {low}..{high}"
        raise InputError(f"{name} must be {bounds}, got {value}")
    return int(value)


def distinct_points(points: np.ndarray) -> np.ndarray:
    """float64[m, d]: the cloud validated, exact duplicates removed (first occurrence kept, order
    kept).

    Raises:
        InputError: not a non-empty 2-D real array, or NaN / inf present.
    """
    array = np.asarray(points)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise InputError(f"points must be a non-empty 2-D array [n, d], got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise InputError(f"points must be real numbers, got dtype {array.dtype}")
    array = array.astype(np.float64) + 0.0  # + 0.0 turns -0.0 into 0.0
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        raise InputError(
            f"{int(np.sum(~finite))} of {len(array)} points contain NaN or inf; clean or drop "
            "them first"
        )
    if np.abs(array).max() > MAX_COORDINATE:
        raise InputError(
            f"coordinates up to {np.abs(array).max():.3g} are too large: squared distances "
            f"would overflow (keep |x| <= {MAX_COORDINATE:g}); rescale the data first"
        )
    _, first = np.unique(array, axis=0, return_index=True)
    return array[np.sort(first)]


def checked_cloud(points: np.ndarray, k: int) -> tuple[np.ndarray, int, int]:
    """(`distinct_points(points)`, k validated, k_used = min(k, distinct points - 1))."""
    k = check_int("k", k, 1)
    cloud = distinct_points(points)
    return cloud, k, min(k, len(cloud) - 1)


def knn_engine(engine: str = "auto", dim: int = 1) -> str:
    """The kNN engine for clouds of `dim` coordinates: "tree" (`topnn_jax.tree_knn`, on the
    host) or "device" (`topnn_jax.knn`, on the JAX device). "auto" picks the tree when JAX runs
    on the CPU and dim <= `TREE_MAX_DIM`: there it is 3-4 times faster on the paper's clouds,
    while in more dimensions a kd-tree degrades (5 times slower than the device engine on
    20,000 Gaussian points in 50 dimensions; benchmarks/bench_topology.py)."""
    if engine not in KNN_ENGINES:
        raise InputError(f"kNN engine must be one of {', '.join(KNN_ENGINES)}, got {engine!r}")
    if engine == "auto":
        on_cpu = jax.default_backend() == "cpu"
        return "tree" if on_cpu and dim <= TREE_MAX_DIM else "device"
    return engine


def neighbour_table(points: np.ndarray, k: int, engine: str = "auto") -> NeighbourTable:
    """Validate, deduplicate and find each distinct point's k nearest others (exactly; the
    engines give the same table, see `knn_engine`)."""
    start = time.perf_counter()
    cloud, k, k_used = checked_cloud(points, k)
    n_input = int(np.shape(points)[0])
    engine = knn_engine(engine, cloud.shape[1])
    if k_used == 0:
        neighbours = np.zeros((1, 0), dtype=np.int64)
    elif engine == "tree":
        neighbours = tree_knn_indices(cloud, k_used)
    else:
        neighbours = knn_indices(cloud, k_used)
    return NeighbourTable(neighbours, n_input, k, k_used, time.perf_counter() - start)


def check_scale_maxdim(scale: int, maxdim: int) -> tuple[int, int]:
    """Validated (scale >= 1, maxdim in 0..3)."""
    return check_int("scale", scale, 1), check_int("maxdim", maxdim, 0, MAX_HOMOLOGY_DIM)


def single_point_result(table: NeighbourTable, scale: int, maxdim: int) -> BettiResult:
    """One distinct point: (1, 0, ..., 0)."""
    return BettiResult(
        betti=(1,) + (0,) * maxdim,
        n_points=1,
        n_input=table.n_input,
        k=table.k,
        k_used=0,
        scale=scale,
        n_edges=0,
        n_core=1,
        seconds=table.seconds,
    )


def betti_result(table: NeighbourTable, scale: int, graph: GraphBetti) -> BettiResult:
    """Combine a kNN table with the `GraphBetti` computed from it."""
    return BettiResult(
        betti=graph.betti,
        n_points=table.n_points,
        n_input=table.n_input,
        k=table.k,
        k_used=table.k_used,
        scale=scale,
        n_edges=graph.n_edges,
        n_core=graph.n_core,
        seconds=table.seconds + graph.seconds,
    )


def betti_numbers(
    points: np.ndarray,
    k: int,
    scale: int = 2,
    maxdim: int = 1,
    *,
    collapse: Collapse = "auto",
    n_threads: int = 1,
    max_bytes: int | None = None,
) -> BettiResult:
    """Betti numbers of a cloud's kNN hop-scale Vietoris-Rips complex.

    Args:
        points: float[n, d] (n >= 1, finite).
        k: true nearest neighbours per point (the point itself excluded; the paper's k = 14 is
            13 here). With fewer than k + 1 distinct points, k = n_distinct - 1 is used and
            `BettiResult.k_reduced` says so.
        scale: hop scale s >= 1: the complex is the clique complex of "at most s hops apart".
        maxdim: highest Betti number computed, 0..3.
        collapse: "auto" (default: "edge" where gudhi is installed, else "vertex"), "vertex"
            (exact strong collapse, then giotto-ph), "edge" (also GUDHI's edge collapse; needs
            gudhi) or "none" (giotto-ph straight on the hop-count filtration). All give the
            same Betti numbers.
        n_threads: giotto-ph threads.
        max_bytes: refuse a complex estimated to need more memory (default half the RAM).

    Returns:
        The Betti numbers with sizes and timing.
    """
    scale, maxdim = check_scale_maxdim(scale, maxdim)
    n_threads = check_int("n_threads", n_threads, 1)
    table = neighbour_table(points, k)
    if table.n_points == 1:
        return single_point_result(table, scale, maxdim)
    graph = betti_from_neighbours(
        table.neighbours, scale, maxdim, collapse, n_threads=n_threads, max_bytes=max_bytes
    )
    return betti_result(table, scale, graph)


def persistence(
    points: np.ndarray,
    k: int,
    max_scale: int = 4,
    maxdim: int = 1,
    *,
    n_threads: int = 1,
    max_bytes: int | None = None,
) -> Persistence:
    """Persistence diagrams of the hop filtration and Betti numbers at every scale 1..max_scale.

    One giotto-ph run on the uncollapsed filtration (edge value = hop count). Arguments as in
    `betti_numbers`; `Persistence.betti_at(s)` equals `betti_numbers(..., scale=s).betti`.
    """
    max_scale, maxdim = check_scale_maxdim(max_scale, maxdim)
    table = neighbour_table(points, k)
    if table.n_points == 1:
        diagrams = (np.array([[0.0, np.inf]]),) + (np.zeros((0, 2)),) * maxdim
        betti = np.tile(np.array([1] + [0] * maxdim, dtype=np.int64), (max_scale, 1))
        return Persistence(diagrams, betti, 1, 0, 0, table.seconds)
    result = hop_persistence(
        table.neighbours, max_scale, maxdim, n_threads=n_threads, max_bytes=max_bytes
    )
    return Persistence(
        result.diagrams,
        result.betti,
        table.n_points,
        table.k_used,
        result.n_edges,
        table.seconds + result.seconds,
    )
