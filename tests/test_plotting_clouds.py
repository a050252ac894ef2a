"""Figures of clouds, layers, parameter scans and barcodes (`topnn_jax.plotting.clouds`)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import colors
from matplotlib.figure import Figure
from scipy.spatial.distance import pdist

from topnn_jax.datasets import Dataset, TopologyPreset
from topnn_jax.errors import InputError
from topnn_jax.plotting.clouds import (
    class_subsample,
    pca,
    plot_barcodes,
    plot_dataset,
    plot_layers,
    plot_scan,
)
from topnn_jax.plotting.common import CLASS_COLOURS, save_figure
from topnn_jax.topology import (
    BettiResult,
    GraphBetti,
    ParameterScan,
    Persistence,
    ScanEntry,
    persistence,
)

# --- small hand-made inputs -----------------------------------------------------------------


def toy_dataset(dim: int, n: int = 60, name: str = "toy", truth=None) -> Dataset:
    rng = np.random.default_rng(dim)
    points = rng.normal(size=(n, dim)).astype(np.float32)
    labels = (np.arange(n) % 3 == 0).astype(np.int32)
    return Dataset(
        name,
        points,
        labels,
        points[:6],
        labels[:6],
        TopologyPreset(k=4, scale=2, stride=2, maxdim=1),
        true_betti=truth,
    )


def toy_layers(widths=(2, 15, 1, 2), n: int = 40) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(0)
    outputs = [rng.normal(size=(n, width)) for width in widths]
    return outputs, np.arange(n) % 2


def entry(label: int, k: int, scale: int, betti, truth=(1, 0)) -> ScanEntry:
    result = (
        InputError("complex too large")
        if betti is None
        else BettiResult(50, 50, k, k, scale, GraphBetti(tuple(betti), 100, 50, 0.0), 0.0)
    )
    return ScanEntry(label, k, scale, result, truth)


def toy_scan() -> ParameterScan:
    """Label 0 recovered at (4, 1) and (8, 2); label 1 at (4, 2); label 1 (8, 2) refused."""
    measured = {
        (0, 4, 1): (1, 0),
        (0, 4, 2): (2, 0),
        (0, 8, 1): (1, 3),
        (0, 8, 2): (1, 0),
        (1, 4, 1): (3, 1),
        (1, 4, 2): (1, 1),
        (1, 8, 1): (1, 40),
        (1, 8, 2): None,
    }
    truth = {0: (1, 0), 1: (1, 1)}
    entries = tuple(entry(*key, betti, truth[key[0]]) for key, betti in measured.items())
    return ParameterScan("toy", 2, 1, entries)


def toy_persistence(n_finite=(30, 3), n_infinite=(2, 1), max_scale: int = 3) -> Persistence:
    diagrams = tuple(
        np.array(
            [[dim, dim + 1.0 + i % 2] for i in range(finite)] + [[dim, np.inf]] * infinite
        ).reshape(-1, 2)
        for dim, (finite, infinite) in enumerate(zip(n_finite, n_infinite, strict=True))
    )
    betti = np.ones((max_scale, len(diagrams)), dtype=np.int64)
    return Persistence(diagrams, betti, 40, 4, 100, 0.0)


def panels(figure: Figure) -> list:
    """Axes holding data (colour bars excluded)."""
    return [ax for ax in figure.axes if ax.collections or ax.images or ax.lines]


def by_gid(artists, gid: str) -> list:
    return [artist for artist in artists if artist.get_gid() == gid]


# --- helpers --------------------------------------------------------------------------------


def test_pca_of_a_planar_cloud_keeps_its_geometry():
    rng = np.random.default_rng(1)
    plane = rng.normal(size=(50, 2)) * [3.0, 1.0]
    rotation, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    cloud = np.column_stack([plane, np.zeros((50, 3))]) @ rotation.T + 7.0
    coords, shares = pca(cloud, 2)
    np.testing.assert_allclose(pdist(coords), pdist(plane), atol=1e-9)
    np.testing.assert_allclose(shares.sum(), 1.0)
    assert shares[0] > shares[1]


def test_pca_pads_when_the_cloud_has_fewer_directions():
    coords, shares = pca(np.array([[0.0], [1.0], [3.0]]), 3)
    assert coords.shape == (3, 3)
    np.testing.assert_array_equal(coords[:, 1:], 0.0)
    np.testing.assert_allclose(shares, [1.0, 0.0, 0.0])


def test_subsample_is_seeded_and_keeps_both_classes():
    labels = np.array([0] * 1000 + [1] * 20)
    first = class_subsample(labels, 100, seed=3)
    assert len(first) <= 100
    assert set(labels[first]) == {0, 1}
    assert np.sum(labels[first] == 1) >= 10
    np.testing.assert_array_equal(first, class_subsample(labels, 100, seed=3))
    np.testing.assert_array_equal(class_subsample(labels, 5000, seed=0), np.arange(1020))


# --- data sets ------------------------------------------------------------------------------


def test_dataset_2d_scatter_colours_each_class_with_its_points():
    dataset = toy_dataset(2, truth={0: (9, 0), 1: (1, 9)})
    figure = plot_dataset(dataset)
    (ax,) = panels(figure)
    for label in (0, 1):
        (points,) = by_gid(ax.collections, f"class-{label}")
        expected = dataset.train_points[dataset.train_labels == label]
        np.testing.assert_allclose(points.get_offsets(), expected)
        np.testing.assert_allclose(
            points.get_facecolor()[0, :3], colors.to_rgb(CLASS_COLOURS[label])
        )
    title = figure.get_suptitle()
    assert "toy" in title and "(9, 0)" in title and "(1, 9)" in title


def test_dataset_3d_has_a_3d_view_and_two_projections():
    figure = plot_dataset(toy_dataset(3))
    axes = panels(figure)
    assert len(axes) == 3
    assert [ax.name for ax in axes] == ["3d", "rectilinear", "rectilinear"]
    assert [ax.get_ylabel() for ax in axes[1:]] == ["y", "z"]


def test_dataset_of_many_dimensions_is_a_pca_projection():
    figure = plot_dataset(toy_dataset(30))
    (ax,) = panels(figure)
    assert ax.get_xlabel().startswith("PC 1 (") and "% of variance" in ax.get_xlabel()


def test_dataset_subsample_is_stratified_and_said_in_the_legend():
    figure = plot_dataset(toy_dataset(2, n=300), max_points=30)
    (ax,) = panels(figure)
    drawn = [len(by_gid(ax.collections, f"class-{label}")[0].get_offsets()) for label in (0, 1)]
    assert sum(drawn) <= 30 and min(drawn) >= 3
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert legend[0].startswith("class a (label 0): ") and "points shown" in legend[0]


# --- layers ---------------------------------------------------------------------------------


def test_layers_one_panel_per_layer_with_names_and_widths():
    outputs, labels = toy_layers((2, 15, 1, 2))
    figure = plot_layers(outputs, labels, title="toy")
    titles = [ax.get_title() for ax in panels(figure)]
    assert [title.splitlines()[0] for title in titles] == ["input", "layer 1", "layer 2", "logits"]
    assert "width 1" in titles[2] and "PCA" in titles[1] and "%" in titles[1]
    assert figure.get_suptitle() == "toy"


def test_layers_wrap_into_rows_and_3d():
    outputs, labels = toy_layers((3,) * 10)
    figure = plot_layers(outputs, labels, dim=3)
    axes = panels(figure)
    assert len(axes) == 10 and all(ax.name == "3d" for ax in axes)
    # at most LAYERS_PER_ROW = 4 a row, rows balanced: 10 layers = 3 rows of 4, 4 and 2
    assert axes[0].get_subplotspec().get_gridspec().get_geometry() == (3, 4)
    assert [ax.get_xlabel() for ax in axes[:1]] == ["x1"]


def test_layers_keep_a_planar_layer_geometry_and_class_colours():
    rng = np.random.default_rng(2)
    plane = rng.normal(size=(40, 2))
    rotation, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    layer = np.column_stack([plane, np.zeros((40, 4))]) @ rotation.T
    labels = np.arange(40) % 2
    figure = plot_layers([plane, layer], labels)
    for ax in panels(figure):
        offsets = by_gid(ax.collections, "class-0")[0].get_offsets()
        np.testing.assert_allclose(pdist(offsets), pdist(plane[labels == 0]), atol=1e-9)


# --- parameter scans ------------------------------------------------------------------------


def test_scan_marks_recovered_cells_exactly():
    scan = toy_scan()
    figure = plot_scan(scan)
    axes = [ax for ax in figure.axes if ax.images]
    assert len(axes) == 2
    ks, scales = [4, 8], [1, 2]
    for label, ax in enumerate(axes):
        marked = {
            (ks[round(patch.get_y() + 0.5)], scales[round(patch.get_x() + 0.5)])
            for patch in by_gid(ax.patches, "recovered")
        }
        expected = {(e.k, e.scale) for e in scan.entries if e.label == label and e.recovered}
        assert marked == expected
        refused = {
            (ks[round(text.get_position()[1])], scales[round(text.get_position()[0])])
            for text in by_gid(ax.texts, "refused")
        }
        assert refused == {
            (e.k, e.scale) for e in scan.entries if e.label == label and e.betti is None
        }
        assert all(text.get_text() == "x" for text in by_gid(ax.texts, "refused"))
    assert {(4, 1), (8, 2), (4, 2)} == {
        key for label in (0, 1) for key in [(e.k, e.scale) for e in scan.entries if e.recovered]
    }
    assert "none of the cells" in figure.get_suptitle()  # no cell is right for both classes


def test_scan_cells_show_the_measured_betti_numbers():
    figure = plot_scan(toy_scan())
    texts = {text.get_text() for ax in figure.axes for text in ax.texts}
    assert {"(1, 0)", "(2, 0)", "(1, 3)", "(3, 1)", "(1, 40)", "x"} <= texts


def test_scan_without_truth_colours_by_betti_sum_and_marks_nothing():
    entries = tuple(entry(0, k, 1, (1, k), truth=None) for k in (2, 3))
    figure = plot_scan(ParameterScan("toy", 1, 1, entries))
    (ax,) = [ax for ax in figure.axes if ax.images]
    assert not by_gid(ax.patches, "recovered")
    assert "truth unknown" in ax.get_title()


# --- barcodes -------------------------------------------------------------------------------


def bars_per_panel(figure: Figure) -> list[tuple[int, int]]:
    """(bars drawn, infinite markers) per panel."""
    counts = []
    for ax in figure.axes:
        bars = by_gid(ax.collections, "bars")
        if bars:
            markers = by_gid(ax.lines, "essential")
            counts.append(
                (len(bars[0].get_segments()), len(markers[0].get_xdata()) if markers else 0)
            )
    return counts


def test_barcodes_one_panel_per_dimension_and_every_bar_drawn():
    figure = plot_barcodes(toy_persistence((30, 3), (2, 1)))
    assert bars_per_panel(figure) == [(32, 2), (4, 1)]
    assert not any(by_gid(ax.texts, "omitted") for ax in figure.axes)


def test_barcodes_above_the_cap_show_the_longest_and_count_the_rest():
    figure = plot_barcodes(toy_persistence((250, 0), (3, 0)), max_bars=200)
    assert bars_per_panel(figure)[0] == (200, 3)  # infinite bars are the longest
    (note,) = [text for ax in figure.axes for text in by_gid(ax.texts, "omitted")]
    assert "53 omitted" in note.get_text()


def test_barcodes_of_a_real_circle_match_the_diagrams():
    angles = 2 * np.pi * np.arange(40) / 40
    result = persistence(np.column_stack([np.cos(angles), np.sin(angles)]), 2, 3, 1)
    figure = plot_barcodes(result, title="circle")
    counts = bars_per_panel(figure)
    assert [bars for bars, _ in counts] == [len(d) for d in result.diagrams]
    assert [inf for _, inf in counts] == [int(np.sum(np.isinf(d[:, 1]))) for d in result.diagrams]
    assert figure.get_suptitle() == "circle"


# --- errors and files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: plot_layers(*toy_layers(), dim=4), "dim must be 2 or 3"),
        (lambda: plot_layers(toy_layers()[0], np.zeros(5, int)), "expected 40 labels"),
        (lambda: plot_layers([np.zeros((4, 2)), np.zeros((5, 2))], np.zeros(4, int)), "same"),
        (lambda: plot_layers([], np.zeros(0, int)), "non-empty list"),
        (lambda: plot_layers([np.zeros((0, 2))], np.zeros(0, int)), "non-empty array"),
        (lambda: plot_layers([np.full((2, 2), np.nan)], np.zeros(2, int)), "finite"),
        (lambda: plot_layers([np.zeros((2, 2))], np.array([0, 2])), "0 and 1"),
        (lambda: plot_layers(*toy_layers(), max_points=1), "max_points"),
        (lambda: plot_dataset(np.zeros((3, 2))), "needs a Dataset"),
        (lambda: plot_dataset(toy_dataset(2), seed=-1), "seed"),
        (lambda: plot_scan("scan"), "needs a ParameterScan"),
        (lambda: plot_scan(ParameterScan("toy", 1, 1, ())), "no entries"),
        (
            lambda: plot_scan(ParameterScan("toy", 1, 1, (entry(0, 2, 1, (1, 0)),) * 2)),
            "two entries",
        ),
        (lambda: plot_barcodes("bars"), "needs a Persistence"),
        (lambda: plot_barcodes(toy_persistence(), max_bars=0), "max_bars"),
    ],
)
def test_bad_input_is_refused_clearly(call, message):
    with pytest.raises(InputError, match=message):
        call()


@pytest.mark.parametrize(
    "build",
    [
        lambda: plot_dataset(toy_dataset(2)),
        lambda: plot_dataset(toy_dataset(3)),
        lambda: plot_layers(*toy_layers(), dim=3),
        lambda: plot_scan(toy_scan()),
        lambda: plot_barcodes(toy_persistence()),
    ],
    ids=["dataset-2d", "dataset-3d", "layers-3d", "scan", "barcodes"],
)
def test_figures_save_to_png_and_svg(build, tmp_path):
    paths = save_figure(build(), tmp_path / "figure", ("png", "svg"))
    assert [path.suffix for path in paths] == [".png", ".svg"]
    assert all(path.stat().st_size > 1000 for path in paths)
