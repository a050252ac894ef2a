"""Claim statistics on fabricated stores whose answers are known by construction."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topnn_jax.claims import (
    HELD,
    INCONCLUSIVE,
    NOT_ENOUGH_DATA,
    NOT_HELD,
    VERDICTS,
    ClaimResult,
    bootstrap_difference_ci,
    bootstrap_mean_ci,
    claims_table_markdown,
    evaluate_claims,
    format_number,
    network_statistics,
)
from topnn_jax.results import Store, class_name, load_store
from topnn_jax.store import NETWORK_COLUMNS, betti_columns, format_row, format_value

INPUT = ((9, 0), (1, 9))  # D-I: label 0 = nine disks, label 1 = a square with nine holes
MINIMAL = (1, 0)
BOTTLENECK = "2-15-15-15-15-3-15-15-15-15-2"


@dataclass(frozen=True)
class FakeNetwork:
    architecture: str
    activation: str
    betti: np.ndarray  # float[depth + 1, 2, n_dims]; NaN = not measured
    dataset: str = "D-I"
    well_trained: bool = True


def depth_of(architecture: str) -> int:
    if "_by_" in architecture:
        return int(architecture.split("_by_")[0])
    return len(architecture.split("-")) - 1


def step(depth: int, drop: int, output: tuple[int, int] = MINIMAL) -> np.ndarray:
    """Both classes keep the input's Betti numbers before layer `drop` and have `output` from
    there on (normalised area (drop - 1) / depth when `output` is minimal)."""
    betti = np.empty((depth + 1, 2, 2))
    for layer in range(depth + 1):
        betti[layer] = INPUT if layer < drop else (output, output)
    return betti


def gradual(depth: int) -> np.ndarray:
    """T falls evenly from the input to the minimum over all layers."""
    betti = np.empty((depth + 1, 2, 2))
    for layer in range(depth + 1):
        betti[layer, 0] = (9 - round(8 * layer / depth), 0)
        betti[layer, 1] = (1, 9 - round(9 * layer / depth))
    return betti


def networks(architecture: str, activation: str, drops: list[int], **kwargs) -> list[FakeNetwork]:
    depth = depth_of(architecture)
    return [FakeNetwork(architecture, activation, step(depth, d), **kwargs) for d in drops]


def write_store(directory: Path, fakes: list[FakeNetwork], maxdim: int = 1) -> Store:
    """networks.csv and betti.csv in the pipeline's layout, read back with `load_store`."""
    network_lines, betti_lines = [format_row(NETWORK_COLUMNS)], [format_row(betti_columns(maxdim))]
    for index, fake in enumerate(fakes):
        network_id = f"net{index:03d}"
        row = {
            "network_id": network_id,
            "dataset": fake.dataset,
            "architecture": fake.architecture,
            "activation": fake.activation,
            "seed": index,
            "steps": 1000,
            "train_accuracy": 1.0,
            "test_accuracy": 0.999,
            "well_trained": fake.well_trained,
        }
        network_lines.append(format_row(format_value(row[c]) for c in NETWORK_COLUMNS))
        for layer, per_label in enumerate(fake.betti):
            for label, values in enumerate(per_label):
                b = ["" if math.isnan(v) else format_value(int(v)) for v in values]
                b += [""] * (maxdim + 1 - len(b))
                betti_lines.append(
                    format_row([network_id, str(layer), str(label), "100", "13", "2", *b, "0.1"])
                )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "networks.csv").write_text("".join(network_lines))
    (directory / "betti.csv").write_text("".join(betti_lines))
    return load_store(directory)


def of_claim(results: list[ClaimResult], claim: int) -> list[ClaimResult]:
    return [r for r in results if r.claim == claim]


def number(result: ClaimResult, quantity: str):
    (found,) = [n for n in result.numbers if n.quantity == quantity]
    return found


# --- bootstrap helpers ---------------------------------------------------------------------------


