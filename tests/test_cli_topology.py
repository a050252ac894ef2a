"""`topnn-jax betti` and `topnn-jax select-params` (`topnn_jax.cli.topology`)."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from topnn_jax.cli import topology as topology_cmd
from topnn_jax.errors import InputError


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="topnn-jax")
    topology_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.handler(args)


def three_circles() -> tuple[np.ndarray, np.ndarray]:
    """One circle labelled 0, two labelled 1."""
    angles = 2 * np.pi * np.arange(40) / 40
    ring = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    points = np.concatenate([ring, ring + [4.0, 0.0], ring + [8.0, 0.0]])
    return points, np.array([0] * 40 + [1] * 80)


@pytest.fixture
def files(tmp_path):
    points, labels = three_circles()
    np.save(tmp_path / "points.npy", points)
    np.save(tmp_path / "labels.npy", labels)
    return tmp_path


def test_betti_of_one_cloud_as_json(files, capsys):
    assert run("betti", str(files / "points.npy"), "--k", "3", "--scale", "2", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["betti"] == [3, 3]
    assert out["n_points"] == 120 and out["k"] == 3
    documented = {"betti", "n_points", "k", "seconds"}  # the JSON fields
    assert documented <= set(out)


def test_betti_per_class(files, capsys):
    argv = ("betti", str(files / "points.npy"), "--labels", str(files / "labels.npy"), "--k", "3")
    assert run(*argv, "--maxdim", "2", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["classes"]["0"]["betti"] == [1, 1, 0]
    assert out["classes"]["1"]["betti"] == [2, 2, 0]
    assert run(*argv) == 0
    text = capsys.readouterr().out
    assert "class a (label 0): betti (1, 1)" in text and "class b (label 1): betti (2, 2)" in text


def test_betti_of_a_data_set_at_its_preset(capsys):
    assert run("betti", "--dataset", "D-I", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["classes"]["0"]["betti"] == [9, 0]
    assert out["classes"]["1"]["betti"] == [1, 9]
    assert out["classes"]["1"]["k"] == 13
    assert run("betti", "--dataset", "D-I", "--maxdim", "0") == 0
    assert "class b (label 1): betti (1,)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("make", "argv", "message"),
    [
        (None, ("betti",), "exactly one of"),
        (None, ("betti", "{tmp}/points.npy", "--dataset", "D-I"), "exactly one of"),
        (None, ("betti", "{tmp}/missing.npy", "--k", "3"), "does not exist"),
        ("text", ("betti", "{tmp}/bad.npy", "--k", "3"), "not a .npy file"),
        ("object", ("betti", "{tmp}/bad.npy", "--k", "3"), "not a readable numeric .npy"),
        (None, ("betti", "{tmp}/points.npy"), "--k is required"),
        (None, ("betti", "{tmp}/points.npy", "--k", "3", "--stride", "2"), "--stride goes"),
        (
            "short",
            ("betti", "{tmp}/points.npy", "--labels", "{tmp}/bad.npy", "--k", "3"),
            "one label",
        ),
        (
            "floats",
            ("betti", "{tmp}/points.npy", "--labels", "{tmp}/bad.npy", "--k", "3"),
            "integer",
        ),
        (None, ("betti", "{tmp}/points.npy", "--k", "0"), "k must be >= 1"),
        (None, ("betti", "{tmp}/points.npy", "--k", "3", "--maxdim", "5"), "maxdim must be in"),
        (None, ("betti", "--dataset", "D-I", "--labels", "{tmp}/labels.npy"), "--labels goes"),
        (None, ("select-params", "D-I", "--ks", "a,b"), "comma list of integers"),
    ],
)
def test_bad_input(files, make, argv, message):
    bad = files / "bad.npy"
    if make == "text":
        bad.write_text("1,2,3\n")
    elif make == "object":
        np.save(bad, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif make == "short":
        np.save(bad, np.zeros(3, dtype=np.int64))
    elif make == "floats":
        np.save(bad, np.zeros(120))
    with pytest.raises(InputError, match=message):
        run(*(part.format(tmp=files) for part in argv))


def test_select_params_marks_where_the_truth_is_recovered(capsys):
    argv = ("select-params", "D-I", "--ks", "2,13", "--scales", "2", "--workers", "2")
    assert run(*argv) == 0
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.strip().startswith("13 "))
    assert "(9,0) (1,9) *" in row
    assert run(*argv, "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["recovered"] == [[13, 2]]
    assert {(e["label"], e["k"]) for e in out["entries"]} == {(0, 2), (0, 13), (1, 2), (1, 13)}
