"""A process pool that computes many Betti numbers at once and streams them back as they finish.

giotto-ph holds the GIL, so parallel jobs need processes. The parent validates each cloud and
finds its kNN table on the JAX device; the workers receive only the integer table and run
`topnn_jax.homology` (numpy, scipy, giotto-ph: no JAX). Workers start with "spawn", which is safe
with a parent that runs JAX threads (fork is not).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Hashable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from types import TracebackType

import numpy as np

from topnn_jax.errors import InputError
from topnn_jax.homology import Collapse, betti_from_neighbours, resolve_collapse
from topnn_jax.topology import (
    BettiResult,
    NeighbourTable,
    betti_result,
    check_int,
    check_scale_maxdim,
    neighbour_table,
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
        self._running: dict[Future, tuple[Hashable, NeighbourTable, int]] = {}
        self._ready: list[tuple[Hashable, BettiResult]] = []

    def submit(
        self, job_id: Hashable, points: np.ndarray, k: int, scale: int = 2, maxdim: int = 1
    ) -> None:
        """Queue one cloud; arguments as in `topology.betti_numbers`.

        Bad input raises `InputError` here; a complex too large for memory is reported by
        `results()`.
        """
        scale, maxdim = check_scale_maxdim(scale, maxdim)
        table = neighbour_table(points, k)
        if table.n_points == 1:
            self._ready.append((job_id, single_point_result(table, scale, maxdim)))
            return
        with interrupts_ignored():  # workers start inside submit: they inherit SIG_IGN
            future = self._executor.submit(
                betti_from_neighbours,
                table.neighbours,
                scale,
                maxdim,
                self.collapse,
                self.threads,
                self.max_bytes,
            )
        self._running[future] = (job_id, table, scale)

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
                job_id, table, scale = self._running.pop(future)
                try:
                    graph = future.result()
                except InputError as error:
                    yield job_id, error
                    continue
                except Exception as error:
                    error.add_note(f"in Betti job {job_id!r}")
                    raise
                yield job_id, betti_result(table, scale, graph)

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
