"""`[topology] at_steps`: every layer measured during training as well as at the end, the same
final tables as without it, the during-training figure and report section."""

from __future__ import annotations

import csv
import json

import pytest
from conftest import TANH_EXPERIMENT

from topnn_jax.cli import main
from topnn_jax.config import parse_config
from topnn_jax.errors import InputError
from topnn_jax.pipeline import run_experiment
from topnn_jax.plotting import betti_during_training, during_training_groups
from topnn_jax.results import load_store
from topnn_jax.store import load_network, params_path

TINY = TANH_EXPERIMENT.replace('["4_by_8", "3_by_8"]', '["3_by_8"]')
AT_STEPS = [0, 250, 1000]


def rows(path):
    with path.open() as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """The tiny run measured at the end only, and measured during training too."""
    root = tmp_path_factory.mktemp("during")
    plain = run_experiment(parse_config(TINY, "tiny"), root / "plain")
    during_text = TINY.replace("[run]", f"[topology]\nat_steps = {AT_STEPS}\n[run]")
    during = run_experiment(parse_config(during_text, "tiny"), root / "during")
    return plain, during


def test_every_layer_is_measured_at_each_step_the_network_trained_through(stores):
    _, during = stores
    networks = {  # the paper's rule: only well-trained networks are measured
        row["network_id"]: int(row["steps"])
        for row in rows(during / "networks.csv")
        if row["well_trained"] == "true"
    }
    assert any(final > 1000 for final in networks.values())
    betti = rows(during / "betti.csv")
    for network_id, final in networks.items():
        expected = {step for step in AT_STEPS if step < final} | {final}
        steps = {int(row["step"]) for row in betti if row["network_id"] == network_id}
        assert steps == expected
        per_step = [r for r in betti if r["network_id"] == network_id and r["step"] == "0"]
        assert len(per_step) == 4 * 2  # (input, 2 hidden layers, logits) x 2 classes
        assert sorted(load_network(params_path(during, network_id)).snapshots) == sorted(
            expected - {final}
        )


def test_measuring_during_training_leaves_the_final_tables_unchanged(stores):
    plain, during = stores
    assert rows(plain / "networks.csv") == rows(during / "networks.csv")
    final = {row["network_id"]: row["steps"] for row in rows(during / "networks.csv")}

    def values(row):
        return {key: value for key, value in row.items() if key not in ("seconds", "step")}

    at_end = [values(r) for r in rows(during / "betti.csv") if r["step"] == final[r["network_id"]]]
    assert at_end == [values(row) for row in rows(plain / "betti.csv")]
    assert "step" not in rows(plain / "betti.csv")[0]
    assert "at_steps" not in json.loads((plain / "config.json").read_text())["topology"]


def test_the_store_reads_steps_and_the_report_draws_the_figure(stores, capsys):
    plain, during = stores
    store = load_store(during)
    network = next(n for n in store.networks if n.usable)
    assert network.steps[: len(AT_STEPS)] == tuple(AT_STEPS)
    assert network.betti_steps.shape == (len(network.steps), 4, 2, 2)
    assert (network.betti_steps[-1] == network.betti).all()
    assert during_training_groups(store) == [("D-I", "3_by_8")]
    figure = betti_during_training(store, "D-I", "3_by_8")
    assert len(figure.axes) >= 4  # 2 classes x 2 dimensions, and the colour bars
    assert during_training_groups(load_store(plain)) == []
    assert main(["report", str(during)]) == 0
    assert "figures/during_d-i_3_by_8.png" in (during / "report.md").read_text()
    assert (during / "figures" / "during_d-i_3_by_8.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("at_steps", "message"),
    [
        ("[0, 300]", "at_steps [300] are not multiples of [training] eval_every = 250"),
        ("[500, 250]", "at_steps must be ascending steps >= 0 without repeats"),
        ("[-250]", "at_steps must be ascending steps >= 0"),
    ],
)
def test_bad_at_steps_are_refused(at_steps, message):
    text = TINY.replace("[run]", f"[topology]\nat_steps = {at_steps}\n[run]")
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_config(text, "tiny")
