"""Verdicts on the paper's claims: the numbers behind them, the decision rules, and their text.

Verdicts: `HELD`, `NOT_HELD`, `INCONCLUSIVE` (the point estimates agree with the claim but a 95%
confidence interval reaches the other side of zero) and `NOT_ENOUGH_DATA` (fewer than
`MIN_NETWORKS` usable networks in a group compared, or the setting to compare with is missing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from topnn_jax.tables import markdown_table

HELD = "held"
NOT_HELD = "not held"
INCONCLUSIVE = "inconclusive"
NOT_ENOUGH_DATA = "not enough data"
VERDICTS = (HELD, NOT_HELD, INCONCLUSIVE, NOT_ENOUGH_DATA)

MIN_NETWORKS = 5
"""Fewest usable networks per group compared for a verdict other than `NOT_ENOUGH_DATA`."""


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


def directional_verdict(differences: Sequence[ClaimNumber | None], sign: int) -> str:
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


def equivalence_verdict(differences: Sequence[ClaimNumber], margin: float) -> str:
    """HELD when every difference's CI lies inside +-`margin`; NOT_HELD when some CI lies wholly
    outside it; INCONCLUSIVE otherwise (too uncertain to tell)."""
    if all(d.ci_low > -margin and d.ci_high < margin for d in differences):
        return HELD
    if any(d.ci_low >= margin or d.ci_high <= -margin for d in differences):
        return NOT_HELD
    return INCONCLUSIVE


def format_number(number: ClaimNumber) -> str:
    """E.g. "relu area 0.21 [0.18, 0.24] (n=30)" or "... (n=30/28, 2 excluded)"."""
    excluded = f", {number.excluded} excluded" if number.excluded else ""
    return (
        f"{number.quantity} {number.estimate:.2f} [{number.ci_low:.2f}, {number.ci_high:.2f}] "
        f"(n={'/'.join(map(str, number.n))}{excluded})"
    )


def verdict_text(result: ClaimResult) -> str:
    """ "held", "not enough data: relu has 3 ...", or "held (relu has 3 ...)"."""
    if not result.shortfall:
        return result.verdict
    if result.verdict == NOT_ENOUGH_DATA:
        return f"{result.verdict}: {result.shortfall}"
    return f"{result.verdict} ({result.shortfall})"


CLAIM_COLUMNS = ("claim", "scope", "verdict", "numbers", "tested")


def claim_row(result: ClaimResult) -> dict[str, str]:
    """A result as text, by `CLAIM_COLUMNS`: claim, scope, verdict (with what is missing, if
    anything), numbers, what was tested."""
    return {
        "claim": str(result.claim),
        "scope": result.scope,
        "verdict": verdict_text(result),
        "numbers": "; ".join(format_number(n) for n in result.numbers) or "-",
        "tested": result.tested,
    }


def claims_table_markdown(
    results: Sequence[ClaimResult], columns: Sequence[str] = CLAIM_COLUMNS
) -> str:
    """A markdown table of `columns` (some of `CLAIM_COLUMNS`), one row per result."""
    rows = [[claim_row(result)[column] for column in columns] for result in results]
    return markdown_table(columns, rows)
