"""Experiments on a real Ray started by the tests (one node, 2 CPUs): the same tables as the
local executor, with a worker killed mid-job, after the driver was interrupted and resumed, and
from the command line; a refused job is reported, not retried."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed")

from test_pipeline import signal_a_running_experiment, table  # noqa: E402

from topnn_jax.cli import main  # noqa: E402
from topnn_jax.config import ExperimentConfig  # noqa: E402
from topnn_jax.errors import InputError  # noqa: E402
from topnn_jax.pipeline import RunEvents, run_experiment  # noqa: E402
from topnn_jax.ray_cluster import RayCluster  # noqa: E402
from topnn_jax.store import TRAINING_FILE, read_json  # noqa: E402
from topnn_jax.topology import SerialExecutor  # noqa: E402


def on_ray(config: ExperimentConfig, address: str | None = None) -> ExperimentConfig:
    """`config` with `[run] executor = "ray"` (at `address`)."""
    return dataclasses.replace(
        config, run=dataclasses.replace(config.run, executor="ray", address=address)
    )


def same_tables(store: Path, reference: Path) -> bool:
    """The two stores' networks.csv and betti.csv are equal, seconds aside."""
    return all(table(store / name) == table(reference / name) for name in TABLES)


TABLES = ("networks.csv", "betti.csv")


@pytest.fixture(scope="module")
def one_node():
    """A Ray instance on this machine with 2 CPUs for this module's tests (a run joins it)."""
    with RayCluster(num_cpus=2) as cluster:
        yield cluster


def test_one_node_gives_the_local_tables(one_node, tiny_store, tmp_path, tiny_config):
    store = run_experiment(on_ray(tiny_config), out=tmp_path / "store")
    assert same_tables(store, tiny_store)
    # the same group, shrinking alike: the same member-steps computed and useful
    member_steps = read_json(store / TRAINING_FILE)
    assert member_steps == read_json(tiny_store / TRAINING_FILE)
    assert 0 < member_steps["member_steps_useful"] <= member_steps["member_steps_computed"]
    assert ray.is_initialized()  # a connection made by the caller is left open


TASK_TITLES = {"training": b"ray::train_group_task", "betti": b"ray::run_outcomes"}
"""A Ray worker's process title while it runs a training group or a Betti job (its function)."""


def task_pids(title: bytes) -> list[int]:
    """Processes running a Ray task of this title now."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(title):
                pids.append(int(entry.name))
        except OSError:  # the process ended
            continue
    return pids


def test_workers_killed_mid_task_change_nothing(one_node, tiny_store, tmp_path, tiny_config):
    killed: dict[str, int] = {}
    done = threading.Event()

    def kill_the_first_worker_of_each_kind() -> None:
        while not done.is_set() and len(killed) < len(TASK_TITLES):
            for kind, title in TASK_TITLES.items():
                running = task_pids(title) if kind not in killed else []
                if running:
                    os.kill(running[0], signal.SIGKILL)
                    killed[kind] = running[0]
            time.sleep(0.001)

    killer = threading.Thread(target=kill_the_first_worker_of_each_kind)
    killer.start()
    try:
        store = run_experiment(on_ray(tiny_config), out=tmp_path / "store")
    finally:
        done.set()
        killer.join()
    assert set(killed) == {"training", "betti"}  # each task was run again by a new worker
    assert same_tables(store, tiny_store)


def test_an_interrupted_driver_resumes_to_the_local_tables(
    one_node, tiny_store, tmp_path, tiny_config
):
    out, finished = tmp_path / "store", []

    def interrupt_after_five(job, result):
        finished.append(job)
        if len(finished) == 5:
            raise KeyboardInterrupt

    config = on_ray(tiny_config)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(config, out=out, events=RunEvents(job_done=interrupt_after_five))
    assert 1 <= len(table(out / "betti.csv")) < 32
    run_experiment(config, out=out, resume=True)
    assert same_tables(out, tiny_store)


def test_ctrl_c_on_ray_exits_130_without_traceback_and_resumes(tiny_store, tmp_path, tiny_toml):
    on_ray_toml = tiny_toml.replace(
        "[run]\n", '[run]\nexecutor = "ray"\n'
    )  # Ray started by the run
    process, stderr, rows, out = signal_a_running_experiment(on_ray_toml, tmp_path, signal.SIGINT)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    assert rows < 32
    assert same_tables(out, tiny_store)


def test_the_command_line_runs_on_ray(one_node, tiny_store, tmp_path, tiny_toml, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_toml)
    out = tmp_path / "store"
    assert main(["run", str(config), "--out", str(out), "--executor", "ray", "--no-report"]) == 0
    assert same_tables(out, tiny_store)
    assert main(["select-params", "D-I", "--ks", "13", "--scales", "2", "--executor", "ray"]) == 0
    assert "13" in capsys.readouterr().out


def test_a_refused_job_is_its_result_as_in_the_local_executor(one_node):
    cloud = np.random.default_rng(0).normal(size=(300, 3))
    outcomes = []
    for executor in (one_node.betti_executor(max_bytes=10_000), SerialExecutor(max_bytes=10_000)):
        executor.submit("cloud", cloud, k=13)
        [(job_id, outcome)] = list(executor.results())
        outcomes.append((job_id, type(outcome), str(outcome)))
        executor.close()
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][1] is InputError and "over the limit" in outcomes[0][2]
