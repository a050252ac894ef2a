"""Figures of point clouds and their topology: a data set, a network's layers, a parameter scan,
persistence barcodes.

Every function returns a `matplotlib.figure.Figure` (headless; save it with
`topnn_jax.plotting.save_figure`) and raises `InputError` for bad input. Colours and class names
come from `topnn_jax.plotting.common` (label 0 = class a, label 1 = class b).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps, colors
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator

from topnn_jax.datasets import Dataset
from topnn_jax.errors import InputError, check_int
from topnn_jax.plotting.common import CLASS_COLOURS, new_figure
from topnn_jax.results import class_name
from topnn_jax.topology.cloud import Persistence
from topnn_jax.topology.scan import ParameterScan, ScanEntry

LAYERS_PER_ROW = 4  # at most 4 panels a row stay legible at a report page's width
MAX_BARS = 200
MIN_RUN = 5  # shorter runs of identical bars are counted at a glance
DIMENSION_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")
REFUSED_COLOUR = "#d9d9d9"
RECOVERED_EDGE = 2.5  # line width of the outline marking a cell where the truth is recovered


# --- shared helpers -------------------------------------------------------------------------


def class_subsample(labels: np.ndarray, max_points: int, seed: int) -> np.ndarray:
    """Increasing indices of at most `max_points` points, a seeded sample stratified by class.

    All points when there are no more than `max_points`. Otherwise each class present keeps at
    least min(its size, max_points // 10) points (so a small class stays visible) and the rest
    of the budget is shared in proportion to class size.
    """
    max_points = check_int("max_points", max_points, 2)
    seed = check_int("seed", seed, 0)
    n = len(labels)
    if n <= max_points:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(labels == label) for label in (0, 1)]
    floor = [min(len(m), max(1, max_points // 10)) for m in members]
    budget = max_points - sum(floor)
    spare = [len(m) - f for m, f in zip(members, floor, strict=True)]
    quota = [f + budget * s // sum(spare) for f, s in zip(floor, spare, strict=True)]
    chosen = [rng.choice(m, size=q, replace=False) for m, q in zip(members, quota, strict=True)]
    return np.sort(np.concatenate(chosen))


def pca(points: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Project a cloud on its first `dim` principal axes (numpy SVD).

    Args:
        points: float[n, d].
        dim: components wanted; columns beyond min(n, d) are zeros.

    Returns:
        (coordinates float64[n, dim], share of the total variance of each component float64[dim]).
        Signs are fixed so that each axis's largest loading is positive (stable figures).
    """
    centred = np.asarray(points, dtype=np.float64)
    centred = centred - centred.mean(axis=0)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    used = min(dim, len(singular))
    axes = axes[:used]
    signs = np.sign(axes[np.arange(used), np.argmax(np.abs(axes), axis=1)])
    coords = np.zeros((len(centred), dim))
    coords[:, :used] = centred @ (axes * np.where(signs == 0, 1.0, signs)[:, None]).T
    variance = singular**2
    shares = np.zeros(dim)
    if variance.sum() > 0:
        shares[:used] = variance[:used] / variance.sum()
    return coords, shares


def padded(points: np.ndarray, dim: int) -> np.ndarray:
    """float64[n, dim]: the cloud's own coordinates, zero columns added up to `dim`."""
    coords = np.zeros((len(points), dim))
    coords[:, : points.shape[1]] = points
    return coords


def _check_labels(labels: object, n: int, what: str) -> np.ndarray:
    """int labels[n] in {0, 1}, or `InputError`."""
    array = np.asarray(labels)
    if array.shape != (n,):
        raise InputError(f"{what}: expected {n} labels (one per point), got shape {array.shape}")
    if n and (not np.issubdtype(array.dtype, np.integer) or not set(np.unique(array)) <= {0, 1}):
        raise InputError(f"{what}: labels must be the integers 0 and 1, got {np.unique(array)[:5]}")
    return array


def _marker_size(n: int) -> float:
    """Scatter marker area (points^2): small for dense clouds, larger for sparse ones."""
    return float(np.clip(4000 / max(n, 1), 0.8, 16))


def _scatter_classes(ax: Axes, coords: np.ndarray, labels: np.ndarray, size: float) -> None:
    """Scatter each class in its colour, the larger class first so the smaller stays on top.

    The artist of label L has gid "class-L"; `coords` has 2 or 3 columns.
    """
    counts = [int(np.sum(labels == label)) for label in (0, 1)]
    extra = {"depthshade": False} if coords.shape[1] == 3 else {}
    for label in sorted((0, 1), key=lambda label: -counts[label]):
        if counts[label]:
            ax.scatter(
                *coords[labels == label].T,
                s=size,
                c=CLASS_COLOURS[label],
                alpha=0.6,
                linewidths=0,
                rasterized=True,
                gid=f"class-{label}",
                **extra,
            )


def _class_handles(labels: np.ndarray, shown: np.ndarray | None = None) -> list[Line2D]:
    """Legend entries "class a (n)" per class present ("class a (m of n shown)" when
    subsampled)."""
    handles = []
    for label in (0, 1):
        count = int(np.sum(labels == label))
        if not count:
            continue
        if shown is not None and len(shown) < len(labels):
            drawn = int(np.sum(labels[shown] == label))
            text = f"{class_name(label)}: {drawn:,} of {count:,} points shown"
        else:
            text = f"{class_name(label)}: {count:,} points"
        handles.append(
            Line2D([], [], ls="", marker="o", markersize=6, color=CLASS_COLOURS[label], label=text)
        )
    return handles


def betti_text(maxdim: int) -> str:
    """Mathtext "(beta_0, ..., beta_maxdim)"."""
    return "$(" + ", ".join(rf"\beta_{i}" for i in range(maxdim + 1)) + ")$"


def _integer_ticks(ax: Axes, axis: str, values: Sequence[int]) -> None:
    """Categorical ticks 0..len-1 labelled with `values` on the "x" or "y" axis."""
    setter = ax.set_xticks if axis == "x" else ax.set_yticks
    setter(range(len(values)), labels=[str(v) for v in values])


# --- data sets ------------------------------------------------------------------------------


def plot_dataset(dataset: Dataset, max_points: int = 6000, seed: int = 0) -> Figure:
    """A data set's training points coloured by class.

    2-D data: one scatter. 3-D data: a 3-D view and the xy and xz projections. Higher
    dimensions: the 2-D PCA projection, the explained variance in the axis labels. Above
    `max_points` a seeded, class-stratified sample is drawn (the legend gives both counts).

    Args:
        dataset: the data set; its training points are drawn.
        max_points: most points drawn (>= 2).
        seed: seed of the subsample.

    Returns:
        The figure; the title carries the true Betti numbers where known.
    """
    if not isinstance(dataset, Dataset):
        raise InputError(f"plot_dataset needs a Dataset, got {type(dataset).__name__}")
    points = np.asarray(dataset.train_points, dtype=np.float64)
    labels = np.asarray(dataset.train_labels)
    shown = class_subsample(labels, max_points, seed)
    size = 2.5 * _marker_size(len(shown))
    if dataset.dim == 3:
        figure = new_figure(14.0, 5.4)
        grid = figure.add_gridspec(1, 3, width_ratios=(1.25, 1, 1))
        view = figure.add_subplot(grid[0], projection="3d")
        _scatter_classes(view, points[shown], labels[shown], size)
        view.set_box_aspect(tuple(np.ptp(points, axis=0) + 1e-12))
        view.set(xlabel="x", ylabel="y", zlabel="z", title="3-D view")
        for axis in (view.xaxis, view.yaxis, view.zaxis):
            axis.set_major_locator(MaxNLocator(5))
        view.tick_params(labelsize=7, pad=0)
        for position, (i, j) in ((1, (0, 1)), (2, (0, 2))):
            ax = figure.add_subplot(grid[position])
            _scatter_classes(ax, points[shown][:, [i, j]], labels[shown], size)
            ax.set_aspect("equal", adjustable="datalim")
            plane = "xyz"[i] + "xyz"[j]
            ax.set(xlabel=plane[0], ylabel=plane[1], title=f"projection on the {plane}-plane")
            ax.xaxis.set_major_locator(MaxNLocator(5))
            ax.yaxis.set_major_locator(MaxNLocator(5))
    else:
        figure = new_figure(6.4, 6.2)
        ax = figure.add_subplot()
        if dataset.dim <= 2:
            _scatter_classes(ax, padded(points[shown], 2), labels[shown], size)
            ax.set_aspect("equal", adjustable="datalim")
            ax.set(xlabel="x", ylabel="y" if dataset.dim == 2 else "(1-D data)")
        else:
            coords, shares = pca(points, 2)
            _scatter_classes(ax, coords[shown], labels[shown], size)
            ax.set(
                xlabel=f"PC 1 ({shares[0]:.1%} of variance)",
                ylabel=f"PC 2 ({shares[1]:.1%} of variance)",
                title=f"PCA projection of {dataset.dim} dimensions",
            )
    figure.legend(handles=_class_handles(labels, shown), loc="outside lower center", ncols=1)
    figure.suptitle(_dataset_title(dataset))
    return figure


def _dataset_title(dataset: Dataset) -> str:
    """ "name: n training points in d-D" and, where known, the true Betti numbers."""
    title = f"{dataset.name}: {len(dataset.train_labels):,} training points in {dataset.dim}-D"
    maxdim = dataset.preset.maxdim
    truths = [(label, dataset.truth(label, maxdim)) for label in (0, 1)]
    known = [f"{class_name(label)} {truth}" for label, truth in truths if truth is not None]
    if known:
        title += f"\ntrue {betti_text(maxdim)}: " + ", ".join(known)
    return title


# --- layers of a network --------------------------------------------------------------------


def _layer_names(n: int) -> list[str]:
    """Panel names of `n` layer outputs: "input", "layer 1", ..., "logits"."""
    if n == 1:
        return ["input"]
    return ["input", *(f"layer {i}" for i in range(1, n - 1)), "logits"]


def _check_outputs(
    outputs: Sequence[np.ndarray], labels: object
) -> tuple[list[np.ndarray], np.ndarray]:
    """Validated layer outputs (float64[n, w_i], same n >= 1) and labels int[n] in {0, 1}."""
    if isinstance(outputs, np.ndarray) or not isinstance(outputs, Sequence) or not outputs:
        raise InputError("outputs must be a non-empty list of arrays [n, width], one per layer")
    arrays = []
    for name, output in zip(_layer_names(len(outputs)), outputs, strict=True):
        array = np.asarray(output)
        if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
            raise InputError(f"{name}: expected a non-empty array [n, width], got {array.shape}")
        if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
            raise InputError(f"{name}: expected finite numbers (no NaN or inf)")
        if arrays and array.shape[0] != arrays[0].shape[0]:
            raise InputError(
                f"{name} has {array.shape[0]} points but input has {arrays[0].shape[0]}; every "
                "layer must hold the same points"
            )
        arrays.append(array.astype(np.float64))
    return arrays, _check_labels(labels, arrays[0].shape[0], "plot_layers")


def plot_layers(
    outputs: Sequence[np.ndarray],
    labels: np.ndarray,
    title: str | None = None,
    dim: int = 2,
    max_points: int = 3000,
    seed: int = 0,
) -> Figure:
    """A network's layers side by side, each cloud coloured by class.

    A layer wider than `dim` is drawn as its PCA projection on `dim` axes (the panel title gives
    the share of variance shown); a layer of width <= `dim` in its own coordinates, padded with
    zeros. The same seeded class-stratified sample of points is drawn in every panel.
    At most `LAYERS_PER_ROW` panels per row.

    Args:
        outputs: per layer float[n, w_i] (input, hidden..., logits), e.g. from
            `topnn_jax.layer_clouds.homology_layers`.
        labels: int[n] in {0, 1}.
        title: figure title.
        dim: 2 or 3 (3-D panels).
        max_points: most points drawn per panel.
        seed: seed of the subsample.
    """
    arrays, labels = _check_outputs(outputs, labels)
    if isinstance(dim, bool) or dim not in (2, 3):
        raise InputError(f"dim must be 2 or 3, got {dim!r}")
    shown = class_subsample(labels, max_points, seed)
    count = len(arrays)
    nrows = math.ceil(count / LAYERS_PER_ROW)
    ncols = math.ceil(count / nrows)  # rows balanced: 10 layers = 2 rows of 5
    side = 3.0 if dim == 2 else 3.3
    height = side + 0.5 if dim == 2 else side
    figure = new_figure(ncols * side + 0.3, nrows * height + 0.9)
    size = _marker_size(len(shown))
    for index, (name, array) in enumerate(zip(_layer_names(count), arrays, strict=True)):
        ax = figure.add_subplot(nrows, ncols, index + 1, projection="3d" if dim == 3 else None)
        width = array.shape[1]
        if width <= dim:
            coords = padded(array, dim)
            note = f"width {width}" + ("" if width == dim else ", padded with 0")
            axis_names = [f"x{i + 1}" for i in range(dim)]
        else:
            coords, shares = pca(array, dim)
            note = f"width {width}, PCA {shares.sum():.1%} of var."
            axis_names = [f"PC{i + 1}" for i in range(dim)]
        _scatter_classes(ax, coords[shown], labels[shown], size)
        ax.set_title(f"{name}\n{note}", fontsize=10)
        ax.tick_params(labelsize=8, pad=1)
        axes = (ax.xaxis, ax.yaxis, *((ax.zaxis,) if dim == 3 else ()))
        for axis, axis_name in zip(axes, axis_names, strict=True):
            axis.set_major_locator(MaxNLocator(3))
            axis.set_label_text(axis_name, fontsize=9)
            axis.labelpad = 0
    figure.legend(handles=_class_handles(labels, shown), loc="outside lower center", ncols=2)
    if title:
        figure.suptitle(title)
    return figure


# --- parameter scans ------------------------------------------------------------------------


def _scan_metric(entry: ScanEntry) -> float:
    """Cell value: sum |beta - truth| when the truth is known, else sum beta; NaN if refused."""
    if entry.betti is None:
        return math.nan
    if entry.truth is None:
        return float(sum(entry.betti))
    return float(sum(abs(b - t) for b, t in zip(entry.betti, entry.truth, strict=True)))


def _scan_norm(vmax: float) -> colors.Normalize:
    """Linear up to 10, symmetric-log above (distances range from 0 to hundreds)."""
    vmax = max(vmax, 1.0)
    if vmax <= 10:
        return colors.Normalize(0, vmax)
    return colors.SymLogNorm(linthresh=1, linscale=0.6, vmin=0, vmax=vmax, base=10)


def _scan_cells(scan: ParameterScan) -> dict[tuple[int, int, int], ScanEntry]:
    """The scan's entries keyed by (label, k, scale); `InputError` if empty or duplicated."""
    if not isinstance(scan, ParameterScan):
        raise InputError(f"plot_scan needs a ParameterScan, got {type(scan).__name__}")
    if not scan.entries:
        raise InputError(f"the scan of {scan.dataset} has no entries")
    cells: dict[tuple[int, int, int], ScanEntry] = {}
    for entry in scan.entries:
        key = (entry.label, entry.k, entry.scale)
        if key in cells:
            raise InputError(
                f"the scan has two entries for label {key[0]}, k {key[1]}, scale {key[2]}"
            )
        cells[key] = entry
    return cells


def _draw_scan_panel(
    ax: Axes,
    entries: dict[tuple[int, int], ScanEntry],
    ks: list[int],
    scales: list[int],
    norm: colors.Normalize,
    fontsize: float,
) -> AxesImage:
    """One class's heat map: cells (k, scale) -> entry; returns the image for the colour bar."""
    cmap = colormaps["viridis_r"].with_extremes(bad=REFUSED_COLOUR)
    grid = np.full((len(ks), len(scales)), np.nan)
    for (k, scale), entry in entries.items():
        grid[ks.index(k), scales.index(scale)] = _scan_metric(entry)
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, aspect="auto")
    for row, k in enumerate(ks):
        for col, scale in enumerate(scales):
            entry = entries.get((k, scale))
            if entry is None or entry.betti is None:
                text, gid = ("n/a", "missing") if entry is None else ("x", "refused")
                ax.text(col, row, text, ha="center", va="center", fontsize=11, gid=gid)
                continue
            red, green, blue = colors.to_rgb(cmap(norm(grid[row, col])))
            dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
            ax.text(
                col,
                row,
                "(" + ", ".join(map(str, entry.betti)) + ")",
                ha="center",
                va="center",
                fontsize=fontsize,
                color="white" if dark else "black",
            )
            if entry.recovered:
                inset = 0.07
                ax.add_patch(
                    Rectangle(
                        (col - 0.5 + inset, row - 0.5 + inset),
                        1 - 2 * inset,
                        1 - 2 * inset,
                        fill=False,
                        edgecolor="black",
                        linewidth=RECOVERED_EDGE,
                        gid="recovered",
                    )
                )
    _integer_ticks(ax, "x", scales)
    _integer_ticks(ax, "y", ks)
    ax.set(xlabel="hop scale s", ylabel="neighbours k")
    return image


