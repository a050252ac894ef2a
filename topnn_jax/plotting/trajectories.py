"""Betti numbers through the layers: the paper's main figures, drawn from a results `Store`.

Both figures have one panel per (class, Betti dimension): rows are the classes (a, b, ...),
columns the dimensions; x is the layer (0 = input ... L = logits), y the Betti number. A curve
is the mean over the well-trained, measured networks of a group, with a shaded band of mean ± ½
standard deviation (the paper's summary; population standard deviation, ddof = 0, so one network
gives a zero band).

* `betti_trajectories`: one data set and architecture, one curve per activation, plus a faint line
  per network (the paper's Figures of ReLU vs leaky ReLU vs tanh).
* `architecture_comparison`: one data set and activation, one curve per architecture (depth, width,
  bottleneck), aligned at the input or at the output.
* `trajectory_groups` / `comparison_groups`: which of those figures a store can make.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from topnn_jax.architecture import PAPER_ACTIVATIONS
from topnn_jax.errors import InputError
from topnn_jax.plotting.common import (
    CYCLE,
    activation_colour,
    new_figure,
)
from topnn_jax.results import FEW_NETWORKS, NetworkTrajectory, Store, class_name

ALIGNS = ("input", "output")
PANEL_WIDTH = 3.0  # inches per panel
PANEL_HEIGHT = 2.4
LEGEND_WIDTH = 2.4  # inches to the right of the panels for the figure legend
TITLE_HEIGHT = 0.5
BAND_ALPHA = 0.2
MAX_TICK_CHARACTERS = 30  # longer layer tick labels than this in all: label every other layer
# A panel whose largest mean exceeds this and SYMLOG_RATIO times the median mean is drawn on a
# symmetric log axis, so that one outlying layer does not flatten the others.
SYMLOG_TOP = 20.0
SYMLOG_RATIO = 5.0


@dataclass(frozen=True)
class TrajectoryBand:
    """Mean and spread of a group of networks' Betti numbers per layer.

    Attributes:
        mean: float[n_layers, n_labels, n_dims], mean Betti number per layer, class and
            dimension.
        half_std: same shape, half the standard deviation over the networks (ddof = 0).
        count: networks in the group.
    """

    mean: np.ndarray
    half_std: np.ndarray
    count: int

    @property
    def lower(self) -> np.ndarray:
        """mean - ½ s.d., the band's lower edge."""
        return self.mean - self.half_std

    @property
    def upper(self) -> np.ndarray:
        """mean + ½ s.d., the band's upper edge."""
        return self.mean + self.half_std


def trajectory_band(
    networks: Sequence[NetworkTrajectory], dim_indices: Sequence[int]
) -> TrajectoryBand:
    """Mean ± ½ s.d. over `networks` (same architecture, all measured) of the Betti numbers in the
    store's dimensions at `dim_indices` (positions in `Store.dims`)."""
    if not networks:
        raise InputError("no networks to average")
    values = np.stack([network.betti[:, :, list(dim_indices)] for network in networks])
    return TrajectoryBand(values.mean(axis=0), 0.5 * values.std(axis=0), len(networks))


def trajectory_groups(store: Store) -> list[tuple[str, str]]:
    """(dataset, architecture) pairs with well-trained measured networks, in store order: the
    `betti_trajectories` figures this store can make."""
    return list(dict.fromkeys((n.dataset, n.architecture) for n in store.networks if n.usable))


def comparison_groups(store: Store) -> list[tuple[str, str, list[str]]]:
    """(dataset, activation, architectures) with at least two architectures that have
    well-trained measured networks: the `architecture_comparison` figures this store can make.
    Groups in store order; architectures shallow to deep, then narrow to wide."""
    groups: dict[tuple[str, str], dict[str, tuple[int, ...]]] = {}
    for network in store.networks:
        if network.usable:
            group = groups.setdefault((network.dataset, network.activation), {})
            group[network.architecture] = network.hidden
    return [
        (d, a, sorted(archs, key=lambda name: (len(archs[name]), sum(archs[name]))))
        for (d, a), archs in groups.items()
        if len(archs) >= 2
    ]


