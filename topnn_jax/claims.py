"""Statistics for the paper's four claims over a results store, with bootstrap confidence intervals.

Only networks that are well trained and fully measured count. Every statistic is computed per
network and class (label 0 = class a, 1 = class b), and every claim is judged per class: the two
classes of a data set have different input topology, so they are never pooled.

The total Betti number of a class at layer l is T(l) = sum of beta_k(l) over the dimensions the
network was measured in; its least possible value is 1 (one component, no holes). Layer 0 is the
input and layer L the logits, where L = len(hidden) + 1 is the depth (number of dense layers).

Verdicts: `HELD`, `NOT_HELD`, `INCONCLUSIVE` (the point estimates agree with the claim but a 95%
confidence interval reaches the other side of zero) and `NOT_ENOUGH_DATA` (fewer than
`MIN_NETWORKS` usable networks in a group compared, or the setting to compare with is missing).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from topnn_jax.results import LABELS, NetworkTrajectory, Store
from topnn_jax.tables import markdown_table

HELD = "held"
NOT_HELD = "not held"
INCONCLUSIVE = "inconclusive"
NOT_ENOUGH_DATA = "not enough data"
VERDICTS = (HELD, NOT_HELD, INCONCLUSIVE, NOT_ENOUGH_DATA)

MIN_NETWORKS = 5
"""Fewest usable networks per group compared for a verdict other than `NOT_ENOUGH_DATA`."""
MINIMAL_SHARE = 0.9
"""Claim 1 holds when at least this share of networks ends with minimal Betti numbers (the point
estimate: claim 1 is "nearly always", not a comparison, so it is never `INCONCLUSIVE`)."""
WIDTH_TOLERANCE = 0.1
"""Claim 4: widths matter little when every difference of mean normalised areas is within
+-this, with 95% confidence."""
SHALLOW_DEPTHS = (4, 5)
DEEP_DEPTHS = (8, 9, 10)
ACTIVATION_ORDER = ("relu", "leaky_relu", "tanh")
"""Claim 2's order, fastest reduction first."""
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


@dataclass(frozen=True)
class NetworkStatistics:
    """Topology statistics of one class of one well-trained, fully measured network.

    Attributes:
        total_betti: float[L + 1], T(l) for layer l = 0 (input) .. L (logits).
        depth: L, the number of dense layers (len(hidden) + 1).
        minimal_output: the logits' Betti numbers are exactly (1, 0, ..., 0).
        normalised_area: mean over l = 1..L of (T(l) - 1) / (T(0) - 1): 0 = minimal right after
            the input, 1 = no reduction, above 1 = topology grew. NaN when T(0) <= 1.
        first_minimum_layer: first layer l with T(l) = min T (0 if the input is a minimum).
        first_minimum_fraction: first_minimum_layer / L.
        last_layers_share: (T(L-2) - T(L)) / (T(0) - T(L)), the share of the reduction made by
            the last two layers (layer index clamped at 0 when L < 2). NaN when T(0) = T(L).
        last_layer_share: (T(L-1) - T(L)) / (T(0) - T(L)), the same for the last layer.
    """

    network_id: str
    dataset: str
    architecture: str
    activation: str
    hidden: tuple[int, ...]
    label: int
    total_betti: tuple[float, ...]
    depth: int
    minimal_output: bool
    normalised_area: float
    first_minimum_layer: int
    first_minimum_fraction: float
    last_layers_share: float
    last_layer_share: float

    @property
    def uniform_width(self) -> int | None:
        """The hidden width if every hidden layer has it, else None."""
        return self.hidden[0] if self.hidden and len(set(self.hidden)) == 1 else None

    @property
    def last_layers_excess(self) -> float:
        """last_layers_share - 2 / L: the share beyond what an even spread of the reduction over
        the L layers would give the last two (so shallow and deep networks compare fairly)."""
        return self.last_layers_share - min(2, self.depth) / self.depth


def _share(total: np.ndarray, layer: int) -> float:
    """(T(layer) - T(L)) / (T(0) - T(L)); NaN when T(0) == T(L)."""
    drop = total[0] - total[-1]
    return float((total[max(layer, 0)] - total[-1]) / drop) if drop != 0 else math.nan


