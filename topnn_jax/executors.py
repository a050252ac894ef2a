"""Who runs an experiment's work: the object that runs Betti jobs and the one that trains groups
of networks, as two small protocols that `run_experiment` and `scan_parameters` take.

Local implementations: `topnn_jax.topology.BettiPool` (worker processes, the default) and
`topnn_jax.topology.SerialExecutor` (this process) run Betti jobs (`BettiExecutor` is defined
beside them); `LocalDevices` trains on this process's JAX devices. On a Ray cluster,
`topnn_jax.ray_cluster` has one class of each. `configured_executors` makes those a config's
`[run]` section names.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from topnn_jax.config import RunSection, TrainingConfig
from topnn_jax.datasets import Dataset
from topnn_jax.networks import Member, TrainedNetwork
from topnn_jax.topology.pool import BettiExecutor, BettiPool, given_or
from topnn_jax.training import Progress, train_groups

__all__ = [
    "BettiExecutor",
    "LocalDevices",
    "TrainedGroup",
    "TrainingExecutor",
    "configured_executors",
]

TrainedGroup = list[tuple[int, TrainedNetwork]]
"""A finished group: (index into the members given, its trained network) per member."""


class TrainingExecutor(Protocol):
    """Trains the members of a sweep on a data set, group by group."""

    def train_groups(
        self,
        dataset: Dataset,
        members: Sequence[Member],
        config: TrainingConfig,
        progress: Callable[[Progress], None] | None = None,
        at_steps: Sequence[int] = (),
    ) -> Iterator[TrainedGroup]:
        """Yield each group of `members` as it finishes (a member's outcome does not depend on
        its group), each network with its parameters at `at_steps` (`TrainedNetwork.snapshots`);
        `progress` after every accuracy check. Bad input raises `InputError`."""
        ...


class LocalDevices:
    """Trains on this process's JAX devices: `train_groups` is `topnn_jax.training.train_groups`
    (see `TrainingExecutor.train_groups`)."""

    train_groups = staticmethod(train_groups)


@contextlib.contextmanager
def configured_executors(
    run: RunSection,
    executor: BettiExecutor | None = None,
    trainer: TrainingExecutor | None = None,
) -> Iterator[tuple[BettiExecutor, TrainingExecutor]]:
    """(Betti executor, trainer): those given, and for those not, the ones `run` names: a
    `BettiPool` of its workers and threads and `LocalDevices` ("local"), or a Ray cluster's
    ("ray", at `run.address`). What is made here is closed when the context ends."""
    threads = run.threads or 1
    if run.executor == "ray" and (executor is None or trainer is None):
        from topnn_jax.ray_cluster import RayCluster

        with RayCluster(run.address, run.retries) as cluster:
            made = cluster.betti_executor(threads) if executor is None else None
            try:
                yield executor or made, trainer or cluster.trainer()
            finally:
                if made is not None:
                    made.close()
        return
    with given_or(executor, lambda: BettiPool(run.workers, threads)) as pool:
        yield pool, trainer or LocalDevices()
