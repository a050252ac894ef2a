"""Process faults: the main process killed or terminated while measuring, a PH worker killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from test_pipeline import table

from topnn_jax.cli import main
from topnn_jax.errors import WorkLostError
from topnn_jax.pipeline import run_experiment
from topnn_jax.topology import BettiPool, SerialExecutor


def process_parents() -> dict[int, int]:
    """{pid: parent pid} of every process in /proc (this kernel may lack task/*/children)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # gone meanwhile
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def descendants(pid: int) -> set[int]:
    """Every process below `pid`: its children, theirs, and so on."""
    parents = process_parents()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """`pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(condition, seconds: float) -> bool:
    """Poll `condition()` until it is true or `seconds` have passed; its last value."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def end_all(pids: set[int]) -> None:
    """SIGKILL those of `pids` still alive (so that a failing test leaves nothing behind)."""
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def start_measuring(config_text: str, directory: Path) -> tuple[subprocess.Popen, list[str]]:
    """The tiny experiment's CLI in its own session, once betti.csv has a few rows; its stderr
    goes to directory / "stderr" (a file: a pipe would stay open in orphaned workers).

    Returns:
        (the running process, its command line).
    """
    config = directory / "experiment.toml"
    config.write_text(config_text)
    out = directory / "store"
    command = [sys.executable, "-m", "topnn_jax", "run", str(config), "--out", str(out)]
    command.append("--no-report")
    with (directory / "stderr").open("w") as stderr:  # the child keeps its own copy
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
        )
    betti = out / "betti.csv"

    def measuring() -> bool:
        return process.poll() is not None or (
            betti.exists() and len(betti.read_text().splitlines()) > 3
        )

    if not wait_until(measuring, 240):
        process.kill()
    assert process.poll() is None, (directory / "stderr").read_text()
    return process, command


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["KILL", "TERM"])
def test_main_process_killed_while_measuring_leaves_no_process_behind(tmp_path, tiny_toml, signum):
    process, _ = start_measuring(tiny_toml, tmp_path)
    below = descendants(process.pid)
    try:
        assert below, "the pool's workers should be running"
        os.kill(process.pid, signum)  # the main process only: its workers must follow it
        process.wait(timeout=60)
        assert process.returncode == (-signal.SIGKILL if signum == signal.SIGKILL else 143)
        assert wait_until(lambda: not any(alive(pid) for pid in below), 5), [
            pid for pid in below if alive(pid)
        ]
    finally:
        end_all(below | {process.pid})


def test_sigterm_exits_143_without_traceback_and_resumes(tiny_store, tmp_path, tiny_toml):
    process, command = start_measuring(tiny_toml, tmp_path)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=240)
    stderr = (tmp_path / "stderr").read_text()
    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr and "topnn-jax run: terminated" in stderr
    out = tmp_path / "store"
    assert 3 <= len(table(out / "betti.csv")) < 32
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert table(out / "betti.csv") == table(tiny_store / "betti.csv")
    assert table(out / "networks.csv") == table(tiny_store / "networks.csv")


def test_main_restores_the_previous_sigterm_handler(capsys):
    previous = signal.getsignal(signal.SIGTERM)
    assert main(["datasets"]) == 0
    assert signal.getsignal(signal.SIGTERM) is previous


def kill_a_worker_once_busy(pool: BettiPool, killed: list[int]) -> threading.Thread:
    """A started thread that SIGKILLs one of `pool`'s workers once it has pending jobs (the
    pid goes to `killed`)."""

    def kill() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            pids = list(pool._executor._processes)
            if pool.pending and pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
                return
            time.sleep(0.002)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def test_a_killed_worker_is_replaced_and_the_run_completes(tiny_store, tmp_path, tiny_config):
    killed: list[int] = []
    with BettiPool(workers=2) as pool:
        killer = kill_a_worker_once_busy(pool, killed)
        out = run_experiment(tiny_config, out=tmp_path / "store", executor=pool)
        killer.join(timeout=5)
        assert killed and pool.restarts >= 1
    assert not alive(killed[0])
    assert table(out / "betti.csv") == table(tiny_store / "betti.csv")
    assert table(out / "networks.csv") == table(tiny_store / "networks.csv")


def circle(n: int) -> np.ndarray:
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def kill_every_worker(pool: BettiPool) -> None:
    for pid in list(pool._executor._processes):
        os.kill(pid, signal.SIGKILL)


def test_lost_jobs_are_rerun_on_fresh_workers():
    clouds = {n: circle(n) for n in (20, 30, 40)}
    with SerialExecutor() as serial:
        for n, cloud in clouds.items():
            serial.submit(n, cloud, 3)
        expected = dict(serial.results())
    with BettiPool(workers=1, max_restarts=1) as pool:
        pool.submit("start", circle(10), 3)  # the worker is up once this is done
        assert next(pool.results())[0] == "start"
        for n, cloud in clouds.items():
            pool.submit(n, cloud, 3)
        kill_every_worker(pool)
        assert dict(pool.results()) == expected
        assert pool.restarts == 1


def test_a_pool_whose_workers_die_too_often_raises_work_lost():
    with BettiPool(workers=1, max_restarts=0) as pool:
        pool.submit("start", circle(10), 3)
        assert next(pool.results())[0] == "start"
        pool.submit("lost", circle(20), 3)
        kill_every_worker(pool)
        with pytest.raises(WorkLostError, match="restarted 0 time.*continue with --resume"):
            list(pool.results())
        assert pool.pending == 0
