"""A Betti job: a prepared cloud and how to measure it, run in any process (no JAX).

`topnn_jax.topology.cloud.prepare_job` makes a job in the caller's process (validation,
deduplication, and the kNN table when the device engine finds it); `run_job` finishes it where
it runs: the host kNN if still to do, then `topnn_jax.topology.homology`. `betti_numbers`,
the serial executor and the worker processes of `BettiPool` all go this one way from a cloud to
a `BettiResult`. This module imports neither JAX nor the device kNN, so workers stay light.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from topnn_jax.errors import InputError, check_int
from topnn_jax.topology.homology import GraphBetti, betti_from_neighbours
from topnn_jax.topology.knn_host import host_knn_indices
from topnn_jax.topology.parameters import Collapse, check_collapse


def available_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True, eq=False)
class PreparedCloud:
    """A validated cloud without exact duplicates, with its kNN table or the points to find it.

    Attributes:
        n_input: points given, duplicates included.
        n_points: distinct points.
        k: neighbours asked for.
        k_used: neighbours used: min(k, n_points - 1).
        points: float64[n_points, d] the distinct points while the kNN table is still to be
            found (with the kd-tree, by `with_neighbours`); None once `neighbours` is known.
        neighbours: int64[n_points, k_used] each distinct point's nearest other points, or None.
        seconds: wall time spent on the cloud so far (validation, deduplication, kNN).
    """

    n_input: int
    n_points: int
    k: int
    k_used: int
    points: np.ndarray | None
    neighbours: np.ndarray | None
    seconds: float

    def with_neighbours(self, threads: int | None = None) -> PreparedCloud:
        """This cloud with its kNN table, found here on the host (`knn_host`) with `threads`
        threads (default: every CPU of this process) if it was still to do."""
        if self.neighbours is not None:
            return self
        start = time.perf_counter()
        threads = available_cpus() if threads is None else threads
        neighbours = host_knn_indices(self.points, self.k_used, threads=threads)
        seconds = self.seconds + time.perf_counter() - start
        return dataclasses.replace(self, points=None, neighbours=neighbours, seconds=seconds)


@dataclass(frozen=True)
class JobOptions:
    """How a Betti job is computed (the answer never depends on it).

    Attributes:
        collapse: a name in `topnn_jax.topology.parameters.COLLAPSES`; "auto" is resolved per
            job, by its maxdim (`resolve_collapse`).
        n_threads: giotto-ph threads (they help dimensions >= 1 only).
        max_bytes: refuse a complex estimated to need more memory (None: half the RAM where
            the job runs).
        knn_threads: threads of the kNN search (None: every CPU of the process that runs it).
    """

    collapse: Collapse = "auto"
    n_threads: int = 1
    max_bytes: int | None = None
    knn_threads: int | None = None

    def __post_init__(self) -> None:
        check_collapse(self.collapse)
        object.__setattr__(self, "n_threads", check_int("n_threads", self.n_threads, 1))
        if self.max_bytes is not None:
            object.__setattr__(self, "max_bytes", check_int("max_bytes", self.max_bytes, 1))
        if self.knn_threads is not None:
            object.__setattr__(self, "knn_threads", check_int("knn_threads", self.knn_threads, 1))


@dataclass(frozen=True, eq=False)
class BettiJob:
    """One Betti computation, validated: the cloud and how to measure it.

    Attributes:
        cloud: the prepared cloud.
        scale: hop scale s >= 1.
        maxdim: highest homology dimension, 0..3.
        options: how to compute it.
    """

    cloud: PreparedCloud
    scale: int
    maxdim: int
    options: JobOptions = JobOptions()


@dataclass(frozen=True)
class BettiResult:
    """Betti numbers of one cloud's hop-scale Vietoris-Rips complex.

    Attributes:
        n_points: distinct points (exact duplicates removed).
        n_input: points given.
        k: neighbours asked for.
        k_used: neighbours used; smaller than k when the cloud has fewer than k + 1 distinct
            points (as the original did), see `k_reduced`.
        scale: hop scale.
        graph: what the homology computation returned: the Betti numbers, the hop graph's
            edges, the vertices left after collapsing, its wall time.
        cloud_seconds: wall time of validation, deduplication and kNN.

    Timings are not compared: two results of the same computation are equal.
    """

    n_points: int
    n_input: int
    k: int
    k_used: int
    scale: int
    graph: GraphBetti
    cloud_seconds: float = field(compare=False)

    @property
    def betti(self) -> tuple[int, ...]:
        """(beta_0, ..., beta_maxdim) over F_2."""
        return self.graph.betti

    @property
    def n_edges(self) -> int:
        """Undirected edges of the hop-scale graph."""
        return self.graph.n_edges

    @property
    def n_core(self) -> int:
        """Vertices left after collapsing (n_points without a collapse)."""
        return self.graph.n_core

    @property
    def seconds(self) -> float:
        """Wall time, kNN included."""
        return self.cloud_seconds + self.graph.seconds

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


def ignore_interrupts() -> None:
    """Ignore Ctrl-C in a worker process: it is for the parent, which stops its pool in order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start_worker(parent_pid: int) -> None:
    """A worker process's initializer: ignore Ctrl-C and end with the parent (`parent_pid`).
    (Here, not beside the pool, so that a worker imports this light module only.)"""
    ignore_interrupts()
    end_with_parent(parent_pid)


def end_with_parent(parent_pid: int) -> None:
    """Make this process exit when its parent, `parent_pid`, dies; at once if it already has.

    On Linux the kernel kills it (`PR_SET_PDEATHSIG`; it fires when the *thread* that started
    this process ends, so start workers from a thread that outlives them, e.g. the main one);
    elsewhere a daemon thread polls the parent's pid.
    """
    if not _kill_me_with_parent():
        threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()
    if os.getppid() != parent_pid:  # the parent died before the signal was set up
        os._exit(1)


def _kill_me_with_parent() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    pr_set_pdeathsig = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _exit_with_parent(parent_pid: int, poll_seconds: float = 0.5) -> None:
    """Exit this process as soon as `parent_pid` is no longer its parent."""
    while os.getppid() == parent_pid:
        time.sleep(poll_seconds)
    os._exit(1)


def run_outcomes(jobs: list[BettiJob]) -> list[BettiResult | InputError]:
    """`run_job`'s result for each job, or the `InputError` that refused it, returned rather
    than raised (a remote task's result: a refusal is an answer, not a failure to retry)."""
    outcomes: list[BettiResult | InputError] = []
    for job in jobs:
        try:
            outcomes.append(run_job(job))
        except InputError as error:
            outcomes.append(error)
    return outcomes


def run_job(job: BettiJob) -> BettiResult:
    """Finish a job where it runs: the host kNN if still to do, then the homology.

    Raises:
        InputError: the complex is estimated to need more than `job.options.max_bytes`.
    """
    options = job.options
    cloud = job.cloud.with_neighbours(options.knn_threads)
    graph = betti_from_neighbours(
        cloud.neighbours,
        job.scale,
        job.maxdim,
        options.collapse,
        options.n_threads,
        options.max_bytes,
    )
    return BettiResult(
        cloud.n_points, cloud.n_input, cloud.k, cloud.k_used, job.scale, graph, cloud.seconds
    )
