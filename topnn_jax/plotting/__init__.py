"""Figures of data sets, layers and results (matplotlib, headless)."""

from topnn_jax.plotting.clouds import (
    plot_barcodes,
    plot_dataset,
    plot_layers,
    plot_scan,
)
from topnn_jax.plotting.common import figure_bytes, new_figure, save_figure
from topnn_jax.plotting.during_training import betti_during_training, during_training_groups
from topnn_jax.plotting.trajectories import (
    architecture_comparison,
    betti_trajectories,
    comparison_groups,
    trajectory_groups,
)

__all__ = [
    "architecture_comparison",
    "betti_during_training",
    "betti_trajectories",
    "comparison_groups",
    "during_training_groups",
    "figure_bytes",
    "new_figure",
    "plot_barcodes",
    "plot_dataset",
    "plot_layers",
    "plot_scan",
    "save_figure",
    "trajectory_groups",
]
