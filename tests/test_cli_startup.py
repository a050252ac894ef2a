"""The command's start-up (`topnn_jax.cli`): every help text and the commands that neither train,
draw nor compute Betti numbers (listing and describing data sets, a store's summary) import none
of JAX, Flax, optax, Ray, matplotlib, giotto-ph or scikit-learn, each of which takes a large part
of a second; `betti` imports giotto-ph's engine but no JAX, and not giotto-ph's interface
(scikit-learn with it). Each case runs `main` in a fresh interpreter
and reads its `sys.modules`; `train` still asks for its CPU devices before JAX starts."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable

import numpy as np
import pytest

from topnn_jax import SerialExecutor, measure
from topnn_jax.cli import build_parser
from topnn_jax.topology.job import available_cpus

TRAINING_AND_FIGURES = {"jax", "flax", "optax", "ray", "matplotlib"}
"""What only the commands that train, compute layer outputs or draw import."""
HOMOLOGY = {"gph", "sklearn", "scipy", "pandas"}
"""giotto-ph and what it imports: only for Betti numbers."""

CHILD = textwrap.dedent(
    """
    import json, sys
    from topnn_jax.cli import main
    for argv in json.loads(sys.argv[1]):
        try:
            status = main(argv)
        except SystemExit as stop:  # --help and --version
            status = stop.code
        if status != 0:
            sys.exit(f"{argv}: exit status {status}")
    print(json.dumps(sorted({name.partition(".")[0] for name in sys.modules})))
    """
)


def imported(*commands: list[str]) -> set[str]:
    """The top-level packages imported by a fresh interpreter that ran `main` on each command."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(commands)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A results store of one measured network (three layers, two circles per layer)."""
    angles = 2 * np.pi * np.arange(60) / 60
    ring = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    points = np.concatenate([ring, 3 * ring])
    layers = {"input": points, "hidden": np.tanh(points), "logits": points[:, ::-1]}
    labels = np.repeat([0, 1], 60)
    measured = measure(layers, labels, k=4, executor=SerialExecutor())
    return measured.save(tmp_path_factory.mktemp("startup") / "store", dataset="circles")


@pytest.fixture(scope="module")
def light(store) -> Callable[[str], set[str]]:
    """Case -> the packages its commands imported, each case run once: every help text, listing
    and describing data sets, a store's summary."""
    subcommands = build_parser()._subparsers._group_actions[0].choices  # noqa: SLF001
    cases = {
        "help": [["--version"], ["--help"], *([name, "--help"] for name in subcommands)],
        "datasets": [["datasets"], ["datasets", "show", "digits"]],
        "summary": [["summary", str(store)]],
    }
    assert len(cases["help"]) > 8  # run, train, betti, report, ... each with its help
    return functools.cache(lambda case: imported(*cases[case]))


@pytest.mark.parametrize("case", ["help", "datasets", "summary"])
def test_light_commands_import_no_jax_or_matplotlib(light, case):
    assert light(case) & TRAINING_AND_FIGURES == set()


@pytest.mark.parametrize("case", ["help", "datasets", "summary"])
def test_light_commands_import_no_giotto_ph_or_scikit_learn(light, case):
    assert light(case) & HOMOLOGY == set()


def test_betti_of_a_small_cloud_imports_no_jax(tmp_path):
    angles = 2 * np.pi * np.arange(50) / 50
    np.save(tmp_path / "circle.npy", np.stack([np.cos(angles), np.sin(angles)], axis=1))
    loaded = imported(["betti", str(tmp_path / "circle.npy"), "--k", "4"])
    assert "gph" in loaded and loaded & TRAINING_AND_FIGURES == set()
    assert loaded & {"sklearn", "pandas"} == set()  # giotto-ph's engine, not its interface


def test_train_asks_for_one_cpu_device_per_core_before_jax_starts(tmp_path):
    """`train` sets JAX's CPU device count (one per core) before its first JAX operation;
    training itself is replaced by a probe of the devices."""
    probe = textwrap.dedent(
        """
        import sys
        import jax
        import topnn_jax.training
        from topnn_jax.cli import main

        def probe(dataset, members, config, progress):
            print("devices", len(jax.devices("cpu")))
            return []

        topnn_jax.training.train = probe
        sys.exit(main(sys.argv[1:]))
        """
    )
    argv = ["train", "--dataset", "D-I", "--size", "1500", "--arch", "2_by_3", "--activation"]
    argv += ["relu", "--no-progress", "--out", str(tmp_path / "store")]
    env = {key: value for key, value in os.environ.items() if key != "XLA_FLAGS"}
    done = subprocess.run(
        [sys.executable, "-c", probe, *argv], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f"devices {available_cpus()}" in done.stdout.splitlines()
