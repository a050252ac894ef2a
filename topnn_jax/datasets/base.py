"""`Dataset`: a labelled binary point cloud with its split, true topology and homology preset."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from topnn_jax.errors import InputError
from topnn_jax.topology.parameters import check_parameter


@dataclass(frozen=True)
class TopologyPreset:
    """How the paper measures a data set's topology (its kNN hop-scale complex).

    Attributes:
        k: true nearest neighbours in the kNN graph (the point itself not counted; the paper's
            k = 14 is k = 13 here).
        scale: hop scale s of the Vietoris-Rips complex (the paper's "epsilon = 2.5" is s = 2).
        stride: the homology subsample is every `stride`-th training point of a class.
        maxdim: highest homology dimension computed.
    """

    k: int
    scale: int
    stride: int
    maxdim: int

    def __post_init__(self) -> None:
        for name in ("k", "scale", "stride", "maxdim"):
            check_parameter(name, getattr(self, name), where="topology preset ")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A binary classification data set (label 0 = class a, label 1 = class b).

    Attributes:
        name: registry name, e.g. "D-I".
        train_points: float32[n_train, d], in generator order.
        train_labels: int32[n_train], values in {0, 1}.
        test_points: float32[n_test, d].
        test_labels: int32[n_test].
        preset: the paper's topology measurement parameters for this data set.
        true_betti: label -> (beta_0, ..., beta_maxdim) of the class as sampled, or None if unknown.
        seed: the integer seed the arrays were generated from.
        description: one line for listings.
        options: the generator options used (size, noise, ...), for provenance.
    """

    name: str
    train_points: np.ndarray
    train_labels: np.ndarray
    test_points: np.ndarray
    test_labels: np.ndarray
    preset: TopologyPreset
    true_betti: dict[int, tuple[int, ...]] | None = None
    seed: int = 0
    description: str = ""
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            points = getattr(self, f"{split}_points")
            labels = getattr(self, f"{split}_labels")
            validate_labelled_points(
                points, labels, what=f"{self.name} {split} set", need_both=split == "train"
            )
        if self.test_points.shape[1] != self.train_points.shape[1]:
            raise InputError(
                f"{self.name}: test points have {self.test_points.shape[1]} dimensions but "
                f"training points have {self.train_points.shape[1]}"
            )

    @property
    def dim(self) -> int:
        """Number of input features d."""
        return int(self.train_points.shape[1])

    def class_counts(self, split: str = "train") -> tuple[int, int]:
        """Points per label (label 0, label 1) in the "train" or "test" split."""
        labels = self.train_labels if split == "train" else self.test_labels
        return int(np.sum(labels == 0)), int(np.sum(labels == 1))

    def truth(self, label: int, maxdim: int) -> tuple[int, ...] | None:
        """True (beta_0, ..., beta_maxdim) of a class, zeros above the listed dimensions; None if
        unknown."""
        if self.true_betti is None or label not in self.true_betti:
            return None
        listed = tuple(self.true_betti[label][: maxdim + 1])
        return listed + (0,) * (maxdim + 1 - len(listed))

    def homology_indices(self, label: int, stride: int | None = None) -> np.ndarray:
        """Indices into `train_points` of the homology subsample of one class.

        Every `stride`-th training point of the class in generator order (a regular thinning, as in
        the paper), starting with the first. `stride` defaults to the preset's.

        Returns:
            int64[m] indices, increasing.
        """
        if label not in (0, 1):
            raise InputError(f"label must be 0 or 1, got {label!r}")
        stride = self.preset.stride if stride is None else check_parameter("stride", stride)
        return np.flatnonzero(self.train_labels == label)[::stride]

    def homology_subsample(self, label: int, stride: int | None = None) -> np.ndarray:
        """float32[m, d]: every `stride`-th training point of class `label` in generator order."""
        return self.train_points[self.homology_indices(label, stride)]

    def summary(self) -> dict:
        """JSON-ready description: sizes, dimension, true Betti numbers, preset."""
        return {
            "name": self.name,
            "description": self.description,
            "seed": self.seed,
            "dim": self.dim,
            "n_train": int(len(self.train_labels)),
            "n_test": int(len(self.test_labels)),
            "train_per_label": list(self.class_counts("train")),
            "test_per_label": list(self.class_counts("test")),
            "true_betti": (
                None
                if self.true_betti is None
                else {str(k): list(v) for k, v in sorted(self.true_betti.items())}
            ),
            "preset": {
                "k": self.preset.k,
                "scale": self.preset.scale,
                "stride": self.preset.stride,
                "maxdim": self.preset.maxdim,
            },
            "options": dict(self.options),
        }


def validate_labelled_points(
    points: np.ndarray, labels: np.ndarray, what: str, need_both: bool = True
) -> None:
    """Raise `InputError` unless points is float[n, d] finite and labels is int[n] in {0, 1}.

    With `need_both`, both classes must be present (the paper's measurements are per class).
    """
    points = np.asarray(points)
    labels = np.asarray(labels)
    if points.ndim != 2 or points.shape[0] == 0 or points.shape[1] == 0:
        raise InputError(f"{what}: points must be a non-empty 2-D array [n, d], got {points.shape}")
    if not np.issubdtype(points.dtype, np.floating):
        raise InputError(f"{what}: points must be floating point, got dtype {points.dtype}")
    if not np.all(np.isfinite(points)):
        bad = int(np.sum(~np.isfinite(points).all(axis=1)))
        raise InputError(f"{what}: {bad} point(s) contain NaN or inf; clean or drop them first")
    if labels.shape != (points.shape[0],):
        raise InputError(
            f"{what}: expected one label per point ({points.shape[0]}), got labels of shape "
            f"{labels.shape}"
        )
    values = np.unique(labels)
    if not np.issubdtype(labels.dtype, np.integer) or not set(values.tolist()) <= {0, 1}:
        raise InputError(
            f"{what}: labels must be the integers 0 and 1 (two classes), got values "
            f"{values[:10].tolist()}{' ...' if len(values) > 10 else ''}; for a multi-class set "
            "choose one class against the rest"
        )
    if need_both and len(values) < 2:
        raise InputError(
            f"{what}: only label {values.tolist()} is present; a binary data set needs points of "
            "both label 0 and label 1"
        )
