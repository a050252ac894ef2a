"""Figures of data sets, layers and results (matplotlib, headless)."""

from topnn_jax.plotting.common import figure_bytes, new_figure, save_figure

__all__ = ["figure_bytes", "new_figure", "save_figure"]
