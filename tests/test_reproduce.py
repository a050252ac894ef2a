"""experiments/reproduce.py: settings run into stores, tables collected with a compute record."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from topnn_jax.config import load_config

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def load_reproduce():
    spec = importlib.util.spec_from_file_location("reproduce", EXPERIMENTS / "reproduce.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reproduce = load_reproduce()


def test_every_paper_setting_is_a_valid_config():
    names = reproduce.settings()
    assert {"d1_10_by_15", "d2_10_by_15", "d3_10_by_15", "d1_bottleneck"} <= set(names)
    for name in names:
        config = load_config(EXPERIMENTS / "paper" / f"{name}.toml")
        assert config.run.out == f"results/paper/{name}"
        assert len(config.networks.seeds) == 30 and config.networks.top_up >= 30


@pytest.fixture
def tiny(tiny_toml: str) -> str:
    """The tiny experiment with one tanh network, 200 steps, one worker."""
    return (
        tiny_toml.replace('activations = ["relu", "tanh"]', 'activations = ["tanh"]')
        .replace("seeds = 2", "seeds = 1")
        .replace("max_steps = 300", "max_steps = 200")
        .replace("workers = 2", "workers = 1")
    )


def test_a_setting_runs_and_its_tables_are_collected(tmp_path, capsys, tiny):
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "tiny.toml").write_text(tiny)
    arguments = ["tiny", "--configs", str(configs), "--stores", str(tmp_path / "stores")]
    arguments += ["--results", str(tmp_path / "results")]
    assert reproduce.main(arguments) == 0
    assert reproduce.main(arguments) == 0  # again: resumes the finished store
    collected = tmp_path / "results" / "tiny"
    assert sorted(p.name for p in collected.iterdir()) == [
        "betti.csv",
        "config.json",
        "environment.json",
        "networks.csv",
        "timing.json",
    ]
    store = tmp_path / "stores" / "tiny"
    assert (collected / "betti.csv").read_text() == (store / "betti.csv").read_text()
    assert len((collected / "betti.csv").read_text().splitlines()) == 1 + 4 * 2
    runs = json.loads((collected / "timing.json").read_text())["runs"]
    assert len(runs) == 2 and all(run["jax_backend"] == "cpu" for run in runs)
    # one network, in a batch of 2 rows (1 filler); the resumed run trained nothing
    (row,) = (store / "networks.csv").read_text().split()[1:]
    steps = int(row.split(",")[5])
    assert [(r["member_steps_computed"], r["member_steps_useful"]) for r in runs] == [
        (2 * steps, steps),
        (0, 0),
    ]


@pytest.mark.parametrize("arguments", [["nonsense"], []])
def test_unknown_or_no_setting_is_a_clear_error(arguments, capsys):
    assert reproduce.main(arguments) == 2
    assert "choose from: " in capsys.readouterr().err


def test_measure_only_measures_the_stored_networks_and_trains_none(tmp_path, capsys, tiny):
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "tiny.toml").write_text(tiny.replace("seeds = 1", "seeds = 2"))
    arguments = ["tiny", "--configs", str(configs), "--stores", str(tmp_path / "stores")]
    arguments += ["--results", str(tmp_path / "results")]
    assert reproduce.main(arguments) == 0
    store = tmp_path / "stores" / "tiny"
    betti = (store / "betti.csv").read_text()
    networks = (store / "networks.csv").read_text().splitlines(keepends=True)
    # as if trained elsewhere: seed 1 not trained yet, nothing measured
    (store / "networks.csv").write_text("".join(networks[:2]))
    (store / "betti.csv").write_text(betti.splitlines(keepends=True)[0])
    assert reproduce.main([*arguments, "--measure-only"]) == 0
    assert (store / "networks.csv").read_text() == "".join(networks[:2])
    measured = (store / "betti.csv").read_text().splitlines()
    assert len(measured) == 1 + 4 * 2 and all("_s0," in line for line in measured[1:])