def _class_statistics(
    network: NetworkTrajectory, label: int, dim_index: list[int]
) -> NetworkStatistics:
    betti = network.betti[:, label][:, dim_index]  # float[L + 1, n_measured_dims]
    total = betti.sum(axis=1)
    depth = len(total) - 1
    minimal = np.zeros(len(dim_index))
    minimal[0] = 1.0  # dims are sorted and always include 0
    first_minimum = int(np.argmin(total))
    area = float(np.mean((total[1:] - 1) / (total[0] - 1))) if total[0] > 1 else math.nan
    return NetworkStatistics(
        network_id=network.network_id,
        dataset=network.dataset,
        architecture=network.architecture,
        activation=network.activation,
        hidden=network.hidden,
        label=label,
        total_betti=tuple(float(t) for t in total),
        depth=depth,
        minimal_output=bool(np.array_equal(betti[-1], minimal)),
        normalised_area=area,
        first_minimum_layer=first_minimum,
        first_minimum_fraction=first_minimum / depth,
        last_layers_share=_share(total, depth - 2),
        last_layer_share=_share(total, depth - 1),
    )


def network_statistics(store: Store) -> list[NetworkStatistics]:
    """One `NetworkStatistics` per (well-trained and fully measured network, label), in store
    order, label 0 before label 1."""
    statistics = []
    for network in store.networks:
        if not network.usable:
            continue
        measured = network.dims_measured(store.dims)
        dim_index = [i for i, d in enumerate(store.dims) if d in measured]
        statistics.extend(_class_statistics(network, label, dim_index) for label in LABELS)
    return statistics


@dataclass(frozen=True)
class ClaimNumber:
    """One number behind a verdict.

    Attributes:
        quantity: what it is, e.g. "relu area" or "leaky_relu - relu area".
        estimate, ci_low, ci_high: the point estimate and its bootstrap 95% CI.
        n: networks used, one count per group (two for a difference).
        excluded: well-trained, measured networks left out because the statistic is undefined
            for this class (T(0) = 1: nothing to reduce; for shares also T(0) = T(L)).
    """

    quantity: str
    estimate: float
    ci_low: float
    ci_high: float
    n: tuple[int, ...]
    excluded: int = 0


@dataclass(frozen=True)
class ClaimResult:
    """The verdict on one claim in one scope.

    Attributes:
        claim: 1-4, as numbered in the paper's "Question and claims".
        scope: the data set, setting(s) and class judged, e.g. "D-I 10_by_15, label 0"; "all"
            when the store holds nothing the claim can be tested on.
        verdict: one of `VERDICTS`.
        tested: one sentence: what was tested.
        numbers: the estimates behind the verdict.
        label: the class judged, or None for a store-wide "not enough data" result.
        shortfall: why there is not enough data, or None.
    """

    claim: int
    scope: str
    verdict: str
    tested: str
    numbers: tuple[ClaimNumber, ...]
    label: int | None = None
    shortfall: str | None = None

    @property
    def statement(self) -> str:
        """What was tested and what data was missing, if any."""
        if self.shortfall and self.verdict == NOT_ENOUGH_DATA:
            return f"{self.tested}; not enough data: {self.shortfall}."
        if self.shortfall:
            return f"{self.tested}; {self.shortfall}."
        return f"{self.tested}."


@dataclass(frozen=True)
class _Values:
    """A statistic's defined values in one group, and how many were undefined (NaN)."""

    values: np.ndarray
    excluded: int

    @property
    def n(self) -> int:
        return self.values.size


def _values(group: Sequence[NetworkStatistics], field: str, *, defined: bool = True) -> _Values:
    """`field` of each member; with `defined`, members whose normalised area is undefined count
    as excluded too (claims 2-4 leave out classes with T(0) = 1)."""
    values = np.array(
        [getattr(s, field) for s in group if not (defined and math.isnan(s.normalised_area))],
        dtype=float,
    )
    kept = values[~np.isnan(values)]
    return _Values(kept, len(group) - kept.size)