def test_bootstrap_ci_contains_the_mean_and_is_reproducible():
    values = np.random.default_rng(3).normal(2.0, 1.0, size=25)
    ci = bootstrap_mean_ci(values, seed=7)
    assert ci.estimate == pytest.approx(values.mean())
    assert ci.low < ci.estimate < ci.high
    assert bootstrap_mean_ci(values, seed=7) == ci
    assert bootstrap_mean_ci(values, seed=8) != ci
    difference = bootstrap_difference_ci(values + 1.0, values, seed=7)
    assert difference.estimate == pytest.approx(1.0)
    assert difference.low < 1.0 < difference.high
    assert bootstrap_difference_ci(values + 1.0, values, seed=7) == difference


def test_bootstrap_ci_of_a_constant_sample_is_a_point():
    ci = bootstrap_mean_ci([0.25] * 7)
    assert ci.estimate == ci.low == ci.high == 0.25
    difference = bootstrap_difference_ci([0.75] * 5, [0.25] * 9)
    assert difference.estimate == difference.low == difference.high == 0.5


@pytest.mark.parametrize("values", [[], [1.0, math.nan], [[1.0, 2.0]]])
def test_bootstrap_rejects_bad_samples(values):
    with pytest.raises(ValueError, match="finite"):
        bootstrap_mean_ci(values)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-100, 100), min_size=1, max_size=20).flatmap(
        lambda xs: st.tuples(st.just(xs), st.permutations(xs))
    )
)
def test_bootstrap_estimate_ignores_order_and_lies_in_its_ci(pair):
    values, permuted = pair
    ci = bootstrap_mean_ci(values, resamples=200)
    assert bootstrap_mean_ci(permuted, resamples=200).estimate == pytest.approx(ci.estimate)
    slack = 1e-9 * (1 + max(abs(v) for v in values))
    assert ci.low - slack <= ci.estimate <= ci.high + slack
    reverse = bootstrap_difference_ci(permuted, values, resamples=200)
    assert reverse.estimate == pytest.approx(0.0, abs=slack)


# --- per-network statistics ----------------------------------------------------------------------


def test_statistics_of_a_hand_computed_trajectory(tmp_path):
    # 4_by_15: layers 0 (input) .. 4 (logits); b2 was not measured (empty in betti.csv).
    betti = np.full((5, 2, 3), np.nan)
    betti[:, 0, :2] = [(9, 0), (5, 1), (3, 0), (1, 0), (1, 0)]  # T = 9, 6, 3, 1, 1
    betti[:, 1, :2] = [(1, 9), (1, 9), (2, 3), (1, 1), (1, 1)]  # T = 10, 10, 5, 2, 2
    trivial = np.full((5, 2, 3), np.nan)
    trivial[:, 0, :2] = [(9, 0), (1, 0), (1, 0), (1, 0), (1, 0)]
    trivial[:, 1, :2] = [(1, 0), (1, 0), (2, 0), (1, 0), (1, 0)]  # T(0) = 1: nothing to reduce
    store = write_store(
        tmp_path,
        [
            FakeNetwork("4_by_15", "relu", betti),
            FakeNetwork("4_by_15", "relu", trivial),
            FakeNetwork("4_by_15", "relu", betti, well_trained=False),
        ],
        maxdim=2,
    )
    assert store.dims == (0, 1, 2)
    a, b, trivial_a, trivial_b = network_statistics(store)
    assert (a.label, b.label, a.depth) == (0, 1, 4)
    assert a.total_betti == (9, 6, 3, 1, 1)
    assert a.minimal_output
    # mean of (T(l) - 1) / (T(0) - 1) over l = 1..4 = (5/8 + 2/8 + 0 + 0) / 4
    assert a.normalised_area == pytest.approx(7 / 32)
    assert (a.first_minimum_layer, a.first_minimum_fraction) == (3, 0.75)
    assert a.last_layers_share == pytest.approx((3 - 1) / (9 - 1))
    assert a.last_layer_share == 0
    assert a.uniform_width == 15
    assert b.total_betti == (10, 10, 5, 2, 2)
    assert not b.minimal_output
    assert b.normalised_area == pytest.approx((9 / 9 + 4 / 9 + 1 / 9 + 1 / 9) / 4)
    assert (b.first_minimum_layer, b.first_minimum_fraction) == (3, 0.75)
    assert b.last_layers_share == pytest.approx((5 - 2) / (10 - 2))
    assert b.last_layers_excess == pytest.approx(3 / 8 - 2 / 4)
    assert trivial_a.normalised_area == pytest.approx(0.0)
    assert (trivial_a.first_minimum_layer, trivial_a.last_layers_share) == (1, 0.0)
    assert math.isnan(trivial_b.normalised_area)
    # T = 1, 1, 2, 1, 1 changes by 1 at layer 2 and by 1 at layer 3: half of it in the last two
    assert trivial_b.last_layers_share == 0.5
    assert trivial_b.first_minimum_layer == 0


