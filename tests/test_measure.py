"""`topnn_jax.measure` (topnn_jax.measurement) on hand-made layers of three classes, the Flax
helper on a model written here, the `topnn-jax measure` command and its bad inputs, and stores
of measured networks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from topnn_jax import BettiPool, flax_layer_outputs, load_diagrams, load_store, measure
from topnn_jax.cli import main
from topnn_jax.errors import InputError
from topnn_jax.store.measured import diagrams_path

POINTS = 60
ANGLES = np.linspace(0, 2 * np.pi, POINTS, endpoint=False)


def three_classes() -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Three circles (one per class) through three hand-made layers, the labels, and each
    layer's known Betti numbers (b0, b1) of every class: circles (1, 1); each circle unrolled
    into a segment (1, 0); each circle cut into two arcs far apart (2, 0)."""
    unit = np.stack([np.cos(ANGLES), np.sin(ANGLES)], axis=1)
    offsets = np.repeat(np.arange(3), POINTS)[:, None] * np.array([[5.0, 0.0]])
    angles = np.tile(ANGLES, 3)
    layers = {
        "circles": np.tile(unit, (3, 1)) + offsets,
        "segments": np.stack([angles, np.zeros_like(angles)], axis=1) + 10 * offsets,
        "arcs": np.stack([angles + 20 * (angles > np.pi), np.zeros_like(angles)], axis=1)
        + 10 * offsets,
    }
    labels = np.repeat([0, 1, 2], POINTS)
    known = np.array([[1, 1], [1, 0], [2, 0]])
    return layers, labels, known


@pytest.fixture(scope="module")
def result():
    layers, labels, _ = three_classes()
    return measure(layers, labels, k=4, workers=2)


def test_measure_gives_the_known_betti_numbers_of_every_layer_and_class(result):
    _, _, known = three_classes()
    assert result.layer_names == ("circles", "segments", "arcs")
    assert result.labels == (0, 1, 2)
    expected = np.repeat(known[:, None, :], 3, axis=1)  # [layer, class, dim]
    np.testing.assert_array_equal(result.betti, expected)
    assert all(row.result.n_points == POINTS for row in result.rows)


def test_to_pandas_has_one_row_per_layer_and_class(result):
    frame = result.to_pandas()
    assert list(frame.columns) == [
        "layer",
        "layer_name",
        "label",
        "n_points",
        "k",
        "scale",
        "b0",
        "b1",
        "seconds",
    ]
    assert len(frame) == 9
    assert frame.groupby("layer_name")["b0"].sum().to_dict() == {
        "circles": 3,
        "segments": 3,
        "arcs": 6,
    }
    assert sorted(frame["label"].unique()) == [0, 1, 2]


