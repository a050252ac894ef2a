"""Topology statistics of every well-trained, fully measured network and class of a store: the
numbers the claims are judged on.

The total Betti number of a class at layer l is T(l) = sum of beta_k(l) over the dimensions the
network was measured in; its least possible value is 1 (one component, no holes). Layer 0 is the
input and layer L the logits, where L = len(hidden) + 1 is the depth (number of dense layers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from topnn_jax.results import NetworkTrajectory, Store


@dataclass(frozen=True)
class NetworkStatistics:
    """Topology statistics of one class of one well-trained, fully measured network.

    Attributes:
        total_betti: float[L + 1], T(l) for layer l = 0 (input) .. L (logits).
        depth: L, the number of dense layers (len(hidden) + 1).
        minimal_output: the logits' Betti numbers are exactly (1, 0, ..., 0).
        normalised_area: mean over l = 1..L of (T(l) - 1) / (T(0) - 1): 0 = minimal right after
            the input, 1 = no reduction, above 1 = topology grew. NaN when T(0) <= 1.
        first_minimum_layer: first layer l with T(l) = min T (0 if the input is a minimum).
        first_minimum_fraction: first_minimum_layer / L.
        last_layers_share: the share of the topology change made by the last two layers:
            sum over l = L-1, L of |T(l) - T(l-1)|, divided by the sum over all layers l = 1..L
            (the total change). In [0, 1]; for a trajectory that only falls it is
            (T(L-2) - T(L)) / (T(0) - T(L)). NaN when T never changes.
        last_layer_share: the same for the last layer alone, |T(L) - T(L-1)| / total change.
    """

    network_id: str
    dataset: str
    architecture: str
    activation: str
    hidden: tuple[int, ...]
    label: int
    total_betti: tuple[float, ...]
    depth: int
    minimal_output: bool
    normalised_area: float
    first_minimum_layer: int
    first_minimum_fraction: float
    last_layers_share: float
    last_layer_share: float

    @property
    def uniform_width(self) -> int | None:
        """The hidden width if every hidden layer has it, else None."""
        return self.hidden[0] if self.hidden and len(set(self.hidden)) == 1 else None

    @property
    def last_layers_excess(self) -> float:
        """last_layers_share - 2 / L: the share beyond what an even spread of the change over
        the L layers would give the last two (so shallow and deep networks compare fairly)."""
        return self.last_layers_share - min(2, self.depth) / self.depth


def _share(total: np.ndarray, layers: int) -> float:
    """The share of the total change sum |T(l) - T(l-1)| made by the last `layers` layers; NaN
    when T never changes."""
    change = np.abs(np.diff(total))
    whole = change.sum()
    return float(change[-layers:].sum() / whole) if whole > 0 else math.nan


def _class_statistics(
    network: NetworkTrajectory, label: int, position: int, dim_index: list[int]
) -> NetworkStatistics:
    """The statistics of class `label`, at `position` in the store's labels."""
    betti = network.betti[:, position][:, dim_index]  # float[L + 1, n_measured_dims]
    total = betti.sum(axis=1)
    depth = len(total) - 1
    minimal = np.zeros(len(dim_index))
    minimal[0] = 1.0  # dims are sorted and always include 0
    first_minimum = int(np.argmin(total))
    area = float(np.mean((total[1:] - 1) / (total[0] - 1))) if total[0] > 1 else math.nan
    return NetworkStatistics(
        network_id=network.network_id,
        dataset=network.dataset,
        architecture=network.architecture,
        activation=network.activation,
        hidden=network.hidden,
        label=label,
        total_betti=tuple(float(t) for t in total),
        depth=depth,
        minimal_output=bool(np.array_equal(betti[-1], minimal)),
        normalised_area=area,
        first_minimum_layer=first_minimum,
        first_minimum_fraction=first_minimum / depth,
        last_layers_share=_share(total, 2),
        last_layer_share=_share(total, 1),
    )


def network_statistics(store: Store) -> list[NetworkStatistics]:
    """One `NetworkStatistics` per (well-trained and fully measured network, label), in store
    order, classes in the store's order."""
    statistics = []
    for network in store.networks:
        if not network.usable:
            continue
        measured = network.dims_measured(store.dims)
        dim_index = [i for i, d in enumerate(store.dims) if d in measured]
        statistics.extend(
            _class_statistics(network, label, position, dim_index)
            for position, label in enumerate(store.labels)
        )
    return statistics