def betti_trajectories(
    store: Store, dataset: str, architecture: str, dims: Sequence[int] | None = None
) -> Figure:
    """Betti numbers per layer of one data set and architecture, one curve per activation.

    Each activation gets its mean as a solid line with markers, mean ± ½ s.d. as a shaded band,
    and one faint thin line per network (shifted slightly sideways so that identical integer
    trajectories stay visible).

    Args:
        store: a results store (`topnn_jax.results.load_store`).
        dataset: data set name, e.g. "D-I".
        architecture: architecture name as in networks.csv, e.g. "10_by_15".
        dims: Betti dimensions to show (columns); default: those measured.

    Raises:
        InputError: unknown data set or architecture, no well-trained measured networks, or a
            dimension that was not measured.
    """
    _require(store, "data set", dataset, [s[0] for s in store.settings()], "")
    _require(
        store,
        "architecture",
        architecture,
        [a for d, a, _ in store.settings() if d == dataset],
        f" for {dataset}",
    )
    networks = [n for n in store.networks if n.setting[:2] == (dataset, architecture) and n.usable]
    what = f"{dataset} {architecture}"
    _require_networks(store, networks, what)
    dims, indices = _resolve_dims(store, networks, dims, what)
    activations = paper_order(list(dict.fromkeys(n.activation for n in networks)))
    widths = _line_widths(len(activations))
    layers = np.arange(networks[0].betti.shape[0])
    title = f"{dataset}, {architecture}: Betti numbers through the layers"
    figure, axes = _panel_grid(store.labels, dims, title)
    constant = _constant_panels(networks, indices, axes)
    handles, labels = [], []
    for a_index, activation in enumerate(activations):
        group = [n for n in networks if n.activation == activation]
        band = trajectory_band(group, indices)
        colour = activation_colour(activation, a_index)
        offsets = _jitter(a_index, len(activations), len(group))
        for (row, col), ax in np.ndenumerate(axes):
            if (row, col) in constant:
                continue
            for network, offset in zip(group, offsets, strict=True):
                ax.plot(
                    layers + offset,
                    network.betti[:, row, indices[col]],
                    color=colour,
                    linewidth=0.6,
                    alpha=0.35,
                    zorder=1,
                )
            _draw_band(ax, layers, band, row, col, colour, activation, widths[a_index], "o")
        handles.append(_band_handle(colour, widths[a_index], band.count))
        labels.append(f"{activation} (n = {band.count})")
    handles.append(Line2D([], [], color="0.4", linewidth=0.6, alpha=0.6))
    labels.append("single networks")
    handles.append(Patch(facecolor="0.5", alpha=0.35))
    labels.append("mean ± ½ s.d.")
    ticks = _layer_ticks(layers, first="in", last="out")
    _finish(figure, axes, ticks, "layer", handles, labels, "activation")
    return figure


