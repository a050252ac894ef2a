"""What the claims are judged on: a store's settings and per-network statistics, the groups of
networks compared, and the estimates of each group's statistics with 95% confidence intervals:
percentile bootstrap intervals for means and differences of means, Wilson score intervals for
shares of networks (a bootstrap interval of a share collapses to a point when every network
agrees: 5 of 5 would give [1, 1])."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

from topnn_jax.claims.bootstrap import LEVEL, bootstrap_difference_ci, bootstrap_mean_ci
from topnn_jax.claims.statistics import NetworkStatistics, network_statistics
from topnn_jax.claims.verdicts import MIN_NETWORKS, ClaimNumber
from topnn_jax.results import Store

Setting = tuple[str, str, str, tuple[int, ...]]
"""(dataset, architecture, activation, hidden widths)."""


@dataclass(frozen=True)
class Group:
    """A statistic's defined values in one group of networks, and how many were undefined.

    Attributes:
        values: float[n] the statistic of each network whose value is defined.
        excluded: networks of the group left out because the statistic is undefined for them.
    """

    values: np.ndarray
    excluded: int

    @property
    def n(self) -> int:
        """Networks counted."""
        return self.values.size


def group_of(members: Sequence[NetworkStatistics], field: str, *, defined: bool = True) -> Group:
    """`field` of each member; with `defined`, members whose normalised area is undefined count
    as excluded too (claims 2-4 leave out classes with T(0) = 1)."""
    values = np.array(
        [getattr(s, field) for s in members if not (defined and math.isnan(s.normalised_area))],
        dtype=float,
    )
    kept = values[~np.isnan(values)]
    return Group(kept, len(members) - kept.size)


def shortfall(groups: dict[str, Group]) -> str | None:
    """'tanh has 3 usable networks' for the groups below `MIN_NETWORKS`, or None; networks left
    out because the statistic is undefined for them are counted and explained."""
    short = {name: group for name, group in groups.items() if group.n < MIN_NETWORKS}
    if not short:
        return None
    counts = ", ".join(f"{name} has {group.n}" for name, group in short.items())
    text = f"{counts} usable network(s), needs {MIN_NETWORKS} per group"
    left_out = sum(group.excluded for group in short.values())
    if left_out:
        text += (
            f" ({left_out} more left out: the statistic is undefined where the input's topology"
            " is already minimal, T(0) = 1, or is never reduced)"
        )
    return text


class Evidence:
    """A store's settings and statistics, and bootstrap estimates from them.

    Args:
        store: the results.
        resamples, seed: the bootstrap's resamples and `numpy.random.default_rng` seed.
    """

    def __init__(self, store: Store, resamples: int, seed: int) -> None:
        self.settings: list[Setting] = list(  # every setting with a network, trained or not
            dict.fromkeys(
                (n.dataset, n.architecture, n.activation, n.hidden) for n in store.networks
            )
        )
        self.statistics = network_statistics(store)
        self.labels = store.labels
        self.resamples, self.seed = resamples, seed

    def where(
        self, label: int, dataset: str, activation: str, architectures: Iterable[str]
    ) -> list[NetworkStatistics]:
        """Statistics of one class of the networks of `dataset` x `activation` x
        `architectures`."""
        names = set(architectures)
        return [
            s
            for s in self.statistics
            if s.label == label
            and s.dataset == dataset
            and s.activation == activation
            and s.architecture in names
        ]

    def mean(self, quantity: str, group: Group) -> ClaimNumber | None:
        """The group's mean with its CI, or None for an empty group."""
        if group.n == 0:
            return None
        ci = bootstrap_mean_ci(group.values, resamples=self.resamples, seed=self.seed)
        return ClaimNumber(quantity, ci.estimate, ci.low, ci.high, (group.n,), group.excluded)

    def share(self, quantity: str, group: Group) -> ClaimNumber | None:
        """The share of the group's networks whose (0/1) value is 1, with its Wilson score
        interval, or None for an empty group."""
        if group.n == 0:
            return None
        count = int(group.values.sum())
        ci = binomtest(count, group.n).proportion_ci(confidence_level=LEVEL, method="wilson")
        estimate = count / group.n
        return ClaimNumber(quantity, estimate, ci.low, ci.high, (group.n,), group.excluded)

    def difference(self, quantity: str, a: Group, b: Group) -> ClaimNumber | None:
        """mean(a) - mean(b) with its CI, or None when a group is empty."""
        if a.n == 0 or b.n == 0:
            return None
        ci = bootstrap_difference_ci(a.values, b.values, resamples=self.resamples, seed=self.seed)
        return ClaimNumber(
            quantity, ci.estimate, ci.low, ci.high, (a.n, b.n), a.excluded + b.excluded
        )
