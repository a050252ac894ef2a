"""Every layer's output of a user's Flax module, in order, ready for `topnn_jax.measure`:

    layers = flax_layer_outputs(model, variables, x)
    result = measure(layers, y, k=13)

What counts as a layer:

* values the module sows into "intermediates" (linen ``self.sow("intermediates", name, h)``,
  nnx ``self.sow(nnx.Intermediate, name, h)``), in the order sown, when it sows any: the way to
  measure after an activation, which is a function rather than a module;
* otherwise (linen only), the output of each direct submodule in call order: a Dense layer's
  output before the activation that follows it.

The input comes first and the module's output last (unless it is the last layer already).
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from topnn_jax.errors import InputError

INTERMEDIATES = "intermediates"
CAPTURED = "__call__"
"""The key under which linen's `capture_intermediates` keeps a submodule's outputs."""


def flax_layer_outputs(model: Any, variables: Any, x: Any) -> dict[str, np.ndarray]:
    """name -> float32[n, d_l] for the input, every layer (see the module docstring) and the
    output, in order.

    Args:
        model: a `flax.linen.Module` (applied with `variables`) or a `flax.nnx.Module` (called;
            `variables` must be None: its state is in the module).
        variables: a linen module's variables ({"params": ...}), or None for nnx.
        x: the inputs, [n, ...]; every output must be [n, ...] (flattened to [n, d]).
    """
    import flax.linen as nn
    from flax import nnx

    if isinstance(model, nn.Module):
        sown, output = _linen_layers(model, variables, x)
    elif isinstance(model, nnx.Module):
        if variables is not None:
            raise InputError("an nnx module holds its own state: pass variables=None")
        output, state = nnx.capture(model, nnx.Intermediate)(x)
        sown = _named_values(nnx.to_pure_dict(state))
        if not sown:
            raise InputError(
                "the nnx module sowed nothing: add self.sow(nnx.Intermediate, name, value) for "
                "each layer to measure"
            )
    else:
        raise InputError(
            f"model must be a flax.linen or flax.nnx Module, got {type(model).__name__}; for "
            "other networks pass their layer outputs to measure() directly"
        )
    layers = {"input": x, **sown}
    if not any(value is output for value in sown.values()):
        last = list(sown.values())[-1]
        if np.shape(last) != np.shape(output) or not np.array_equal(last, output):
            layers["output"] = output
    n = np.shape(x)[0]
    flat = {}
    for name, value in layers.items():
        array = np.asarray(jax.device_get(value), np.float32)
        if array.ndim < 1 or array.shape[0] != n:
            raise InputError(f"layer {name!r} has shape {array.shape}: expected [{n}, ...]")
        flat[name] = array.reshape(n, -1)
    return flat


def _linen_layers(model: Any, variables: Any, x: Any) -> tuple[dict[str, Any], Any]:
    """A linen module's layers (its sown values, else every direct submodule's output in call
    order) and its output, from one application."""

    def direct_child(module: Any, method: str) -> bool:
        return method == "__call__" and len(module.path) == 1

    output, state = model.apply(
        variables, x, capture_intermediates=direct_child, mutable=[INTERMEDIATES]
    )
    tree = state.get(INTERMEDIATES, {})
    sown = _named_values(tree)
    if sown:
        return sown, output
    captured = {
        name: calls[CAPTURED][-1]
        for name, calls in tree.items()
        if hasattr(calls, "items") and CAPTURED in calls
    }
    if not captured:
        raise InputError(
            "the linen module has no submodules and sows nothing: add "
            'self.sow("intermediates", name, value) for each layer to measure'
        )
    return captured, output


def _named_values(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Sown values of a nested {name: (value, ...)} tree, flattened in order: "name", or
    "name.1", ... when one name was sown several times, with module paths joined by "/";
    captured submodule outputs (`CAPTURED`) left out."""
    found: dict[str, Any] = {}
    for name, value in dict(tree).items():
        if name == CAPTURED:
            continue
        path = f"{prefix}{name}"
        if isinstance(value, tuple | list):
            for i, item in enumerate(value):
                found[path if len(value) == 1 else f"{path}.{i}"] = item
        elif hasattr(value, "items"):
            found.update(_named_values(value, f"{path}/"))
        else:
            found[path] = value
    return found