def architecture_comparison(
    store: Store,
    dataset: str,
    activation: str,
    architectures: Sequence[str] | None = None,
    align: str = "input",
    dims: Sequence[int] | None = None,
) -> Figure:
    """Betti numbers per layer of one data set and activation, one curve per architecture.

    Args:
        store: a results store.
        dataset: data set name.
        activation: activation name, e.g. "leaky_relu".
        architectures: those to compare, in this order; default: every architecture of the data
            set and activation with well-trained measured networks, in store order.
        align: "input": x = layer counted from the input (0 = input), so curves start together;
            "output": x = layer - L (0 = logits), so networks of different depth end together.
        dims: Betti dimensions to show; default: those measured.

    A curve's free end (the logits with align="input", the input with align="output") has a
    round marker; bottleneck layers (hidden layers of minimum width in an architecture whose
    hidden widths differ) a triangle.

    Raises:
        InputError: unknown data set, activation, architecture or `align`; an architecture
            without well-trained measured networks; a dimension not measured.
    """
    if align not in ALIGNS:
        raise InputError(f"align must be one of {', '.join(ALIGNS)}, got {align!r}")
    _require(store, "data set", dataset, [s[0] for s in store.settings()], "")
    _require(
        store,
        "activation",
        activation,
        [act for d, _, act in store.settings() if d == dataset],
        f" for {dataset}",
    )
    present = [a for d, a, act in store.settings() if (d, act) == (dataset, activation)]
    selected = [
        n for n in store.networks if (n.dataset, n.activation) == (dataset, activation) and n.usable
    ]
    if architectures is None:
        architectures = list(dict.fromkeys(n.architecture for n in selected))
        _require_networks(store, selected, f"{dataset} {activation}")
    architectures = list(dict.fromkeys(architectures))
    if not architectures:
        raise InputError("architecture_comparison needs at least one architecture; none given")
    groups = {}
    for architecture in architectures:
        _require(store, "architecture", architecture, present, f" for {dataset} {activation}")
        groups[architecture] = [n for n in selected if n.architecture == architecture]
        _require_networks(store, groups[architecture], f"{dataset} {architecture} {activation}")
    networks = [n for group in groups.values() for n in group]
    dims, indices = _resolve_dims(store, networks, dims, f"{dataset} {activation}")
    figure, axes = _panel_grid(
        store.labels,
        dims,
        f"{dataset}, {activation}: architectures compared (aligned at the {align})",
    )
    constant = _constant_panels(networks, indices, axes)
    colours = _architecture_colours(store)
    handles, labels = [], []
    widths = _line_widths(len(groups))
    all_x = []
    any_bottleneck = False
    for a_index, (architecture, group) in enumerate(groups.items()):
        band = trajectory_band(group, indices)
        colour = colours[architecture]
        layers = np.arange(band.mean.shape[0])
        x = layers - layers[-1] if align == "output" else layers
        all_x.append(x)
        free_end = -1 if align == "input" else 0
        bottlenecks = bottleneck_layers(group[0].hidden)
        any_bottleneck |= bool(bottlenecks)
        for (row, col), ax in np.ndenumerate(axes):
            if (row, col) in constant:
                continue
            mean = _draw_band(ax, x, band, row, col, colour, architecture, widths[a_index])
            ax.plot(x[free_end], mean[free_end], "o", color=colour, markersize=5, zorder=4)
            if bottlenecks:
                ax.plot(
                    x[bottlenecks],
                    mean[bottlenecks],
                    "v",
                    color=colour,
                    markeredgecolor="black",
                    markeredgewidth=0.6,
                    markersize=7,
                    zorder=5,
                    gid=f"bottleneck:{architecture}",
                )
        handles.append(_band_handle(colour, widths[a_index], band.count))
        labels.append(f"{architecture} (n = {band.count})")
    handles.append(Line2D([], [], linestyle="", marker="o", color="0.3", markersize=5))
    labels.append("output (logits)" if align == "input" else "input")
    if any_bottleneck:
        handles.append(
            Line2D([], [], linestyle="", marker="v", color="0.5", markeredgecolor="black")
        )
        labels.append("bottleneck layer")
    handles.append(Patch(facecolor="0.5", alpha=0.35))
    labels.append("mean ± ½ s.d.")
    x = np.unique(np.concatenate(all_x))
    if align == "input":
        ticks, xlabel = _layer_ticks(x, first="in"), "layer (0 = input)"
    else:
        ticks, xlabel = _layer_ticks(x, last="out"), "layer − L (0 = output)"
    _finish(figure, axes, ticks, xlabel, handles, labels, "architecture")
    return figure


def bottleneck_layers(hidden: Sequence[int]) -> list[int]:
    """Betti-layer indices (1 = first hidden layer) of the narrowest hidden layers of a
    non-uniform architecture; [] when every hidden layer has the same width."""
    if len(set(hidden)) <= 1:
        return []
    narrowest = min(hidden)
    return [i + 1 for i, width in enumerate(hidden) if width == narrowest]


