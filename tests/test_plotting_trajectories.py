"""Betti-trajectory and architecture-comparison figures, drawn from fabricated results stores."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from topnn_jax.errors import InputError
from topnn_jax.plotting.common import save_figure
from topnn_jax.plotting.trajectories import (
    architecture_comparison,
    betti_trajectories,
    bottleneck_layers,
    comparison_groups,
    trajectory_band,
    trajectory_groups,
)
from topnn_jax.results import load_store
from topnn_jax.store import NETWORK_COLUMNS, betti_columns, format_row

BOTTLENECK = "2-15-15-15-15-3-15-15-15-15-2"


def write_store(directory: Path, networks: list[dict], maxdim: int = 1) -> Path:
    """A store of `networks`: dicts with dataset, architecture, activation, seed, well_trained and
    betti (float[n_layers + 1, 2, maxdim + 1], or None for an unmeasured network)."""
    directory.mkdir(parents=True, exist_ok=True)
    network_lines = [format_row(NETWORK_COLUMNS)]
    betti_lines = [format_row(betti_columns(maxdim))]
    for n in networks:
        network_id = f"{n['dataset']}/{n['architecture']}/{n['activation']}/{n['seed']}"
        well = "true" if n.get("well_trained", True) else "false"
        network_lines.append(
            format_row(
                [
                    network_id,
                    n["dataset"],
                    n["architecture"],
                    n["activation"],
                    n["seed"],
                    3000,
                    1.0,
                    0.99,
                    well,
                ]
            )
        )
        if n["betti"] is None:
            continue
        layers, labels, _ = n["betti"].shape
        for layer, label in itertools.product(range(layers), range(labels)):
            b = [f"{v:g}" for v in n["betti"][layer, label]]
            betti_lines.append(format_row([network_id, layer, label, 100, 13, 2, *b, 0.1]))
    (directory / "networks.csv").write_text("".join(network_lines))
    (directory / "betti.csv").write_text("".join(betti_lines))
    return directory


def n_layers(architecture: str) -> int:
    """Betti layers (input, hidden..., logits) of an architecture name."""
    if "_by_" in architecture:
        return int(architecture.split("_by_")[0]) + 1
    return architecture.count("-") + 1


def fake_betti(architecture: str, seed: int, activation: str) -> np.ndarray:
    """D-I-like trajectories: class a b0 9 -> 1, class b b1 9 -> 0, faster for relu."""
    layers = n_layers(architecture)
    rng = np.random.default_rng(seed + 100 * len(activation))
    t = np.linspace(0, 1, layers) ** (1 if activation == "relu" else 3)
    betti = np.zeros((layers, 2, 2))
    betti[:, 0, 0] = np.round(9 - 8 * t + rng.integers(0, 2, layers) * (t < 1))
    betti[:, 0, 1] = rng.integers(0, 2, layers) * (t < 1)
    betti[:, 1, 0] = 1 + rng.integers(0, 2, layers) * (t < 1)
    betti[:, 1, 1] = np.round(9 - 9 * t)
    return betti


def fake_networks(settings, seeds=range(4)) -> list[dict]:
    return [
        dict(
            dataset=dataset,
            architecture=arch,
            activation=act,
            seed=seed,
            betti=fake_betti(arch, seed, act),
        )
        for dataset, arch, act in settings
        for seed in seeds
    ]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    settings = [
        ("D-I", "10_by_15", "relu"),
        ("D-I", "10_by_15", "leaky_relu"),
        ("D-I", "10_by_15", "tanh"),
        ("D-I", "4_by_15", "leaky_relu"),
        ("D-I", BOTTLENECK, "leaky_relu"),
    ]
    networks = fake_networks(settings)
    # one network that is not well trained and one that was never measured: both left out
    networks.append(
        dict(
            dataset="D-I",
            architecture="10_by_15",
            activation="relu",
            seed=9,
            well_trained=False,
            betti=np.full((11, 2, 2), 50.0),
        )
    )
    networks.append(
        dict(dataset="D-I", architecture="10_by_15", activation="tanh", seed=9, betti=None)
    )
    return load_store(write_store(tmp_path_factory.mktemp("store"), networks))


def lines_by_gid(ax, prefix: str) -> dict[str, object]:
    return {
        line.get_gid().split(":", 1)[1]: line
        for line in ax.get_lines()
        if (line.get_gid() or "").startswith(prefix)
    }


def band_by_gid(ax, name: str):
    (band,) = [c for c in ax.collections if c.get_gid() == f"band:{name}"]
    return band


def band_edges(band, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) y of a fill_between band at each x."""
    vertices = band.get_paths()[0].vertices
    lower = [vertices[np.isclose(vertices[:, 0], xi), 1].min() for xi in x]
    upper = [vertices[np.isclose(vertices[:, 0], xi), 1].max() for xi in x]
    return np.array(lower), np.array(upper)