def test_the_last_layers_share_is_a_share_of_the_total_change(tmp_path):
    betti = np.full((5, 2, 2), np.nan)
    betti[:, 0] = [(9, 0), (12, 0), (3, 0), (1, 0), (1, 0)]  # up 3, down 9, 2, 0: total 14
    betti[:, 1] = [(1, 9), (1, 9), (1, 9), (1, 9), (1, 9)]  # never changes
    grew, flat = network_statistics(write_store(tmp_path, [FakeNetwork("4_by_15", "relu", betti)]))
    assert grew.last_layers_share == pytest.approx(2 / 14)  # within [0, 1]
    assert grew.last_layer_share == 0.0
    assert math.isnan(flat.last_layers_share)


# --- claims --------------------------------------------------------------------------------------


def test_claim_1_judges_the_share_by_its_wilson_interval(tmp_path):
    half = [
        FakeNetwork("10_by_15", "tanh", step(10, 10, output=(1, 0) if i % 2 else (2, 1)))
        for i in range(6)
    ]
    store = write_store(
        tmp_path,
        networks("10_by_15", "relu", [1, 3, 5, 7, 10] * 8)  # 40 of 40 minimal
        + networks("10_by_15", "leaky_relu", [1, 3, 5, 7, 10])  # 5 of 5
        + half,
    )
    by_scope = {r.scope: r for r in of_claim(evaluate_claims(store), 1)}
    for label in (0, 1):
        held = by_scope[f"D-I 10_by_15 relu, {class_name(label)}"]
        assert held.verdict == HELD
        share = number(held, "share minimal")
        assert (share.estimate, share.ci_high, share.n) == (1.0, 1.0, (40,))
        assert share.ci_low == pytest.approx(40 / (40 + 1.959964**2))  # Wilson, all agree
        few = by_scope[f"D-I 10_by_15 leaky_relu, {class_name(label)}"]
        assert few.verdict == INCONCLUSIVE and few.few_networks  # [0.57, 1] reaches below 0.9
        failed = by_scope[f"D-I 10_by_15 tanh, {class_name(label)}"]
        assert failed.verdict == NOT_HELD
        assert number(failed, "share minimal").estimate == 0.5
        assert number(failed, "share minimal").ci_high < 0.9


def activation_store(directory: Path, relu, leaky, tanh) -> Store:
    return write_store(
        directory,
        networks("10_by_15", "relu", relu)
        + networks("10_by_15", "leaky_relu", leaky)
        + networks("10_by_15", "tanh", tanh),
    )


def test_claim_2_holds_when_relu_reduces_fastest(tmp_path):
    fast, middle, slow = [1, 2] * 3, [4, 5, 6] * 2, [8, 9, 10] * 2
    results = of_claim(evaluate_claims(activation_store(tmp_path, fast, middle, slow)), 2)
    assert [r.scope for r in results] == [
        f"D-I 10_by_15, {class_name(0)}",
        f"D-I 10_by_15, {class_name(1)}",
    ]
    for result in results:
        assert result.verdict == HELD
        # a network that is minimal from layer m on has area (m - 1) / 10
        assert number(result, "relu area").estimate == pytest.approx(0.05)
        assert number(result, "leaky_relu area").estimate == pytest.approx(0.4)
        assert number(result, "tanh area").estimate == pytest.approx(0.8)
        assert number(result, "leaky_relu - relu area").ci_low > 0
        assert number(result, "tanh - leaky_relu area").estimate == pytest.approx(0.4)
        assert number(result, "relu first minimum / L").estimate == pytest.approx(0.15)