def plot_scan(scan: ParameterScan) -> Figure:
    """Heat maps of a parameter scan: one panel per class, rows k, columns scale.

    Each cell shows the measured Betti numbers; its colour is the distance from the truth
    (sum over dimensions of |beta - true beta|), or the sum of the Betti numbers where the truth
    is unknown (panels of one kind share a colour bar). Cells where the truth is recovered have a
    thick black outline (patch gid "recovered"); refused cells (complex too large) are grey with
    an "x" (text gid "refused"); cells the scan lacks say "n/a".
    """
    cells = _scan_cells(scan)
    labels = sorted({label for label, _, _ in cells})
    ks = sorted({k for _, k, _ in cells})
    scales = sorted({scale for _, _, scale in cells})
    panels = {
        label: {(k, s): entry for (lab, k, s), entry in cells.items() if lab == label}
        for label in labels
    }
    truths = {
        label: next((e.truth for e in panels[label].values() if e.truth is not None), None)
        for label in labels
    }
    known = {label: truths[label] is not None for label in labels}
    norms = {}
    for kind in set(known.values()):
        values = [
            _scan_metric(entry)
            for label in labels
            if known[label] == kind
            for entry in panels[label].values()
        ]
        norms[kind] = _scan_norm(max((v for v in values if not math.isnan(v)), default=1.0))

    panel_width = (0.3 + 0.22 * (scan.maxdim + 1)) * len(scales) + 1.6
    figure = new_figure(max(panel_width * len(labels), 6.0), 0.4 * len(ks) + 2.6)
    axes = figure.subplots(1, len(labels), squeeze=False)[0]
    fontsize = 9 if scan.maxdim <= 1 else 8
    images = {}
    for ax, label in zip(axes, labels, strict=True):
        images[known[label]] = _draw_scan_panel(
            ax, panels[label], ks, scales, norms[known[label]], fontsize
        )
        truth = truths[label]
        ax.set_title(
            f"{class_name(label)}: " + ("truth unknown" if truth is None else f"true {truth}")
        )
    for kind, image in images.items():
        owners = [ax for ax, label in zip(axes, labels, strict=True) if known[label] == kind]
        colourbar = figure.colorbar(image, ax=owners, shrink=0.9)
        colourbar.set_label(
            "distance from truth " + r"$\Sigma_i |\beta_i - \beta_i^{\mathrm{true}}|$"
            if kind
            else r"sum of Betti numbers $\Sigma_i \beta_i$"
        )
    handles = []
    if any(known.values()):
        handles.append(
            Patch(
                facecolor="none",
                edgecolor="black",
                linewidth=RECOVERED_EDGE,
                label="truth recovered",
            )
        )
    if any(entry.betti is None for entry in scan.entries):
        handles.append(Patch(facecolor=REFUSED_COLOUR, label="x = refused (complex too large)"))
    if handles:
        figure.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=8)
    title = f"{scan.dataset}: input {betti_text(scan.maxdim)} over (k, s), stride {scan.stride}"
    if any(known.values()):
        both = scan.recovered()
        title += "\ntruth recovered for every class at (k, s) = " + (
            ", ".join(f"({k}, {s})" for k, s in both) if both else "none of the cells"
        )
    figure.suptitle(title)
    return figure


