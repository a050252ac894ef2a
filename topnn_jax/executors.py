"""Who runs an experiment's work: the object that runs Betti jobs and the one that trains groups
of networks, as two small protocols that `run_experiment` and `scan_parameters` take.

Local implementations: `topnn_jax.topology.BettiPool` (worker processes, the default) and
`topnn_jax.topology.SerialExecutor` (this process) run Betti jobs (`BettiExecutor` is defined
beside them); `LocalDevices` trains on this process's JAX devices. Another backend (a
cluster, say) is one more class with these methods; the pipeline does not change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from topnn_jax.config import TrainingConfig
from topnn_jax.datasets import Dataset
from topnn_jax.networks import Member, TrainedNetwork
from topnn_jax.topology.pool import BettiExecutor
from topnn_jax.training import Progress, train_groups

__all__ = ["BettiExecutor", "LocalDevices", "TrainedGroup", "TrainingExecutor"]

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
