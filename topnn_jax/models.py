"""The Flax MLP of an `ArchitectureSpec` (`topnn_jax.architecture`): the activations' and
initialisers' functions, forward passes, padding, layer outputs.

Parameters are plain pytrees ``{"Dense_i": {"kernel": float32[w_i, w_{i+1}], "bias":
float32[w_{i+1}]}}`` so that `jit`, `vmap` and sharding apply to them directly; `forward` is a pure
function of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from topnn_jax.architecture import (
    KERNEL_INIT_NAMES,
    ArchitectureSpec,
    Params,
    check_kernel_init,
)
from topnn_jax.architecture import dense_cost as dense_cost  # re-exported for the training step
from topnn_jax.errors import InputError

Activation = Callable[[jax.Array], jax.Array]

ACTIVATIONS: dict[str, Activation] = {
    "relu": jax.nn.relu,
    "leaky_relu": lambda x: jax.nn.leaky_relu(x, negative_slope=0.2),
    "tanh": jnp.tanh,
    "clipped_relu": lambda x: jnp.clip(x, 0.0, 1.0),
    "sigmoid": jax.nn.sigmoid,
    "gelu": lambda x: jax.nn.gelu(x, approximate=False),
    "identity": lambda x: x,
}
"""Activation name (`topnn_jax.architecture.ACTIVATION_NAMES`, in that order) -> elementwise
function. leaky_relu has slope 0.2 (the paper's); clipped_relu is min(max(x, 0), 1); gelu is the
exact (erf) form."""

KERNEL_INITS = {name: getattr(nn.initializers, name)() for name in KERNEL_INIT_NAMES}
"""Kernel initialisers by name (`KERNEL_INIT_NAMES`)."""


class MLP(nn.Module):
    """Dense layers with `kernel_init` kernels (`KERNEL_INITS`) and zero biases; the last layer
    is linear.

    ``__call__(x: float[n, d])`` returns every layer's output: ``[x, hidden_1, ..., logits]``.
    """

    features: tuple[int, ...]
    activation: Activation
    kernel_init: str = "glorot_uniform"

    @nn.compact
    def __call__(self, x: jax.Array) -> list[jax.Array]:
        outputs = [x]
        for i, width in enumerate(self.features):
            x = nn.Dense(width, kernel_init=KERNEL_INITS[self.kernel_init])(x)
            if i < len(self.features) - 1:
                x = self.activation(x)
            outputs.append(x)
        return outputs


def init_params(
    spec: ArchitectureSpec, key: jax.Array, kernel_init: str = "glorot_uniform"
) -> Params:
    """Initial parameters of `spec` from a `jax.random.key`: `kernel_init` kernels (a name in
    `KERNEL_INITS`; Glorot-uniform, the paper's, by default), zero biases."""
    check_kernel_init(kernel_init)
    model = MLP(spec.widths[1:], ACTIVATIONS[spec.activation], kernel_init)
    return model.init(key, jnp.zeros((1, spec.input_dim), jnp.float32))["params"]


def forward(params: Params, points: jax.Array, activation: Activation) -> list[jax.Array]:
    """Pure forward pass: ``[points, hidden_1, ..., logits]`` for points float[n, d].

    The widths are read from `params`, so padded parameters (see `pad_params`) work unchanged.
    """
    features = tuple(params[f"Dense_{i}"]["bias"].shape[-1] for i in range(len(params)))
    return MLP(features, activation).apply({"params": params}, points)


def forward_feature_major(params: Params, points: jax.Array, activation: Activation) -> jax.Array:
    """The logits float[output_dim, T] of points stored feature-major, float[d, T].

    The same function as `forward` (the last layer linear), computed with every layer's
    activations as [width, T] (points contiguous): on CPU, XLA's products of these narrow layers
    run faster this way. Rounding differs from `forward` in the last bits.
    """
    h = points
    for i in range(len(params)):
        layer = params[f"Dense_{i}"]
        ones = jnp.ones((1, h.shape[-1]), h.dtype)
        kernel = jnp.concatenate([layer["kernel"], layer["bias"][None]])
        h = jnp.einsum("de,dt->et", kernel, jnp.concatenate([h, ones]))
        if i < len(params) - 1:
            h = activation(h)
    return h


def pad_params(params: Params, widths: Sequence[int]) -> Params:
    """Zero-pad every layer of `params` to the layer widths `widths` (input, hidden..., output).

    A padded network computes the same function: padded units get zero weights in and out. Used to
    train networks of one depth and different widths in one program.
    """

    def pad(array: jax.Array, shape: tuple[int, ...]) -> jax.Array:
        return jnp.pad(array, [(0, s - a) for a, s in zip(array.shape, shape, strict=True)])

    return {
        f"Dense_{i}": {
            "kernel": pad(params[f"Dense_{i}"]["kernel"], (widths[i], widths[i + 1])),
            "bias": pad(params[f"Dense_{i}"]["bias"], (widths[i + 1],)),
        }
        for i in range(len(widths) - 1)
    }


def unpad_params(params: Params, spec: ArchitectureSpec) -> Params:
    """Cut padded parameters back to the widths of `spec` (inverse of `pad_params`)."""
    widths = spec.widths
    return {
        f"Dense_{i}": {
            "kernel": params[f"Dense_{i}"]["kernel"][: widths[i], : widths[i + 1]],
            "bias": params[f"Dense_{i}"]["bias"][: widths[i + 1]],
        }
        for i in range(spec.n_layers)
    }


def _validate_points(points: np.ndarray, dim: int, what: str = "points") -> np.ndarray:
    """Return points as float32[n, dim], or raise `InputError` for a wrong shape or NaN/inf."""
    array = np.asarray(points)
    if array.ndim != 2 or array.shape[1] != dim:
        raise InputError(f"{what}: expected an array of shape [n, {dim}], got {array.shape}")
    if array.shape[0] == 0:
        raise InputError(f"{what}: no points")
    if not np.issubdtype(array.dtype, np.number):
        raise InputError(f"{what}: expected numbers, got dtype {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{what}: contains NaN or inf; clean or drop those points first")
    return array.astype(np.float32, copy=False)


@partial(jax.jit, static_argnames="activation")
def _forward_batch(params: Params, points: jax.Array, activation: str) -> list[jax.Array]:
    return forward(params, points, ACTIVATIONS[activation])


def layer_outputs(
    params: Params, spec: ArchitectureSpec, points: np.ndarray, batch_size: int = 8192
) -> list[np.ndarray]:
    """Every layer's output for `points`, computed on the device in batches of `batch_size` points.

    Args:
        params: unpadded parameters of a network with architecture `spec`.
        points: float[n, spec.input_dim].

    Returns:
        ``spec.n_layers + 1`` arrays: the input float32[n, d], each hidden layer after its
        activation float32[n, w_i], and the logits float32[n, output_dim].
    """
    points = _validate_points(points, spec.input_dim)
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    n = points.shape[0]
    batch = min(batch_size, n)
    # Pad to whole batches so that one compiled program serves every batch.
    padded = np.zeros((-(-n // batch) * batch, spec.input_dim), np.float32)
    padded[:n] = points
    chunks = [
        jax.device_get(_forward_batch(params, padded[start : start + batch], spec.activation))
        for start in range(0, padded.shape[0], batch)
    ]
    # float32 whatever the parameters' precision (float64 ones come from float64 training)
    return [
        np.concatenate([chunk[layer] for chunk in chunks])[:n].astype(np.float32, copy=False)
        for layer in range(spec.n_layers + 1)
    ]
