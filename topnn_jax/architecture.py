"""What a dense network is, without JAX: its architecture (`ArchitectureSpec`), the names of the
hidden layers' activations and of the kernel initialisers, and the parameters' type.

`topnn_jax.models` gives these names their functions and builds the Flax MLP; this module stays
free of JAX so that configs, stores and the command line can check and describe networks without
importing it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from topnn_jax.errors import InputError
from topnn_jax.topology.parameters import check_memory

Params = dict[str, Any]
"""A network's parameters: ``{"Dense_i": {"kernel": float[w_i, w_{i+1}], "bias": float[w_{i+1}]}}``
(numpy or JAX arrays)."""

ACTIVATION_NAMES = ("relu", "leaky_relu", "tanh", "clipped_relu", "sigmoid", "gelu", "identity")
"""The hidden layers' activations; `topnn_jax.models.ACTIVATIONS` gives each its function."""

PAPER_ACTIVATIONS = ("relu", "leaky_relu", "tanh")
"""The paper's activations in its claimed order, fastest topology reduction first (claim 2);
reports, figures and the claims list activations in this order."""

KERNEL_INIT_NAMES = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_normal")
"""The kernel initialisers, named as in `jax.nn.initializers`; "glorot_uniform" is the paper's
(TensorFlow's dense default)."""

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
    """Return `name` if it is a name in `ACTIVATION_NAMES`, else raise `InputError` listing them."""
    if name not in ACTIVATION_NAMES:
        raise InputError(f"unknown activation {name!r}; available: {', '.join(ACTIVATION_NAMES)}")
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
        activation: a name in `ACTIVATION_NAMES`.
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
            activation: a name in `ACTIVATION_NAMES`.
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


def check_kernel_init(name: str) -> None:
    """`InputError` unless `name` is a name in `KERNEL_INIT_NAMES`."""
    if name not in KERNEL_INIT_NAMES:
        raise InputError(
            f"[training] init must be one of {', '.join(KERNEL_INIT_NAMES)}, got {name!r}"
        )