@dataclass(frozen=True)
class _Bootstrap:
    resamples: int
    seed: int

    def mean(self, quantity: str, group: _Values) -> ClaimNumber | None:
        if group.n == 0:
            return None
        ci = bootstrap_mean_ci(group.values, resamples=self.resamples, seed=self.seed)
        return ClaimNumber(quantity, ci.estimate, ci.low, ci.high, (group.n,), group.excluded)

    def difference(self, quantity: str, a: _Values, b: _Values) -> ClaimNumber | None:
        if a.n == 0 or b.n == 0:
            return None
        ci = bootstrap_difference_ci(a.values, b.values, resamples=self.resamples, seed=self.seed)
        return ClaimNumber(
            quantity, ci.estimate, ci.low, ci.high, (a.n, b.n), a.excluded + b.excluded
        )


def _kept(numbers: Iterable[ClaimNumber | None]) -> tuple[ClaimNumber, ...]:
    return tuple(number for number in numbers if number is not None)


def _shortfall(groups: dict[str, _Values]) -> str | None:
    """'tanh has 3 usable networks' for the groups below `MIN_NETWORKS`, or None; networks left
    out because the statistic is undefined for them are counted and explained."""
    short = {name: group for name, group in groups.items() if group.n < MIN_NETWORKS}
    if not short:
        return None
    counts = ", ".join(f"{name} has {group.n}" for name, group in short.items())
    text = f"{counts} usable network(s), needs {MIN_NETWORKS} per group"
    left_out = sum(group.excluded for group in short.values())
    if left_out:
        text += (
            f" ({left_out} more left out: the statistic is undefined where the input's topology"
            " is already minimal, T(0) = 1, or is never reduced)"
        )
    return text


def _directional(differences: Sequence[ClaimNumber | None], sign: int) -> str:
    """HELD when every difference's CI lies strictly on the `sign` side of 0 (+1: above, -1:
    below); NOT_HELD when some estimate is not on that side or some CI lies wholly on the other;
    INCONCLUSIVE otherwise; NOT_ENOUGH_DATA when a difference could not be computed."""
    if any(d is None for d in differences):
        return NOT_ENOUGH_DATA
    bounds = [sorted((sign * d.ci_low, sign * d.ci_high)) for d in differences]
    if any(
        sign * d.estimate <= 0 or high < 0 for d, (_, high) in zip(differences, bounds, strict=True)
    ):
        return NOT_HELD
    if all(low > 0 for low, _ in bounds):
        return HELD
    return INCONCLUSIVE


def _equivalent(differences: Sequence[ClaimNumber]) -> str:
    """HELD when every difference's CI lies inside +-`WIDTH_TOLERANCE`; NOT_HELD when some CI
    lies wholly outside it; INCONCLUSIVE otherwise (too uncertain to tell)."""
    if all(d.ci_low > -WIDTH_TOLERANCE and d.ci_high < WIDTH_TOLERANCE for d in differences):
        return HELD
    if any(d.ci_low >= WIDTH_TOLERANCE or d.ci_high <= -WIDTH_TOLERANCE for d in differences):
        return NOT_HELD
    return INCONCLUSIVE


_Setting = tuple[str, str, str, tuple[int, ...]]
"""(dataset, architecture, activation, hidden widths)."""


def _settings(store: Store) -> list[_Setting]:
    """Every setting with a network in the store (trained or not), in order of first appearance."""
    return list(
        dict.fromkeys((n.dataset, n.architecture, n.activation, n.hidden) for n in store.networks)
    )


def _where(
    statistics: Sequence[NetworkStatistics],
    label: int,
    dataset: str,
    activation: str,
    architectures: Iterable[str],
) -> list[NetworkStatistics]:
    """Statistics of one class of the networks of `dataset` x `activation` x `architectures`."""
    names = set(architectures)
    return [
        s
        for s in statistics
        if s.label == label
        and s.dataset == dataset
        and s.activation == activation
        and s.architecture in names
    ]


def _no_data(claim: int, needs: str) -> ClaimResult:
    return ClaimResult(claim, "all", NOT_ENOUGH_DATA, "Not tested", (), shortfall=needs)


