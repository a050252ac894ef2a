"""Verdicts on the paper's claims: the numbers behind them, the one decision rule, their text.

The rule, for every claim: a claim names a quantity, a threshold and the side of it the claim
is on (or, for "width matters little", an equivalence margin around 0). Its verdict is

* `HELD` when the 95% confidence interval lies wholly on the claimed side of the threshold (or
  wholly inside the margin);
* `NOT_HELD` when it lies wholly on the other side, the threshold included (or wholly outside
  the margin);
* `INCONCLUSIVE` otherwise: the interval reaches both sides;
* `NOT_ENOUGH_DATA` when a group compared has fewer than `MIN_NETWORKS` usable networks or the
  setting to compare with is missing, with the reason.

A claim judged on several quantities at once (the order relu < leaky_relu < tanh is two
differences) is held when every one is held, not held when any one is not held, inconclusive
otherwise. A verdict that rests on fewer than `FEW_NETWORKS` networks in some group is flagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from topnn_jax.results import FEW_NETWORKS
from topnn_jax.tables import markdown_table

HELD = "held"
NOT_HELD = "not held"
INCONCLUSIVE = "inconclusive"
NOT_ENOUGH_DATA = "not enough data"
VERDICTS = (HELD, NOT_HELD, INCONCLUSIVE, NOT_ENOUGH_DATA)
MARKS = {HELD: "✔", NOT_HELD: "✘", INCONCLUSIVE: "?", NOT_ENOUGH_DATA: "–"}
"""A symbol per verdict, shown before it in tables."""

MIN_NETWORKS = 5
"""Fewest usable networks per group compared for a verdict other than `NOT_ENOUGH_DATA`."""


VERDICT_RULE = (  # the rule in words, for reports
    f"Every verdict follows one rule: {MARKS[HELD]} held when the 95% confidence interval "
    "lies wholly on the claimed side of the threshold (or wholly inside the equivalence "
    f"margin), {MARKS[NOT_HELD]} not held when it lies wholly on the other side, the threshold "
    f"included (or wholly outside the margin), {MARKS[INCONCLUSIVE]} inconclusive when it "
    f"reaches both sides, {MARKS[NOT_ENOUGH_DATA]} not enough data when a group compared has "
    f"fewer than {MIN_NETWORKS} usable networks (the note says which). A claim judged on "
    'several quantities is held when all are. "Few networks" marks a verdict resting on '
    f"fewer than {FEW_NETWORKS} networks in some group. Intervals: percentile bootstrap over "
    "networks for means and differences, Wilson score for shares."
)


@dataclass(frozen=True)
class ClaimNumber:
    """One number behind a verdict.

    Attributes:
        quantity: what it is, e.g. "relu area" or "leaky_relu - relu area".
        estimate, ci_low, ci_high: the point estimate and its 95% CI.
        n: networks used, one count per group (two for a difference).
        excluded: well-trained, measured networks left out because the statistic is undefined
            for this class (T(0) = 1: nothing to reduce; for shares also a T that never
            changes).
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
        scope: the data set, setting(s) and class judged, e.g. "D-I 10_by_15, class a (label
            0)"; "all" when the store holds nothing the claim can be tested on.
        verdict: one of `VERDICTS`.
        tested: one sentence: what was tested.
        numbers: the estimates behind the verdict.
        label: the class judged, or None for a store-wide "not enough data" result.
        shortfall: why there is not enough data (or which groups were left out), or None.
        networks: (group, usable networks) for each group the verdict rests on, e.g.
            (("relu", 30), ...); groups left out for too few networks are in the shortfall.
    """

    claim: int
    scope: str
    verdict: str
    tested: str
    numbers: tuple[ClaimNumber, ...]
    label: int | None = None
    shortfall: str | None = None
    networks: tuple[tuple[str, int], ...] = ()

    @property
    def statement(self) -> str:
        """What was tested and what data was missing, if any."""
        if self.shortfall and self.verdict == NOT_ENOUGH_DATA:
            return f"{self.tested}; not enough data: {self.shortfall}."
        if self.shortfall:
            return f"{self.tested}; {self.shortfall}."
        return f"{self.tested}."

    @property
    def few_networks(self) -> bool:
        """The verdict rests on a group of fewer than `FEW_NETWORKS` usable networks (never
        said of "not enough data", which names its groups in the shortfall)."""
        judged = self.verdict != NOT_ENOUGH_DATA
        return judged and any(n < FEW_NETWORKS for _, n in self.networks)


def side_verdict(number: ClaimNumber | None, threshold: float, sign: int) -> str:
    """The rule for "the quantity is above `threshold`" (sign +1) or "below" (sign -1)."""
    if number is None:
        return NOT_ENOUGH_DATA
    low, high = sorted((sign * (number.ci_low - threshold), sign * (number.ci_high - threshold)))
    if low > 0:
        return HELD
    if high <= 0:
        return NOT_HELD
    return INCONCLUSIVE


def equivalence_verdict(number: ClaimNumber | None, margin: float) -> str:
    """The rule for "the quantity is within +-`margin` of 0"."""
    if number is None:
        return NOT_ENOUGH_DATA
    if -margin < number.ci_low and number.ci_high < margin:
        return HELD
    if number.ci_low >= margin or number.ci_high <= -margin:
        return NOT_HELD
    return INCONCLUSIVE


def all_of(verdicts: Sequence[str]) -> str:
    """One verdict for a claim judged on several quantities: not held when any is not, not
    enough data when any other lacks data (or there are none), held when all are held, else
    inconclusive."""
    if NOT_HELD in verdicts:
        return NOT_HELD
    if not verdicts or NOT_ENOUGH_DATA in verdicts:
        return NOT_ENOUGH_DATA
    return HELD if all(v == HELD for v in verdicts) else INCONCLUSIVE


def _format_interval(number: ClaimNumber) -> str:
    """E.g. "0.21 [0.18, 0.24]", with "(2 left out)" when networks were excluded."""
    text = f"{number.estimate:.2f} [{number.ci_low:.2f}, {number.ci_high:.2f}]"
    return f"{text} ({number.excluded} left out)" if number.excluded else text


def format_number(number: ClaimNumber) -> str:
    """E.g. "relu area 0.21 [0.18, 0.24] (n=30)" or "... (n=30/28, 2 excluded)"."""
    excluded = f", {number.excluded} excluded" if number.excluded else ""
    return (
        f"{number.quantity} {number.estimate:.2f} [{number.ci_low:.2f}, {number.ci_high:.2f}] "
        f"(n={'/'.join(map(str, number.n))}{excluded})"
    )


def verdict_text(result: ClaimResult) -> str:
    """The verdict with its mark, e.g. "✔ held" or "? inconclusive, few networks"."""
    text = f"{MARKS[result.verdict]} {result.verdict}"
    return f"{text}, few networks" if result.few_networks else text


def _networks_text(result: ClaimResult) -> str:
    """The usable networks of each group compared, e.g. "relu 30, tanh 2"."""
    return ", ".join(f"{group} {n}" for group, n in result.networks) or "-"


CLAIM_COLUMNS = ("claim", "scope", "verdict", "networks", "numbers", "note")


def claim_row(result: ClaimResult) -> dict[str, str]:
    """A result as text, by `CLAIM_COLUMNS`: claim, scope, verdict (marked, flagged when it
    rests on few networks), the networks per group, all numbers in one cell, and the note (what
    data is missing, if anything)."""
    return {
        "claim": str(result.claim),
        "scope": result.scope,
        "verdict": verdict_text(result),
        "networks": _networks_text(result),
        "numbers": "; ".join(format_number(n) for n in result.numbers) or "-",
        "note": result.shortfall or "",
    }


def statistic_table(
    results: Sequence[ClaimResult],
) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """(header, rows) of a table with one column per quantity: scope, verdict, networks, each
    quantity's estimate and CI ("-" where a result lacks it), note."""
    quantities = list(dict.fromkeys(n.quantity for r in results for n in r.numbers))
    header = ("scope", "verdict", "networks", *quantities, "note")
    rows = []
    for result in results:
        cells = {n.quantity: _format_interval(n) for n in result.numbers}
        row = claim_row(result)
        rows.append(
            (
                result.scope,
                row["verdict"],
                row["networks"],
                *(cells.get(q, "-") for q in quantities),
                row["note"],
            )
        )
    return header, rows


def claims_table_markdown(
    results: Sequence[ClaimResult], columns: Sequence[str] = CLAIM_COLUMNS
) -> str:
    """A markdown table of `columns` (some of `CLAIM_COLUMNS`), one row per result."""
    rows = [[claim_row(result)[column] for column in columns] for result in results]
    return markdown_table(columns, rows)
