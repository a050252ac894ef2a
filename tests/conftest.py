"""Shared by the test modules: strict JAX settings and the tiny experiment."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

# XLA programs compiled in this session are kept on disk and shared with the command-line runs
# that tests start: each of those processes would otherwise compile the same small programs
# again (about 6 s of a 16 s tiny run). Set before JAX is imported, so that it reads them.
_XLA_CACHE = tempfile.mkdtemp(prefix="topnn-jax-tests-xla-")
atexit.register(shutil.rmtree, _XLA_CACHE, ignore_errors=True)
os.environ["JAX_COMPILATION_CACHE_DIR"] = _XLA_CACHE
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"

import jax  # noqa: E402
import pytest  # noqa: E402

from topnn_jax.config import ExperimentConfig, parse_config  # noqa: E402
from topnn_jax.pipeline import run_experiment  # noqa: E402

# Broadcasting arrays of different ranks is an error, not a silent reshape.
jax.config.update("jax_numpy_rank_promotion", "raise")
# One CPU device for the whole session, whichever test runs first (the command line asks for one
# per core when JAX has not started; results do not depend on the count, tested in a subprocess).
jax.devices()

TINY_EXPERIMENT = """
[data]
dataset = "D-I"
size = 1500
[networks]
architectures = ["3_by_6"]
activations = ["relu", "tanh"]
seeds = 2
[training]
max_steps = 300
eval_every = 100
[topology]
measure = "all"
[run]
workers = 2
"""
"""Four small networks on a small D-I, trained 300 steps (none well trained), all measured."""


@pytest.fixture(scope="session")
def tiny_toml() -> str:
    """The tiny experiment's TOML text (`TINY_EXPERIMENT`)."""
    return TINY_EXPERIMENT


@pytest.fixture(scope="session")
def tiny_config(tiny_toml: str) -> ExperimentConfig:
    """The tiny experiment, validated."""
    return parse_config(tiny_toml, name="tiny")


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory, tiny_config: ExperimentConfig) -> Path:
    """An uninterrupted run of the tiny experiment by the local executor (read it only)."""
    return run_experiment(tiny_config, out=tmp_path_factory.mktemp("tiny") / "store")


TANH_EXPERIMENT = """
[data]
dataset = "D-I"
size = 1500
[networks]
architectures = ["4_by_8", "3_by_8"]
activations = ["tanh"]
seeds = 2
[training]
max_steps = 3000
eval_every = 250
max_test_error = 0.05
[run]
workers = 2
"""
"""A tiny run whose tanh networks train well (report and during-training tests)."""