def test_claim_2_reversed_order_is_not_held_and_overlap_is_inconclusive(tmp_path):
    fast, middle, slow = [1, 2] * 3, [4, 5, 6] * 2, [8, 9, 10] * 2
    reversed_store = activation_store(tmp_path / "reversed", slow, middle, fast)
    assert {r.verdict for r in of_claim(evaluate_claims(reversed_store), 2)} == {NOT_HELD}
    overlap = write_store(
        tmp_path / "overlap",
        networks("10_by_15", "relu", [1, 9] * 3) + networks("10_by_15", "tanh", [2, 10] * 3),
    )
    for result in of_claim(evaluate_claims(overlap), 2):
        assert result.verdict == INCONCLUSIVE
        difference = number(result, "tanh - relu area")
        assert difference.estimate == pytest.approx(0.1)
        assert difference.ci_low < 0 < difference.ci_high


def test_claims_2_to_4_leave_out_classes_with_nothing_to_reduce(tmp_path):
    trivial_class_b = step(10, 1)
    trivial_class_b[:, 1] = MINIMAL  # T(0) = 1 for label 1
    store = write_store(
        tmp_path,
        networks("10_by_15", "relu", [1, 2] * 3)
        + [FakeNetwork("10_by_15", "relu", trivial_class_b)]
        + networks("10_by_15", "tanh", [8, 9] * 3),
    )
    label_0, label_1 = of_claim(evaluate_claims(store), 2)
    assert label_0.verdict == label_1.verdict == HELD
    assert (number(label_0, "relu area").n, number(label_0, "relu area").excluded) == ((7,), 0)
    assert (number(label_1, "relu area").n, number(label_1, "relu area").excluded) == ((6,), 1)
    assert number(label_1, "tanh - relu area").excluded == 1
    assert "1 excluded" in claims_table_markdown([label_1])


def test_an_input_already_minimal_is_named_as_the_reason_for_too_few_networks(tmp_path):
    # real data at hop scale 2 and above: each class's input is already (1, 0)
    minimal_input = np.full((11, 2, 2), 0.0)
    minimal_input[:, :, 0] = 1.0
    store = write_store(
        tmp_path,
        [FakeNetwork("10_by_15", activation, minimal_input) for activation in ("relu", "tanh")] * 6,
    )
    for result in of_claim(evaluate_claims(store), 2):
        assert result.verdict == NOT_ENOUGH_DATA
        assert "relu has 0, tanh has 0 usable network(s)" in result.shortfall
        assert "12 more left out" in result.shortfall
        assert "already minimal" in result.shortfall


def test_claim_3_holds_when_shallow_networks_reduce_in_their_last_layer(tmp_path):
    store = write_store(
        tmp_path,
        networks("4_by_15", "relu", [4] * 3)
        + networks("5_by_15", "relu", [5] * 3)
        + [FakeNetwork("8_by_15", "relu", gradual(8)) for _ in range(5)]
        # the opposite by construction: shallow spread evenly, deep all in the last layer
        + [FakeNetwork("4_by_15", "tanh", gradual(4)) for _ in range(5)]
        + networks("10_by_15", "tanh", [10] * 5),
    )
    results = {r.scope: r for r in of_claim(evaluate_claims(store), 3)}
    assert set(results) == {
        f"D-I {activation} width 15, depth {depths}, {class_name(label)}"
        for activation, depths in [("relu", "4/5 vs 8"), ("tanh", "4 vs 10")]
        for label in (0, 1)
    }
    held = results[f"D-I relu width 15, depth 4/5 vs 8, {class_name(0)}"]
    assert held.verdict == HELD
    assert number(held, "shallow last-2 share").estimate == 1.0
    assert number(held, "deep last-2 share").estimate == pytest.approx(2 / 8)
    assert number(held, "shallow - deep last-2 share").n == (6, 5)
    assert number(held, "shallow - deep last-2 share").ci_low > 0
    # even spread: the deep share 2/8 is what depth alone gives; shallow 1 is 1/2 or 3/5 beyond
    excess = number(held, "shallow - deep last-2 share beyond even spread 2/L")
    assert excess.estimate == pytest.approx((3 * (1 - 2 / 4) + 3 * (1 - 2 / 5)) / 6)
    assert results[f"D-I tanh width 15, depth 4 vs 10, {class_name(1)}"].verdict == NOT_HELD