# --- persistence barcodes -------------------------------------------------------------------


def _label_repeats(
    ax: Axes, starts: np.ndarray, ends: np.ndarray, rows: np.ndarray, right: float
) -> None:
    """Write "×N" beside each run of N >= `MIN_RUN` identical adjacent bars (hop bars repeat a
    lot): right of a finite run, on top of a run that reaches the right edge `right`."""
    first = 0
    for index in range(1, len(starts) + 1):
        if index < len(starts) and (starts[index], ends[index]) == (starts[first], ends[first]):
            continue
        if index - first >= MIN_RUN:
            inside = ends[first] >= right
            ax.text(
                (starts[first] + ends[first]) / 2 if inside else ends[first] + 0.08,
                (rows[first] + rows[index - 1]) / 2,
                f"×{index - first:,}",
                ha="center" if inside else "left",
                va="center",
                fontsize=8,
                gid="repeats",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
            )
        first = index


def plot_barcodes(
    persistence: Persistence, title: str | None = None, max_bars: int = MAX_BARS
) -> Figure:
    """Persistence barcodes over hop scales, one panel per homology dimension.

    Bars run from birth to death (hops); bars alive at the largest scale computed run to the
    right edge (labelled infinity) and end in an arrow marker. Bars are ordered by birth, then
    longest first; above `max_bars` in a panel only the longest are drawn and the panel says how
    many were left out. The top axis of each panel gives beta_d at every scale.

    Args:
        persistence: from `topnn_jax.topology.persistence`.
        title: figure title (default: points, k and scale range).
        max_bars: most bars drawn per panel (>= 1).
    """
    if not isinstance(persistence, Persistence):
        raise InputError(f"plot_barcodes needs a Persistence, got {type(persistence).__name__}")
    max_bars = check_int("max_bars", max_bars, 1)
    betti = np.asarray(persistence.betti)
    diagrams = [np.asarray(d, dtype=np.float64) for d in persistence.diagrams]
    if betti.ndim != 2 or betti.shape[0] == 0 or betti.shape[1] != len(diagrams):
        raise InputError(
            f"persistence.betti must be [max_scale, {len(diagrams)}], got shape {betti.shape}"
        )
    for dim, diagram in enumerate(diagrams):
        if diagram.ndim != 2 or diagram.shape[1] != 2:
            raise InputError(f"diagram of dimension {dim} must be [bars, 2], got {diagram.shape}")
    max_scale = betti.shape[0]
    right = max_scale + 1  # where bars alive at max_scale end
    figure = new_figure(3.4 * len(diagrams) + 0.4, 4.4)
    axes = figure.subplots(1, len(diagrams), squeeze=False)[0]
    for dim, (ax, diagram) in enumerate(zip(axes, diagrams, strict=True)):
        colour = DIMENSION_COLOURS[dim % len(DIMENSION_COLOURS)]
        births = diagram[:, 0]
        essential = ~np.isfinite(diagram[:, 1])
        ends = np.where(essential, right, diagram[:, 1])
        lengths = ends - births
        keep = np.lexsort((births, -lengths))[:max_bars]  # longest first, earlier birth first
        order = keep[np.lexsort((-lengths[keep], births[keep]))]  # by birth, then longest first
        rows = len(order) - 1 - np.arange(len(order))  # first bar at the top
        thickness = float(np.clip(150 / max(len(order), 1), 0.5, 4))
        ax.hlines(rows, births[order], ends[order], colors=colour, linewidth=thickness, gid="bars")
        _label_repeats(ax, births[order], ends[order], rows, right)
        alive = essential[order]
        if alive.any():  # an empty unclipped line would wreck the layout
            ax.plot(
                np.full(int(alive.sum()), right),
                rows[alive],
                ls="",
                marker=">",
                color=colour,
                markersize=max(3.0, min(7.0, 2 * thickness)),
                clip_on=False,
                gid="essential",
            )
        ax.set_xlim(-0.2, right + 0.2)
        ax.set_ylim(-1, max(len(order), 1))
        ax.set_xticks(range(right + 1), labels=[*map(str, range(right)), r"$\infty$"])
        ax.set_yticks([])
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel("hop scale s")
        top = ax.secondary_xaxis("top")
        top.set_xticks(range(1, max_scale + 1), labels=[str(int(b)) for b in betti[:, dim]])
        top.tick_params(labelsize=8)
        top.set_xlabel(rf"$\beta_{dim}$ at scale s", fontsize=9)
        heading = f"$H_{dim}$: {len(diagram):,} bars, {int(essential.sum()):,} infinite"
        ax.set_title(heading, fontsize=10)
        if len(diagram) > len(order):
            ax.text(
                0.98,
                0.02,
                f"{len(order)} longest shown,\n{len(diagram) - len(order):,} omitted",
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=8,
                gid="omitted",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8},
            )
        elif not len(diagram):
            ax.text(0.5, 0.5, "no bars", transform=ax.transAxes, ha="center", va="center")
    if title is None:
        title = (
            f"Persistence over hop scales 1..{max_scale} ({persistence.n_points:,} points, "
            f"k = {persistence.k_used})"
        )
    figure.suptitle(title)
    return figure
