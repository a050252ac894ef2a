"""Bad inputs of issue 18: each gives a one-line `InputError` (exit 2 on the command line) that
says what was wrong and what to do, or the correct result; never a traceback, a hang or a
silent wrong number.

Inventory: 28 kinds of bad input here, 28 clear (each a row of `CASES` or, for the hang that
now gives the right result, `test_huge_scale_stops_at_the_diameter`); the faults and the
store's inputs are tested beside them (19 kinds in tests/test_faults_store.py, 4 in
tests/test_faults_processes.py, listed at the end): 51 kinds, 51 clear.

Tracebacks (9):
  toml-not-utf8        a config file that is not UTF-8
  csv-not-utf8         a CSV data file that is not UTF-8
  d1-size-1e9          D-I size = 10**9 (refused by its memory estimate)
  d2-size-1e9          D-II size = 10**9
  size-float           [data] size = 1e9 (a TOML float)
  arch-200000000-wide  architecture 2-200000000-2 (training memory)
  seeds-1e9            [networks] seeds = 1000000000 (the sweep's memory)
  train-seeds-1e9      train --seeds 1000000000 (refused before listing the seeds)
  cloud-10-million     betti_numbers of 10,000,000 points (kNN graph memory)
Hangs (3):
  scale-1e9            betti_numbers(60 points, scale=10**9): hops stop at the diameter (a result)
  depth-100000         architecture 100000_by_2 (at most 1,000 layers)
  persistence-scale    persistence(max_scale=10**9): its Betti table's memory
Silently accepted (8):
  lr-inf, lr-nan       [training] learning_rate = inf / nan (and `train --lr inf`)
  beta1-nan            another float of [training] not finite
  max-test-error-inf   [training] max_test_error = inf
  out-empty            [run] out = ""
  stride-config        [topology] stride = 100000 (1-point clouds)
  stride-betti         betti --dataset D-I --stride 100000
  stride-measure       measure --stride 100000
Unclear (6 places and messages; 8 rows):
  dir-config, dir-data, dir-npy, dir-layers   a directory where a file is expected
  mnist-options        datasets show mnist names images= and labels=
  seed-2**64           a seed of 2**64 names [networks] seeds and the limit 2**32
  train-seeds-2**64    train --seeds 2**64 names the option and its range
  max-bytes-negative   max_bytes = -5 says max_bytes must be >= 1
Training options added later (2):
  float64-without-x64  [training] precision = "float64" without JAX's 64-bit mode
  init-unknown         [training] init = "orthogonal"
Faults (tests/test_faults_processes.py, 4):
  the main process killed (SIGKILL, SIGTERM) while measuring: no worker left behind
  SIGTERM: "terminated", exit 143, the store resumes to identical tables
  a PH worker killed mid-run: its jobs rerun on a fresh pool, identical tables
  workers dying more often than max_restarts: WorkLostError in one line
Store (tests/test_faults_store.py, 19):
  two runs on one store (lock); disk full in an atomic write, in an appended row and on a
  real full tmpfs; temp files left by a failed write or an interrupted run; the umask and the
  folder's fsync; betti values x / -3 / 2.5 / empty; well_trained = yes, steps = 1.5; keys
  held twice; a header without a column; bad values in a summary; a store of networks without
  its config resumed; a resume under another max_steps; an output path that is a file, under a
  file, unwritable (run, train, report, plot, datasets export); a truncated params file on
  resume, on a measure-only resume and in a report; a config.json that is a list and tables
  that are not UTF-8; members that cannot be made checked before the store is written
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from topnn_jax.cli import main
from topnn_jax.errors import InputError
from topnn_jax.topology import betti_numbers, persistence

LAYERS_NPZ = "layers.npz"


def _config(tmp, text):
    """A config file whose results go under tmp."""
    path = tmp / "bad.toml"
    path.write_text(f'[run]\nout = "{tmp / "store"}"\n' + text if "[run]" not in text else text)
    return path


def _files(tmp):
    """Files and folders the cases point at."""
    (tmp / "folder").mkdir()
    (tmp / "folder.csv").mkdir()
    (tmp / "latin1.toml").write_bytes(b'[run]\nout = "r\xe9sultats"\n')
    (tmp / "latin1.csv").write_bytes(b"x,y,label\n0.5,1.0,0\n\xe9,2.0,1\n")
    rng = np.random.default_rng(0)
    layers = rng.normal(size=(40, 2))
    np.savez(tmp / LAYERS_NPZ, input=layers, hidden=layers * 2)
    np.save(tmp / "labels.npy", np.repeat([0, 1], 20))


def _cli(*argv):
    return ("cli", argv)


def _run_config(text):
    return ("config", text)


def _train_seeds(count):
    """`topnn-jax train` of one small network with `--seeds count`."""
    train = ("train", "--dataset", "D-I", "--arch", "3_by_6", "--activation", "relu")
    return _cli(*train, "--seeds", count, "--out", "{tmp}/store")


def _api(call):
    return ("api", call)


CASES = [
    # tracebacks
    ("toml-not-utf8", _cli("run", "{tmp}/latin1.toml"), r"config file .*latin1\.toml is not UTF-8"),
    ("csv-not-utf8", _cli("datasets", "show", "{tmp}/latin1.csv"), r"CSV file .* is not UTF-8"),
    (
        "d1-size-1e9",
        _cli("datasets", "show", "D-I", "--size", "1000000000"),
        r"D-I size 1000000000 needs about [\d.]+ GiB, over the limit of [\d.]+ GiB "
        r"\(half the RAM\); use a smaller size",
    ),
    (
        "d2-size-1e9",
        _cli("datasets", "show", "D-II", "--size", "1000000000"),
        r"D-II size 1000000000 needs about [\d.]+ GiB, over the limit",
    ),
    ("size-float", _run_config("[data]\nsize = 1e9"), r"\[data\] size must be an integer"),
    (
        "arch-200000000-wide",
        _run_config('[networks]\narchitectures = ["2-200000000-2"]'),
        r"architecture 2-200000000-2 \(1,000,000,002 parameters\): training it needs about",
    ),
    (
        "seeds-1e9",
        _run_config("[networks]\nseeds = 1000000000"),
        r"\[networks\] a sweep of 3,000,000,000 networks needs about [\d.]+ GiB, over the limit",
    ),
    (
        "cloud-10-million",
        _api(lambda: betti_numbers(np.arange(10_000_000, dtype=np.float32)[:, None], 13)),
        r"the kNN graph of 10000000 points with k = 13 \(and its hop graph\) needs about .*; use "
        r"a 2x larger stride",
    ),
    # hangs
    (
        "depth-100000",
        _run_config('[networks]\narchitectures = ["100000_by_2"]'),
        r"architecture 100000_by_2: 100,000 layers, at most 1,000 are supported",
    ),
    (
        "persistence-scale",
        _api(lambda: persistence(np.random.default_rng(0).normal(size=(60, 2)), 5, 10**9)),
        r"the Betti numbers at each of the 1000000000 hop scales needs about",
    ),
    # silently accepted
    ("lr-inf", _run_config("[training]\nlearning_rate = inf"), r"learning_rate must be a finite"),
    ("lr-nan", _run_config("[training]\nlearning_rate = nan"), r"learning_rate must be a finite"),
    (
        "lr-inf-train",
        _cli(
            "train",
            "--dataset",
            "D-I",
            "--arch",
            "3_by_4",
            "--activation",
            "relu",
            "--lr",
            "inf",
            "--out",
            "{tmp}/store",
        ),
        r"\[training\] learning_rate must be a finite number, got inf",
    ),
    ("beta1-nan", _run_config("[training]\nbeta1 = nan"), r"\[training\] beta1 must be a finite"),
    (
        "max-test-error-inf",
        _run_config("[training]\nmax_test_error = inf"),
        r"\[training\] max_test_error must be a finite",
    ),
    ("out-empty", _run_config('[run]\nout = ""'), r"\[run\] out must name the results folder"),
    (
        "stride-config",
        _run_config("[topology]\nstride = 100000"),
        r"\[topology\] D-I: stride 100000 keeps 1 of the 1054 points of class 0, but a cloud "
        r"needs at least k \+ 1 = 14 points .*use stride <= 81",
    ),
    (
        "stride-betti",
        _cli("betti", "--dataset", "D-I", "--stride", "100000"),
        r"--stride: stride 100000 keeps 1 of the 1054 points of class 0",
    ),
    (
        "stride-measure",
        _cli(
            "measure",
            "{tmp}/" + LAYERS_NPZ,
            "--labels",
            "{tmp}/labels.npy",
            "--k",
            "3",
            "--stride",
            "100000",
            "--out",
            "{tmp}/measured",
        ),
        r"^stride 100000 keeps 1 of the 20 points of class 0, .* use stride <= 6$",
    ),
    # unclear
    ("dir-config", _cli("run", "{tmp}/folder"), r"config file .*folder is a directory, not a file"),
    (
        "dir-data",
        _cli("datasets", "show", "{tmp}/folder.csv"),
        r"points file .*folder\.csv is a directory, not a file",
    ),
    (
        "dir-npy",
        _cli("betti", "{tmp}/folder", "--k", "3"),
        r"points file .*folder is a directory, not a file",
    ),
    (
        "dir-layers",
        _cli("measure", "{tmp}/folder", "--labels", "x.npy", "--k", "3", "--out", "{tmp}/m"),
        r"layers file .*folder is a directory, not a file",
    ),
    ("mnist-options", _cli("datasets", "show", "mnist"), r"pass images=FILE and labels=FILE"),
    (
        "train-seeds-2**64",
        _train_seeds(str(2**64)),
        r"^--seeds must be in 1\.\.2\*\*32 \(how many seeds\), got 18446744073709551616$",
    ),
    (
        "train-seeds-1e9",
        _train_seeds("1000000000"),
        r"^--seeds: a sweep of 1,000,000,000 networks needs about",
    ),
    (
        "seed-2**64",
        _run_config("[networks]\nseeds = [18446744073709551616]"),
        r"\[networks\] seeds: 18446744073709551616 is too large, seeds must be < 2\*\*32",
    ),
    (
        "top-up-past-2**32",
        _run_config("[networks]\nseeds = [4294967290]\ntop_up = 10"),
        r"\[networks\] top_up: 10 more seeds after 4294967290 go past 2\*\*32 - 1",
    ),
    # training options added later
    (
        "float64-without-x64",
        _run_config('[training]\nprecision = "float64"'),
        r"precision = \"float64\" needs JAX's 64-bit mode: run with JAX_ENABLE_X64=1",
    ),
    (
        "init-unknown",
        _run_config('[training]\ninit = "orthogonal"'),
        r"^\[training\] init must be one of glorot_uniform, .* got 'orthogonal'$",
    ),
    (
        "max-bytes-negative",
        _api(lambda: persistence(np.eye(5), 2, max_bytes=-5)),
        r"^max_bytes must be >= 1, got -5$",
    ),
]


@pytest.mark.parametrize(("how", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_in_one_clear_line(tmp_path, capsys, how, expected):
    _files(tmp_path)
    kind, what = how
    if kind == "api":
        with pytest.raises(InputError) as caught:
            what()
        first = str(caught.value)
    else:
        if kind == "config":
            argv = ["run", str(_config(tmp_path, what))]
        else:
            argv = [arg.format(tmp=tmp_path) for arg in what]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        first = err.splitlines()[0].split(": error: ", 1)[1]
    assert re.search(expected, first), first
    assert "\n" not in first
    assert not (tmp_path / "store").exists()


def test_huge_scale_stops_at_the_diameter():
    """scale = 10**9 gives the scale-60 result (the hop products stop at the diameter; before,
    this ran for many minutes)."""
    cloud = np.random.default_rng(0).normal(size=(60, 2))
    for collapse in ("auto", "none"):
        huge = betti_numbers(cloud, 4, scale=10**9, collapse=collapse)
        assert huge.graph == betti_numbers(cloud, 4, scale=60, collapse=collapse).graph
    for scale in (1, 2, 3, 5):  # stopping early changes no distance below the diameter
        assert betti_numbers(cloud, 4, scale=scale, collapse="none").betti == persistence(
            cloud, 4, max_scale=8
        ).betti_at(scale)
