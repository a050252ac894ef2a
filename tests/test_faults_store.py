"""Faults and bad input around the results store (issue 18): one writer per store, full disks
and atomic writes, values read back validated, resumes that must prove the experiment, output
paths checked before any work, damaged files, and failed runs that leave nothing behind."""

from __future__ import annotations

import csv
import dataclasses
import errno
import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from topnn_jax import atomic
from topnn_jax.atomic import atomic_write, atomic_write_text, check_output_dir
from topnn_jax.cli import main
from topnn_jax.config import parse_config
from topnn_jax.errors import InputError
from topnn_jax.pipeline import run_experiment
from topnn_jax.results import load_store
from topnn_jax.store import (
    NETWORK_COLUMNS,
    NETWORK_KEY,
    CsvTable,
    StoreLock,
    betti_columns,
    betti_key,
    betti_problem,
    format_row,
    load_network,
    network_problem,
    open_store,
)
from topnn_jax.topology import SerialExecutor

MINI = """
[data]
dataset = "D-I"
size = 1500
[networks]
architectures = ["2_by_4"]
activations = ["tanh"]
seeds = 1
[training]
max_steps = 100
eval_every = 100
[topology]
measure = "all"
[run]
workers = 1
"""
"""One small network, 100 steps, every layer measured: a store in a few seconds."""


@pytest.fixture(scope="module")
def mini_config():
    return parse_config(MINI, name="mini")


@pytest.fixture(scope="module")
def mini_store(tmp_path_factory, mini_config) -> Path:
    """An uninterrupted run of `MINI` (read it only; copy it to change it)."""
    with SerialExecutor() as executor:
        return run_experiment(
            mini_config, out=tmp_path_factory.mktemp("mini") / "store", executor=executor
        )


