"""Fully connected networks: architecture specs, activations, the Flax MLP, layer outputs.

Parameters are plain pytrees ``{"Dense_i": {"kernel": float32[w_i, w_{i+1}], "bias":
float32[w_{i+1}]}}`` so that `jit`, `vmap` and sharding apply to them directly; `forward` is a pure
function of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from topnn_jax.errors import InputError
from topnn_jax.topology.parameters import check_memory

Params = dict[str, Any]
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
"""Activation name -> elementwise function. leaky_relu has slope 0.2 (the paper's); clipped_relu is
min(max(x, 0), 1); gelu is the exact (erf) form."""

PAPER_ACTIVATIONS = ("relu", "leaky_relu", "tanh")
"""The paper's activations in its claimed order, fastest topology reduction first (claim 2);
reports, figures and the claims list activations in this order."""

MAX_LAYERS = 1_000
"""Most dense layers of a network: the training step is compiled layer by layer (about 35 ms
each on a CPU for the gradient alone) and every layer is measured; the paper's deepest has 10."""

TRAINING_BYTES_PER_PARAMETER = 2 * 6 * 4
"""Bytes per parameter of the smallest training program: 2 rows (`training.batch_size`) of six
float32 copies (parameters, mask, gradient, Adam's two moments, the update)."""

_PAPER_NAME = re.compile(r"^(\d+)_by_(\d+)$")
_LAYER_STRING = re.compile(r"^\d+(-\d+)+$")


def dense_cost(widths: Sequence[int]) -> int:
    """Multiply-adds per point of a forward pass through dense layers of these widths."""
    return sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))


def check_activation(name: str) -> str:
    """Return `name` if it is a registered activation, else raise `InputError` listing them."""
    if name not in ACTIVATIONS:
        raise InputError(f"unknown activation {name!r}; available: {', '.join(ACTIVATIONS)}")
    return name


def _check_depth(name: str, n_layers: int) -> None:
    """Refuse a network of more than `MAX_LAYERS` dense layers."""
    if n_layers > MAX_LAYERS:
        raise InputError(
            f"architecture {name}: {n_layers:,} layers, at most {MAX_LAYERS:,} are supported "
            "(each is compiled and measured on its own; the paper's deepest has 10)"
        )


@dataclass(frozen=True)
class ArchitectureSpec:
    """A fully connected network: widths per layer and the hidden layers' activation.

    Attributes:
        input_dim: number of input features d.
        hidden: widths of the hidden layers, input side first (each followed by `activation`).
        activation: a name in `ACTIVATIONS`.
        output_dim: width of the final linear layer (the logits); 2 for binary classification.
    """

    input_dim: int
    hidden: tuple[int, ...]
    activation: str
    output_dim: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(w) for w in self.hidden))
        check_activation(self.activation)
        if self.input_dim < 1:
            raise InputError(f"input dimension must be >= 1, got {self.input_dim}")
        if any(w < 1 for w in self.hidden):
            raise InputError(f"every hidden layer needs width >= 1, got widths {self.hidden}")
        if self.output_dim < 2:
            raise InputError(f"output width must be >= 2 (softmax classes), got {self.output_dim}")
        _check_depth(self.name, self.n_layers)
        check_memory(
            f"architecture {self.layers} ({self.n_params:,} parameters): training it",
            self.n_params * TRAINING_BYTES_PER_PARAMETER,
            "use narrower layers",
        )

    @classmethod
    def parse(
        cls, arch: str, input_dim: int, activation: str, output_dim: int = 2
    ) -> ArchitectureSpec:
        """Build a spec from a paper name or an explicit layer string.

        Args:
            arch: ``"L_by_W"`` (L-1 hidden layers of width W, then the linear output layer; the
                paper's "10 layers of width 15" is ``"10_by_15"``) or ``"2-15-15-3-15-2"`` (every
                layer's width, input and output included).
            input_dim: features of the data set the network is for.
            activation: a name in `ACTIVATIONS`.
            output_dim: logits; 2 for binary classification.
        """
        text = str(arch).strip()
        if match := _PAPER_NAME.match(text):
            depth, width = int(match[1]), int(match[2])
            if depth < 2:
                raise InputError(f"architecture {arch!r}: L_by_W needs L >= 2 (one hidden layer)")
            _check_depth(text, depth)  # before making its list of widths
            return cls(input_dim, (width,) * (depth - 1), activation, output_dim)
        if _LAYER_STRING.match(text):
            widths = [int(w) for w in text.split("-")]
            if widths[0] != input_dim:
                raise InputError(
                    f"architecture {arch!r} takes {widths[0]} input features but the data have "
                    f"{input_dim}"
                )
            if widths[-1] != output_dim:
                raise InputError(
                    f"architecture {arch!r} ends in width {widths[-1]}; the output layer must "
                    f"have {output_dim} units"
                )
            return cls(input_dim, tuple(widths[1:-1]), activation, output_dim)
        raise InputError(
            f"architecture {arch!r} not understood: use L_by_W (e.g. 10_by_15) or the widths of "
            "all layers joined by '-' (e.g. 2-15-15-3-15-15-2)"
        )

    @staticmethod
    def named_input_dim(arch: str) -> int:
        """The input width an architecture name fixes: the first width of a layer string
        ("2-15-2" -> 2); 1 for an L_by_W name, whose input width the data set decides."""
        head = str(arch).split("-", 1)[0]
        return int(head) if "-" in str(arch) and head.isdigit() else 1

    @property
    def widths(self) -> tuple[int, ...]:
        """Widths of all layers: input, hidden..., output."""
        return (self.input_dim, *self.hidden, self.output_dim)

    @property
    def layers(self) -> str:
        """Explicit layer string, e.g. ``"2-15-15-2"``."""
        return "-".join(map(str, self.widths))

    @property
    def name(self) -> str:
        """``"L_by_W"`` when all hidden layers have one width, else the layer string."""
        if self.hidden and len(set(self.hidden)) == 1:
            return f"{len(self.hidden) + 1}_by_{self.hidden[0]}"
        return self.layers

    @property
    def n_layers(self) -> int:
        """Dense layers (hidden + output)."""
        return len(self.hidden) + 1

    @property
    def n_params(self) -> int:
        """Weights and biases of all layers."""
        widths = self.widths
        return sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:], strict=True))

    @property
    def cost(self) -> int:
        """Multiply-adds per point of one forward pass (see `dense_cost`)."""
        return dense_cost(self.widths)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "input_dim": self.input_dim,
            "hidden": list(self.hidden),
            "activation": self.activation,
            "output_dim": self.output_dim,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArchitectureSpec:
        """Inverse of `to_dict`."""
        return cls(
            int(data["input_dim"]),
            tuple(data["hidden"]),
            str(data["activation"]),
            int(data["output_dim"]),
        )


KERNEL_INITS = {
    "glorot_uniform": nn.initializers.glorot_uniform(),
    "glorot_normal": nn.initializers.glorot_normal(),
    "he_uniform": nn.initializers.he_uniform(),
    "he_normal": nn.initializers.he_normal(),
    "lecun_normal": nn.initializers.lecun_normal(),
}
"""Kernel initialisers by name; "glorot_uniform" is the paper's (TensorFlow's dense default)."""


def check_kernel_init(name: str) -> None:
    """`InputError` unless `name` is a key of `KERNEL_INITS`."""
    if name not in KERNEL_INITS:
        raise InputError(f"[training] init must be one of {', '.join(KERNEL_INITS)}, got {name!r}")


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
