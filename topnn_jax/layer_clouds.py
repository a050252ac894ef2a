"""A trained network's layer clouds: every layer's output on a data set's homology subsample,
split by class (what the pipeline measures and the report draws)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from topnn_jax.datasets import Dataset, TopologyPreset
from topnn_jax.errors import InputError
from topnn_jax.models import layer_outputs
from topnn_jax.networks import TrainedNetwork


def homology_layers(
    network: TrainedNetwork, dataset: Dataset, stride: int, labels: str = "true"
) -> tuple[list[np.ndarray], np.ndarray]:
    """Every layer's output for the homology subsample, and each point's class.

    Returns:
        (outputs, membership): per layer float32[m, w] (input, hidden..., logits) for class a's
        every-`stride`-th training point then class b's, and int[m] classes: the data's labels
        with `labels="true"`, the network's predictions with `"predicted"`.
    """
    if network.member.dataset != dataset.name:
        raise InputError(
            f"the network was trained on {network.member.dataset!r}, not on {dataset.name!r}"
        )
    indices = [dataset.homology_indices(label, stride) for label in (0, 1)]
    points = dataset.train_points[np.concatenate(indices)]
    outputs = layer_outputs(network.params, network.member.spec, points)
    if labels == "true":
        membership = np.repeat([0, 1], [len(indices[0]), len(indices[1])])
    else:
        membership = np.argmax(outputs[-1], axis=1)
    return outputs, membership


def class_clouds(
    network: TrainedNetwork, dataset: Dataset, preset: TopologyPreset, labels: str
) -> Iterator[tuple[int, int, np.ndarray]]:
    """(layer, label, float32[m, w]) for every layer and class of the homology subsample, split
    by `labels` as in `homology_layers`."""
    outputs, membership = homology_layers(network, dataset, preset.stride, labels)
    for layer, output in enumerate(outputs):
        for label in (0, 1):
            cloud = output[membership == label]
            if len(cloud):
                yield layer, label, cloud
