"""The networks of a sweep: who each one is (`Member`: data set, architecture with activation,
seed, and the random key derived from them), how its training ended (`TrainingResult`), and both
with its trained parameters (`TrainedNetwork`)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from topnn_jax.architecture import ArchitectureSpec, Params
from topnn_jax.errors import InputError
from topnn_jax.topology.parameters import check_memory

if TYPE_CHECKING:
    import jax

MAX_SEED = 2**32 - 1
"""Largest seed: `jax.random.key` keeps 32 bits of it (without x64), so seed 2**32 would repeat
seed 0's network."""

BYTES_PER_NETWORK = 512
"""Memory a run holds per network of its sweep at least (its `Member`, about 150 bytes, its
training result and its networks.csv row), checked before the seeds are listed."""


def check_sweep_size(networks: int, where: str = "") -> None:
    """Refuse a sweep of so many networks that listing them would exceed the memory limit."""
    check_memory(
        f"{where}a sweep of {networks:,} networks",
        networks * BYTES_PER_NETWORK,
        "use fewer seeds (or top_up), architectures or activations",
    )


@dataclass(frozen=True)
class Member:
    """One network of a sweep, identified by data set name, architecture (with activation), seed."""

    dataset: str
    spec: ArchitectureSpec
    seed: int

    def __post_init__(self) -> None:
        if not 0 <= self.seed <= MAX_SEED:
            raise InputError(
                f"seed must be an integer in 0..2**32 - 1 (the random key holds 32 bits), got "
                f"{self.seed}"
            )

    @property
    def network_id(self) -> str:
        """File-name-safe identifier, e.g. ``D-I_10_by_15_relu_s2``."""
        text = f"{self.dataset}_{self.spec.name}_{self.spec.activation}_s{self.seed}"
        return re.sub(r"[^A-Za-z0-9._-]", "_", text)

    def key(self) -> jax.Array:
        """The member's random key: `jax.random.key(seed)` folded with a hash of its identity.

        It does not depend on which other members are trained alongside.
        """
        import jax  # here, not above: describing a sweep needs no JAX

        identity = f"{self.dataset}\0{self.spec.layers}\0{self.spec.activation}".encode()
        digest = int.from_bytes(hashlib.sha256(identity).digest()[:4], "little")
        return jax.random.fold_in(jax.random.key(self.seed), digest)


def make_members(
    dataset: str, specs: Sequence[ArchitectureSpec], seeds: Sequence[int]
) -> list[Member]:
    """Every (architecture, seed) combination for one data set, architectures outermost."""
    return [Member(dataset, spec, int(seed)) for spec in specs for seed in seeds]


@dataclass(frozen=True)
class TrainingResult:
    """Outcome of training one member.

    Attributes:
        steps: optimizer steps taken (the step of the early stop, or the limit).
        train_correct, n_train: correctly classified / all training points at the last check.
        test_correct, n_test: the same on the test set.
        well_trained: all training points correct, test error <= the configured maximum, and
            not failed.
        failed: why training failed (e.g. the loss became NaN), or None.
    """

    steps: int
    train_correct: int
    n_train: int
    test_correct: int
    n_test: int
    well_trained: bool
    failed: str | None = None

    @property
    def train_accuracy(self) -> float:
        """Fraction of training points classified correctly."""
        return self.train_correct / self.n_train

    @property
    def test_accuracy(self) -> float:
        """Fraction of test points classified correctly."""
        return self.test_correct / self.n_test


@dataclass(frozen=True, eq=False)
class TrainedNetwork:
    """A member, its trained (unpadded, numpy) parameters and its training outcome.

    Attributes:
        snapshots: step -> the parameters after that many steps, for the steps asked for
            (`[topology] at_steps`) that the member trained through (before its last step).
    """

    member: Member
    params: Params
    result: TrainingResult
    snapshots: dict[int, Params] = field(default_factory=dict)
