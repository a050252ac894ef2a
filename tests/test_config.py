"""Experiment configs: the embedded default, friendly spellings, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from topnn_jax.config import load_config, parse_config
from topnn_jax.datasets import TopologyPreset
from topnn_jax.errors import InputError

REPO = Path(__file__).resolve().parents[1]


def test_embedded_default_is_the_quick_experiment():
    config = load_config()
    assert config.name == "quick"
    assert config.data.datasets == ("D-I",)
    assert config.networks.architectures == ("10_by_15",)
    assert config.networks.activations == ("relu", "leaky_relu", "tanh")
    assert len(config.networks.seeds) >= 6
    assert config.training.learning_rate == 0.02 and config.training.max_steps == 12_000
    assert config.topology.resolve(TopologyPreset(13, 2, 3, 1)) == TopologyPreset(13, 2, 3, 1)


def test_experiments_quick_toml_is_the_embedded_default():
    embedded = (REPO / "topnn_jax" / "quick.toml").read_text()
    assert (REPO / "experiments" / "quick.toml").read_text() == embedded


def test_friendly_spellings_and_overrides():
    config = parse_config(
        """
        [data]
        dataset = ["D-I", "D-II"]
        size = 3000
        [networks]
        architectures = ["4_by_5", "2-15-3-15-2"]
        activations = ["tanh"]
        seeds = [3, 7]
        [training]
        max_steps = 200
        [topology]
        k = 9
        [run]
        workers = 2
        threads = "auto"
        """
    )
    assert config.data.datasets == ("D-I", "D-II") and config.data.size == 3000
    assert config.networks.seeds == (3, 7)
    assert config.training.max_steps == 200 and config.training.eval_every == 500
    assert config.topology.resolve(TopologyPreset(13, 2, 3, 1)) == TopologyPreset(9, 2, 3, 1)
    assert config.run.workers == 2 and config.run.threads is None
    assert [s.layers for s in config.architecture_specs(2)] == ["2-5-5-5-2", "2-15-3-15-2"]
    assert config.to_dict()["networks"]["seeds"] == [3, 7]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[dta]\nseed = 1", r"unknown section \[dta\]"),
        ("[data]\nsead = 1", r"unknown key 'sead' in \[data\]; allowed: datasets, seed"),
        ("[training]\nmax_steps = 'many'", r"\[training\] max_steps must be an integer"),
        ("[training]\nlearning_rate = -1.0", "learning_rate must be > 0"),
        ("[networks]\nactivations = ['relu', 'swish']", "unknown activation 'swish'"),
        ("[networks]\nseeds = 0", "seeds must be >= 1"),
        ("[networks]\ntop_up = -2", "top_up must be >= 0"),
        ("[networks]\narchitectures = ['ten_by_15']", "architecture 'ten_by_15' not understood"),
        ("[data]\ndataset = 'D-IV'", "unknown data set 'D-IV'"),
        ("[topology]\nmaxdim = 5", r"\[topology\] maxdim must be in 0..3"),
        ("[topology]\nlabels = 'guessed'", "labels must be one of"),
        ("[run]\nworkers = 0", r"\[run\] workers must be >= 1"),
        ("[run]\nexecutor = 'dask'", r"\[run\] executor must be one of local, ray, got 'dask'"),
        ("[run]\naddress = 'auto'", r"\[run\] address names a Ray cluster: set executor"),
        ("[run]\nexecutor = 'ray'\nretries = -1", r"\[run\] retries must be >= 0"),
        ("[data\nseed = 1", "not valid TOML"),
        ("[networks]\nseeds = [1, 1]", "seeds must be distinct"),
        ("[data]\noptions = {size = 5}", "not inside options"),
        ("[data]\noptions = {pca = 5}", "D-I does not take pca"),
    ],
)
def test_invalid_configs_name_the_problem(text, message):
    with pytest.raises(InputError, match=message):
        parse_config(text)


def test_missing_config_file(tmp_path):
    with pytest.raises(InputError, match="config file not found"):
        load_config(tmp_path / "absent.toml")


def test_every_shipped_experiment_config_is_valid():
    paths = sorted((REPO / "experiments").glob("**/*.toml"))
    assert len(paths) >= 3
    for path in paths:
        config = load_config(path)
        assert config.networks.seeds and config.data.datasets