def test_groups(store):
    assert trajectory_groups(store) == [
        ("D-I", "10_by_15"),
        ("D-I", "4_by_15"),
        ("D-I", BOTTLENECK),
    ]
    # shallow to deep, then narrow to wide: the bottleneck (one width-3 layer) before 10_by_15
    assert comparison_groups(store) == [("D-I", "leaky_relu", ["4_by_15", BOTTLENECK, "10_by_15"])]


def test_trajectory_panels_titles_and_legend(store):
    figure = betti_trajectories(store, "D-I", "10_by_15")
    axes = figure.axes
    assert len(axes) == 4  # 2 classes x 2 dimensions
    titles = [ax.get_title() for ax in axes]
    assert titles == [
        "class a (label 0): $\\beta_0$",
        "class a (label 0): $\\beta_1$",
        "class b (label 1): $\\beta_0$",
        "class b (label 1): $\\beta_1$",
    ]
    assert "D-I" in figure.get_suptitle() and "10_by_15" in figure.get_suptitle()
    (legend,) = figure.legends
    texts = [t.get_text() for t in legend.get_texts()]
    # 4 well-trained measured per activation: the bad relu and the unmeasured tanh are left out
    assert texts[:3] == ["relu (n = 4)", "leaky_relu (n = 4)", "tanh (n = 4)"]
    ticks = [t.get_text() for t in axes[-1].get_xticklabels()]
    assert ticks[0] == "in" and ticks[-1] == "out" and len(ticks) == 11
    assert all(ax.get_ylim()[0] <= 0 < ax.get_ylim()[1] for ax in axes)


def test_trajectory_mean_and_half_std_band(store):
    figure = betti_trajectories(store, "D-I", "10_by_15")
    relu = [fake_betti("10_by_15", seed, "relu") for seed in range(4)]
    stacked = np.stack(relu)  # [network, layer, label, dim]
    for ax, (label, dim) in zip(figure.axes, [(0, 0), (0, 1), (1, 0), (1, 1)], strict=True):
        values = stacked[:, :, label, dim]
        mean = values.sum(axis=0) / 4
        half_std = 0.5 * np.sqrt(((values - mean) ** 2).sum(axis=0) / 4)
        line = lines_by_gid(ax, "mean:")["relu"]
        np.testing.assert_array_equal(line.get_xdata(), np.arange(11))
        np.testing.assert_allclose(line.get_ydata(), mean)
        lower, upper = band_edges(band_by_gid(ax, "relu"), np.arange(11))
        np.testing.assert_allclose(lower, mean - half_std)
        np.testing.assert_allclose(upper, mean + half_std)
        # single-network lines: 4 per activation, 12 in all; the 50s of the bad net are absent
        thin = [line for line in ax.get_lines() if line.get_gid() is None]
        assert len(thin) == 12
        assert max(np.max(line.get_ydata()) for line in thin) < 50


def test_trajectory_band_function():
    class Net:
        def __init__(self, betti):
            self.betti = betti

    a = np.zeros((3, 2, 3))
    b = np.full((3, 2, 3), 2.0)
    band = trajectory_band([Net(a), Net(b)], [0, 2])
    assert band.count == 2 and band.mean.shape == (3, 2, 2)
    np.testing.assert_allclose(band.mean, 1.0)
    np.testing.assert_allclose(band.lower, 0.5)
    np.testing.assert_allclose(band.upper, 1.5)


def test_dims_argument_selects_columns(store):
    figure = betti_trajectories(store, "D-I", "10_by_15", dims=[1])
    assert [ax.get_title() for ax in figure.axes] == [
        "class a (label 0): $\\beta_1$",
        "class b (label 1): $\\beta_1$",
    ]
    with pytest.raises(InputError, match="b2 was not measured"):
        betti_trajectories(store, "D-I", "10_by_15", dims=[2])


def test_comparison_align_input_and_output(store):
    for align, last in [("input", {"10_by_15": 10, "4_by_15": 4, BOTTLENECK: 10}), ("output", {})]:
        figure = architecture_comparison(store, "D-I", "leaky_relu", align=align)
        assert len(figure.axes) == 4
        lines = lines_by_gid(figure.axes[0], "mean:")
        assert list(lines) == ["10_by_15", "4_by_15", BOTTLENECK]
        for arch, line in lines.items():
            x = line.get_xdata()
            assert len(x) == n_layers(arch)
            assert x[-1] == (last[arch] if align == "input" else 0)
            if align == "output":
                assert x[0] == -(n_layers(arch) - 1)
        colours = {line.get_color() for line in lines.values()}
        assert len(colours) == 3
        ticks = [t.get_text() for t in figure.axes[-1].get_xticklabels()]
        assert ticks[0 if align == "input" else -1] == ("in" if align == "input" else "out")


