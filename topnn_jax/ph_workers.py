"""A process pool that computes many Betti numbers at once and streams them back as they finish.

giotto-ph holds the GIL, so parallel jobs need processes. The parent validates and deduplicates
each cloud; the workers find its exact kNN table with a kd-tree (`topnn_jax.tree_knn`, the same
table as the device engine's) and run `topnn_jax.homology` (numpy, scipy, giotto-ph: no JAX), so
the parent, which also drives training, does not wait on the kNN. Clouds of more than
`TREE_MAX_DIM` coordinates, where a kd-tree degrades, get theirs on the JAX device here. Workers
start with "spawn", which is safe with a parent that runs JAX threads (fork is not).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Hashable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from types import TracebackType

import numpy as np

from topnn_jax.errors import InputError
from topnn_jax.homology import Collapse, betti_from_cloud, resolve_collapse
from topnn_jax.knn import knn_indices
from topnn_jax.topology import (
    TREE_MAX_DIM,
    BettiResult,
    NeighbourTable,
    betti_result,
    check_int,
    check_scale_maxdim,
    checked_cloud,
    single_point_result,
)


def available_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def ignore_interrupts() -> None:
    """Worker initializer: Ctrl-C is for the parent, which stops the pool in order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def interrupts_ignored() -> Iterator[None]:
    """Ignore SIGINT while worker processes may start, so that a Ctrl-C during their start-up
    (before `ignore_interrupts` runs) cannot kill them with a traceback. Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass(frozen=True)
class _Job:
    """What the parent keeps of a submitted job to build its `BettiResult`."""

    job_id: Hashable
    n_input: int
    k: int
    k_used: int
    scale: int
    prepare_seconds: float  # validation and deduplication in the parent


class BettiPool:
    """Run Betti jobs in worker processes; collect results in the order they finish.

    Example::

        with BettiPool(workers=4) as pool:
            for layer, cloud in enumerate(clouds):
                pool.submit(layer, cloud, k=13, scale=2, maxdim=1)
            for layer, result in pool.results():
                print(layer, result if isinstance(result, InputError) else result.betti)

    Args:
        workers: processes (default: CPUs // threads, at least 1).
        threads: giotto-ph threads per job (default 1: many jobs use the CPUs better than
            threads, which help dimensions >= 1 only).
        collapse: as in `topology.betti_numbers`.
        max_bytes: per-job memory ceiling, as in `topology.betti_numbers`.
    """

    def __init__(
        self,
        workers: int | None = None,
        threads: int = 1,
        collapse: Collapse = "auto",
        max_bytes: int | None = None,
    ) -> None:
        threads = check_int("threads", threads, 1)
        workers = max(1, available_cpus() // threads) if workers is None else workers
        self.workers = check_int("workers", workers, 1)
        self.threads = threads
        self.collapse = resolve_collapse(collapse)
        self.max_bytes = max_bytes
        self._executor = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=ignore_interrupts,
        )
        self._running: dict[Future, _Job] = {}
        self._ready: list[tuple[Hashable, BettiResult]] = []

    def submit(
        self, job_id: Hashable, points: np.ndarray, k: int, scale: int = 2, maxdim: int = 1
    ) -> None:
        """Queue one cloud; arguments as in `topology.betti_numbers`.

        Bad input raises `InputError` here; a complex too large for memory is reported by
        `results()`.
        """
        start = time.perf_counter()
        scale, maxdim = check_scale_maxdim(scale, maxdim)
        cloud, k, k_used = checked_cloud(points, k)
        n_input = int(np.shape(points)[0])
        if k_used == 0:
            table = NeighbourTable(
                np.zeros((1, 0), np.int64), n_input, k, 0, time.perf_counter() - start
            )
            self._ready.append((job_id, single_point_result(table, scale, maxdim)))
            return
        neighbours = None
        if cloud.shape[1] > TREE_MAX_DIM:  # too many for a kd-tree: the device engine, here
            cloud, neighbours = None, knn_indices(cloud, k_used)
        with interrupts_ignored():  # workers start inside submit: they inherit SIG_IGN
            future = self._executor.submit(
                betti_from_cloud,
                cloud,
                k_used,
                scale,
                maxdim,
                self.collapse,
                self.threads,
                self.max_bytes,
                neighbours,
            )
        job = _Job(job_id, n_input, k, k_used, scale, time.perf_counter() - start)
        self._running[future] = job

    @property
    def pending(self) -> int:
        """Jobs submitted whose results have not been taken yet."""
        return len(self._running) + len(self._ready)

    def results(self, block: bool = True) -> Iterator[tuple[Hashable, BettiResult | InputError]]:
        """Yield (job_id, result) as jobs finish.

        A job refused for its input (a complex too large for memory) yields its `InputError`
        in place of a result, so one job cannot stop the stream; any other exception propagates
        with a note naming the job.

        Args:
            block: wait until every job submitted so far (or during the iteration) is done;
                with False, yield only those already finished.
        """
        while self._ready:
            yield self._ready.pop(0)
        while self._running:
            if block:
                done, _ = wait(list(self._running), return_when=FIRST_COMPLETED)
            else:
                done = [future for future in self._running if future.done()]
                if not done:
                    return
            for future in done:
                job = self._running.pop(future)
                try:
                    neighbours, knn_seconds, graph = future.result()
                except InputError as error:
                    yield job.job_id, error
                    continue
                except Exception as error:
                    error.add_note(f"in Betti job {job.job_id!r}")
                    raise
                seconds = job.prepare_seconds + knn_seconds
                table = NeighbourTable(neighbours, job.n_input, job.k, job.k_used, seconds)
                yield job.job_id, betti_result(table, job.scale, graph)

    def close(self) -> None:
        """Stop the workers; unfinished jobs are cancelled."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._running.clear()

    def __enter__(self) -> BettiPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
