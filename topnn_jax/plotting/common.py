"""Shared figure plumbing: headless figures, consistent colours, atomic saving.

Figures are built with `matplotlib.figure.Figure` directly (no pyplot state, no display needed),
so plotting works on a server without a screen and in worker threads.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from topnn_jax.atomic import atomic_write
from topnn_jax.errors import InputError

FORMATS = ("png", "svg", "pdf")
ACTIVATION_COLOURS = {
    "relu": "#d62728",
    "leaky_relu": "#ff7f0e",
    "tanh": "#1f77b4",
}
CLASS_COLOURS = ("#d62728", "#1f77b4")  # label 0 = class a, label 1 = class b
CYCLE = ("#2ca02c", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#9467bd", "#1f77b4")


def activation_colour(name: str, index: int = 0) -> str:
    """The fixed colour of an activation; others take the `index`-th colour of `CYCLE`."""
    return ACTIVATION_COLOURS.get(name, CYCLE[index % len(CYCLE)])


def new_figure(width: float, height: float) -> Figure:
    """A figure of `width` x `height` inches with constrained layout."""
    return Figure(figsize=(width, height), layout="constrained")


def figure_bytes(figure: Figure, fmt: str = "png", dpi: int = 120) -> bytes:
    """The figure rendered to `fmt` ("png", "svg" or "pdf")."""
    if fmt not in FORMATS:
        raise InputError(f"figure format {fmt!r} not supported; use one of {', '.join(FORMATS)}")
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=dpi)
    return buffer.getvalue()


def save_figure(
    figure: Figure, stem: str | Path, formats: Sequence[str] = ("png",), dpi: int = 120
) -> list[Path]:
    """Write `stem.png` (and the other `formats`) atomically; returns the paths written."""
    paths = []
    for fmt in formats:
        path = Path(f"{stem}.{fmt}")
        data = figure_bytes(figure, fmt, dpi)
        atomic_write(path, lambda handle, data=data: handle.write(data))
        paths.append(path)
    return paths
