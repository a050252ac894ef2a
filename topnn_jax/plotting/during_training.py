"""Topology during training: for one data set and architecture, a heat map per activation and
class (rows) and Betti dimension (columns) of the mean Betti number at every layer (x) and
training step (y), over the networks measured at that step (`[topology] at_steps`, or
measurements saved with `step=`). A column shares one colour scale, so activations compare.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from topnn_jax.errors import InputError
from topnn_jax.plotting.common import new_figure
from topnn_jax.plotting.trajectories import paper_order
from topnn_jax.results import NetworkTrajectory, Store, class_name

PANEL_WIDTH = 2.8  # inches per panel
PANEL_HEIGHT = 2.2
MAX_ANNOTATED_CELLS = 120
"""Panels with at most this many cells print each cell's mean in it."""


def during_training_groups(store: Store) -> list[tuple[str, str]]:
    """(dataset, architecture) pairs with a usable network measured at two or more steps: the
    `betti_during_training` figures the store can make."""
    return list(
        dict.fromkeys(
            (n.dataset, n.architecture) for n in store.networks if n.usable and len(n.steps) > 1
        )
    )


def step_means(
    networks: Sequence[NetworkTrajectory], steps: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, count): float[len(steps), n_layers, n_labels, n_dims] means over the networks
    measured at each step (NaN where none was), and int[len(steps)] how many were."""
    shape = (len(steps), *networks[0].betti.shape)
    total, count = np.zeros(shape), np.zeros(len(steps), int)
    for network in networks:
        for position, step in enumerate(steps):
            if step in network.steps:
                total[position] += network.betti_steps[network.steps.index(step)]
                count[position] += 1
    with np.errstate(invalid="ignore"):
        return total / count[:, None, None, None], count


def betti_during_training(
    store: Store, dataset: str, architecture: str, dims: Sequence[int] | None = None
) -> Figure:
    """Mean Betti number per layer and training step of one data set and architecture: one row
    of heat maps per activation and class, one column per Betti dimension.

    Raises:
        InputError: no usable network of that data set and architecture was measured at two or
            more steps, or a dimension was not measured.
    """
    networks = [
        n
        for n in store.networks
        if (n.dataset, n.architecture) == (dataset, architecture) and n.usable and len(n.steps) > 1
    ]
    if not networks:
        raise InputError(
            f"no well-trained network of {dataset} {architecture} in {store.directory} was "
            "measured during training: set [topology] at_steps (or save measurements with step=)"
        )
    present = [d for d in store.dims if d in networks[0].dims_measured(store.dims)]
    dims = tuple(present if dims is None else (int(d) for d in dims))
    missing = [d for d in dims if d not in present]
    if missing or not dims:
        raise InputError(f"Betti dimension(s) {missing} were not measured for {dataset}")
    indices = [store.dims.index(d) for d in dims]
    activations = paper_order(list(dict.fromkeys(n.activation for n in networks)))
    steps = sorted({step for n in networks for step in n.steps})
    rows = [
        (a, position, label) for a in activations for position, label in enumerate(store.labels)
    ]
    figure = new_figure(PANEL_WIDTH * len(dims) + 0.8, PANEL_HEIGHT * len(rows) + 0.9)
    axes = figure.subplots(len(rows), len(dims), squeeze=False)
    means = {a: step_means([n for n in networks if n.activation == a], steps) for a in activations}
    for col, index in enumerate(indices):
        panels = [means[a][0][:, :, position, index] for a, position, _ in rows]
        top = max(1.0, *(float(np.nanmax(p)) if np.isfinite(p).any() else 0.0 for p in panels))
        for row, (activation, _, label) in enumerate(rows):
            ax, values = axes[row, col], panels[row]
            image = ax.imshow(values, aspect="auto", origin="lower", vmin=0, vmax=top)
            _annotate(ax, values, top)
            counts = means[activation][1]
            ticks = [f"{step} (n={n})" for step, n in zip(steps, counts, strict=True)]
            ax.set_yticks(range(len(steps)), ticks, fontsize=7)
            ax.set_xticks(range(values.shape[1]))
            ax.set_title(f"{activation}, {class_name(label)}: $\\beta_{dims[col]}$", fontsize=9)
            if row == len(rows) - 1:
                ax.set_xlabel("layer (0 = input)")
            if col == 0:
                ax.set_ylabel("training step")
        figure.colorbar(image, ax=axes[:, col], location="bottom", aspect=40, label="mean β")
    figure.suptitle(f"{dataset}, {architecture}: Betti numbers during training (means)")
    return figure


def _annotate(ax: Axes, values: np.ndarray, top: float) -> None:
    """Print each cell's mean in it, when the panel has few cells."""
    if values.size > MAX_ANNOTATED_CELLS:
        return
    for (row, col), value in np.ndenumerate(values):
        if np.isfinite(value):
            colour = "black" if value > 0.6 * top else "white"
            text = f"{value:g}" if float(value).is_integer() else f"{value:.1f}"
            ax.text(col, row, text, ha="center", va="center", fontsize=6, color=colour)
