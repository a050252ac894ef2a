"""Percentile bootstrap confidence intervals of a mean and of a difference of two means.

Written here rather than taken from `scipy.stats.bootstrap`: with the same generator, scipy's
percentile intervals agree with these to the last bits (measured on scipy 1.17), but scipy
refuses a sample of one value, and a claim must still report a group of one network.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A point estimate and its percentile bootstrap confidence interval (same units)."""

    estimate: float
    low: float
    high: float


def _sample(values: Iterable[float], name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0 or not np.isfinite(array).all():
        raise ValueError(f"{name} must be a non-empty 1-D sequence of finite numbers")
    return array


def _resampled_means(values: np.ndarray, rng: np.random.Generator, resamples: int) -> np.ndarray:
    """float[resamples]: means of `resamples` samples drawn with replacement from `values`."""
    return values[rng.integers(0, values.size, size=(resamples, values.size))].mean(axis=1)


def _interval(estimate: float, replicates: np.ndarray, level: float) -> Interval:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    tail = (1 - level) / 2
    low, high = np.quantile(replicates, [tail, 1 - tail])
    return Interval(float(estimate), float(low), float(high))


def _generator(resamples: int, seed: int) -> np.random.Generator:
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    return np.random.default_rng(seed)


def bootstrap_mean_ci(
    values: Sequence[float] | np.ndarray,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> Interval:
    """Mean of `values` (float[n], n >= 1, finite) with a percentile bootstrap CI at `level`."""
    sample = _sample(values, "values")
    rng = _generator(resamples, seed)
    return _interval(sample.mean(), _resampled_means(sample, rng, resamples), level)


def bootstrap_difference_ci(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> Interval:
    """mean(a) - mean(b) of two independent groups (float[n_a], float[n_b]), each resampled on
    its own, with a percentile bootstrap CI at `level`."""
    first, second = _sample(a, "a"), _sample(b, "b")
    rng = _generator(resamples, seed)
    replicates = _resampled_means(first, rng, resamples) - _resampled_means(second, rng, resamples)
    return _interval(first.mean() - second.mean(), replicates, level)
