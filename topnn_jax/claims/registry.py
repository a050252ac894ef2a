"""The paper's four claims as data (`CLAIMS`), each tested per scope and class on a store.

Only networks that are well trained and fully measured count. Every statistic is computed per
network and class (label 0 = class a, 1 = class b, ... : `Store.labels`), and every claim is
judged per class: the classes of a data set have different input topology, so they are never
pooled.

A claim finds the scopes it can be tested in (`Comparison`: e.g. one data set and architecture
with several activations) and judges each scope once per class (`Judgement`); `Claim.evaluate`
is the one skeleton that turns them into `ClaimResult`s, or says what data is missing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

from topnn_jax.architecture import PAPER_ACTIVATIONS
from topnn_jax.claims.bootstrap import RESAMPLES
from topnn_jax.claims.evidence import Evidence, group_of, shortfall
from topnn_jax.claims.verdicts import (
    MIN_NETWORKS,
    NOT_ENOUGH_DATA,
    ClaimNumber,
    ClaimResult,
    all_of,
    equivalence_verdict,
    side_verdict,
)
from topnn_jax.results import Store, class_name

MINIMAL_SHARE = 0.9
"""Claim 1 ("nearly always") holds when the share of networks whose logits have minimal Betti
numbers is above this, with 95% confidence."""
WIDTH_TOLERANCE = 0.1
"""Claim 4: widths matter little when every difference of mean normalised areas is within
+-this, with 95% confidence."""
SHALLOW_DEPTHS = (4, 5)
DEEP_DEPTHS = (8, 9, 10)


@dataclass(frozen=True)
class Judgement:
    """A claim's verdict in one scope for one class, and the numbers behind it.

    Attributes:
        verdict: one of `topnn_jax.claims.verdicts.VERDICTS`.
        numbers: the estimates, in the order shown; None for those that could not be computed.
        shortfall: what data is missing, or None.
        networks: group compared -> its usable networks.
    """

    verdict: str
    numbers: Sequence[ClaimNumber | None]
    shortfall: str | None
    networks: dict[str, int]


@dataclass(frozen=True)
class Comparison:
    """One scope a claim is tested in.

    Attributes:
        scope: e.g. "D-I 10_by_15" (the class is added per result).
        tested: one sentence: what is tested.
        judge: label -> the `Judgement` for that class.
    """

    scope: str
    tested: str
    judge: Callable[[int], Judgement]


Finder = Callable[[Evidence], Iterator[Comparison]]
"""Yields the scopes of one kind of test of a claim that a store allows."""


@dataclass(frozen=True)
class Claim:
    """One of the paper's claims and how it is tested.

    Attributes:
        number: 1-4, as numbered in the paper's "Question and claims".
        title: the claim in a few words.
        finders: the kinds of test, each finding its scopes in a store.
        needs: what a store must hold for any test to apply (the reason when none does).
        statistics: (name, what it is) of each statistic the claim reports, for readers.
    """

    number: int
    title: str
    finders: tuple[Finder, ...]
    needs: str
    statistics: tuple[tuple[str, str], ...]

    def evaluate(self, evidence: Evidence) -> list[ClaimResult]:
        """One result per scope and class, or one store-wide "not enough data" result."""
        results = []
        for find in self.finders:
            for comparison in find(evidence):
                for label in evidence.labels:
                    judged = comparison.judge(label)
                    numbers = tuple(number for number in judged.numbers if number is not None)
                    scope = f"{comparison.scope}, {class_name(label)}"
                    results.append(
                        ClaimResult(
                            self.number,
                            scope,
                            judged.verdict,
                            comparison.tested,
                            numbers,
                            label,
                            judged.shortfall,
                            tuple(judged.networks.items()),
                        )
                    )
        if results:
            return results
        return [
            ClaimResult(self.number, "all", NOT_ENOUGH_DATA, "Not tested", (), None, self.needs)
        ]


# --- claim 1: topology is minimal at the output ---------------------------------------------


def _minimal_output(evidence: Evidence) -> Iterator[Comparison]:
    """Per setting: share of networks whose logits have minimal Betti numbers."""
    tested = (
        "Tested whether the logits' Betti numbers are (1, 0, ...) in more than "
        f"{MINIMAL_SHARE:.0%} of networks: the share's 95% interval above {MINIMAL_SHARE}"
    )
    for dataset, architecture, activation, _ in evidence.settings:
        judge = partial(_judge_minimal_output, evidence, dataset, architecture, activation)
        yield Comparison(f"{dataset} {architecture} {activation}", tested, judge)


def _judge_minimal_output(
    evidence: Evidence, dataset: str, architecture: str, activation: str, label: int
) -> Judgement:
    members = evidence.where(label, dataset, activation, [architecture])
    group = group_of(members, "minimal_output", defined=False)
    number = evidence.share("share minimal", group)
    missing = shortfall({"the setting": group})
    verdict = NOT_ENOUGH_DATA if missing else side_verdict(number, MINIMAL_SHARE, +1)
    return Judgement(verdict, [number], missing, {activation: group.n})


# --- claim 2: relu < leaky_relu < tanh ------------------------------------------------------


def _activation_order(evidence: Evidence) -> Iterator[Comparison]:
    """Per data set x architecture with >= 2 of `PAPER_ACTIVATIONS`: mean normalised area
    ordered relu < leaky_relu < tanh."""
    present: dict[tuple[str, str], set[str]] = {}
    for dataset, architecture, activation, _ in evidence.settings:
        present.setdefault((dataset, architecture), set()).add(activation)
    for (dataset, architecture), found in present.items():
        order = [a for a in PAPER_ACTIVATIONS if a in found]
        if len(order) < 2:
            continue
        tested = (
            f"Tested whether the mean normalised area is ordered {' < '.join(order)} "
            "(faster reduction first), every adjacent difference's 95% CI above 0 (activations "
            f"with fewer than {MIN_NETWORKS} networks are left out of the order)"
        )
        judge = partial(_judge_activation_order, evidence, dataset, architecture, order)
        yield Comparison(f"{dataset} {architecture}", tested, judge)


def _judge_activation_order(
    evidence: Evidence, dataset: str, architecture: str, order: list[str], label: int
) -> Judgement:
    members = {a: evidence.where(label, dataset, a, [architecture]) for a in order}
    areas = {a: group_of(members[a], "normalised_area") for a in order}
    judged = [a for a in order if areas[a].n >= MIN_NETWORKS]
    differences = [
        evidence.difference(f"{b} - {a} area", areas[b], areas[a])
        for a, b in itertools.pairwise(judged)
    ]
    missing = shortfall(areas)
    numbers = [
        *(evidence.mean(f"{a} area", areas[a]) for a in order),
        *differences,
        *(
            evidence.mean(f"{a} first minimum / L", group_of(members[a], "first_minimum_fraction"))
            for a in order
        ),
    ]
    if len(judged) < 2:
        return Judgement(NOT_ENOUGH_DATA, numbers, missing, {a: areas[a].n for a in order})
    networks = {a: areas[a].n for a in judged}
    # the activations with enough networks, the others named in the shortfall
    missing = missing and f"{missing}; judged on {' < '.join(judged)} only"
    verdict = all_of([side_verdict(d, 0.0, +1) for d in differences])
    return Judgement(verdict, numbers, missing, networks)


# --- claim 3: shallow networks reduce in their last layers ----------------------------------


def _span(depths: tuple[int, ...]) -> str:
    return f"{depths[0]}-{depths[-1]}"


def _depths(architectures: dict[str, int]) -> str:
    return "/".join(str(d) for d in sorted(set(architectures.values())))


def _depth(evidence: Evidence) -> Iterator[Comparison]:
    """Per data set x activation x uniform width with shallow and deep networks: the last two
    layers' share of the reduction beyond an even spread's 2/L, shallow minus deep (the raw
    share favours shallow networks by 2/L alone)."""
    groups: dict[tuple[str, str, int], dict[str, dict[str, int]]] = {}
    for dataset, architecture, activation, hidden in evidence.settings:
        depth = len(hidden) + 1
        if len(set(hidden)) != 1 or depth not in SHALLOW_DEPTHS + DEEP_DEPTHS:
            continue
        side = "shallow" if depth in SHALLOW_DEPTHS else "deep"
        sides = groups.setdefault((dataset, activation, hidden[0]), {"shallow": {}, "deep": {}})
        sides[side][architecture] = depth
    tested = (
        "Tested whether shallow networks make more of their topology change in their last two "
        "layers than deep ones: the last-2 share beyond the 2/L an even spread over the L "
        "layers would give, shallow - deep, 95% CI above 0"
    )
    for (dataset, activation, width), sides in groups.items():
        if not (sides["shallow"] and sides["deep"]):
            continue
        scope = (
            f"{dataset} {activation} width {width}, depth {_depths(sides['shallow'])} vs "
            f"{_depths(sides['deep'])}"
        )
        judge = partial(_judge_depth, evidence, dataset, activation, sides)
        yield Comparison(scope, tested, judge)


def _judge_depth(
    evidence: Evidence, dataset: str, activation: str, sides: dict[str, dict], label: int
) -> Judgement:
    shallow = evidence.where(label, dataset, activation, sides["shallow"])
    deep = evidence.where(label, dataset, activation, sides["deep"])
    share = {
        field: (group_of(shallow, field), group_of(deep, field))
        for field in ("last_layers_share", "last_layer_share", "last_layers_excess")
    }
    shallow_share, deep_share = share["last_layers_share"]
    missing = shortfall({"shallow": shallow_share, "deep": deep_share})
    difference = evidence.difference(
        "shallow - deep last-2 share beyond even spread 2/L", *share["last_layers_excess"]
    )
    numbers = [
        difference,
        evidence.mean("shallow last-2 share", shallow_share),
        evidence.mean("deep last-2 share", deep_share),
        evidence.difference("shallow - deep last-2 share", shallow_share, deep_share),
        evidence.difference("shallow - deep last-1 share", *share["last_layer_share"]),
    ]
    verdict = NOT_ENOUGH_DATA if missing else side_verdict(difference, 0.0, +1)
    networks = {"shallow": shallow_share.n, "deep": deep_share.n}
    return Judgement(verdict, numbers, missing, networks)


# --- claim 4: width matters little; a bottleneck reduces fast -------------------------------


def _width(evidence: Evidence) -> Iterator[Comparison]:
    """Per data set x activation x depth with >= 2 uniform widths: every pairwise difference of
    mean normalised area is small."""
    groups: dict[tuple[str, str, int], dict[int, str]] = {}
    for dataset, architecture, activation, hidden in evidence.settings:
        if len(set(hidden)) == 1:
            groups.setdefault((dataset, activation, len(hidden) + 1), {})[hidden[0]] = architecture
    for (dataset, activation, depth), by_width in groups.items():
        if len(by_width) < 2:
            continue
        widths = "/".join(map(str, sorted(by_width)))
        tested = (
            f"Tested whether width matters little: every difference of mean normalised area "
            f"between widths {widths} has its 95% CI inside +-{WIDTH_TOLERANCE} (held), some CI "
            "wholly outside (not held)"
        )
        judge = partial(_judge_width, evidence, dataset, activation, by_width)
        yield Comparison(f"{dataset} {activation} depth {depth}, widths {widths}", tested, judge)


def _judge_width(
    evidence: Evidence, dataset: str, activation: str, by_width: dict[int, str], label: int
) -> Judgement:
    widths = sorted(by_width)
    areas = {
        w: group_of(evidence.where(label, dataset, activation, [by_width[w]]), "normalised_area")
        for w in widths
    }
    differences = [
        evidence.difference(f"width {b} - {a} area", areas[b], areas[a])
        for a, b in itertools.combinations(widths, 2)
    ]
    missing = shortfall({f"width {w}": areas[w] for w in widths})
    verdicts = [equivalence_verdict(d, WIDTH_TOLERANCE) for d in differences]
    verdict = NOT_ENOUGH_DATA if missing else all_of(verdicts)
    numbers = [*(evidence.mean(f"width {w} area", areas[w]) for w in widths), *differences]
    return Judgement(verdict, numbers, missing, {f"width {w}": areas[w].n for w in widths})


def _bottleneck(evidence: Evidence) -> Iterator[Comparison]:
    """Per network with two hidden widths (the narrower one the bottleneck): its mean normalised
    area minus that of the uniform network of the same data set, activation, depth and the
    wider width."""
    uniform = {
        (dataset, activation, hidden): architecture
        for dataset, architecture, activation, hidden in evidence.settings
        if len(set(hidden)) == 1
    }
    for dataset, architecture, activation, hidden in evidence.settings:
        if len(set(hidden)) != 2:
            continue
        narrow, wide = sorted(set(hidden))
        partner = uniform.get((dataset, activation, (wide,) * len(hidden)))
        partner_name = partner or f"{len(hidden) + 1}_by_{wide}"
        tested = (
            f"Tested whether the width-{narrow} bottleneck reduces topology faster than the "
            f"uniform {partner_name}: bottleneck - uniform mean normalised area, 95% CI below 0"
        )
        judge = partial(
            _judge_bottleneck, evidence, dataset, activation, architecture, partner, partner_name
        )
        yield Comparison(f"{dataset} {activation} {architecture} vs {partner_name}", tested, judge)


def _judge_bottleneck(
    evidence: Evidence,
    dataset: str,
    activation: str,
    architecture: str,
    partner: str | None,
    partner_name: str,
    label: int,
) -> Judgement:
    bottleneck = group_of(
        evidence.where(label, dataset, activation, [architecture]), "normalised_area"
    )
    plain = group_of(
        evidence.where(label, dataset, activation, [partner] if partner else []),
        "normalised_area",
    )
    difference = evidence.difference("bottleneck - uniform area", bottleneck, plain)
    missing = (
        shortfall({"the bottleneck": bottleneck, "the uniform network": plain})
        if partner
        else f"no {partner_name} networks of the same data set and activation"
    )
    numbers = [
        evidence.mean("bottleneck area", bottleneck),
        evidence.mean("uniform area", plain),
        difference,
    ]
    verdict = NOT_ENOUGH_DATA if missing else side_verdict(difference, 0.0, -1)
    networks = {"bottleneck": bottleneck.n, "uniform": plain.n}
    return Judgement(verdict, numbers, missing, networks)


_AREA = (
    "area",
    "the normalised area under the total-Betti trajectory, mean over layers l = 1..L of "
    "(T(l) - 1) / (T(0) - 1), where T(l) is the sum of a class's Betti numbers at layer l and L "
    "the depth: 0 = minimal right after the input, 1 = no reduction, above 1 = the topology "
    "grew; lower is faster. Networks whose input is already minimal (T(0) = 1) are left out",
)
_DIFFERENCE = (
    "x - y area",
    "the difference of two groups' mean areas, with a percentile bootstrap interval "
    "(each group resampled on its own)",
)

CLAIMS: tuple[Claim, ...] = (
    Claim(
        1,
        "topology is minimal at the output",
        (_minimal_output,),
        "the store has no networks",
        (
            (
                "share minimal",
                "the share of networks whose logits have the Betti numbers (1, 0, ...), with "
                "its 95% Wilson score interval",
            ),
        ),
    ),
    Claim(
        2,
        "ReLU reduces topology faster than leaky ReLU, leaky ReLU faster than tanh",
        (_activation_order,),
        "needs one data set and architecture trained with two or more of "
        + ", ".join(PAPER_ACTIVATIONS),
        (
            _AREA,
            _DIFFERENCE,
            (
                "first minimum / L",
                "the first layer at which T reaches its least value, divided by the depth L: "
                "0 = the input is already minimal, 1 = only the logits are (shown, not judged)",
            ),
        ),
    ),
    Claim(
        3,
        "shallow networks change topology in their last layers, deep ones throughout",
        (_depth,),
        "needs uniform networks of one data set, activation and width at depth "
        f"{_span(SHALLOW_DEPTHS)} and at depth {_span(DEEP_DEPTHS)}",
        (
            (
                "last-2 share",
                "the share of a network's total topology change, sum over layers of "
                "|T(l) - T(l-1)|, made by its last two layers (0 to 1; for a T that only "
                "falls, (T(L-2) - T(L)) / (T(0) - T(L)))",
            ),
            (
                "beyond even spread 2/L",
                "the last-2 share minus 2/L, what an even spread of the change over the L "
                "layers gives the last two: shallow and deep networks compare fairly",
            ),
            ("last-1 share", "the same share for the last layer alone"),
        ),
    ),
    Claim(
        4,
        "width matters little, and a bottleneck forces a fast reduction",
        (_width, _bottleneck),
        "needs two or more uniform widths at one depth, or a bottleneck network and its "
        "uniform partner",
        (
            _AREA,
            _DIFFERENCE,
            (
                "width margin",
                f"widths matter little when every difference of mean areas lies within "
                f"+-{WIDTH_TOLERANCE} with 95% confidence",
            ),
        ),
    ),
)
"""The paper's claims, in its order."""


def evaluate_claims(
    store: Store, *, resamples: int = RESAMPLES, seed: int = 0
) -> list[ClaimResult]:
    """Verdicts on every claim of `CLAIMS` (in that order; at least one result per claim) over
    the store's well-trained, fully measured networks, with percentile bootstrap 95% CIs over
    networks (`resamples` resamples from `numpy.random.default_rng(seed)`)."""
    evidence = Evidence(store, resamples, seed)
    return [result for claim in CLAIMS for result in claim.evaluate(evidence)]
