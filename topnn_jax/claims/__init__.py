"""The paper's four claims tested on a store's networks, with bootstrap confidence intervals.

* `registry`: the claims as data (`CLAIMS`) and `evaluate_claims`;
* `evidence`: the groups of networks compared and their estimates;
* `statistics`: the topology statistics of each network and class;
* `bootstrap`: percentile bootstrap intervals;
* `verdicts`: the verdicts, the one decision rule and their text.
"""

from topnn_jax.claims.bootstrap import Interval, bootstrap_difference_ci, bootstrap_mean_ci
from topnn_jax.claims.registry import CLAIMS, Claim, evaluate_claims
from topnn_jax.claims.statistics import NetworkStatistics, network_statistics
from topnn_jax.claims.verdicts import (
    CLAIM_COLUMNS,
    FEW_NETWORKS,
    HELD,
    INCONCLUSIVE,
    MIN_NETWORKS,
    NOT_ENOUGH_DATA,
    NOT_HELD,
    VERDICTS,
    ClaimNumber,
    ClaimResult,
    claim_row,
    claims_table_markdown,
    format_number,
    statistic_table,
    verdict_text,
)

__all__ = [
    "CLAIMS",
    "CLAIM_COLUMNS",
    "FEW_NETWORKS",
    "HELD",
    "INCONCLUSIVE",
    "MIN_NETWORKS",
    "NOT_ENOUGH_DATA",
    "NOT_HELD",
    "VERDICTS",
    "Claim",
    "ClaimNumber",
    "ClaimResult",
    "Interval",
    "NetworkStatistics",
    "bootstrap_difference_ci",
    "bootstrap_mean_ci",
    "claim_row",
    "claims_table_markdown",
    "evaluate_claims",
    "format_number",
    "network_statistics",
    "statistic_table",
    "verdict_text",
]
