"""Betti executors of this machine: a process pool that computes many Betti numbers at once and
streams them back as they finish, a serial one that computes them in this process, and
`AutoExecutor`, the default of `measure` and `scan_parameters`, which runs small work serially
and large work on one shared pool that stays warm between calls.

All satisfy `BettiExecutor`, the protocol of whatever runs Betti jobs (a cluster backend is
another class with its methods). Each prepares a job in the caller's process
(`prepare_job`: checks, deduplication, the kNN table when an engine other than "auto" is asked
for) and finishes it with `run_job` (the host kNN, the homology). giotto-ph holds the GIL, so
parallel jobs need processes: `BettiPool`'s workers import only `topnn_jax.topology.job` (numpy,
scipy, giotto-ph: no JAX), so the parent, which also drives training, does not wait on the kNN.
Workers start with "spawn", which is safe with a parent that runs JAX threads (fork is not), and
end when the parent dies (`topnn_jax.topology.job.start_worker`). When a worker dies (killed,
out of memory), `BettiPool` starts fresh workers and reruns the jobs the pool lost, a bounded
number of times; past that it raises `WorkLostError`.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import multiprocessing
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Protocol, Self

import numpy as np

from topnn_jax.errors import InputError, WorkLostError, check_int
from topnn_jax.topology.cloud import prepare_job
from topnn_jax.topology.job import (
    BettiJob,
    BettiResult,
    JobOptions,
    available_cpus,
    run_job,
    start_worker,
)
from topnn_jax.topology.parameters import Collapse

Outcome = BettiResult | InputError
"""A job's result, or the `InputError` that refused it (a complex too large for memory)."""


@contextlib.contextmanager
def _starting_workers() -> Iterator[None]:
    """The context in which worker processes may start.

    * SIGINT is ignored (main thread only), so that a Ctrl-C during their start-up (before
      `start_worker` runs) cannot kill them with a traceback;
    * the main module is hidden from "spawn": a started worker would otherwise import the
      user's script again, which fails ("bootstrapping phase") in a script without an
      ``if __name__ == "__main__":`` guard and reruns its unguarded code. Workers need only
      `topnn_jax.topology.job`.
    """
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
    finally:
        sys.modules["__main__"] = main


def _outcome(job_id: Hashable, result: Callable[[], BettiResult]) -> Outcome:
    """`result()`, or the `InputError` that refused the job; any other exception propagates
    with a note naming the job."""
    try:
        return result()
    except InputError as error:
        return error
    except Exception as error:
        error.add_note(f"in Betti job {job_id!r}")
        raise


class BettiExecutor(Protocol):
    """Runs Betti jobs and hands back their results as they finish."""

    def submit(
        self, job_id: Hashable, points: np.ndarray, k: int, scale: int = 2, maxdim: int = 1
    ) -> None:
        """Queue one cloud (`points`: float[n, d]); arguments as in `topology.betti_numbers`.
        Bad input raises `InputError` here."""
        ...

    def results(self, block: bool = True) -> Iterator[tuple[Hashable, BettiResult | InputError]]:
        """(job_id, result) per finished job, or the `InputError` that refused the job (a
        complex too large for memory); with `block`, until every submitted job is done."""
        ...

    def close(self) -> None:
        """Stop; jobs not finished are dropped."""
        ...


