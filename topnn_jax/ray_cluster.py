"""An experiment's work on a Ray cluster: each training group a task that asks for a GPU where the
cluster has one, each Betti job a CPU task, the arrays through Ray's object store.

The driver (this process) stays the only writer of the store: it submits tasks and takes their
results as they finish, as with the local executors, so `--resume`, Ctrl-C and the
identical-tables guarantee hold unchanged. A task whose worker or node dies is run again (at
most `retries` times, then `WorkLostError`); a job refused for its input is not (its
`InputError` is its result); any other error in a task propagates, named.

    with RayCluster(address="auto") as cluster:  # joins `ray start --head`
        run_experiment(config, executor=cluster.betti_executor(), trainer=cluster.trainer())

Every node needs topnn-jax installed in the same environment as the driver. Needs the `ray`
extra (`pip install "topnn-jax[ray]"`); Ray is imported on first use.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import warnings
from collections.abc import Callable, Hashable, Iterator, Sequence
from types import ModuleType
from typing import Any, Self

import numpy as np

from topnn_jax.config import TrainingConfig
from topnn_jax.datasets import Dataset
from topnn_jax.errors import InputError, WorkLostError, check_int
from topnn_jax.networks import Member, TrainedNetwork
from topnn_jax.topology.cloud import prepare_job
from topnn_jax.topology.job import BettiJob, BettiResult, JobOptions, run_outcomes
from topnn_jax.topology.parameters import Collapse
from topnn_jax.training import Progress, check_members, plan_groups, train_groups

PROGRESS_SECONDS = 0.5
"""While waiting for a training group, the trainer reports progress this often (the pipeline
takes finished Betti results then)."""

BATCH_JOBS = 4
QUEUED_PER_CPU = 4
"""A Betti task holds one job until the cluster has `QUEUED_PER_CPU` tasks per CPU, then
`BATCH_JOBS`: a task costs the driver a round trip (~1 ms), a visible share of ~10 ms jobs."""

WAIT_SECONDS = 0.05
"""How often the driver asks which of its pending tasks have finished."""

CPU_GROUP_MEMBERS = 8
"""Members per training task on a cluster without GPUs (`TrainingConfig.member_chunk` unset)."""


def import_ray() -> ModuleType:
    """The `ray` module, or `InputError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise InputError(
            'executor "ray" needs Ray: pip install "topnn-jax[ray]" (or pip install ray), '
            'or use executor = "local"'
        ) from None
    return ray


@contextlib.contextmanager
def starting_ray_processes() -> Iterator[None]:
    """The context in which this process may start Ray's daemons: Ray starts them with
    `Popen(preexec_fn=...)`, a fork followed at once by an exec, which JAX's fork hook warns of
    (a deadlock needs JAX code between the two; there is none): that warning is not shown."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
        yield


class RayCluster:
    """A connection to a Ray cluster, and the executors that run work on it.

    Args:
        address: "auto" joins the cluster running on this machine (`ray start --head`),
            "HOST:PORT" a remote one; None starts a Ray instance here for the connection's
            life. When this process is already connected (`ray.init` was called), that
            connection is used and left open.
        retries: times a task whose worker or node died is run again.
        init: more keyword arguments for `ray.init` (e.g. `num_cpus`) when it is called here.
    """

    def __init__(self, address: str | None = None, retries: int = 3, **init: Any) -> None:
        self.ray = import_ray()
        self.retries = check_int("retries", retries, 0)
        self._owned = False
        if self.ray.is_initialized():
            return
        options = {"include_dashboard": False, "log_to_driver": False} | init
        try:
            with starting_ray_processes():
                self.ray.init(address=address, **options)
        except ConnectionError as error:
            raise InputError(
                f"no Ray cluster at address {address!r} ({error}); start one with "
                "`ray start --head`, or give no address to start Ray on this machine for the run"
            ) from None
        self._owned = True

    @property
    def gpus(self) -> int:
        """GPUs in the cluster now."""
        return int(self.ray.cluster_resources().get("GPU", 0))

    @property
    def cpus(self) -> int:
        """CPUs in the cluster now."""
        return int(self.ray.cluster_resources().get("CPU", 0))

    def betti_executor(
        self, threads: int = 1, collapse: Collapse = "auto", max_bytes: int | None = None
    ) -> RayBettiExecutor:
        """A `BettiExecutor` whose jobs are tasks of `threads` CPUs (arguments as `BettiPool`)."""
        return RayBettiExecutor(self, threads, collapse, max_bytes)

    def trainer(self) -> RayDevices:
        """A `TrainingExecutor` whose groups are tasks on the cluster's GPUs (else CPUs)."""
        return RayDevices(self)

    def get(self, ref: Any, what: str) -> Any:
        """`ray.get(ref)`; a task lost with its worker or node (after the retries) raises
        `WorkLostError`, and an error inside the task propagates with a note naming `what`."""
        exceptions = self.ray.exceptions
        try:
            return self.ray.get(ref)
        except (exceptions.WorkerCrashedError, exceptions.NodeDiedError) as error:
            raise WorkLostError(
                f"{what} was lost with its Ray worker {self.retries + 1} times "
                f"({type(error).__name__}); raise [run] retries, or continue with --resume"
            ) from None
        except exceptions.ObjectLostError as error:
            raise WorkLostError(
                f"{what}: its result was lost with a Ray node ({type(error).__name__}); "
                "continue with --resume"
            ) from None
        except exceptions.RayTaskError as error:
            error.add_note(f"in {what} (a Ray task)")
            raise

    def ready(self, refs: Sequence[Any], timeout: float | None) -> list[Any]:
        """The refs whose tasks have finished, waiting up to `timeout` seconds (None: however
        long it takes; 0: not at all) for the first. Each wait looks at every ref, so it is
        asked at most every `WAIT_SECONDS` (waiting for one at a time costs the driver a CPU
        when thousands of short jobs are pending)."""
        if not refs:
            return []
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = WAIT_SECONDS if deadline is None else deadline - time.monotonic()
            done, _ = self.ray.wait(
                list(refs), num_returns=len(refs), timeout=max(min(left, WAIT_SECONDS), 0)
            )
            if done or (deadline is not None and time.monotonic() >= deadline):
                return done

    def cancel(self, refs: Sequence[Any]) -> None:
        """Stop the tasks of `refs` (their results are dropped)."""
        for ref in refs:
            self.ray.cancel(ref, force=True)

    def close(self) -> None:
        """Shut Ray down if this connection started it."""
        if self._owned and self.ray.is_initialized():
            self.ray.shutdown()
        self._owned = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class RayBettiExecutor:
    """Betti jobs as Ray tasks (a `BettiExecutor`): each prepared here as `BettiPool` prepares
    it, finished (`run_job`: kNN, homology) by a worker with `threads` CPUs; results in the
    order they finish. While every CPU of the cluster has `QUEUED_PER_CPU` tasks waiting, new
    jobs go `BATCH_JOBS` to a task. Made by `RayCluster.betti_executor`."""

    def __init__(
        self, cluster: RayCluster, threads: int, collapse: Collapse, max_bytes: int | None
    ) -> None:
        threads = check_int("threads", threads, 1)
        # a task reserves `threads` CPUs: its kNN search uses as many
        self.options = JobOptions(collapse, threads, max_bytes, knn_threads=threads)
        self._cluster = cluster
        self._task = cluster.ray.remote(run_outcomes).options(
            num_cpus=self.options.n_threads, max_retries=cluster.retries, retry_exceptions=False
        )
        self._queue_limit = QUEUED_PER_CPU * max(cluster.cpus // self.options.n_threads, 1)
        self._running: dict[Any, tuple[Hashable, ...]] = {}
        self._batch: list[tuple[Hashable, BettiJob]] = []

    def submit(
        self, job_id: Hashable, points: np.ndarray, k: int, scale: int = 2, maxdim: int = 1
    ) -> None:
        """Queue one cloud; arguments and errors as in `BettiPool.submit`."""
        self._batch.append((job_id, prepare_job(points, k, scale, maxdim, self.options)))
        if len(self._running) < self._queue_limit or len(self._batch) >= BATCH_JOBS:
            self._send_batch()

    def _send_batch(self) -> None:
        """Send the jobs not yet sent as one task."""
        if self._batch:
            job_ids, jobs = zip(*self._batch, strict=True)
            self._running[self._task.remote(list(jobs))] = job_ids
            self._batch = []

    @property
    def pending(self) -> int:
        """Jobs submitted whose results have not been taken yet."""
        return len(self._batch) + sum(len(job_ids) for job_ids in self._running.values())

    def results(self, block: bool = True) -> Iterator[tuple[Hashable, BettiResult | InputError]]:
        """Yield (job_id, result, or the `InputError` that refused the job) as jobs finish;
        with `block`, until every job submitted is done. A job lost more often than the
        retries allow raises `WorkLostError`."""
        self._send_batch()
        while self._running:
            done = self._cluster.ready(list(self._running), None if block else 0)
            if not done:
                return
            for ref in done:
                job_ids = self._running.pop(ref)
                outcomes = self._cluster.get(ref, f"Betti job {job_ids[0]!r}")
                yield from zip(job_ids, outcomes, strict=True)

    def close(self) -> None:
        """Cancel the jobs not finished."""
        self._cluster.cancel(list(self._running))
        self._running.clear()
        self._batch = []


class RayDevices:
    """Training groups as Ray tasks (a `TrainingExecutor`): each group of members trains on one
    GPU where the cluster has GPUs (else on one CPU's worth of a node), the data set shared
    through the object store. Groups run at once as the cluster's resources allow and are
    yielded as they finish. Made by `RayCluster.trainer`."""

    def __init__(self, cluster: RayCluster) -> None:
        self._cluster = cluster

    def train_groups(
        self,
        dataset: Dataset,
        members: Sequence[Member],
        config: TrainingConfig,
        progress: Callable[[Progress], None] | None = None,
        at_steps: Sequence[int] = (),
    ) -> Iterator[list[tuple[int, TrainedNetwork]]]:
        """As `TrainingExecutor.train_groups`; `progress` counts finished groups' steps and
        member-steps, and is also called every `PROGRESS_SECONDS` while the groups train."""
        check_members(dataset, members)
        at_steps = tuple(config.check_at_steps(at_steps))
        cluster = self._cluster
        gpus = cluster.gpus
        chunk = config.member_chunk or (-(-len(members) // gpus) if gpus else CPU_GROUP_MEMBERS)
        groups = [indices for _, indices in plan_groups(members, chunk, config.max_padding_waste)]
        task = cluster.ray.remote(train_group_task).options(
            num_gpus=1 if gpus else 0, num_cpus=1, max_retries=cluster.retries
        )
        data = cluster.ray.put(dataset)
        running = {
            task.remote(data, [members[i] for i in indices], config, at_steps): indices
            for indices in groups
        }
        done = Progress(0, len(groups) * config.max_steps, 0, len(members))  # finished groups'
        try:
            while running:
                for ref in cluster.ready(list(running), PROGRESS_SECONDS):
                    indices = running.pop(ref)
                    first = members[indices[0]].network_id
                    networks, computed = cluster.get(
                        ref, f"the training group of {first} and others"
                    )
                    done = dataclasses.replace(
                        done,
                        steps_done=done.steps_done + config.max_steps,
                        finished=done.finished + len(indices),
                        computed=done.computed + computed,
                        useful=done.useful + sum(network.result.steps for network in networks),
                    )
                    if progress is not None:  # a group is reported before it is handed on
                        progress(done)
                    yield list(zip(indices, networks, strict=True))
                if progress is not None:
                    progress(done)
        finally:
            cluster.cancel(list(running))


def train_group_task(
    dataset: Dataset, members: list[Member], config: TrainingConfig, at_steps: tuple[int, ...]
) -> tuple[list[TrainedNetwork], int]:
    """A Ray task: train `members` as one group on this worker's JAX devices (`train_groups`,
    so finished members leave the batch as they do locally); their networks, in the order given
    (parameters as numpy arrays), and the member-steps computed (`Progress.computed`). A float64
    config turns on JAX's 64-bit mode in the worker (the driver checked that it has it on,
    `check_precision`)."""
    if config.precision == "float64":
        import jax

        jax.config.update("jax_enable_x64", True)
    whole = dataclasses.replace(config, member_chunk=len(members))
    last: list[Progress] = []
    trained = dict(
        item
        for group in train_groups(dataset, members, whole, last.append, at_steps)
        for item in group
    )
    return [trained[i] for i in range(len(members))], last[-1].computed