@pytest.fixture
def mini_copy(mini_store, tmp_path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(mini_store, copy)
    return copy


def resume(config, out: Path) -> Path:
    with SerialExecutor() as executor:
        return run_experiment(config, out=out, resume=True, executor=executor)


def table(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


def temp_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob(".*") if p.name != ".lock")


def one_line_error(capsys) -> str:
    error = capsys.readouterr().err
    assert len(error.strip().splitlines()) == 1 and "Traceback" not in error, error
    return error


# 1. one writer per store -------------------------------------------------------------------


HOLD_LOCK = """
import fcntl, os, sys
descriptor = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(descriptor, fcntl.LOCK_EX)
os.write(descriptor, str(os.getpid()).encode())
print("locked", flush=True)
sys.stdin.read()
"""


def test_a_second_writer_is_refused_while_another_process_holds_the_store(
    tmp_path, capsys, mini_config
):
    out = tmp_path / "store"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(out / ".lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(
            InputError, match=rf"is in use by another topnn-jax run \(pid {holder.pid}\)"
        ):
            open_store(mini_config, out, resume=False)
        config = tmp_path / "mini.toml"
        config.write_text(MINI)
        assert main(["run", str(config), "--out", str(out), "--no-report"]) == 2
        assert "wait for it to end, or choose another --out" in one_line_error(capsys)
        train = "train --dataset D-I --size 1500 --arch 2_by_4 --activation tanh --no-progress"
        assert main([*train.split(), "--out", str(out)]) == 2
        assert f"(pid {holder.pid})" in one_line_error(capsys)
        assert sorted(p.name for p in out.iterdir()) == [".lock"]  # nothing written
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()
    with open_store(mini_config, out, resume=False):  # the holder ended: the OS released it
        assert (out / "config.json").is_file()


def test_the_lock_is_per_open_file_and_released_when_left(tmp_path, mini_config):
    with StoreLock(tmp_path):
        with pytest.raises(InputError, match="in use by another topnn-jax run"):
            StoreLock(tmp_path)
        with pytest.raises(InputError, match="in use"):
            open_store(mini_config, tmp_path, resume=False)
        assert not (tmp_path / "config.json").exists()
    lock = open_store(mini_config, tmp_path, resume=False)
    descriptor = os.open(tmp_path / ".lock", os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.release()
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(descriptor)


def test_a_run_holds_the_lock_while_it_writes(tmp_path, mini_config, monkeypatch):
    seen = []
    real = CsvTable.append

    def append(self, row):
        with pytest.raises(InputError, match="in use"):
            StoreLock(self.path.parent)
        seen.append(row)
        real(self, row)

    monkeypatch.setattr(CsvTable, "append", append)
    with SerialExecutor() as executor:
        out = run_experiment(mini_config, out=tmp_path / "store", executor=executor)
    assert seen
    StoreLock(out).release()  # free again once the run returned


# 2. full disks and atomic writes -----------------------------------------------------------


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_in_an_atomic_write_is_one_line_and_leaves_no_temp_file(tmp_path):
    def write(handle):
        handle.write(b"x" * 1000)
        enospc()

    target = tmp_path / "file.bin"
    with pytest.raises(InputError, match=rf"^disk full: 1000 bytes needed at {target}$"):
        atomic_write(target, write)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("call", ["fsync", "replace"])
def test_a_failure_after_writing_removes_the_temp_file(tmp_path, monkeypatch, call):
    monkeypatch.setattr(atomic.os, call, enospc)
    target = tmp_path / "file.txt"
    with pytest.raises(InputError, match=f"disk full: 5 bytes needed at {target}"):
        atomic_write_text(target, "hello")
    assert list(tmp_path.iterdir()) == []


def test_an_unexpected_error_is_raised_as_it_is_and_leaves_no_temp_file(tmp_path, monkeypatch):
    def broken(*args):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(atomic.os, "replace", broken)
    with pytest.raises(OSError, match="Input/output error"):
        atomic_write_text(tmp_path / "file.txt", "hello")
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_in_an_appended_row_leaves_the_table_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "networks.csv"
    table_ = CsvTable(path, NETWORK_COLUMNS, NETWORK_KEY, network_problem)
    before = path.read_bytes()
    row = dict.fromkeys(NETWORK_COLUMNS, "1") | {"network_id": "n1", "well_trained": "true"}
    line = format_row(row[c] for c in NETWORK_COLUMNS).encode()
    monkeypatch.setattr(os, "write", enospc)
    with pytest.raises(InputError, match=rf"^disk full: {len(line)} bytes needed at {path}$"):
        table_.append(row)
    monkeypatch.undo()
    assert path.read_bytes() == before and ("n1",) not in table_


def test_files_follow_the_umask_and_the_folder_is_synced(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(atomic, "fsync_directory", synced.append)
    previous = os.umask(0o022)
    try:
        written = atomic_write_text(tmp_path / "a.txt", "a")
        os.umask(0o002)
        shared = atomic_write_text(tmp_path / "b.txt", "b")
    finally:
        os.umask(previous)
    assert written.stat().st_mode & 0o777 == 0o644
    assert shared.stat().st_mode & 0o777 == 0o664
    assert synced == [tmp_path, tmp_path]


def test_a_resume_removes_the_temp_files_of_interrupted_writes(mini_copy, mini_config):
    stale = [mini_copy / ".betti.csv.k2j_x9ab", mini_copy / "params" / ".n.npz.0123abcd"]
    keep = [mini_copy / ".hidden", mini_copy / "notes.txt"]
    for path in stale + keep:
        path.write_text("")
    resume(mini_config, mini_copy)
    assert [path.exists() for path in stale + keep] == [False, False, True, True]


def test_a_full_tmpfs_is_one_line_and_leaves_no_temp_files(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        atomic_write_text(disk / "small.txt", "fits")
        with pytest.raises(InputError, match=r"^disk full: \d+ bytes needed at .*big.bin$"):
            atomic_write(disk / "big.bin", lambda handle: handle.write(b"x" * 200_000))
        path = disk / "networks.csv"
        networks = CsvTable(path, NETWORK_COLUMNS, NETWORK_KEY, network_problem)
        filler = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            with pytest.raises(OSError, match="No space left"):
                while True:
                    os.write(filler, b"x" * 4096)
        finally:
            os.close(filler)
        before = path.read_bytes()
        row = dict.fromkeys(NETWORK_COLUMNS, "1") | {"network_id": "n" * 5000}
        with pytest.raises(InputError, match="^disk full: "):
            networks.append(row)
        assert path.read_bytes() == before
        assert temp_files(disk) == [] and (disk / "small.txt").read_text() == "fits"
    finally:
        subprocess.run(["umount", str(disk)], check=False)


# 3. values read from a store ---------------------------------------------------------------

BETTI = betti_columns(1)
GOOD_BETTI = {"network_id": "n1", "layer": "0", "label": "0", "n_points": "100", "k": "13"}
GOOD_BETTI |= {"scale": "2", "b0": "9", "b1": "0", "seconds": "0.1"}
GOOD_NETWORK = {"network_id": "n1", "dataset": "D-I", "architecture": "2_by_4"}
GOOD_NETWORK |= {"activation": "tanh", "seed": "0", "steps": "100", "train_accuracy": "0.5"}
GOOD_NETWORK |= {"test_accuracy": "0.5", "well_trained": "false"}


def write_table(path: Path, columns, rows: list[dict]) -> None:
    path.write_text(format_row(columns) + "".join(format_row(r[c] for c in columns) for r in rows))


@pytest.mark.parametrize(
    ("value", "problem"),
    [("x", "b0 'x'"), ("-3", "b0 '-3'"), ("2.5", "b0 '2.5'"), ("", "b0 ''")],
)
def test_a_betti_row_that_does_not_parse_is_dropped_with_a_warning(tmp_path, value, problem):
    path = tmp_path / "betti.csv"
    other = GOOD_BETTI | {"label": "1"}
    write_table(path, BETTI, [GOOD_BETTI | {"b0": value}, other])
    with pytest.warns(
        UserWarning, match=rf"betti.csv: line 2 \(network_id n1, layer 0, label 0\) {problem}"
    ):
        kept = CsvTable(path, BETTI, betti_key(False), betti_problem)
    assert ("n1", 0, 0) not in kept and ("n1", 0, 1) in kept
    assert table(path) == table_of([other])  # rewritten without it


def table_of(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


@pytest.mark.parametrize(
    ("change", "problem"),
    [({"well_trained": "yes"}, "well_trained 'yes'"), ({"steps": "1.5"}, "steps '1.5'")],
)
def test_a_network_row_that_does_not_parse_is_dropped_with_a_warning(tmp_path, change, problem):
    path = tmp_path / "networks.csv"
    write_table(path, NETWORK_COLUMNS, [GOOD_NETWORK | change])
    with pytest.warns(UserWarning, match=rf"networks.csv: line 2 \(network_id n1\) {problem}"):
        kept = CsvTable(path, NETWORK_COLUMNS, NETWORK_KEY, network_problem)
    assert ("n1",) not in kept


def test_a_key_held_twice_with_different_values_is_dropped(tmp_path):
    networks, betti = tmp_path / "networks.csv", tmp_path / "betti.csv"
    write_table(networks, NETWORK_COLUMNS, [GOOD_NETWORK, GOOD_NETWORK | {"steps": "200"}])
    write_table(betti, BETTI, [GOOD_BETTI, GOOD_BETTI | {"b0": "8"}])
    with pytest.warns(UserWarning, match="network_id n1 is held twice with different values"):
        assert ("n1",) not in CsvTable(networks, NETWORK_COLUMNS, NETWORK_KEY, network_problem)
    with pytest.warns(UserWarning, match="layer 0, label 0 is held twice"):
        assert ("n1", 0, 0) not in CsvTable(betti, BETTI, betti_key(False), betti_problem)
    write_table(networks, NETWORK_COLUMNS, [GOOD_NETWORK, GOOD_NETWORK])  # an exact repeat
    assert ("n1",) in CsvTable(networks, NETWORK_COLUMNS, NETWORK_KEY, network_problem)
    assert len(table(networks)) == 1


def test_a_betti_header_without_a_column_names_it(tmp_path):
    path = tmp_path / "betti.csv"
    write_table(path, [c for c in BETTI if c != "b1"], [GOOD_BETTI])
    with pytest.raises(InputError, match=r"missing column\(s\) b1; this directory"):
        CsvTable(path, BETTI, betti_key(False), betti_problem)


def test_resume_redoes_rows_whose_values_do_not_parse(mini_store, mini_copy, mini_config):
    betti, networks = mini_copy / "betti.csv", mini_copy / "networks.csv"
    lines = betti.read_text().splitlines(keepends=True)
    for number, value in ((3, "x"), (4, "-3")):  # b0 of the rows on lines 4 and 5
        fields = lines[number].split(",")
        fields[6] = value
        lines[number] = ",".join(fields)
    betti.write_text("".join(lines))
    networks.write_text(networks.read_text().replace(",false\n", ",yes\n"))
    with pytest.warns(UserWarning) as warned:
        resume(mini_config, mini_copy)
    messages = "\n".join(str(w.message) for w in warned)
    assert "line 4" in messages and "b0 'x'" in messages and "line 5" in messages
    assert "b0 '-3'" in messages and "well_trained 'yes'" in messages
    assert table(betti) == table(mini_store / "betti.csv")
    assert table(networks) == table(mini_store / "networks.csv")


def copy_with(mini_copy: Path, name: str, old: str, new: str) -> Path:
    path = mini_copy / name
    path.write_text(path.read_text().replace(old, new, 1))
    return mini_copy


@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    [
        ("betti.csv", ",13,2,9,", ",13,2,x,", r"betti.csv: line 2 \(D-I_2_by_4_tanh_s0\) b0 'x'"),
        ("betti.csv", ",13,2,9,", ",13,2,-3,", "b0 '-3' is not an integer"),
        ("betti.csv", ",13,2,9,", ",13,2,2.5,", "b0 '2.5' is not an integer"),
        ("networks.csv", ",false\n", ",yes\n", "networks.csv: line 2 .* well_trained 'yes'"),
    ],
)
def test_a_summary_of_bad_values_names_file_and_line(mini_copy, capsys, name, old, new, message):
    copy_with(mini_copy, name, old, new)
    with pytest.raises(InputError, match=message):
        load_store(mini_copy)
    assert main(["summary", str(mini_copy)]) == 2
    one_line_error(capsys)


def test_a_summary_of_repeated_keys_names_both_lines(mini_copy):
    for name in ("networks.csv", "betti.csv"):
        path = mini_copy / name
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join([*lines, lines[1]]))
        with pytest.raises(InputError, match=rf"{name}: line {len(lines) + 1} repeats line 2"):
            load_store(mini_copy)
        path.write_text("".join(lines))


def test_a_summary_of_a_betti_table_without_a_column_names_it(mini_copy):
    betti = mini_copy / "betti.csv"
    text = betti.read_text()
    rows = list(csv.reader(text.splitlines()))
    column = rows[0].index("n_points")
    with betti.open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(
            r[:column] + r[column + 1 :] for r in rows
        )
    with pytest.raises(InputError, match=r"betti.csv: malformed, missing column\(s\) n_points"):
        load_store(mini_copy)
    betti.write_text(text)
    config = json.loads((mini_copy / "config.json").read_text())
    config["topology"]["maxdim"] = 2  # its config says b2 was measured: the column was removed
    (mini_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match=r"missing column\(s\) b2"):
        load_store(mini_copy)


# 4. a resume proves it is the same experiment ----------------------------------------------


def test_a_store_of_trained_networks_without_its_config_is_not_resumed(mini_copy, mini_config):
    for name in ("config.json", "networks.csv", "betti.csv"):
        (mini_copy / name).unlink()
    longer = dataclasses.replace(
        mini_config, training=dataclasses.replace(mini_config.training, max_steps=200)
    )
    with pytest.raises(InputError, match="holds params but no config.json"):
        resume(longer, mini_copy)


def test_a_resume_under_another_max_steps_says_what_differs(mini_copy, mini_config):
    longer = dataclasses.replace(
        mini_config, training=dataclasses.replace(mini_config.training, max_steps=200)
    )
    with pytest.raises(InputError, match=r"differs in \[training\] max_steps \(100 there, 200"):
        resume(longer, mini_copy)


# 5. output paths -----------------------------------------------------------------------------


@pytest.fixture
def blocked(tmp_path) -> tuple[Path, Path]:
    """(a regular file, a path whose parent is that file)."""
    file = tmp_path / "file"
    file.write_text("")
    return file, file / "out"


def test_run_train_and_report_refuse_an_output_path_that_is_a_file(
    tmp_path, capsys, blocked, mini_store, monkeypatch
):
    import topnn_jax.cli.training as training_cli

    monkeypatch.setattr(training_cli, "load_dataset", pytest.fail)  # refused before any work
    config = tmp_path / "mini.toml"
    config.write_text(MINI)
    train = ["train", "--dataset", "D-I", "--arch", "2_by_4", "--activation", "tanh", "--out"]
    for out in blocked:
        for command in (
            ["run", str(config), "--out", str(out)],
            [*train, str(out)],
            ["report", str(mini_store), "--out", str(out)],
            ["plot", str(mini_store), "--out", str(out)],
        ):
            assert main(command) == 2, command
            assert f"--out {out}" in one_line_error(capsys)
        assert main(["datasets", "export", "D-I", "--out", str(out / "d.npz")]) == 2
        assert f"cannot write {out / 'd.npz'}" in one_line_error(capsys)


def test_an_unwritable_output_folder_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    if os.geteuid() == 0:  # permissions do not bind root: answer as access(2) would for a user
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != folder and real(p, mode))
    try:
        with pytest.raises(InputError, match=f"--out {folder} is not writable"):
            check_output_dir(folder)
        with pytest.raises(InputError, match=f"cannot be created: {folder} is not writable"):
            check_output_dir(folder / "new")
        config = tmp_path / "mini.toml"
        config.write_text(MINI)
        assert main(["run", str(config), "--out", str(folder / "new")]) == 2
        assert "is not writable" in one_line_error(capsys)
    finally:
        folder.chmod(0o700)
    assert list(folder.iterdir()) == []


# 6. damaged files ---------------------------------------------------------------------------


def test_a_truncated_params_file_is_named_and_trained_again_on_resume(
    mini_store, mini_copy, mini_config
):
    params = next((mini_copy / "params").glob("*.npz"))
    params.write_bytes(params.read_bytes()[:100])
    with pytest.raises(InputError, match=f"{params}: damaged"):
        load_network(params)
    betti = mini_copy / "betti.csv"
    betti.write_text(betti.read_text().splitlines(keepends=True)[0])  # so it is measured again
    with pytest.warns(UserWarning, match=f"{params}: damaged.*training .* again"):
        resume(mini_config, mini_copy)
    assert table(betti) == table(mini_store / "betti.csv")
    assert load_network(params).result == load_network(mini_store / "params" / params.name).result


def test_a_truncated_params_file_on_a_measure_only_resume_is_an_error(mini_copy, mini_config):
    params = next((mini_copy / "params").glob("*.npz"))
    params.write_bytes(params.read_bytes()[:100])
    betti = mini_copy / "betti.csv"
    betti.write_text(betti.read_text().splitlines(keepends=True)[0])
    with SerialExecutor() as executor, pytest.raises(InputError, match="without --measure-only"):
        run_experiment(mini_config, mini_copy, resume=True, train=False, executor=executor)


def test_a_config_that_is_a_list_and_tables_that_are_not_utf8_are_named(mini_copy, capsys):
    config = mini_copy / "config.json"
    saved = config.read_text()
    config.write_text("[1, 2]")
    assert main(["report", str(mini_copy)]) == 2
    assert "config.json: not a topnn-jax config" in one_line_error(capsys)
    config.write_text(saved)
    for name in ("networks.csv", "betti.csv"):
        path = mini_copy / name
        text = path.read_bytes()
        path.write_bytes(text + b"\xff\xfe\n")
        assert main(["summary", str(mini_copy)]) == 2
        assert f"{name}: not UTF-8 text" in one_line_error(capsys)
        path.write_bytes(text)


# 7. a failed run leaves nothing that blocks the corrected one ------------------------------


def test_members_are_checked_before_the_store_is_written(tmp_path, mini_config):
    out = tmp_path / "store"
    networks = mini_config.networks
    for bad in (
        dataclasses.replace(networks, seeds=(2**64,)),
        dataclasses.replace(networks, seeds=(2**63 - 1,), top_up=1),
        dataclasses.replace(networks, architectures=("3-4-2",)),  # D-I has 2 features
    ):
        config = dataclasses.replace(mini_config, networks=bad)
        with pytest.raises(InputError, match=r"\[networks\] seeds|takes 3 input features"):
            run_experiment(config, out=out)
        assert not out.exists()
    with SerialExecutor() as executor:
        run_experiment(mini_config, out=out, executor=executor)  # no --resume needed
    assert (out / "betti.csv").is_file()