def test_comparison_mean_matches_hand_computed(store):
    figure = architecture_comparison(store, "D-I", "leaky_relu", ["4_by_15"], align="output")
    ax = figure.axes[3]  # class b, beta_1
    expected = np.mean([fake_betti("4_by_15", s, "leaky_relu")[:, 1, 1] for s in range(4)], 0)
    line = lines_by_gid(ax, "mean:")["4_by_15"]
    np.testing.assert_allclose(line.get_ydata(), expected)
    np.testing.assert_array_equal(line.get_xdata(), np.arange(-4, 1))


def test_bottleneck_is_marked(store):
    assert bottleneck_layers((15, 15, 3, 15)) == [3]
    assert bottleneck_layers((15, 15, 15)) == []
    figure = architecture_comparison(store, "D-I", "leaky_relu")
    markers = lines_by_gid(figure.axes[0], "bottleneck:")
    assert list(markers) == [BOTTLENECK]
    np.testing.assert_array_equal(markers[BOTTLENECK].get_xdata(), [5])
    texts = [t.get_text() for t in figure.legends[0].get_texts()]
    assert "bottleneck layer" in texts


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: betti_trajectories(s, "D-II", "10_by_15"), "data set 'D-II'"),
        (lambda s: betti_trajectories(s, "D-I", "8_by_15"), "architecture '8_by_15'"),
        (lambda s: architecture_comparison(s, "D-I", "relu1"), "activation 'relu1'"),
        (
            lambda s: architecture_comparison(s, "D-I", "leaky_relu", ["8_by_15"]),
            "architecture '8_by_15'",
        ),
        (lambda s: architecture_comparison(s, "D-I", "relu", align="middle"), "align"),
    ],
)
def test_unknown_settings_raise(store, call, message):
    with pytest.raises(InputError, match=message):
        call(store)


def test_nothing_measured_raises(tmp_path):
    networks = [
        dict(dataset="D-I", architecture="4_by_15", activation="relu", seed=0, betti=None),
        dict(
            dataset="D-I",
            architecture="4_by_15",
            activation="relu",
            seed=1,
            well_trained=False,
            betti=fake_betti("4_by_15", 1, "relu"),
        ),
    ]
    store = load_store(write_store(tmp_path / "store", networks))
    assert trajectory_groups(store) == [] and comparison_groups(store) == []
    with pytest.raises(InputError, match="no well-trained measured networks for D-I 4_by_15"):
        betti_trajectories(store, "D-I", "4_by_15")
    with pytest.raises(InputError, match="no well-trained measured networks for D-I relu"):
        architecture_comparison(store, "D-I", "relu")
    empty = load_store(write_store(tmp_path / "empty", []))
    with pytest.raises(InputError, match="data set 'D-I'.*it has: none"):
        betti_trajectories(empty, "D-I", "4_by_15")


def test_save_png_and_svg(store, tmp_path):
    figure = architecture_comparison(store, "D-I", "leaky_relu", align="output")
    paths = save_figure(figure, tmp_path / "comparison", formats=("png", "svg"))
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert paths[0].read_bytes().startswith(b"\x89PNG")
    figure = betti_trajectories(store, "D-I", "10_by_15")
    (path,) = save_figure(figure, tmp_path / "trajectories")
    assert path.stat().st_size > 1000


def test_one_colour_per_architecture_in_every_figure_of_a_store(tmp_path):
    settings = [
        ("D-I", "4_by_15", "leaky_relu"),
        ("D-I", "10_by_15", "leaky_relu"),
        ("D-I", "10_by_15", "tanh"),
        ("D-I", BOTTLENECK, "tanh"),
    ]
    store = load_store(write_store(tmp_path / "store", fake_networks(settings)))
    colours = {}
    for activation in ("leaky_relu", "tanh"):
        figure = architecture_comparison(store, "D-I", activation)
        for name, line in lines_by_gid(figure.axes[0], "mean:").items():
            colours.setdefault(name, set()).add(line.get_color())
    assert all(len(seen) == 1 for seen in colours.values())  # 10_by_15: one colour in both
    assert len({seen.pop() for seen in colours.values()}) == len(colours)  # and distinct


def test_means_over_few_networks_are_dashed(store):
    figure = betti_trajectories(store, "D-I", "10_by_15")  # 4 networks per activation
    for line in lines_by_gid(figure.axes[0], "mean:").values():
        assert line.get_linestyle() == "--"


def test_a_constant_panel_is_a_note_and_an_outlier_layer_gets_a_log_axis(tmp_path):
    networks = fake_networks([("D-I", "4_by_15", "relu")])
    for network in networks:
        network["betti"][:, 1, 0] = 1  # class b's beta_0 is 1 everywhere
        network["betti"][1, 1, 1] = 184  # one layer far above the others
    store = load_store(write_store(tmp_path / "store", networks))
    figure = betti_trajectories(store, "D-I", "4_by_15")
    flat, spiky = figure.axes[2], figure.axes[3]
    assert not flat.get_lines()
    assert [text.get_text() for text in flat.texts] == ["1 at every layer\nin every network"]
    assert spiky.get_yscale() == "symlog" and "(log scale)" in spiky.get_title()
    assert figure.axes[0].get_yscale() == "linear"