def test_claim_4_width_matters_little_when_trajectories_agree(tmp_path):
    drops = [3, 4, 5, 3, 4]
    same = write_store(
        tmp_path / "same",
        networks("10_by_5", "leaky_relu", drops)
        + networks("10_by_15", "leaky_relu", drops)
        + networks("10_by_50", "leaky_relu", drops),
    )
    results = of_claim(evaluate_claims(same), 4)
    assert [r.scope for r in results] == [
        f"D-I leaky_relu depth 10, widths 5/15/50, {class_name(label)}" for label in (0, 1)
    ]
    for result in results:
        assert result.verdict == HELD
        assert number(result, "width 50 - 5 area").estimate == pytest.approx(0.0)
    different = write_store(
        tmp_path / "different",
        networks("10_by_5", "leaky_relu", [2] * 5) + networks("10_by_50", "leaky_relu", [9] * 5),
    )
    for result in of_claim(evaluate_claims(different), 4):
        assert result.verdict == NOT_HELD
        assert number(result, "width 50 - 5 area").estimate == pytest.approx(0.7)


def test_claim_4_bottleneck_reduces_faster_by_construction(tmp_path):
    store = write_store(
        tmp_path,
        networks(BOTTLENECK, "leaky_relu", [5, 5, 6, 5, 6])  # the width-3 layer is layer 5
        + networks("10_by_15", "leaky_relu", [8, 9, 10, 9, 8]),
    )
    results = of_claim(evaluate_claims(store), 4)
    assert [r.scope for r in results] == [
        f"D-I leaky_relu {BOTTLENECK} vs 10_by_15, {class_name(label)}" for label in (0, 1)
    ]
    for result in results:
        assert result.verdict == HELD
        difference = number(result, "bottleneck - uniform area")
        assert difference.estimate == pytest.approx(0.44 - 0.78)
        assert difference.ci_high < 0


def test_too_few_networks_and_missing_partners_give_not_enough_data(tmp_path):
    store = write_store(
        tmp_path,
        networks("10_by_15", "relu", [1, 2, 1])
        + networks("10_by_15", "tanh", [8, 9, 10, 8, 9])
        + networks(BOTTLENECK, "leaky_relu", [5] * 5)
        + networks("4_by_20", "relu", [4] * 5)  # no deep partner at width 20 for claim 3...
        + networks("8_by_25", "relu", [8] * 5),  # ...nor a shallow one at width 25
    )
    results = evaluate_claims(store)
    assert {r.claim for r in results} == {1, 2, 3, 4}
    by_scope = {(r.claim, r.scope): r for r in results}
    few = by_scope[(1, f"D-I 10_by_15 relu, {class_name(0)}")]
    assert few.verdict == NOT_ENOUGH_DATA
    assert number(few, "share minimal").n == (3,)
    # 5 of 5 minimal: the Wilson interval [0.57, 1] reaches below 0.9
    assert by_scope[(1, f"D-I 10_by_15 tanh, {class_name(0)}")].verdict == INCONCLUSIVE
    claim_2 = by_scope[(2, f"D-I 10_by_15, {class_name(0)}")]
    assert claim_2.verdict == NOT_ENOUGH_DATA
    assert "relu has 3" in claim_2.statement
    (claim_3,) = of_claim(results, 3)
    assert (claim_3.scope, claim_3.verdict) == ("all", NOT_ENOUGH_DATA)
    assert "depth 4-5 and at depth 8-10" in claim_3.statement
    for label in (0, 1):
        bottleneck = by_scope[(4, f"D-I leaky_relu {BOTTLENECK} vs 10_by_15, {class_name(label)}")]
        assert bottleneck.verdict == NOT_ENOUGH_DATA
        assert "no 10_by_15 networks" in bottleneck.statement
        assert [n.quantity for n in bottleneck.numbers] == ["bottleneck area"]


