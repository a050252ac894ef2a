"""Parameter selection: Betti numbers of a data set's input classes over a grid of k and scale.

The paper chose (k, scale) so that the input's Betti numbers come out right; this reproduces its
parameter-selection surfaces, compared against the data set's true Betti numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from topnn_jax.datasets import Dataset
from topnn_jax.errors import InputError
from topnn_jax.topology.job import BettiResult
from topnn_jax.topology.parameters import Collapse, check_parameter, check_stride
from topnn_jax.topology.pool import AutoExecutor, BettiExecutor, given_or


@dataclass(frozen=True)
class ScanEntry:
    """One (label, k, scale) cell of a parameter scan.

    Attributes:
        label: class 0 or 1.
        k: neighbours asked for.
        scale: hop scale.
        result: the Betti computation, or the reason it was refused (a complex too large).
        truth: the class's true Betti numbers up to maxdim, or None if unknown.
    """

    label: int
    k: int
    scale: int
    result: BettiResult | InputError
    truth: tuple[int, ...] | None

    @property
    def betti(self) -> tuple[int, ...] | None:
        """The measured Betti numbers, or None when the computation was refused."""
        return None if isinstance(self.result, InputError) else self.result.betti

    @property
    def recovered(self) -> bool | None:
        """True when the measured Betti numbers equal the truth (None if the truth is unknown)."""
        return None if self.truth is None else self.betti == self.truth


@dataclass(frozen=True)
class ParameterScan:
    """Betti numbers of each input class over a (k, scale) grid.

    Attributes:
        dataset: data set name.
        stride: homology subsample stride used.
        maxdim: highest Betti number computed.
        entries: one per (label, k, scale), ordered by label, k, scale; cells whose complex was
            too large hold the refusal.
    """

    dataset: str
    stride: int
    maxdim: int
    entries: tuple[ScanEntry, ...]

    def recovered(self) -> list[tuple[int, int]]:
        """(k, scale) pairs where every class's truth is recovered, in grid order."""
        cells: dict[tuple[int, int], bool] = {}
        for entry in self.entries:
            key = (entry.k, entry.scale)
            cells[key] = cells.get(key, True) and bool(entry.recovered)
        return [key for key, ok in cells.items() if ok]


def scan_parameters(
    dataset: Dataset,
    ks: Sequence[int],
    scales: Sequence[int],
    *,
    maxdim: int | None = None,
    stride: int | None = None,
    labels: Sequence[int] = (0, 1),
    collapse: Collapse | None = None,
    workers: int | None = None,
    threads: int | None = None,
    max_bytes: int | None = None,
    executor: BettiExecutor | None = None,
) -> ParameterScan:
    """Betti numbers of each class's homology subsample at every (k, scale) of a grid.

    Args:
        dataset: the data set; its input (training points) is measured.
        ks: neighbour counts (>= 1).
        scales: hop scales (>= 1).
        maxdim: highest Betti number (default: the data set's preset).
        stride: homology subsample stride (default: the preset's).
        labels: classes to measure.
        collapse, workers, threads, max_bytes: the settings of the `AutoExecutor` that runs
            the jobs when no `executor` is given (defaults "auto", CPUs, 1, half the RAM);
            cells over `max_bytes` hold the refusal.
        executor: what runs the jobs (a `BettiExecutor`, with its own
            settings; the caller closes it); default an `AutoExecutor` (serial for small work,
            else the process's shared warm pool).

    Returns:
        The scan, entries ordered by label, k, scale.
    """
    maxdim = dataset.preset.maxdim if maxdim is None else maxdim
    stride = dataset.preset.stride if stride is None else check_parameter("stride", stride)
    maxdim = check_parameter("maxdim", maxdim)
    ks = [check_parameter("k", k) for k in ks]
    scales = [check_parameter("scale", scale) for scale in scales]
    if ks:
        check_stride(dict(enumerate(dataset.class_counts())), max(ks), stride, "stride: ")
    settings = (collapse, workers, threads, max_bytes)
    if executor is not None and any(value is not None for value in settings):
        raise InputError(
            "give an executor or the pool's settings (collapse, workers, threads, max_bytes), "
            "not both: an executor has its own"
        )
    results: dict[tuple[int, int, int], BettiResult | InputError] = {}
    with given_or(
        executor,
        lambda: AutoExecutor(
            workers,
            threads=1 if threads is None else threads,
            collapse="auto" if collapse is None else collapse,
            max_bytes=max_bytes,
        ),
    ) as pool:
        for label in labels:
            cloud = dataset.homology_subsample(label, stride)
            for k in ks:
                for scale in scales:
                    pool.submit((label, k, scale), cloud, k, scale, maxdim)
        for key, result in pool.results():
            results[key] = result
    entries = tuple(
        ScanEntry(
            label,
            k,
            scale,
            results[(label, k, scale)],
            dataset.truth(label, maxdim),
        )
        for label in labels
        for k in ks
        for scale in scales
    )
    return ParameterScan(dataset.name, stride, maxdim, entries)