def _architecture_colours(store: Store) -> dict[str, str]:
    """One colour per architecture of the store, the same in every figure of it: architectures
    shallow to deep, then narrow to wide, take the colours of `CYCLE` in turn."""
    hidden = {n.architecture: n.hidden for n in store.networks}
    order = sorted(hidden, key=lambda name: (len(hidden[name]), sum(hidden[name]), name))
    return {name: CYCLE[i % len(CYCLE)] for i, name in enumerate(order)}


def _constant_panels(
    networks: Sequence[NetworkTrajectory], indices: Sequence[int], axes: np.ndarray
) -> set[tuple[int, int]]:
    """The panels (row = class, column = dimension) whose Betti number is one value at every
    layer of every network; each is replaced by a line saying so."""
    values = np.concatenate([network.betti[:, :, list(indices)] for network in networks])
    constant = set()
    for (row, col), ax in np.ndenumerate(axes):
        panel = values[:, row, col]  # every layer of every network
        if np.all(panel == panel.flat[0]):
            constant.add((row, col))
            ax.text(
                0.5,
                0.5,
                f"{panel.flat[0]:g} at every layer\nin every network",
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=9,
                color="0.35",
            )
            ax.set_yticks([])  # x is shared by the column: its ticks stay
            ax.grid(False)
    return constant


def paper_order(activations: Sequence[str]) -> list[str]:
    """Activations in the paper's order (`PAPER_ACTIVATIONS`), others after them in the order
    given."""
    known = list(PAPER_ACTIVATIONS)
    return sorted(activations, key=lambda a: known.index(a) if a in known else len(known))


def _require(store: Store, what: str, value: str, present: Sequence[str], where: str) -> None:
    if value not in present:
        have = ", ".join(dict.fromkeys(present)) or "none"
        raise InputError(
            f"{what} {value!r} is not in the results store {store.directory}{where} "
            f"(it has: {have})"
        )


def _require_networks(store: Store, networks: Sequence[NetworkTrajectory], what: str) -> None:
    if not networks:
        raise InputError(
            f"no well-trained measured networks for {what} in {store.directory}: train more seeds "
            "or wait for the run to measure them"
        )


