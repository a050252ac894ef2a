"""The `topnn-jax datasets` command: listing, show, export and clear errors (exit code 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from topnn_jax.cli import main


def test_listing_names_every_builtin_set_with_true_betti(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("D-I", "D-II", "D-III", "digits", "breast-cancer"):
        assert name in out
    d2_line = next(line for line in out.splitlines() if line.startswith("D-II "))
    assert "45000" in d2_line and "(9, 9, 0) | (9, 9, 0)" in d2_line


def test_show_json(capsys):
    assert main(["datasets", "show", "D-I", "--seed", "2", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_train"] == 7_800 and info["seed"] == 2
    assert info["true_betti"] == {"0": [9, 0], "1": [1, 9]}
    assert info["preset"] == {"k": 13, "scale": 2, "stride": 3, "maxdim": 1}


def test_show_with_options(capsys):
    assert main(["datasets", "show", "digits", "-o", "digit=4", "-o", "pca=12"]) == 0
    assert "digit 4" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["datasets", "show", "nope"], "unknown data set 'nope'"),
        (["datasets", "show", "D-II", "--size", "-3"], "size must be a positive integer"),
        (["datasets", "show", "missing.npz"], "file not found"),
        (["datasets", "show", "digits", "-o", "digit"], "--option expects KEY=VALUE"),
        (["datasets", "export", "D-I", "--out", "x.txt"], "must name a .npz file"),
        (["datasets", "show", "digits", "-o", "seed=3"], "give the seed with --seed"),
        (["datasets", "show", "digits", "-o", "pca=2.5"], "pca must be between"),
        (["datasets", "show", "D-I", "-o", "size=2000"], "give the size with --size"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_closed_pipe_ends_quietly():
    with subprocess.Popen(
        [sys.executable, "-m", "topnn_jax", "datasets"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        process.stdout.readline()
        process.stdout.close()  # as `| head -1` does
        stderr = process.stderr.read().decode()
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr


def test_console_script_exit_code_and_no_traceback(tmp_path):
    bad = tmp_path / "three.csv"
    bad.write_text("0,0,0\n1,1,1\n2,2,2\n")
    result = subprocess.run(
        [sys.executable, "-m", "topnn_jax", "datasets", "show", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "labels must be the integers 0 and 1" in result.stderr
    assert "Traceback" not in result.stderr
