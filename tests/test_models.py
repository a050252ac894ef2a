"""Architecture specs (`topnn_jax.architecture`), activations, the Flax MLP, padding and layer
outputs (`topnn_jax.models`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topnn_jax.architecture import ACTIVATION_NAMES
from topnn_jax.errors import InputError
from topnn_jax.models import (
    ACTIVATIONS,
    ArchitectureSpec,
    forward,
    init_params,
    layer_outputs,
    pad_params,
    unpad_params,
)

BOTTLENECK = "2-15-15-15-15-3-15-15-15-15-2"


def test_paper_name_is_hidden_layers_plus_linear_output():
    spec = ArchitectureSpec.parse("10_by_15", 2, "relu")
    assert spec.hidden == (15,) * 9
    assert spec.widths == (2, *(15,) * 9, 2)
    assert spec.n_layers == 10
    assert spec.name == "10_by_15"
    assert spec.layers == "2-" + "15-" * 9 + "2"
    assert ArchitectureSpec.parse(spec.layers, 2, "relu") == spec


def test_layer_string_builds_a_bottleneck():
    spec = ArchitectureSpec.parse(BOTTLENECK, 2, "leaky_relu")
    assert spec.hidden == (15, 15, 15, 15, 3, 15, 15, 15, 15)
    assert spec.name == BOTTLENECK
    assert ArchitectureSpec.from_dict(spec.to_dict()) == spec


def test_input_dimension_comes_from_the_data():
    assert ArchitectureSpec.parse("4_by_25", 3, "tanh").widths == (3, 25, 25, 25, 2)


@pytest.mark.parametrize(
    ("arch", "activation", "message"),
    [
        ("10_by_15", "swish", "unknown activation 'swish'"),
        ("4_by_0", "relu", "width >= 1"),
        ("2-15-0-2", "relu", "width >= 1"),
        ("3-15-2", "relu", "takes 3 input features but the data have 2"),
        ("2-15-3", "relu", "output layer must have 2 units"),
        ("1_by_15", "relu", "L >= 2"),
        ("ten_by_15", "relu", "not understood"),
        ("2--15-2", "relu", "not understood"),
    ],
)
def test_bad_architectures_raise_input_error(arch, activation, message):
    with pytest.raises(InputError, match=message):
        ArchitectureSpec.parse(arch, 2, activation)


def test_activations_match_their_definitions():
    x = jnp.asarray([-2.0, -0.5, 0.0, 0.5, 2.0])
    expected = {
        "relu": [0.0, 0.0, 0.0, 0.5, 2.0],
        "leaky_relu": [-0.4, -0.1, 0.0, 0.5, 2.0],
        "tanh": np.tanh(x),
        "clipped_relu": [0.0, 0.0, 0.0, 0.5, 1.0],
        "sigmoid": 1 / (1 + np.exp(-np.asarray(x))),
        "gelu": [-0.04550026, -0.15426877, 0.0, 0.34573123, 1.9544997],
        "identity": x,
    }
    assert set(expected) == set(ACTIVATIONS)
    assert tuple(ACTIVATIONS) == ACTIVATION_NAMES  # the names configs and the CLI check
    for name, values in expected.items():
        np.testing.assert_allclose(ACTIVATIONS[name](x), values, rtol=1e-6, atol=1e-7)


def test_init_is_glorot_uniform_with_zero_biases():
    spec = ArchitectureSpec.parse("2-50-40-2", 2, "relu")
    params = init_params(spec, jax.random.key(0))
    assert list(params) == ["Dense_0", "Dense_1", "Dense_2"]
    for i, (fan_in, fan_out) in enumerate(zip(spec.widths[:-1], spec.widths[1:], strict=True)):
        kernel, bias = params[f"Dense_{i}"]["kernel"], params[f"Dense_{i}"]["bias"]
        assert kernel.shape == (fan_in, fan_out)
        limit = np.sqrt(6 / (fan_in + fan_out))
        assert np.abs(kernel).max() <= limit
        assert np.abs(kernel).max() > 0.8 * limit  # uniform over the whole range
        np.testing.assert_array_equal(bias, np.zeros(fan_out))
    again = init_params(spec, jax.random.key(0))
    other = init_params(spec, jax.random.key(1))
    assert np.array_equal(params["Dense_1"]["kernel"], again["Dense_1"]["kernel"])
    assert not np.array_equal(params["Dense_1"]["kernel"], other["Dense_1"]["kernel"])


def _numpy_forward(params, points, activation):
    outputs = [points]
    for i in range(len(params)):
        layer = params[f"Dense_{i}"]
        z = outputs[-1] @ np.asarray(layer["kernel"], np.float64) + np.asarray(layer["bias"])
        outputs.append(z if i == len(params) - 1 else activation(z))
    return outputs


def test_layer_outputs_are_input_hidden_layers_and_logits():
    spec = ArchitectureSpec.parse("2-7-5-2", 2, "relu")
    params = init_params(spec, jax.random.key(3))
    params["Dense_0"]["bias"] = jnp.full(7, 0.1)
    points = np.random.default_rng(0).normal(size=(23, 2)).astype(np.float32)
    outputs = layer_outputs(params, spec, points, batch_size=5)
    assert [o.shape for o in outputs] == [(23, 2), (23, 7), (23, 5), (23, 2)]
    assert all(o.dtype == np.float32 for o in outputs)
    np.testing.assert_array_equal(outputs[0], points)
    expected = _numpy_forward(params, points.astype(np.float64), lambda z: np.maximum(z, 0))
    for got, want in zip(outputs, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    whole = layer_outputs(params, spec, points, batch_size=1000)
    for got, want in zip(outputs, whole, strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("points", "message"),
    [
        (np.zeros((4, 3), np.float32), r"shape \[n, 2\]"),
        (np.zeros(4, np.float32), r"shape \[n, 2\]"),
        (np.array([[0.0, np.nan]], np.float32), "NaN"),
        (np.array([[0.0, np.inf]], np.float32), "NaN or inf"),
        (np.zeros((0, 2), np.float32), "no points"),
    ],
)
def test_layer_outputs_reject_bad_points(points, message):
    spec = ArchitectureSpec.parse("3_by_4", 2, "tanh")
    params = init_params(spec, jax.random.key(0))
    with pytest.raises(InputError, match=message):
        layer_outputs(params, spec, points)


@settings(max_examples=15, deadline=None)
@given(
    hidden=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    extra=st.lists(st.integers(0, 4), min_size=3, max_size=3),
    activation=st.sampled_from(sorted(ACTIVATIONS)),
    seed=st.integers(0, 2**16),
)
def test_padded_network_computes_the_same_function(hidden, extra, activation, seed):
    spec = ArchitectureSpec(2, tuple(hidden), activation)
    params = init_params(spec, jax.random.key(seed))
    widths = (2, *(w + e for w, e in zip(hidden, extra, strict=False)), 2)
    padded = pad_params(params, widths)
    assert [padded[f"Dense_{i}"]["bias"].shape[0] for i in range(len(hidden) + 1)] == list(
        widths[1:]
    )
    points = jax.random.normal(jax.random.key(seed + 1), (31, 2))
    plain = forward(params, points, ACTIVATIONS[activation])
    wide = forward(padded, points, ACTIVATIONS[activation])
    for layer, (a, b) in enumerate(zip(plain, wide, strict=True)):
        np.testing.assert_allclose(b[:, : a.shape[1]], a, rtol=0, atol=1e-6, err_msg=str(layer))
    restored = unpad_params(padded, spec)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(restored), strict=True):
        np.testing.assert_array_equal(a, b)
