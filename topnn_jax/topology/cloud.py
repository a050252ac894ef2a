"""Betti numbers of a point cloud by the protocol of Naitzat, Zhitnikov and Lim, "Topology of
Deep Neural Networks" (JMLR 2020).

cloud -> checks, exact duplicates removed (`distinct_points`) -> exact kNN table (on the host,
`topnn_jax.topology.knn_host`: a kd-tree or scikit-learn's brute force, whichever is faster for
the cloud; or on request on the JAX device, `topnn_jax.topology.knn_device`: the same table) ->
symmetrised kNN graph -> hop-scale graph -> Vietoris-Rips (clique) complex -> giotto-ph
(`topnn_jax.topology.homology`).

`prepare_job` does the first steps in the caller's process and `topnn_jax.topology.job.run_job`
the rest wherever the job runs; `betti_numbers` does both here. k counts true neighbours: the
point itself is not one of them, so the paper's k = 14 is k = 13 here. The hop scale s is an
integer (the paper's "epsilon = 2.5" is s = 2).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from topnn_jax.errors import InputError, check_int
from topnn_jax.topology.graph import check_knn_size
from topnn_jax.topology.homology import hop_persistence
from topnn_jax.topology.job import (
    BettiJob,
    BettiResult,
    JobOptions,
    PreparedCloud,
    available_cpus,
    run_job,
)
from topnn_jax.topology.knn_host import host_knn_indices
from topnn_jax.topology.parameters import Collapse, check_parameter

KNN_ENGINES = ("auto", "tree", "brute", "device")
# Largest coordinate magnitude accepted: squared distances of such clouds stay finite in float64.
MAX_COORDINATE = 1e150


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
    array = np.add(array, 0.0, dtype=np.float64)  # float64; + 0.0 turns -0.0 into 0.0
    largest = np.abs(array).max(axis=1)  # NaN where a row has NaN
    finite = np.isfinite(largest)
    if not finite.all():
        raise InputError(
            f"{int(np.sum(~finite))} of {len(array)} points contain NaN or inf; clean or drop "
            "them first"
        )
    if largest.max() > MAX_COORDINATE:
        raise InputError(
            f"coordinates up to {largest.max():.3g} are too large: squared distances "
            f"would overflow (keep |x| <= {MAX_COORDINATE:g}); rescale the data first"
        )
    first: dict[bytes, int] = {}  # hashing rows: 10x faster than np.unique(axis=0) when wide
    for i, row in enumerate(array):
        first.setdefault(row.tobytes(), i)
    if len(first) == len(array):
        return array
    return array[np.fromiter(first.values(), np.int64, len(first))]


def knn_engine(engine: str = "auto") -> str:
    """`engine` checked: "auto" (default) finds the kNN table on the host where the job runs,
    with the faster of a kd-tree and scikit-learn's brute force for the cloud
    (`topnn_jax.topology.knn_host`); "tree" and "brute" force one of them, in the caller's
    process; "device" finds it on the JAX device of the caller's process
    (`topnn_jax.topology.knn_device`). Every engine gives the same, exact table. On a CPU the
    host is faster than the device engine on every cloud measured (3-50 times,
    benchmarks/bench_measure.py); the device engine is kept for accelerators, where it has yet
    to be measured against the host."""
    if engine not in KNN_ENGINES:
        raise InputError(f"kNN engine must be one of {', '.join(KNN_ENGINES)}, got {engine!r}")
    return engine


def prepare_cloud(points: np.ndarray, k: int, engine: str = "auto") -> PreparedCloud:
    """Validate and deduplicate a cloud; find its kNN table now unless `engine` is "auto" (then
    it is found where the job runs: `PreparedCloud.with_neighbours`).

    Args:
        points: float[n, d] (n >= 1, finite).
        k: true nearest neighbours per point (>= 1); with fewer than k + 1 distinct points,
            k_used = n_distinct - 1.
        engine: "auto", "tree", "brute" or "device" (`knn_engine`); every engine gives the
            same, exact table.
    """
    start = time.perf_counter()
    k = check_parameter("k", k)
    engine = knn_engine(engine)
    cloud = distinct_points(points)
    k_used = min(k, len(cloud) - 1)
    neighbours = None
    if k_used == 0:  # one distinct point: no neighbours
        neighbours = np.zeros((1, 0), dtype=np.int64)
    elif engine == "device":
        from topnn_jax.topology.knn_device import device_knn_indices  # imports JAX

        neighbours = device_knn_indices(cloud, k_used)
    elif engine != "auto":
        neighbours = host_knn_indices(cloud, k_used, engine, threads=available_cpus())
    seconds = time.perf_counter() - start
    kept = cloud if neighbours is None else None
    n_input = int(np.shape(points)[0])
    return PreparedCloud(n_input, len(cloud), k, k_used, kept, neighbours, seconds)


def neighbour_table(
    points: np.ndarray, k: int, engine: str = "auto", max_bytes: int | None = None
) -> PreparedCloud:
    """A prepared cloud with its kNN table found here (arguments as in `prepare_cloud`), after
    checking the kNN graph's memory (`check_knn_size`, default limit half the RAM)."""
    cloud = prepare_cloud(points, k, engine)
    check_knn_size(cloud.n_points, cloud.k_used, max_bytes)
    return cloud.with_neighbours()


def prepare_job(
    points: np.ndarray, k: int, scale: int = 2, maxdim: int = 1, options: JobOptions = JobOptions()
) -> BettiJob:
    """Check the arguments and prepare the cloud (`prepare_cloud`): a job that
    `topnn_jax.topology.job.run_job` finishes in any process. Arguments as in `betti_numbers`.

    Raises:
        InputError: bad points or arguments.
    """
    scale = check_parameter("scale", scale)
    maxdim = check_parameter("maxdim", maxdim)
    return BettiJob(prepare_cloud(points, k), scale, maxdim, options)


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
        collapse: a name in `topnn_jax.topology.parameters.COLLAPSES`: "auto" (default: "edge"
            for maxdim >= 2 where gudhi is installed, else "vertex"), "vertex", "edge" or
            "none". All give the same Betti numbers.
        n_threads: giotto-ph threads.
        max_bytes: refuse a complex estimated to need more memory (default half the RAM).

    Returns:
        The Betti numbers with sizes and timing.
    """
    options = JobOptions(collapse, n_threads, max_bytes)
    job = prepare_job(points, k, scale, maxdim, options)
    # Here, not in `prepare_job`: a pool's job refused for its size is a result, not a stop.
    check_knn_size(job.cloud.n_points, job.cloud.k_used, max_bytes)
    return run_job(job)


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
    max_scale = check_parameter("scale", max_scale)
    maxdim = check_parameter("maxdim", maxdim)
    n_threads = check_int("n_threads", n_threads, 1)
    cloud = neighbour_table(points, k, max_bytes=max_bytes)
    result = hop_persistence(
        cloud.neighbours, max_scale, maxdim, n_threads=n_threads, max_bytes=max_bytes
    )
    return Persistence(
        result.diagrams,
        result.betti,
        cloud.n_points,
        cloud.k_used,
        result.n_edges,
        cloud.seconds + result.seconds,
    )
