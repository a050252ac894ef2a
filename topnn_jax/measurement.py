"""Betti numbers of any network's layers: `measure` takes per-layer outputs from any source
(Flax, PyTorch, NumPy) and labels of two or more classes, and measures every layer's cloud of
each class on its own, by the same protocol and on the same executors as the experiments.

    result = measure(flax_layer_outputs(model, variables, x), y, k=13)
    result.to_pandas()                 # one row per layer x class
    result.save("results/mine", network_id="mlp_s0")   # a store for summary, plot and report

A `Measurement` saved into a store becomes one network of it (networks.csv, betti.csv); saving
several (other seeds, other training steps with `step=`) into one store aggregates them as the
experiments' stores are.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from topnn_jax.errors import InputError
from topnn_jax.topology.cloud import Persistence, persistence
from topnn_jax.topology.job import BettiResult
from topnn_jax.topology.parameters import check_parameter, check_stride
from topnn_jax.topology.pool import AutoExecutor, BettiExecutor, given_or

Layers = Sequence[Any] | Mapping[str, Any]
"""Per-layer outputs: a sequence of arrays [n, d_l] in layer order, or name -> array."""


@dataclass(frozen=True)
class LayerBetti:
    """The Betti numbers of one class's cloud at one layer.

    Attributes:
        layer: position of the layer in the given order (0 = first).
        layer_name: its name (the mapping's key, or "layer <i>" for a sequence).
        label: the class.
        result: the Betti numbers with sizes and timing (`n_points`, `k_used`, `betti`, ...).
    """

    layer: int
    layer_name: str
    label: int
    result: BettiResult


@dataclass(frozen=True)
class Measurement:
    """What `measure` found: one `LayerBetti` per layer and class.

    Attributes:
        layer_names: the layers' names, in order.
        widths: the layers' widths d_l.
        labels: the classes, ascending.
        k, scale, maxdim, stride: how every cloud was measured.
        rows: per layer (outer) and class (inner), in order.
        diagrams: (layer, label) -> `Persistence` over hop scales 1..`diagram_scale` when
            `measure(..., diagrams=True)`, else empty.
    """

    layer_names: tuple[str, ...]
    widths: tuple[int, ...]
    labels: tuple[int, ...]
    k: int
    scale: int
    maxdim: int
    stride: int
    rows: tuple[LayerBetti, ...]
    diagrams: dict[tuple[int, int], Persistence] = field(default_factory=dict)

    @property
    def betti(self) -> np.ndarray:
        """int64[n_layers, n_labels, maxdim + 1]: beta_d per layer and class (labels' order)."""
        table = np.zeros((len(self.layer_names), len(self.labels), self.maxdim + 1), np.int64)
        for row in self.rows:
            table[row.layer, self.labels.index(row.label)] = row.result.betti
        return table

    def records(self) -> list[dict[str, Any]]:
        """One plain dict per row: layer, layer_name, label, n_points, k (used), scale,
        b0..b_maxdim, seconds (the columns of `to_pandas`)."""
        return [
            {
                "layer": row.layer,
                "layer_name": row.layer_name,
                "label": row.label,
                "n_points": row.result.n_points,
                "k": row.result.k_used,
                "scale": row.result.scale,
                **{f"b{d}": int(b) for d, b in enumerate(row.result.betti)},
                "seconds": row.result.seconds,
            }
            for row in self.rows
        ]

    def to_pandas(self) -> Any:
        """The rows as a pandas DataFrame (needs pandas: `pip install pandas`)."""
        from topnn_jax.frames import require_pandas

        return require_pandas().DataFrame.from_records(self.records())

    def format(self) -> str:
        """A text table: one line per layer and class."""
        from topnn_jax.results import class_name

        name_width = max(len("layer"), *map(len, self.layer_names))
        dims = " ".join(f"b{d:<3}" for d in range(self.maxdim + 1))
        lines = [f"{'layer':<{name_width}}  {'class':<18} points    k  {dims}"]
        for row in self.rows:
            betti = " ".join(f"{b:<4}" for b in row.result.betti)
            lines.append(
                f"{row.layer_name:<{name_width}}  {class_name(row.label):<18} "
                f"{row.result.n_points:>6} {row.result.k_used:>4}  {betti}"
            )
        return "\n".join(lines)

    def save(
        self,
        directory: str | Path,
        *,
        network_id: str = "network",
        dataset: str = "custom",
        activation: str = "unspecified",
        seed: int = 0,
        step: int | None = None,
    ) -> Path:
        """Add this measurement to a results store as one network (created if missing), for
        `topnn-jax summary`, `plot` and `report`; see `topnn_jax.store.measured`.

        Args:
            directory: the store.
            network_id: the network's name in the store (letters, digits, ``._-``).
            dataset, activation, seed: how the store groups it with other networks (networks of
                one data set, layer widths and activation are averaged over seeds).
            step: the training step the layers were taken at; save one measurement per step
                under one network id to follow its topology during training (the largest step
                counts as the end of training).

        Returns:
            The store's directory.
        """
        from topnn_jax.store.measured import save_measurement

        return save_measurement(self, Path(directory), network_id, dataset, activation, seed, step)

    def parameters(self) -> dict[str, Any]:
        """How the clouds were measured, as stored in the store's config.json."""
        return {
            "k": self.k,
            "scale": self.scale,
            "maxdim": self.maxdim,
            "stride": self.stride,
            "labels": list(self.labels),
        }


def measure(
    layers: Layers,
    labels: Any,
    *,
    k: int,
    scale: int = 2,
    maxdim: int = 1,
    stride: int = 1,
    workers: int | None = None,
    executor: BettiExecutor | None = None,
    diagrams: bool = False,
    diagram_scale: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> Measurement:
    """Betti numbers of every layer's cloud of every class.

    Args:
        layers: per-layer outputs, each float[n, d_l] (the same n points in the same order):
            a sequence in layer order or a name -> array mapping (its order is the layers').
        labels: int[n], two or more classes; each class's points are measured on their own.
        k: true nearest neighbours per point (the paper's k = 14 is 13 here).
        scale: hop scale s >= 1.
        maxdim: highest Betti number, 0..3.
        stride: keep every stride-th point of each class (in the given order) before measuring.
        workers: processes of the shared pool when `executor` is None (default: one per CPU).
        executor: what runs the jobs (e.g. an experiment's pool; the caller closes it). By
            default an `AutoExecutor`: the jobs run in this process until they have taken
            about half a second, the rest on the process's shared pool of `workers` processes, which
            stays warm for the next call (`topnn_jax.topology.pool.close_shared_pool` stops
            it; so does the interpreter's exit). Small work, such as a measurement per epoch,
            never waits for processes to start.
        diagrams: also compute each cloud's persistence over hop scales 1..`diagram_scale`
            (here, in this process), kept in `Measurement.diagrams`.
        progress: called with (clouds done, clouds in all) as results arrive.

    Raises:
        InputError: layers of different lengths or not 2-D, labels of the wrong length or
            fewer than two classes, NaN or inf in a layer, a bad parameter, or a cloud whose
            complex is too large for memory (the error names the layer and class).
    """
    names, arrays = _check_layers(layers)
    classes = _check_labels(labels, len(arrays[0]))
    k = check_parameter("k", k)
    scale = check_parameter("scale", scale)
    maxdim = check_parameter("maxdim", maxdim)
    stride = check_parameter("stride", stride)
    if diagrams:
        diagram_scale = check_parameter("scale", diagram_scale, "diagram_")
    check_stride(dict(zip(*np.unique(classes, return_counts=True), strict=True)), k, stride)
    members = {label: np.flatnonzero(classes == label)[::stride] for label in np.unique(classes)}
    total = len(arrays) * len(members)
    results: dict[Hashable, BettiResult] = {}
    with given_or(executor, lambda: AutoExecutor(workers)) as pool:
        for layer, array in enumerate(arrays):
            for label, rows in members.items():
                job_id = (layer, int(label))
                try:
                    pool.submit(job_id, array[rows], k, scale, maxdim)
                except InputError as error:
                    raise _naming_cloud(error, names, job_id) from None
        for job_id, outcome in pool.results():
            if isinstance(outcome, InputError):
                raise _naming_cloud(outcome, names, job_id)
            results[job_id] = outcome
            if progress is not None:
                progress(len(results), total)
    kept = {}
    if diagrams:
        for layer, array in enumerate(arrays):
            for label, rows in members.items():
                kept[(layer, int(label))] = persistence(array[rows], k, diagram_scale, maxdim)
    return Measurement(
        layer_names=tuple(names),
        widths=tuple(int(array.shape[1]) for array in arrays),
        labels=tuple(int(label) for label in members),
        k=k,
        scale=scale,
        maxdim=maxdim,
        stride=stride,
        rows=tuple(
            LayerBetti(layer, names[layer], int(label), results[(layer, int(label))])
            for layer in range(len(arrays))
            for label in members
        ),
        diagrams=kept,
    )


def _naming_cloud(error: InputError, names: list[str], job_id: tuple[int, int]) -> InputError:
    """`error` prefixed by the layer and class of the cloud it is about."""
    layer, label = job_id
    return InputError(f"layer {names[layer]!r}, class {label}: {error}")


def _check_layers(layers: Layers) -> tuple[list[str], list[np.ndarray]]:
    """(names, float64[n, d_l] arrays) of the layers, or `InputError` saying what is wrong."""
    if isinstance(layers, np.ndarray):
        raise InputError(
            "layers must be a list of per-layer arrays or a name -> array mapping, not one array "
            "(pass [array] to measure a single layer)"
        )
    if isinstance(layers, Mapping):
        names, values = [str(name) for name in layers], list(layers.values())
    elif isinstance(layers, Sequence) and not isinstance(layers, str):
        names, values = [f"layer {i}" for i in range(len(layers))], list(layers)
    else:
        raise InputError(
            f"layers must be a list of per-layer arrays or a name -> array mapping, got "
            f"{type(layers).__name__}"
        )
    if not values:
        raise InputError("no layers given: pass at least one per-layer output [n, d]")
    arrays = []
    for name, value in zip(names, values, strict=True):
        array = np.asarray(value)
        if array.ndim != 2 or 0 in array.shape:
            raise InputError(f"layer {name!r} must be a 2-D array [n, d], got shape {array.shape}")
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
            raise InputError(f"layer {name!r} must hold real numbers, got dtype {array.dtype}")
        arrays.append(array)
    lengths = {name: len(array) for name, array in zip(names, arrays, strict=True)}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name} {n}" for name, n in lengths.items())
        raise InputError(f"every layer needs the same points, but their lengths differ: {listed}")
    return names, arrays


def _check_labels(labels: Any, n: int) -> np.ndarray:
    """int64[n] labels with at least two classes, or `InputError` saying what is wrong."""
    array = np.asarray(labels)
    if array.ndim != 1 or not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
        raise InputError(
            f"labels must be a 1-D integer array [n], got {array.dtype} of shape {array.shape}"
        )
    if len(array) != n:
        raise InputError(f"expected one label per point: {len(array)} labels for {n} points")
    classes = np.unique(array)
    if len(classes) < 2:
        raise InputError(
            f"labels hold one class ({classes[0] if len(classes) else 'none'}): measure needs "
            "two or more (for one cloud, use topnn_jax.betti_numbers)"
        )
    if classes[0] < 0:
        raise InputError(f"labels must be >= 0, got {classes[0]}")
    return array.astype(np.int64)
