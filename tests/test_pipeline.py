"""End-to-end runs on a tiny experiment: store contents, determinism, interruption and resume."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from topnn_jax.cli import main
from topnn_jax.config import parse_config
from topnn_jax.datasets import load
from topnn_jax.errors import InputError
from topnn_jax.executors import LocalDevices
from topnn_jax.layer_clouds import homology_layers
from topnn_jax.pipeline import RunEvents, interleave, run_experiment, top_up_round_size
from topnn_jax.results import summarize
from topnn_jax.store import load_network
from topnn_jax.store.directory import open_store
from topnn_jax.topology import SerialExecutor


def table(path: Path, drop: tuple[str, ...] = ("seconds",)) -> list[dict]:
    """A store CSV without its timing columns."""
    with path.open(newline="") as handle:
        return [{k: v for k, v in row.items() if k not in drop} for row in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def reference(tiny_store) -> Path:
    """An uninterrupted run of the tiny experiment."""
    return tiny_store


def test_store_holds_every_network_layer_and_class(reference):
    assert {p.name for p in reference.iterdir()} >= {
        "config.json",
        "environment.json",
        "networks.csv",
        "betti.csv",
        "params",
    }
    networks = table(reference / "networks.csv")
    assert len(networks) == 4
    assert len(list((reference / "params").glob("*.npz"))) == 4
    betti = table(reference / "betti.csv")
    # 3_by_6: input, two hidden layers, logits = 4 layers, two classes each
    assert len(betti) == 4 * 4 * 2
    inputs = {row["label"]: (row["b0"], row["b1"]) for row in betti if row["layer"] == "0"}
    assert inputs == {"0": ("9", "0"), "1": ("1", "9")}  # D-I's true Betti numbers
    assert {row["k"] for row in betti if row["layer"] == "0"} == {"13"}


def test_summary_aggregates_per_setting(reference, capsys):
    # 300 steps train no network well: all are measured (measure = "all"), but summaries,
    # like claims and figures, average only well-trained networks
    summaries = summarize(reference)
    assert {(s.activation, s.networks, s.well_trained, s.measured) for s in summaries} == {
        ("relu", 2, 0, 0),
        ("tanh", 2, 0, 0),
    }
    assert all(s.mean_betti == {} for s in summaries)
    assert main(["summary", str(reference)]) == 0
    assert "D-I 3_by_6 relu" in capsys.readouterr().out


def test_same_config_gives_identical_tables(reference, tmp_path, tiny_config):
    again = run_experiment(tiny_config, out=tmp_path / "again")
    assert table(again / "betti.csv") == table(reference / "betti.csv")
    assert table(again / "networks.csv") == table(reference / "networks.csv")


def test_interrupted_run_resumes_to_the_same_tables(reference, tmp_path, tiny_config):
    out = tmp_path / "interrupted"
    finished = []

    def interrupt_after_five(job, result):
        finished.append(job)
        if len(finished) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_experiment(tiny_config, out=out, events=RunEvents(job_done=interrupt_after_five))
    assert 1 <= len(table(out / "betti.csv")) < 32
    # a torn last line, as a killed process might leave
    with (out / "betti.csv").open("a") as handle:
        handle.write("D-I_3_by_6_relu_s0,3,1,5")
    with pytest.raises(InputError, match="already holds results; pass --resume"):
        run_experiment(tiny_config, out=out)
    run_experiment(tiny_config, out=out, resume=True)
    assert table(out / "betti.csv") == table(reference / "betti.csv")
    assert table(out / "networks.csv") == table(reference / "networks.csv")


def signal_a_running_experiment(config_text: str, directory: Path, signum: int):
    """Run the CLI in its own process group, send `signum` to the group once a few Betti rows
    exist (as Ctrl-C or `kill -9` would), then resume it.

    Returns:
        (the interrupted process, its stderr, betti.csv rows before the resume, the store).
    """
    config = directory / "experiment.toml"
    config.write_text(config_text)
    out = directory / "store"
    command = [sys.executable, "-m", "topnn_jax", "run", str(config), "--out", str(out)]
    command.append("--no-report")
    # A shell starts a background job with SIGINT ignored, and an ignored signal stays ignored
    # across exec: give the run Ctrl-C's usual effect however pytest itself was started.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    finally:
        if previous is not None:  # None: a handler not set from Python, left as it is
            signal.signal(signal.SIGINT, previous)
    betti = out / "betti.csv"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if betti.exists() and len(betti.read_text().splitlines()) > 3:
            break
        time.sleep(0.02)
    os.killpg(process.pid, signum)
    _, stderr = process.communicate(timeout=240)
    rows_before_resume = len(table(betti))
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    return process, stderr, rows_before_resume, out


def test_killed_process_resumes_to_the_same_tables(reference, tmp_path, tiny_toml):
    process, _, rows, out = signal_a_running_experiment(tiny_toml, tmp_path, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL and 3 <= rows < 32
    assert table(out / "betti.csv") == table(reference / "betti.csv")
    assert table(out / "networks.csv") == table(reference / "networks.csv")


def test_ctrl_c_exits_130_without_traceback_and_resumes(reference, tmp_path, tiny_toml):
    alias = tiny_toml.replace('dataset = "D-I"', 'dataset = "d1"')  # an alias of D-I
    process, stderr, rows, out = signal_a_running_experiment(alias, tmp_path, signal.SIGINT)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    assert rows < 32
    assert table(out / "betti.csv") == table(reference / "betti.csv")
    assert table(out / "networks.csv") == table(reference / "networks.csv")


def test_resume_refuses_another_experiment(reference, tmp_path, tiny_config, tiny_toml):
    out = tmp_path / "store"
    run_experiment(tiny_config, out=out)
    changed = parse_config(
        tiny_toml.replace('measure = "all"', 'measure = "all"\nk = 9'), name="tiny"
    )
    with pytest.raises(InputError, match="holds a run of a different experiment"):
        run_experiment(changed, out=out, resume=True)


def test_a_store_of_the_first_training_step_resumes_only_with_it(tmp_path, tiny_config):
    document = tiny_config.to_dict()
    del document["training"]["step"]  # as written before [training] step existed
    (tmp_path / "config.json").write_text(json.dumps(document))
    with pytest.raises(InputError, match="trained with \\[training\\] step = 'reference'"):
        open_store(tiny_config, tmp_path, resume=True)
    first = dataclasses.replace(
        tiny_config, training=dataclasses.replace(tiny_config.training, step="reference")
    )
    open_store(first, tmp_path, resume=True)
    assert json.loads((tmp_path / "config.json").read_text())["training"]["step"] == "reference"
    written = json.loads((tmp_path / "environment.json").read_text())
    assert written["packages"]["gudhi"]
    assert written["device_kind"] == jax.devices()[0].device_kind
    cpuinfo = Path("/proc/cpuinfo")  # Linux: the CPU model, on which float rounding depends
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    assert written["processor"] == (models[0] if models else platform.processor())


def test_a_store_made_before_later_training_keys_resumes(tmp_path, tiny_config):
    document = tiny_config.to_dict()
    for key in ("stop_when_stalled", "stop_when_dead", "stop_when_trained", "init", "precision"):
        del document["training"][key]  # keys added after the first stores were written
    (tmp_path / "config.json").write_text(json.dumps(document))
    open_store(tiny_config, tmp_path, resume=True).release()
    changed = dataclasses.replace(
        tiny_config, training=dataclasses.replace(tiny_config.training, init="he_normal")
    )
    with pytest.raises(InputError, match=r"\[training\] init \('glorot_uniform' there"):
        open_store(changed, tmp_path, resume=True)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "networks.csv is missing"),
        ({"networks.csv": "network_id,dataset\nx,D-I\n"}, "missing column"),
    ],
)
def test_summary_of_a_broken_store_is_a_clear_error(tmp_path, capsys, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert main(["summary", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_top_up_trains_more_seeds_until_the_budget_when_too_few_succeed(tmp_path, tiny_toml):
    # 100 steps cannot reach 100% training accuracy on D-I: no network is well trained, so
    # each round asks for as many extra seeds as are missing until the 3 extras are spent.
    text = tiny_toml.replace("seeds = 2", "seeds = 2\ntop_up = 3").replace("= 300", "= 100")
    config = parse_config(text.replace('"relu", "tanh"', '"relu"'), name="top-up")
    out = run_experiment(config, out=tmp_path / "store")
    networks = table(out / "networks.csv")
    assert not any(row["well_trained"] == "true" for row in networks)
    assert sorted(int(row["seed"]) for row in networks) == [0, 1, 2, 3, 4]
    stamps = {path.name: path.stat().st_mtime_ns for path in (out / "params").iterdir()}
    run_experiment(config, out=out, resume=True)  # nothing left to train
    assert table(out / "networks.csv") == networks
    assert {path.name: path.stat().st_mtime_ns for path in (out / "params").iterdir()} == stamps
    # a larger top-up on resume only adds seeds
    more = text.replace("top_up = 3", "top_up = 5").replace('"relu", "tanh"', '"relu"')
    run_experiment(parse_config(more, name="top-up"), out=out, resume=True)
    assert sorted(int(row["seed"]) for row in table(out / "networks.csv")) == list(range(7))


@pytest.mark.parametrize(
    ("target", "tried", "well", "untried", "size"),
    [
        (30, 30, 3, 570, 270),  # 1 in 10 succeeded: 27 short need about 270 more seeds
        (30, 30, 0, 570, 570),  # none succeeded: at least 30 x 30, but only 570 are left
        (30, 30, 29, 570, 2),  # 1 short at a 29/30 rate: ceil(30 / 29) seeds
        (30, 45, 30, 555, 0),  # enough well-trained networks
        (4, 0, 0, 10, 4),  # nothing tried yet: as many as are short
        (4, 4, 2, 1, 1),  # the last untried seed
    ],
)
def test_top_up_round_size_scales_the_shortfall_by_the_success_rate(
    target, tried, well, untried, size
):
    assert top_up_round_size(target, tried, well, untried) == size


def test_interleave_takes_every_list_in_turn():
    assert interleave([["a1", "a2", "a3"], [], ["c1", "c2"]]) == ["a1", "c1", "a2", "c2", "a3"]


def test_member_chunk_changes_grouping_not_results_and_may_change_on_resume(
    reference, tmp_path, capsys, tiny_toml
):
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_toml)
    out = tmp_path / "chunked"
    chunk_1 = ["run", str(config), "--out", str(out), "--member-chunk", "1", "--no-report"]
    assert main(chunk_1) == 0
    assert table(out / "networks.csv") == table(reference / "networks.csv")
    assert table(out / "betti.csv") == table(reference / "betti.csv")
    resumed = ["run", str(config), "--out", str(out), "--resume", "--no-report"]
    resumed += ["--member-chunk", "3"]
    assert main(resumed) == 0
    assert main([*resumed[:-1], "0"]) == 2
    assert "--member-chunk must be >= 1" in capsys.readouterr().err


def test_measure_only_resume_measures_the_stored_networks_and_trains_none(
    reference, tmp_path, tiny_config
):
    out = tmp_path / "store"
    shutil.copytree(reference, out)
    betti = (out / "betti.csv").read_text().splitlines(keepends=True)
    (out / "betti.csv").write_text(betti[0])  # trained on one machine, measured on another
    run_experiment(tiny_config, out=out, resume=True, train=False)
    assert table(out / "betti.csv") == table(reference / "betti.csv")
    assert table(out / "networks.csv") == table(reference / "networks.csv")


def test_a_train_only_run_measured_later_gives_the_same_tables(reference, tmp_path, tiny_config):
    out = run_experiment(tiny_config, out=tmp_path / "store", measure=False)
    assert table(out / "networks.csv") == table(reference / "networks.csv")
    assert len(list((out / "params").glob("*.npz"))) == 4
    assert table(out / "betti.csv") == []  # trained on one machine (a GPU's) ...
    run_experiment(tiny_config, out=out, resume=True, train=False)  # ... measured on another
    assert table(out / "betti.csv") == table(reference / "betti.csv")
    with pytest.raises(InputError, match="neither trains nor measures"):
        run_experiment(tiny_config, out=out, resume=True, train=False, measure=False)


def test_a_store_without_its_failed_networks_parameters_resumes_without_training(
    tmp_path, tiny_config
):
    config = dataclasses.replace(
        tiny_config, topology=dataclasses.replace(tiny_config.topology, measure="well_trained")
    )
    out = run_experiment(config, out=tmp_path / "store", measure=False)
    networks = table(out / "networks.csv")
    assert networks and not any(row["well_trained"] == "true" for row in networks)
    shutil.rmtree(out / "params")  # tables kept (as in git), parameters not
    run_experiment(config, out=out, resume=True)  # a warning here would fail the test
    assert table(out / "networks.csv") == networks
    assert not (out / "params").exists() or not any((out / "params").iterdir())


def test_a_resumed_run_trains_before_it_measures_what_an_earlier_run_left(
    reference, tmp_path, tiny_config
):
    out = tmp_path / "store"
    shutil.copytree(reference, out)
    unmeasured, untrained = "D-I_3_by_6_relu_s0", "D-I_3_by_6_tanh_s1"
    for name, drop in (("betti.csv", (unmeasured, untrained)), ("networks.csv", (untrained,))):
        lines = (out / name).read_text().splitlines(keepends=True)
        (out / name).write_text("".join(line for line in lines if not line.startswith(drop)))
    (out / "params" / f"{untrained}.npz").unlink()
    events = []
    run_experiment(
        tiny_config,
        out=out,
        resume=True,
        events=RunEvents(
            group_done=lambda networks: events.append("trained"),
            jobs_submitted=lambda count: events.append(count),
        ),
    )
    # the retrained network's 8 jobs follow its training; then the leftover network's 8
    assert events == ["trained", 8, 8]
    assert table(out / "betti.csv") == table(reference / "betti.csv")
    assert table(out / "networks.csv") == table(reference / "networks.csv")


def test_measure_only_needs_resume(tmp_path, capsys, tiny_toml):
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_toml)
    assert main(["run", str(config), "--out", str(tmp_path / "s"), "--measure-only"]) == 2
    assert "add --resume" in capsys.readouterr().err
    both = ["run", str(config), "--out", str(tmp_path / "s"), "--resume", "--measure-only"]
    assert main([*both, "--train-only"]) == 2
    assert "--measure-only and --train-only exclude each other" in capsys.readouterr().err


def test_homology_layers_push_each_class_subsample_through_the_network(reference):
    network = load_network(next((reference / "params").glob("*.npz")))
    dataset = load("D-I", seed=0, size=1500)
    stride = dataset.preset.stride
    outputs, membership = homology_layers(network, dataset, stride)
    counts = [len(dataset.homology_indices(label, stride)) for label in (0, 1)]
    assert membership.tolist() == [0] * counts[0] + [1] * counts[1]
    np.testing.assert_array_equal(outputs[0][: counts[0]], dataset.homology_subsample(0, stride))
    assert [o.shape[1] for o in outputs] == list(network.member.spec.widths)
    _, predicted = homology_layers(network, dataset, stride, "predicted")
    assert set(predicted.tolist()) <= {0, 1} and len(predicted) == sum(counts)
    with pytest.raises(InputError, match="trained on 'D-I', not on 'digits'"):
        homology_layers(network, load("digits"), 1)


def test_a_serial_executor_and_a_custom_trainer_give_the_same_tables(
    reference, tmp_path, tiny_config
):
    class CountingTrainer(LocalDevices):
        """A second training backend: this process's devices, counting the groups."""

        groups = 0

        def train_groups(self, *args, **kwargs):
            for group in super().train_groups(*args, **kwargs):
                self.groups += 1
                yield group

    trainer = CountingTrainer()
    with SerialExecutor() as executor:
        out = run_experiment(
            tiny_config, out=tmp_path / "serial", executor=executor, trainer=trainer
        )
    assert trainer.groups >= 1
    assert table(out / "betti.csv") == table(reference / "betti.csv")
    assert table(out / "networks.csv") == table(reference / "networks.csv")