def _claim_minimal_output(
    settings: list[_Setting], statistics: list[NetworkStatistics], boot: _Bootstrap
) -> list[ClaimResult]:
    """Claim 1, per setting and class: share of networks whose logits have minimal Betti numbers."""
    tested = (
        "Tested whether the logits' Betti numbers are (1, 0, ...) in at least "
        f"{MINIMAL_SHARE:.0%} of networks"
    )
    results = []
    for dataset, architecture, activation, _ in settings:
        for label in LABELS:
            members = _where(statistics, label, dataset, activation, [architecture])
            group = _values(members, "minimal_output", defined=False)
            number = boot.mean("share minimal", group)
            shortfall = _shortfall({"the setting": group})
            if shortfall or number is None:
                verdict = NOT_ENOUGH_DATA
            else:
                verdict = HELD if number.estimate >= MINIMAL_SHARE else NOT_HELD
            results.append(
                ClaimResult(
                    1,
                    f"{dataset} {architecture} {activation}, label {label}",
                    verdict,
                    tested,
                    _kept([number]),
                    label,
                    shortfall,
                )
            )
    return results or [_no_data(1, "the store has no networks")]


def _claim_activation_order(
    settings: list[_Setting], statistics: list[NetworkStatistics], boot: _Bootstrap
) -> list[ClaimResult]:
    """Claim 2, per data set x architecture with >= 2 of `ACTIVATION_ORDER`, and class: mean
    normalised area ordered relu < leaky_relu < tanh."""
    present: dict[tuple[str, str], set[str]] = {}
    for dataset, architecture, activation, _ in settings:
        present.setdefault((dataset, architecture), set()).add(activation)
    results = []
    for (dataset, architecture), found in present.items():
        order = [a for a in ACTIVATION_ORDER if a in found]
        if len(order) < 2:
            continue
        tested = (
            f"Tested whether the mean normalised area is ordered {' < '.join(order)} "
            "(faster reduction first), every adjacent difference's 95% CI above 0 (activations "
            f"with fewer than {MIN_NETWORKS} networks are left out of the order)"
        )
        for label in LABELS:
            members = {a: _where(statistics, label, dataset, a, [architecture]) for a in order}
            areas = {a: _values(members[a], "normalised_area") for a in order}
            judged = [a for a in order if areas[a].n >= MIN_NETWORKS]
            differences = [
                boot.difference(f"{b} - {a} area", areas[b], areas[a])
                for a, b in itertools.pairwise(judged)
            ]
            shortfall = _shortfall(areas)
            numbers = [
                *(boot.mean(f"{a} area", areas[a]) for a in order),
                *differences,
                *(
                    boot.mean(
                        f"{a} first minimum / L", _values(members[a], "first_minimum_fraction")
                    )
                    for a in order
                ),
            ]
            if len(judged) < 2:
                verdict = NOT_ENOUGH_DATA
            else:  # the activations with enough networks, the others named in the shortfall
                verdict = _directional(differences, +1)
                shortfall = shortfall and f"{shortfall}; judged on {' < '.join(judged)} only"
            results.append(
                ClaimResult(
                    2,
                    f"{dataset} {architecture}, label {label}",
                    verdict,
                    tested,
                    _kept(numbers),
                    label,
                    shortfall,
                )
            )
    return results or [
        _no_data(
            2,
            "needs one data set and architecture trained with two or more of "
            + ", ".join(ACTIVATION_ORDER),
        )
    ]


def _span(depths: tuple[int, ...]) -> str:
    return f"{depths[0]}-{depths[-1]}"


def _depths(architectures: dict[str, int]) -> str:
    return "/".join(str(d) for d in sorted(set(architectures.values())))