class _LocalExecutor:
    """What both local executors share: how every job is computed (`options`), the context
    manager.

    Args:
        threads: giotto-ph threads per job.
        collapse: as in `topology.betti_numbers` ("auto" is resolved per job, by its maxdim).
        max_bytes: per-job memory ceiling, as in `topology.betti_numbers`.
    """

    def __init__(self, threads: int, collapse: Collapse, max_bytes: int | None) -> None:
        self.options = JobOptions(collapse, check_int("threads", threads, 1), max_bytes)

    def close(self) -> None:
        """Stop; unfinished jobs are dropped."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class BettiPool(_LocalExecutor):
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
        max_restarts: how many times a pool whose worker died is replaced by fresh workers
            that rerun its lost jobs; once more raises `WorkLostError`.

    Workers start in the thread that calls `submit`; on Linux they end with it (see
    `topnn_jax.topology.job.end_with_parent`), so submit from a thread that outlives the pool.
    """

    def __init__(
        self,
        workers: int | None = None,
        threads: int = 1,
        collapse: Collapse = "auto",
        max_bytes: int | None = None,
        max_restarts: int = 3,
    ) -> None:
        super().__init__(threads, collapse, max_bytes)
        threads = self.options.n_threads
        workers = max(1, available_cpus() // threads) if workers is None else workers
        self.workers = check_int("workers", workers, 1)
        self.knn_threads = max(1, available_cpus() // self.workers)  # a worker's share
        self.max_restarts = check_int("max_restarts", max_restarts, 0)
        self.restarts = 0
        self._executor = self._new_executor()
        self._running: dict[Future, tuple[Hashable, BettiJob]] = {}

    def _new_executor(self) -> ProcessPoolExecutor:
        """A pool of fresh workers (they start on the first submits)."""
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=start_worker,  # from job.py: workers import no more than it
            initargs=(os.getpid(),),
        )

    def submit(
        self, job_id: Hashable, points: np.ndarray, k: int, scale: int = 2, maxdim: int = 1
    ) -> None:
        """Queue one cloud; arguments as in `topology.betti_numbers`.

        Bad input raises `InputError` here; a complex too large for memory is reported by
        `results()`.
        """
        self.submit_job(job_id, prepare_job(points, k, scale, maxdim, self.options))

    def submit_job(self, job_id: Hashable, job: BettiJob) -> None:
        """Queue a prepared job (its kNN search gets the pool's `knn_threads` unless it says)."""
        if job.options.knn_threads is None:
            options = dataclasses.replace(job.options, knn_threads=self.knn_threads)
            job = dataclasses.replace(job, options=options)
        try:
            self._submit(job_id, job)
        except BrokenProcessPool:  # a worker died since `results` last looked
            self._restart()
            self._submit(job_id, job)

    @property
    def broken(self) -> bool:
        """True when a worker died and the pool has not been restarted yet."""
        return bool(self._executor._broken)

    def _submit(self, job_id: Hashable, job: BettiJob) -> None:
        with _starting_workers():  # workers start inside submit
            future = self._executor.submit(run_job, job)
        self._running[future] = (job_id, job)

    @property
    def pending(self) -> int:
        """Jobs submitted whose results have not been taken yet."""
        return len(self._running)

    def results(self, block: bool = True) -> Iterator[tuple[Hashable, Outcome]]:
        """Yield (job_id, result) as jobs finish.

        A job refused for its input (a complex too large for memory) yields its `InputError`
        in place of a result, so one job cannot stop the stream; any other exception propagates
        with a note naming the job. When a worker dies, the jobs the pool lost are rerun on
        fresh workers (at most `max_restarts` times per pool); once more raises `WorkLostError`,
        dropping the lost jobs (those that finished can still be taken).

        Args:
            block: wait until every job submitted so far (or during the iteration) is done;
                with False, yield only those already finished.
        """
        while self._running:
            if block:
                done, _ = wait(list(self._running), return_when=FIRST_COMPLETED)
            else:
                done = [future for future in self._running if future.done()]
                if not done:
                    return
            for future in done:
                if _lost(future):
                    self._restart()
                    break  # the futures in `done` are gone
                job_id, _ = self._running.pop(future)
                yield job_id, _outcome(job_id, future.result)

    def _restart(self) -> None:
        """Replace the broken pool by fresh workers and resubmit the jobs it lost; past
        `max_restarts`, drop them and raise `WorkLostError`."""
        lost = [future for future in self._running if _lost(future)]
        jobs = [self._running.pop(future) for future in lost]
        _shut_down(self._executor)
        if self.restarts == self.max_restarts:
            raise WorkLostError(
                f"Betti worker processes died {self.restarts + 1} time(s), the pool was "
                f"restarted {self.restarts} time(s) (the most allowed) and {len(jobs)} job(s) "
                "were lost; finished results are kept: continue with --resume"
            )
        self.restarts += 1
        self._executor = self._new_executor()
        for job_id, job in jobs:
            self._submit(job_id, job)

    def close(self) -> None:
        """Stop the workers; unfinished jobs are cancelled."""
        _shut_down(self._executor, cancel_futures=True)
        self._running.clear()


def _shut_down(executor: ProcessPoolExecutor, cancel_futures: bool = False) -> None:
    """Shut `executor` down, killing the workers of a broken one first.

    (CPython, 3.11 at least, terminates a broken pool's workers without the lock `submit`
    holds while it starts one: a worker started meanwhile is never terminated, and the pool
    waits for it for ever.)
    """
    if executor._broken:
        for process in list((executor._processes or {}).values()):
            process.kill()
    executor.shutdown(wait=True, cancel_futures=cancel_futures)


def _lost(future: Future) -> bool:
    """True for a future of a broken pool that will never have a result (once the pool broke,
    every future it has not finished is, or is about to be, failed with `BrokenProcessPool`)."""
    return not future.done() or isinstance(future.exception(), BrokenProcessPool)


def given_or(
    executor: BettiExecutor | None, make: Callable[[], BettiExecutor]
) -> contextlib.AbstractContextManager[BettiExecutor]:
    """`executor` in a context that leaves it open (whoever made it closes it), or, when it is
    None, `make()` in a context that closes it."""
    return contextlib.nullcontext(executor) if executor is not None else make()


class SerialExecutor(_LocalExecutor):
    """Run each Betti job in this process as it is submitted: the same results as `BettiPool`
    without worker processes (for debugging and profiling, or where processes cannot start).

    Args:
        threads, collapse, max_bytes: as in `BettiPool`.
    """

    def __init__(
        self, threads: int = 1, collapse: Collapse = "auto", max_bytes: int | None = None
    ) -> None:
        super().__init__(threads, collapse, max_bytes)
        self._finished: list[tuple[Hashable, Outcome]] = []

    def submit(
        self, job_id: Hashable, points: np.ndarray, k: int, scale: int = 2, maxdim: int = 1
    ) -> None:
        """Compute one cloud now; arguments and errors as in `BettiPool.submit`."""
        job = prepare_job(points, k, scale, maxdim, self.options)
        self._finished.append((job_id, _outcome(job_id, lambda: run_job(job))))

    @property
    def pending(self) -> int:
        """Jobs computed whose results have not been taken yet."""
        return len(self._finished)

    def results(self, block: bool = True) -> Iterator[tuple[Hashable, Outcome]]:
        """Yield (job_id, result) in submission order (every job is finished: `block` is moot)."""
        while self._finished:
            yield self._finished.pop(0)

    def close(self) -> None:
        """Drop results not taken."""
        self._finished.clear()


# Serial work (seconds) after which `AutoExecutor` hands the remaining jobs to a worker pool:
# about what starting one costs (0.5 s for two spawned workers and their first jobs on a 2-core
# CPU), or, once a pool is warm, what handing it jobs costs.
POOL_AFTER_SECONDS = 0.5
WARM_POOL_AFTER_SECONDS = 0.05
_shared: BettiPool | None = None


def shared_pool(workers: int | None = None) -> BettiPool:
    """The process's warm `BettiPool` of `workers` processes (default: one per CPU), started on
    first use and kept for later calls; closed by `close_shared_pool` or at interpreter exit."""
    global _shared
    workers = available_cpus() if workers is None else check_int("workers", workers, 1)
    if _shared is not None and (_shared.workers != workers or _shared.broken):
        close_shared_pool()
    if _shared is None:
        _shared = BettiPool(workers)
        atexit.register(close_shared_pool)
    return _shared


def warm_pool() -> BettiPool | None:
    """The shared pool if it is running, else None."""
    return _shared


def close_shared_pool() -> None:
    """Stop the shared pool's workers (a later `shared_pool` starts fresh ones)."""
    global _shared
    if _shared is not None:
        pool, _shared = _shared, None
        pool.close()


class AutoExecutor(_LocalExecutor):
    """The default executor of `measure` and `scan_parameters`: never slower than running the
    jobs in the calling process, parallel when the work is large.

    Jobs run here, one by one as they are submitted, until they have taken `POOL_AFTER_SECONDS`
    (`WARM_POOL_AFTER_SECONDS` once the process has a warm pool); the rest go to the process's
    shared warm `BettiPool` (`shared_pool`), which stays up for the next call. Small work
    (a notebook's measurement per epoch) never pays for starting processes; large work runs on
    every CPU after a short serial start. With one worker everything runs here.

    Args:
        workers: processes of the shared pool (default: CPUs // threads, at least 1).
        threads, collapse, max_bytes: as in `BettiPool`.
    """

    def __init__(
        self,
        workers: int | None = None,
        threads: int = 1,
        collapse: Collapse = "auto",
        max_bytes: int | None = None,
    ) -> None:
        super().__init__(threads, collapse, max_bytes)
        threads = self.options.n_threads
        workers = max(1, available_cpus() // threads) if workers is None else workers
        self.workers = check_int("workers", workers, 1)
        self._serial_seconds = 0.0
        self._finished: list[tuple[Hashable, Outcome]] = []
        self._pool: BettiPool | None = None

    def submit(
        self, job_id: Hashable, points: np.ndarray, k: int, scale: int = 2, maxdim: int = 1
    ) -> None:
        """Run one cloud here or queue it on the shared pool; arguments and errors as in
        `BettiPool.submit`."""
        start = time.perf_counter()
        job = prepare_job(points, k, scale, maxdim, self.options)
        if self._pool is None and self.workers > 1:
            warm = warm_pool()
            warm_here = warm is not None and warm.workers == self.workers and not warm.broken
            budget = WARM_POOL_AFTER_SECONDS if warm_here else POOL_AFTER_SECONDS
            if self._serial_seconds > budget:
                self._pool = shared_pool(self.workers)
        if self._pool is not None:
            self._pool.submit_job(job_id, job)
            return
        self._finished.append((job_id, _outcome(job_id, lambda: run_job(job))))
        self._serial_seconds += time.perf_counter() - start

    @property
    def pending(self) -> int:
        """Jobs submitted whose results have not been taken yet."""
        return len(self._finished) + (self._pool.pending if self._pool is not None else 0)

    def results(self, block: bool = True) -> Iterator[tuple[Hashable, Outcome]]:
        """Yield (job_id, result): those run here first, then the pool's as they finish."""
        while self._finished:
            yield self._finished.pop(0)
        if self._pool is not None:
            yield from self._pool.results(block)

    def close(self) -> None:
        """Drop results not taken; the shared pool stays up for later calls (its unfinished
        jobs of this executor are dropped)."""
        self._finished.clear()
        if self._pool is not None and self._pool.pending:
            close_shared_pool()  # the only way to cancel its jobs
        self._pool = None