def test_a_store_without_usable_networks_shows_every_claim_without_data(tmp_path):
    empty = write_store(tmp_path / "empty", [])
    untrained = write_store(
        tmp_path / "untrained", networks("10_by_15", "relu", [1] * 6, well_trained=False)
    )
    unmeasured = FakeNetwork("10_by_15", "relu", np.full((11, 2, 2), np.nan))
    not_measured = write_store(tmp_path / "unmeasured", [unmeasured] * 6)
    for store in (empty, untrained, not_measured):
        results = evaluate_claims(store)
        assert sorted({r.claim for r in results}) == [1, 2, 3, 4]
        assert {r.verdict for r in results} == {NOT_ENOUGH_DATA}
        assert network_statistics(store) == []
    assert [r.scope for r in evaluate_claims(empty)] == ["all"] * 4
    assert claims_table_markdown(evaluate_claims(empty)).count("not enough data") == 4


def test_network_order_does_not_change_estimates_or_verdicts(tmp_path):
    fakes = (
        networks("10_by_15", "relu", [1, 2, 3, 1, 2, 3])
        + networks("10_by_15", "tanh", [8, 9, 10, 9, 8, 7])
        + networks(BOTTLENECK, "tanh", [5, 6, 5, 6, 5])
    )
    forward = evaluate_claims(write_store(tmp_path / "forward", fakes))
    backward = evaluate_claims(write_store(tmp_path / "backward", fakes[::-1]))
    assert sorted((r.claim, r.scope, r.verdict) for r in forward) == sorted(
        (r.claim, r.scope, r.verdict) for r in backward
    )
    estimates = {
        (r.claim, r.scope, n.quantity): (n.estimate, n.n) for r in forward for n in r.numbers
    }
    for result in backward:
        for n in result.numbers:
            estimate, count = estimates[(result.claim, result.scope, n.quantity)]
            assert (n.estimate, n.n) == (pytest.approx(estimate), count)


def test_evaluation_is_reproducible_and_the_table_shows_every_result(tmp_path):
    store = activation_store(tmp_path, [1, 2] * 3, [4, 5, 6] * 2, [8, 9, 10] * 2)
    results = evaluate_claims(store, resamples=300, seed=5)
    assert results == evaluate_claims(store, resamples=300, seed=5)
    assert all(r.verdict in VERDICTS for r in results)
    table = claims_table_markdown(results)
    lines = table.strip().splitlines()
    assert lines[0] == "| claim | scope | verdict | networks | numbers | note |"
    assert len(lines) == len(results) + 2
    assert "share minimal 1.00 [0.61, 1.00] (n=6)" in table  # Wilson: 6 / (6 + 1.96^2)
    assert "leaky_relu - relu area 0.35 [" in table


def test_claim_3_is_not_held_when_every_depth_spreads_its_reduction_evenly(tmp_path):
    # an even spread puts 2/L of the reduction in the last two layers: 1/2 at depth 4 but
    # 1/5 at depth 10, so the raw share favours shallow networks by depth alone
    store = write_store(
        tmp_path,
        [FakeNetwork("4_by_15", "relu", gradual(4)) for _ in range(5)]
        + [FakeNetwork("10_by_15", "relu", gradual(10)) for _ in range(5)],
    )
    result = next(r for r in of_claim(evaluate_claims(store), 3) if r.label == 0)
    assert number(result, "shallow - deep last-2 share").estimate > 0.2
    excess = number(result, "shallow - deep last-2 share beyond even spread 2/L")
    # label 0: T = 9, 7, 5, 3, 1 at depth 4 (share 4/8 = 2/4); at depth 10 T(8) = 3 (share 2/8)
    assert excess.estimate == pytest.approx((4 / 8 - 2 / 4) - (2 / 8 - 2 / 10))
    assert result.verdict == NOT_HELD


def test_claim_4_width_is_inconclusive_when_differences_are_large_but_uncertain(tmp_path):
    store = write_store(
        tmp_path,
        networks("10_by_5", "leaky_relu", [1, 1, 1, 10, 10])
        + networks("10_by_50", "leaky_relu", [1, 10, 10, 10, 1]),
    )
    for result in of_claim(evaluate_claims(store), 4):
        difference = number(result, "width 50 - 5 area")
        assert difference.ci_low < -0.1 and difference.ci_high > 0.1
        assert result.verdict == INCONCLUSIVE