def _claim_depth(
    settings: list[_Setting], statistics: list[NetworkStatistics], boot: _Bootstrap
) -> list[ClaimResult]:
    """Claim 3, per data set x activation x uniform width with shallow and deep networks, and
    class: the last two layers' share of the reduction beyond an even spread's 2/L, shallow
    minus deep (the raw share favours shallow networks by 2/L alone)."""
    groups: dict[tuple[str, str, int], dict[str, dict[str, int]]] = {}
    for dataset, architecture, activation, hidden in settings:
        depth = len(hidden) + 1
        if len(set(hidden)) != 1 or depth not in SHALLOW_DEPTHS + DEEP_DEPTHS:
            continue
        side = "shallow" if depth in SHALLOW_DEPTHS else "deep"
        sides = groups.setdefault((dataset, activation, hidden[0]), {"shallow": {}, "deep": {}})
        sides[side][architecture] = depth
    tested = (
        "Tested whether shallow networks concentrate their reduction in their last two layers "
        "more than deep ones: the share (T(L-2) - T(L)) / (T(0) - T(L)) beyond the 2/L an even "
        "spread over the L layers would give, shallow - deep 95% CI above 0"
    )
    results = []
    for (dataset, activation, width), sides in groups.items():
        if not (sides["shallow"] and sides["deep"]):
            continue
        scope = (
            f"{dataset} {activation} width {width}, depth {_depths(sides['shallow'])} vs "
            f"{_depths(sides['deep'])}"
        )
        for label in LABELS:
            shallow = _where(statistics, label, dataset, activation, sides["shallow"])
            deep = _where(statistics, label, dataset, activation, sides["deep"])
            share = {
                field: (_values(shallow, field), _values(deep, field))
                for field in ("last_layers_share", "last_layer_share", "last_layers_excess")
            }
            shallow_share, deep_share = share["last_layers_share"]
            shortfall = _shortfall({"shallow": shallow_share, "deep": deep_share})
            difference = boot.difference(
                "shallow - deep last-2 share beyond even spread 2/L", *share["last_layers_excess"]
            )
            numbers = [
                difference,
                boot.mean("shallow last-2 share", shallow_share),
                boot.mean("deep last-2 share", deep_share),
                boot.difference("shallow - deep last-2 share", shallow_share, deep_share),
                boot.difference("shallow - deep last-1 share", *share["last_layer_share"]),
            ]
            results.append(
                ClaimResult(
                    3,
                    f"{scope}, label {label}",
                    NOT_ENOUGH_DATA if shortfall else _directional([difference], +1),
                    tested,
                    _kept(numbers),
                    label,
                    shortfall,
                )
            )
    return results or [
        _no_data(
            3,
            "needs uniform networks of one data set, activation and width at depth "
            f"{_span(SHALLOW_DEPTHS)} and at depth {_span(DEEP_DEPTHS)}",
        )
    ]


def _claim_width(
    settings: list[_Setting], statistics: list[NetworkStatistics], boot: _Bootstrap
) -> list[ClaimResult]:
    """Claim 4, width: per data set x activation x depth with >= 2 uniform widths, and class:
    every pairwise difference of mean normalised area is small or not significant."""
    groups: dict[tuple[str, str, int], dict[int, str]] = {}
    for dataset, architecture, activation, hidden in settings:
        if len(set(hidden)) == 1:
            groups.setdefault((dataset, activation, len(hidden) + 1), {})[hidden[0]] = architecture
    results = []
    for (dataset, activation, depth), by_width in groups.items():
        if len(by_width) < 2:
            continue
        widths = sorted(by_width)
        tested = (
            f"Tested whether width matters little: every difference of mean normalised area "
            f"between widths {'/'.join(map(str, widths))} has its 95% CI inside "
            f"+-{WIDTH_TOLERANCE} (held), some CI wholly outside (not held)"
        )
        for label in LABELS:
            areas = {
                w: _values(
                    _where(statistics, label, dataset, activation, [by_width[w]]),
                    "normalised_area",
                )
                for w in widths
            }
            differences = [
                boot.difference(f"width {b} - {a} area", areas[b], areas[a])
                for a, b in itertools.combinations(widths, 2)
            ]
            shortfall = _shortfall({f"width {w}": areas[w] for w in widths})
            verdict = _equivalent([d for d in differences if d is not None])
            results.append(
                ClaimResult(
                    4,
                    f"{dataset} {activation} depth {depth}, widths "
                    f"{'/'.join(map(str, widths))}, label {label}",
                    NOT_ENOUGH_DATA if shortfall else verdict,
                    tested,
                    _kept(
                        [*(boot.mean(f"width {w} area", areas[w]) for w in widths), *differences]
                    ),
                    label,
                    shortfall,
                )
            )
    return results