def test_to_pandas_without_pandas_is_a_clear_error(result, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(InputError, match="pip install"):
        result.to_pandas()


def test_a_sequence_of_layers_is_named_by_position_and_stride_thins_each_class():
    layers, labels, _ = three_classes()
    thinned = measure(list(layers.values()), labels, k=4, stride=2, workers=1)
    assert thinned.layer_names == ("layer 0", "layer 1", "layer 2")
    assert {row.result.n_points for row in thinned.rows} == {POINTS // 2}
    assert thinned.betti[0, :, 1].tolist() == [1, 1, 1]  # half the circle is still a circle


def test_saved_measurements_read_as_a_store_with_three_classes(result, tmp_path):
    result.save(tmp_path / "store", network_id="a", activation="relu")
    result.save(tmp_path / "store", network_id="b", activation="relu", seed=1)
    store = load_store(tmp_path / "store")
    assert store.labels == (0, 1, 2)
    assert [n.architecture for n in store.networks] == ["2-2-2", "2-2-2"]
    assert all(n.usable for n in store.networks)
    np.testing.assert_array_equal(store.networks[1].betti, result.betti)
    networks, betti = store.to_pandas()
    assert networks["network_id"].tolist() == ["a", "b"]
    assert len(betti) == 18 and set(betti["label"]) == {0, 1, 2}
    with pytest.raises(InputError, match="already holds a measurement of 'a'"):
        result.save(tmp_path / "store", network_id="a", activation="relu")


def test_a_store_holds_measurements_made_one_way(result, tmp_path):
    result.save(tmp_path / "store", network_id="a")
    layers, labels, _ = three_classes()
    other = measure(layers, labels, k=5, workers=1)
    with pytest.raises(InputError, match="measured with k 4, this measurement with k 5"):
        other.save(tmp_path / "store", network_id="b")


def test_diagrams_are_saved_per_dimension_as_ripser_holds_them(tmp_path):
    layers, labels, _ = three_classes()
    kept = measure(layers, labels, k=4, workers=1, diagrams=True, diagram_scale=3)
    kept.save(tmp_path / "store", network_id="net", step=7)
    diagrams = load_diagrams(diagrams_path(tmp_path / "store", "net", 7))
    assert sorted(diagrams) == [(layer, label) for layer in range(3) for label in range(3)]
    dgm0, dgm1 = diagrams[(0, 2)]  # circles, class c: one component and one loop live on
    assert dgm0.shape[1] == dgm1.shape[1] == 2
    assert np.sum(np.isinf(dgm0[:, 1])) == 1 and np.sum(np.isinf(dgm1[:, 1])) == 1
    np.testing.assert_array_equal(kept.diagrams[(0, 2)].diagrams[1], dgm1)


def layers_file(tmp_path: Path) -> tuple[Path, Path]:
    layers, labels, _ = three_classes()
    path = tmp_path / "layers.npz"
    np.savez(path, arcs=layers["arcs"], circles=layers["circles"], layers=["circles", "arcs"])
    np.save(tmp_path / "labels.npy", labels)
    return path, tmp_path / "labels.npy"


def test_measure_command_writes_a_store_that_summary_reads(tmp_path, capsys):
    path, labels = layers_file(tmp_path)
    out = tmp_path / "store"
    args = ["measure", str(path), "--labels", str(labels), "--k", "4", "--out", str(out)]
    assert main([*args, "--workers", "2", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "circles  class c (label 2)" in printed and f"topnn-jax report {out}" in printed
    store = load_store(out)
    assert store.networks[0].betti[:, :, 0].tolist() == [[1, 1, 1], [2, 2, 2]]  # layers order
    assert main(["summary", str(out)]) == 0
    assert "class c (label 2) b1" in capsys.readouterr().out


def nan_layers(tmp_path: Path) -> Path:
    layers, _, _ = three_classes()
    bad = layers["circles"].copy()
    bad[3, 0] = np.nan
    np.savez(tmp_path / "nan.npz", circles=bad)
    return tmp_path / "nan.npz"


def short_layers(tmp_path: Path) -> Path:
    layers, _, _ = three_classes()
    np.savez(tmp_path / "short.npz", circles=layers["circles"], arcs=layers["arcs"][:-1])
    return tmp_path / "short.npz"


@pytest.mark.parametrize(
    ("layers", "labels", "message"),
    [
        (short_layers, np.repeat([0, 1, 2], POINTS), "lengths differ: circles 180, arcs 179"),
        (None, np.repeat([0, 1], POINTS), "expected one label per point: 120 labels for 180"),
        (None, np.zeros(3 * POINTS, int), "labels hold one class (0): measure needs two"),
        (nan_layers, np.repeat([0, 1, 2], POINTS), "layer 'circles', class 0: 1 of 60 points"),
        (None, np.linspace(0, 1, 3 * POINTS), "labels must be a 1-D integer array"),
    ],
)
def test_bad_inputs_are_one_line_errors_with_exit_code_2(tmp_path, capsys, layers, labels, message):
    path = layers(tmp_path) if layers else layers_file(tmp_path)[0]
    np.save(tmp_path / "bad_labels.npy", labels)
    args = ["measure", str(path), "--labels", str(tmp_path / "bad_labels.npy"), "--k", "4"]
    assert main([*args, "--out", str(tmp_path / "store"), "--no-progress"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("topnn-jax measure: error: ") and "\n" not in error
    assert message in error
    assert not (tmp_path / "store" / "betti.csv").exists()


def test_a_script_without_a_main_guard_can_measure(tmp_path):
    script = tmp_path / "user_script.py"
    script.write_text(
        textwrap.dedent(
            """
            import numpy as np
            from topnn_jax import measure
            x = np.random.default_rng(0).normal(size=(40, 2))
            print(measure([x], np.repeat([0, 1], 20), k=3, workers=2).betti[0, :, 0].tolist())
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1, 1]"


def test_flax_model_layers_measured_during_training_make_a_report(tmp_path, capsys):
    import flax.linen as nn
    import jax
    import optax

    class Rings(nn.Module):
        """A model of the user's: three dense ReLU layers, each sown after its activation."""

        @nn.compact
        def __call__(self, x):
            for i in range(3):
                x = nn.relu(nn.Dense(10)(x))
                self.sow("intermediates", f"relu_{i}", x)
            return nn.Dense(3)(x)

    rng = np.random.default_rng(0)
    angles, radii = rng.uniform(0, 2 * np.pi, 300), np.repeat([1.0, 2.0, 3.0], 100)
    x = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1).astype(np.float32)
    y = np.repeat([0, 1, 2], 100)
    model = Rings()
    params = model.init(jax.random.key(0), x[:1])
    optimizer = optax.adam(0.02)
    state = optimizer.init(params)

    @jax.jit
    def step(params, state):
        def loss(p):
            return optax.softmax_cross_entropy_with_integer_labels(model.apply(p, x), y).mean()

        updates, state = optimizer.update(jax.grad(loss)(params), state)
        return optax.apply_updates(params, updates), state

    out = tmp_path / "rings"
    with BettiPool(workers=2) as pool:
        for training_step in range(201):
            if training_step in (0, 200):
                layers = flax_layer_outputs(model, params, x)
                assert list(layers) == ["input", "relu_0", "relu_1", "relu_2", "output"]
                measured = measure(layers, y, k=8, executor=pool)
                measured.save(out, network_id="rings", activation="relu", step=training_step)
            params, state = step(params, state)
    store = load_store(out)
    assert store.networks[0].steps == (0, 200) and store.labels == (0, 1, 2)
    np.testing.assert_array_equal(store.networks[0].betti, measured.betti)
    assert main(["report", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "## Topology during training" in report
    assert "figures/during_custom_2-10-10-10-3.png" in report
    assert "figures/betti_custom_2-10-10-10-3.png" in report
    assert "no data set generator" in report  # the data set figure says why it is not drawn


def test_flax_submodule_outputs_without_sow_and_a_clear_error_for_other_models():
    import flax.linen as nn
    import jax

    class Plain(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(2)(nn.tanh(nn.Dense(4)(x)))

    x = np.ones((5, 3), np.float32)
    model = Plain()
    layers = flax_layer_outputs(model, model.init(jax.random.key(0), x), x)
    # in call order: Dense_1 (made second) runs first
    assert [(name, value.shape) for name, value in layers.items()] == [
        ("input", (5, 3)),
        ("Dense_1", (5, 4)),
        ("Dense_0", (5, 2)),
    ]
    with pytest.raises(InputError, match="must be a flax.linen or flax.nnx Module"):
        flax_layer_outputs(object(), None, x)