TRAIN = (
    "train --dataset D-I --size 1500 --arch 3_by_8 --activation tanh --seeds 2 "
    "--max-steps 3000 --eval-every 250 --max-test-error 0.05 --no-progress --out {out}"
)


def test_a_train_store_is_measured_by_run_measure_only(tmp_path, capsys):
    out = tmp_path / "trained"
    assert main(TRAIN.format(out=out).split()) == 0
    recorded = json.loads((out / "config.json").read_text())
    assert recorded["data"]["size"] == 1500 and recorded["training"]["max_test_error"] == 0.05
    assert not (out / "betti.csv").exists()
    measure = ["run", "--resume", "--measure-only", "--out", str(out), "--no-report"]
    assert main(measure) == 0
    well = [row for row in table(out / "networks.csv") if row["well_trained"] == "true"]
    assert well  # tanh 3_by_8 trains well in 3000 steps on the small D-I
    measured = {row["network_id"] for row in table(out / "betti.csv")}
    assert measured == {row["network_id"] for row in well}
    assert json.loads((out / "config.json").read_text()) == recorded


def test_a_store_without_its_config_is_refused_not_overwritten(tmp_path, capsys, tiny_toml):
    out = tmp_path / "old"
    out.mkdir()
    (out / "networks.csv").write_text("network_id\n")
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_toml)
    for arguments in (["--resume", "--measure-only"], ["--resume"], []):
        assert main(["run", str(config), "--out", str(out), *arguments]) == 2
        error = capsys.readouterr().err
        assert "no config.json, so nothing says which experiment made them" in error
        assert len(error.strip().splitlines()) == 1
    assert sorted(path.name for path in out.iterdir()) == ["networks.csv"]


def test_run_ends_with_the_report_unless_told_not_to(tmp_path, capsys, tiny_toml):
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_toml)
    assert main(["run", str(config), "--out", str(tmp_path / "store")]) == 0
    page = tmp_path / "store" / "report.html"
    assert page.is_file() and f"next: open {page}" in capsys.readouterr().out
    assert main(["run", str(config), "--out", str(tmp_path / "bare"), "--no-report"]) == 0
    assert not (tmp_path / "bare" / "report.html").exists()


def test_resume_without_a_config_needs_a_store_to_resume(tmp_path, capsys):
    assert main(["run", "--resume", "--out", str(tmp_path / "typo")]) == 2
    assert "nothing to resume in" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists()


def test_the_ray_executor_without_ray_says_how_to_install_it(monkeypatch, tiny_config, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed: import raises
    config = dataclasses.replace(
        tiny_config, run=dataclasses.replace(tiny_config.run, executor="ray")
    )
    with pytest.raises(InputError, match=r'needs Ray: pip install "topnn-jax\[ray\]"'):
        run_experiment(config, out=tmp_path / "store")
    assert not (tmp_path / "store").exists()  # nothing written that would block a rerun