def _resolve_dims(
    store: Store, networks: Sequence[NetworkTrajectory], dims: Sequence[int] | None, what: str
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(dims, their positions in store.dims): the requested dims, or those every network has."""
    measured = [d for d in store.dims if all(d in n.dims_measured(store.dims) for n in networks)]
    if dims is None:
        dims = measured
    dims = tuple(int(d) for d in dims)
    if not dims:
        raise InputError(f"no Betti dimensions to plot for {what}")
    for d in dims:
        if d not in measured:
            have = ", ".join(f"b{m}" for m in measured)
            raise InputError(f"Betti dimension b{d} was not measured for {what} (measured: {have})")
    return dims, tuple(store.dims.index(d) for d in dims)


def _panel_grid(
    labels: Sequence[int], dims: Sequence[int], title: str
) -> tuple[Figure, np.ndarray]:
    """A figure with rows = the classes `labels`, columns = `dims`; axes: object[len(labels),
    len(dims)]."""
    figure = new_figure(
        PANEL_WIDTH * len(dims) + LEGEND_WIDTH, PANEL_HEIGHT * len(labels) + TITLE_HEIGHT
    )
    axes = figure.subplots(len(labels), len(dims), sharex="col", squeeze=False)
    for (row, col), ax in np.ndenumerate(axes):
        ax.set_title(f"{class_name(labels[row])}: $\\beta_{dims[col]}$", fontsize=10)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, color="0.9", linewidth=0.6)
        ax.set_axisbelow(True)
        if col == 0:
            ax.set_ylabel("Betti number")
    figure.suptitle(title)
    return figure, axes


def _draw_band(
    ax: Axes,
    x: np.ndarray,
    band: TrajectoryBand,
    row: int,
    col: int,
    colour: str,
    name: str,
    linewidth: float,
    marker: str = "",
) -> np.ndarray:
    """Shaded mean ± ½ s.d. and the mean line (gid "mean:<name>", band gid "band:<name>");
    returns the mean."""
    mean = band.mean[:, row, col]
    ax.fill_between(
        x,
        band.lower[:, row, col],
        band.upper[:, row, col],
        color=colour,
        alpha=BAND_ALPHA,
        linewidth=0,
        zorder=2,
        gid=f"band:{name}",
    )
    ax.plot(
        x,
        mean,
        color=colour,
        linewidth=linewidth,
        linestyle=_mean_style(band.count),
        marker=marker,
        markersize=linewidth + 1.5,
        zorder=3,
        gid=f"mean:{name}",
    )
    return mean


def _mean_style(count: int) -> str:
    """Solid for a mean over enough networks, dashed for one over fewer than `FEW_NETWORKS`."""
    return "--" if count < FEW_NETWORKS else "-"


def _band_handle(colour: str, linewidth: float, count: int) -> tuple[Patch, Line2D]:
    """Legend key of a curve: its band with its mean line drawn over it."""
    return (
        Patch(facecolor=colour, alpha=BAND_ALPHA * 1.5),
        Line2D([], [], color=colour, linewidth=linewidth, linestyle=_mean_style(count)),
    )


def _line_widths(count: int) -> np.ndarray:
    """Mean-line widths, widest first (drawn first), so that coinciding means show as nested
    stripes of their colours instead of the last one hiding the others."""
    return np.linspace(2.8, 1.4, count) if count > 1 else np.full(1, 2.0)


def _jitter(group_index: int, groups: int, members: int) -> np.ndarray:
    """Sideways offsets (in layers) of a group's single-network lines: groups side by side,
    members spread within a group; at most ±0.2 of a layer in all."""
    centre = (group_index - (groups - 1) / 2) * 0.1
    spread = np.linspace(-0.04, 0.04, members) if members > 1 else np.zeros(1)
    return centre + spread


def _layer_ticks(
    x: np.ndarray, first: str | None = None, last: str | None = None
) -> tuple[np.ndarray, list[str]]:
    """Tick positions (every layer, or every other one counted from the named end when the labels
    would crowd a panel) and labels: integers, with the first / last position named."""
    step = 1 if sum(len(f"{int(p)}") + 1 for p in x) <= MAX_TICK_CHARACTERS else 2
    positions = x[::step].copy() if first is not None or last is None else x[::-1][::step][::-1]
    positions[-1] = x[-1]  # always mark the last layer (may widen the last gap to 3)
    labels = [f"{int(p)}".replace("-", "−") for p in positions]
    if first is not None:
        labels[0] = first
    if last is not None:
        labels[-1] = last
    return positions, labels


def _finish(
    figure: Figure,
    axes: np.ndarray,
    ticks: tuple[np.ndarray, list[str]],
    xlabel: str,
    handles: list,
    labels: list[str],
    legend_title: str,
) -> None:
    """Shared x ticks and label, y from 0 with integer ticks, the legend right of the panels."""
    positions, tick_labels = ticks
    for ax in axes.flat:
        if not ax.get_lines():  # a constant panel: its note says all
            continue
        ax.set_xticks(positions, tick_labels)
        ax.set_xlim(positions[0] - 0.4, positions[-1] + 0.4)
        top = max(1.0, max((np.nanmax(line.get_ydata()) for line in ax.get_lines()), default=1.0))
        for collection in ax.collections:
            top = max(top, float(np.nanmax(collection.get_paths()[0].vertices[:, 1])))
        means = [
            line.get_ydata() for line in ax.get_lines() if str(line.get_gid()).startswith("mean:")
        ]
        typical = float(np.median(np.concatenate(means))) if means else top
        if top > SYMLOG_TOP and top > SYMLOG_RATIO * max(typical, 1.0):
            ax.set_yscale("symlog", linthresh=1.0)
            ax.set_ylim(0, 1.5 * top)
            ax.set_title(f"{ax.get_title()} (log scale)", fontsize=10)
        else:
            ax.set_ylim(-0.04 * top, 1.06 * top)
    for ax in axes[-1]:
        ax.set_xlabel(xlabel)
    figure.legend(
        handles,
        labels,
        loc="outside right center",
        title=legend_title,
        fontsize=8,
        title_fontsize=9,
        frameon=False,
    )