def test_claim_2_judges_the_activations_with_enough_networks(tmp_path):
    store = write_store(
        tmp_path,
        networks("10_by_15", "relu", [2, 2, 2])
        + networks("10_by_15", "leaky_relu", [3, 4, 3, 4, 3])
        + networks("10_by_15", "tanh", [8, 9, 8, 9, 8]),
    )
    for result in of_claim(evaluate_claims(store), 2):
        assert result.verdict == HELD
        assert "relu has 3" in result.statement
        assert "judged on leaky_relu < tanh only" in result.statement
        assert [n.quantity for n in result.numbers if " - " in n.quantity] == [
            "tanh - leaky_relu area"
        ]


# --- the one verdict rule: an interval wholly above, across, or wholly below the threshold ---


def _claim_1(case: str) -> list[FakeNetwork]:
    minimal = {"above": [True] * 40, "across": [True] * 9 + [False], "below": [True, False] * 10}
    return [
        FakeNetwork("10_by_15", "relu", step(10, 5, output=MINIMAL if ok else (2, 1)))
        for ok in minimal[case]
    ]


def _claim_2(case: str) -> list[FakeNetwork]:
    relu, tanh = {
        "above": ([1, 2] * 3, [8, 9] * 3),  # relu clearly faster
        "across": ([1, 9] * 3, [2, 10] * 3),  # faster on average, intervals overlap 0
        "below": ([8, 9] * 3, [1, 2] * 3),  # tanh clearly faster
    }[case]
    return networks("10_by_15", "relu", relu) + networks("10_by_15", "tanh", tanh)


def _claim_3(case: str) -> list[FakeNetwork]:
    last_layer = networks("4_by_15", "relu", [4] * 5)  # all change in the last layer
    spread = [FakeNetwork("4_by_15", "relu", gradual(4)) for _ in range(5)]
    deep_last = networks("10_by_15", "relu", [10] * 5)
    deep_spread = [FakeNetwork("10_by_15", "relu", gradual(10)) for _ in range(5)]
    mixed = networks("4_by_15", "relu", [4] * 3) + spread[:2]
    return {
        "above": last_layer + deep_spread,
        "across": mixed + networks("10_by_15", "relu", [10] * 2) + deep_spread[:3],
        "below": spread + deep_last,
    }[case]


def _claim_4_width(case: str) -> list[FakeNetwork]:
    narrow, wide = {
        "above": ([4, 4, 5, 4, 4], [4, 4, 4, 5, 4]),  # inside the margin
        "across": ([1, 1, 1, 10, 10], [1, 10, 10, 10, 1]),  # too uncertain
        "below": ([2] * 5, [9] * 5),  # wholly outside the margin
    }[case]
    return networks("10_by_5", "leaky_relu", narrow) + networks("10_by_50", "leaky_relu", wide)


def _claim_4_bottleneck(case: str) -> list[FakeNetwork]:
    bottleneck, uniform = {
        "above": ([5, 5, 6, 5, 6], [8, 9, 10, 9, 8]),  # the bottleneck reduces faster
        "across": ([2, 10, 2, 10, 6], [5, 6, 7, 6, 5]),
        "below": ([9, 10, 10, 9, 10], [2, 3, 2, 3, 2]),
    }[case]
    return networks(BOTTLENECK, "leaky_relu", bottleneck) + networks(
        "10_by_15", "leaky_relu", uniform
    )


@pytest.mark.parametrize(
    ("claim", "fakes"),
    [(1, _claim_1), (2, _claim_2), (3, _claim_3), (4, _claim_4_width), (4, _claim_4_bottleneck)],
)
@pytest.mark.parametrize(
    ("case", "verdict"), [("above", HELD), ("across", INCONCLUSIVE), ("below", NOT_HELD)]
)
def test_verdicts_follow_where_the_interval_lies(tmp_path, claim, fakes, case, verdict):
    results = of_claim(evaluate_claims(write_store(tmp_path, fakes(case))), claim)
    judged = [r for r in results if r.label == 0]
    assert judged and {r.verdict for r in judged} == {verdict}, [
        (r.scope, r.verdict, [format_number(n) for n in r.numbers]) for r in judged
    ]