def _claim_bottleneck(
    settings: list[_Setting], statistics: list[NetworkStatistics], boot: _Bootstrap
) -> list[ClaimResult]:
    """Claim 4, bottleneck: per network with two hidden widths (the narrower one the
    bottleneck) and class: its mean normalised area minus that of the uniform network of the
    same data set, activation, depth and the wider width."""
    uniform = {
        (dataset, activation, hidden): architecture
        for dataset, architecture, activation, hidden in settings
        if len(set(hidden)) == 1
    }
    results = []
    for dataset, architecture, activation, hidden in settings:
        if len(set(hidden)) != 2:
            continue
        narrow, wide = sorted(set(hidden))
        partner = uniform.get((dataset, activation, (wide,) * len(hidden)))
        partner_name = partner or f"{len(hidden) + 1}_by_{wide}"
        tested = (
            f"Tested whether the width-{narrow} bottleneck reduces topology faster than the "
            f"uniform {partner_name}: bottleneck - uniform mean normalised area, 95% CI below 0"
        )
        for label in LABELS:
            bottleneck = _values(
                _where(statistics, label, dataset, activation, [architecture]), "normalised_area"
            )
            plain = _values(
                _where(statistics, label, dataset, activation, [partner] if partner else []),
                "normalised_area",
            )
            difference = boot.difference("bottleneck - uniform area", bottleneck, plain)
            shortfall = (
                _shortfall({"the bottleneck": bottleneck, "the uniform network": plain})
                if partner
                else f"no {partner_name} networks of the same data set and activation"
            )
            results.append(
                ClaimResult(
                    4,
                    f"{dataset} {activation} {architecture} vs {partner_name}, label {label}",
                    NOT_ENOUGH_DATA if shortfall else _directional([difference], -1),
                    tested,
                    _kept(
                        [
                            boot.mean("bottleneck area", bottleneck),
                            boot.mean("uniform area", plain),
                            difference,
                        ]
                    ),
                    label,
                    shortfall,
                )
            )
    return results


def evaluate_claims(
    store: Store, *, resamples: int = RESAMPLES, seed: int = 0
) -> list[ClaimResult]:
    """Verdicts on claims 1-4 (in that order; at least one result per claim) over the store's
    well-trained, fully measured networks, with percentile bootstrap 95% CIs over networks
    (`resamples` resamples from `numpy.random.default_rng(seed)`)."""
    settings = _settings(store)
    statistics = network_statistics(store)
    boot = _Bootstrap(resamples, seed)
    width = [
        *_claim_width(settings, statistics, boot),
        *_claim_bottleneck(settings, statistics, boot),
    ]
    return [
        *_claim_minimal_output(settings, statistics, boot),
        *_claim_activation_order(settings, statistics, boot),
        *_claim_depth(settings, statistics, boot),
        *(
            width
            or [
                _no_data(
                    4,
                    "needs two or more uniform widths at one depth, or a bottleneck network "
                    "and its uniform partner",
                )
            ]
        ),
    ]


def format_number(number: ClaimNumber) -> str:
    """E.g. "relu area 0.21 [0.18, 0.24] (n=30)" or "... (n=30/28, 2 excluded)"."""
    excluded = f", {number.excluded} excluded" if number.excluded else ""
    return (
        f"{number.quantity} {number.estimate:.2f} [{number.ci_low:.2f}, {number.ci_high:.2f}] "
        f"(n={'/'.join(map(str, number.n))}{excluded})"
    )


CLAIM_COLUMNS = ("claim", "scope", "verdict", "numbers", "tested")


def verdict_text(result: ClaimResult) -> str:
    """ "held", "not enough data: relu has 3 ...", or "held (relu has 3 ...)"."""
    if not result.shortfall:
        return result.verdict
    if result.verdict == NOT_ENOUGH_DATA:
        return f"{result.verdict}: {result.shortfall}"
    return f"{result.verdict} ({result.shortfall})"


def claim_rows(results: Sequence[ClaimResult]) -> list[list[str]]:
    """One row of `CLAIM_COLUMNS` per result: claim, scope, verdict (with what is missing, if
    anything), numbers, what was tested."""
    return [
        [
            str(result.claim),
            result.scope,
            verdict_text(result),
            "; ".join(format_number(n) for n in result.numbers) or "-",
            result.tested,
        ]
        for result in results
    ]


def claims_table_markdown(results: Sequence[ClaimResult]) -> str:
    """A markdown table, one row per result (see `claim_rows`)."""
    return markdown_table(CLAIM_COLUMNS, claim_rows(results))
