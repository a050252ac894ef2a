"""Data sets: the paper's sizes and geometry, determinism from seeds, loaders and their errors."""

from __future__ import annotations

import gzip
import math
import random

import numpy as np
import pytest
import sklearn.datasets

from topnn_jax.datasets import REGISTRY, load
from topnn_jax.datasets.real import _shipped_table
from topnn_jax.datasets.synthetic import (
    D1_CENTRES,
    D3_CENTRES,
    D3_FIRST_PHASE,
    d2_points,
    d3_points,
)
from topnn_jax.errors import InputError


@pytest.fixture(scope="module")
def d1():
    return load("D-I", seed=0)


@pytest.fixture(scope="module")
def d2():
    return load("D-II", seed=0)


@pytest.fixture(scope="module")
def d3():
    return load("D-III", seed=0)


def test_registry_lists_the_paper_sets_and_real_data():
    assert {"D-I", "D-II", "D-III", "digits", "breast-cancer"} <= set(REGISTRY)


def test_d1_sizes_match_the_paper(d1):
    assert len(d1.train_labels) + len(d1.test_labels) == 10_050
    assert len(d1.train_labels) == 7_800
    all_labels = np.concatenate([d1.train_labels, d1.test_labels])
    assert np.sum(all_labels == 0) == 1_344 and np.sum(all_labels == 1) == 8_706
    assert d1.train_points.dtype == np.float32 and d1.train_points.shape[1] == 2
    # The paper computes homology on every 3rd training point: 2,600 in all.
    total = sum(len(d1.homology_subsample(label)) for label in (0, 1))
    assert abs(total - 2_600) <= 2


def test_d1_labels_follow_the_disks(d1):
    points = np.concatenate([d1.train_points, d1.test_points]).astype(np.float64) * 10
    labels = np.concatenate([d1.train_labels, d1.test_labels])
    nearest = np.min(np.linalg.norm(points[:, None] - D1_CENTRES[None], axis=-1), axis=1)
    assert np.all(nearest[labels == 0] < 1.3 + 1e-5)
    assert np.all(nearest[labels == 1] >= 1.8 - 1e-5)
    # each of the nine disks holds points
    owner = np.argmin(np.linalg.norm(points[:, None] - D1_CENTRES[None], axis=-1), axis=1)
    assert len(np.unique(owner[labels == 0])) == 9


def test_d1_train_and_test_are_disjoint_and_in_generator_order(d1):
    train = {tuple(p) for p in d1.train_points.tolist()}
    test = {tuple(p) for p in d1.test_points.tolist()}
    assert not train & test
    # generator order: x outer, y inner, so (x, y) increases lexicographically
    keys = d1.train_points[:, 0] * 1000 + d1.train_points[:, 1]
    assert np.all(np.diff(keys) > 0)


def test_d2_sizes_and_range(d2):
    assert len(d2.train_labels) == 45_000
    assert d2.class_counts() == (22_500, 22_500)
    assert np.abs(d2.train_points).max() == pytest.approx(1.0)
    assert np.all(np.abs(d2.train_points) <= 1.0)
    assert len(d2.test_labels) == 45_000
    assert not np.array_equal(d2.train_points, d2.test_points)
    assert np.array_equal(d2.train_labels, d2.test_labels)
    assert len(d2.homology_subsample(0)) + len(d2.homology_subsample(1)) == 11_250


def test_d2_rings_have_the_paper_geometry():
    points, labels = d2_points(200, 0.425, np.random.default_rng(0))
    assert points.shape == (36 * 200, 3)
    slack = 0.425 * math.sqrt(2) + 1e-9
    # pair 1 is centred at (3, 3, 3) with f = 0: xy-ring shifted by (1.3, 0, 0) has label 0,
    # then the xz-ring has label 1; each ring is circles of radius 1.5 then 1.3.
    for start, radius in ((0, 1.5), (200, 1.3)):
        ring = points[start : start + 200] - np.array([4.3, 3.0, 3.0])
        in_plane = np.hypot(ring[:, 0], ring[:, 1])
        assert np.all(np.abs(in_plane - radius) <= slack)
        assert np.all(np.abs(ring[:, 2]) <= 0.425)
    for start, radius in ((400, 1.5), (600, 1.3)):
        ring = points[start : start + 200] - np.array([3.0, 3.0, 3.0])
        assert np.all(np.abs(np.hypot(ring[:, 0], ring[:, 2]) - radius) <= slack)
        assert np.all(np.abs(ring[:, 1]) <= 0.425)
    assert np.all(labels[:400] == 0) and np.all(labels[400:800] == 1)
    assert np.all(labels[800:1200] == 1)  # pair 2 has f = 1


def test_d3_sizes_and_phase(d3):
    assert len(d3.train_labels) == 37_800
    assert d3.class_counts() == (18_000, 19_800)
    assert np.abs(d3.train_points).max() == pytest.approx(1.0)
    random.seed(1)
    assert pytest.approx(1000 * random.random()) == D3_FIRST_PHASE
    assert not np.array_equal(d3.train_points, d3.test_points)


def test_d3_spheres_have_the_paper_radii(d3):
    phases = np.ones((9, 5))
    phases[:, 0] = D3_FIRST_PHASE
    points, labels = d3_points(1000, 200, phases)
    scale = np.abs(points).max(axis=0)
    np.testing.assert_array_equal(d3.train_points, (points / scale).astype(np.float32))
    expected = [(1.0, 0), (1.05, 0), (2.0, 1), (2.05, 1), (0.5, 1)]
    start = 0
    for centre in D3_CENTRES:
        for radius, label in expected:
            count = 200 if radius == 0.5 else 1000
            part = points[start : start + count] - np.asarray(centre)
            np.testing.assert_allclose(np.linalg.norm(part, axis=1), radius, rtol=1e-12)
            assert np.all(labels[start : start + count] == label)
            start += count
    assert start == 37_800


def test_d3_first_points_follow_the_papers_fibonacci_formula(d3):
    # the paper's Fibonacci sphere: y_i = (i + 0.5) 2/n - 1, rho_i = sqrt(1 - y_i^2),
    # phi_i = ((i + p) mod n) pi (3 - sqrt 5), point = r (rho cos phi, y, rho sin phi);
    # the first sphere has r = 1, n = 1000, p = 134.364...
    phases = np.ones((9, 5))
    phases[:, 0] = D3_FIRST_PHASE
    scale = np.abs(d3_points(1000, 200, phases)[0]).max(axis=0)
    for i in (0, 1, 517, 999):
        y = (i + 0.5) * 2 / 1000 - 1
        rho = math.sqrt(1 - y * y)
        phi = ((i + 134.36424411240122) % 1000) * math.pi * (3 - math.sqrt(5))
        expected = np.array([rho * math.cos(phi), y, rho * math.sin(phi)]) / scale
        np.testing.assert_allclose(d3.train_points[i], expected, rtol=1e-6, atol=1e-7)


def test_same_seed_is_byte_identical_and_other_seeds_differ():
    for name in ("D-I", "D-II", "D-III"):
        a, b = load(name, seed=5), load(name, seed=5)
        for field in ("train_points", "train_labels", "test_points", "test_labels"):
            assert getattr(a, field).tobytes() == getattr(b, field).tobytes()
    assert not np.array_equal(load("D-I", seed=0).train_points, load("D-I", seed=1).train_points)
    small = {"size": 3000}
    d2a, d2b = load("D-II", seed=0, **small), load("D-II", seed=1, **small)
    assert not np.array_equal(d2a.train_points, d2b.train_points)
    d3a, d3b = load("D-III", seed=0, size=4000), load("D-III", seed=1, size=4000)
    assert np.array_equal(d3a.train_points, d3b.train_points)  # the paper's fixed spheres
    assert not np.array_equal(d3a.test_points, d3b.test_points)


def test_homology_subsample_is_every_stride_th_class_point(d1):
    for label in (0, 1):
        members = d1.train_points[d1.train_labels == label]
        sub = d1.homology_subsample(label)
        assert len(sub) == math.ceil(len(members) / 3)
        np.testing.assert_array_equal(sub, members[::3])
        np.testing.assert_array_equal(d1.homology_subsample(label, stride=1), members)


@pytest.mark.parametrize(
    ("name", "size", "expected_n"),
    [("D-I", 2000, 2000), ("D-II", 3000, 2988), ("D-III", 4000, 4005)],
)
def test_small_versions(name, size, expected_n):
    dataset = load(name, seed=0, size=size)
    n = len(dataset.train_labels) + (len(dataset.test_labels) if name == "D-I" else 0)
    assert abs(n - expected_n) <= 0.05 * expected_n
    assert set(np.unique(dataset.train_labels)) == {0, 1}


@pytest.mark.parametrize("size", [0, -5])
def test_non_positive_size_is_refused(size):
    with pytest.raises(InputError, match="size must be a positive integer"):
        load("D-II", size=size)


@pytest.mark.parametrize(("name", "size"), [("D-I", 500), ("D-II", 1000), ("D-III", 1000)])
def test_too_small_versions_say_the_minimum(name, size):
    with pytest.raises(InputError, match="use size >="):
        load(name, size=size)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"pca": "abc"}, "pca must be between 1 and 64"),
        ({"pca": 2.5}, "pca must be between 1 and 64"),
        ({"test_fraction": "x"}, "test_fraction must be a number"),
        ({"digit": 12}, "digit must be one of 0..9"),
    ],
)
def test_bad_option_values_are_explained(options, message):
    with pytest.raises(InputError, match=message):
        load("digits", **options)


def test_unknown_name_and_option_and_bad_seed():
    with pytest.raises(InputError, match="unknown data set 'D-IV'.*available: D-I"):
        load("D-IV")
    with pytest.raises(InputError, match="does not take option.*noise"):
        load("D-I", noise=0.1)
    with pytest.raises(InputError, match="seed must be a non-negative integer"):
        load("D-I", seed=-1)


def test_aliases_are_case_insensitive():
    assert load("d1", size=2000).name == "D-I"


def test_digits_zero_versus_rest():
    data = load("digits", seed=0)
    assert data.dim == 64
    total0 = data.class_counts("train")[0] + data.class_counts("test")[0]
    assert total0 == 178  # zeros in scikit-learn's digits
    assert len(data.train_labels) + len(data.test_labels) == 1_797
    assert data.train_points.min() >= 0 and data.train_points.max() <= 1
    reduced = load("digits", seed=0, pca=10, digit=3)
    assert reduced.dim == 10
    assert reduced.class_counts("train")[0] + reduced.class_counts("test")[0] == 183


@pytest.mark.parametrize(
    ("table", "header_rows", "loader"),
    [("digits.csv.gz", 0, "load_digits"), ("breast_cancer.csv", 1, "load_breast_cancer")],
)
def test_shipped_tables_are_scikit_learns(table, header_rows, loader):
    """digits and breast-cancer read scikit-learn's files themselves (without importing it):
    the same features and targets as its loaders."""
    shipped = getattr(sklearn.datasets, loader)()
    features, target = _shipped_table(table, header_rows)
    np.testing.assert_array_equal(features, shipped.data)
    np.testing.assert_array_equal(target, shipped.target)


def test_breast_cancer_is_standardised_on_training_data():
    data = load("breast-cancer", seed=0)
    assert data.dim == 30 and len(data.train_labels) + len(data.test_labels) == 569
    np.testing.assert_allclose(data.train_points.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(data.train_points.std(axis=0), 1, atol=1e-4)


def test_npz_and_csv_point_files(tmp_path):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(40, 3))
    labels = np.repeat([0, 1], 20)
    np.savez(tmp_path / "cloud.npz", points=points, labels=labels)
    data = load(str(tmp_path / "cloud.npz"), seed=0)
    assert len(data.train_labels) == 30 and len(data.test_labels) == 10
    assert data.class_counts("test") == (5, 5)
    csv = tmp_path / "cloud.csv"
    rows = ["x,y,z,label"] + [
        f"{p[0]},{p[1]},{p[2]},{lab}" for p, lab in zip(points, labels, strict=True)
    ]
    csv.write_text("\n".join(rows) + "\n")
    from_csv = load("points", path=str(csv), seed=0)
    np.testing.assert_allclose(from_csv.train_points, data.train_points, rtol=1e-6)


def test_export_layout_round_trips(tmp_path):
    from topnn_jax.cli import main

    out = tmp_path / "d1.npz"
    assert (
        main(["datasets", "export", "D-I", "--size", "2000", "--seed", "3", "--out", str(out)]) == 0
    )
    original = load("D-I", seed=3, size=2000)
    with np.load(out) as archive:
        assert sorted(archive.files) == sorted(
            ["train_points", "train_labels", "test_points", "test_labels"]
        )
        np.testing.assert_array_equal(archive["train_points"], original.train_points)
    reloaded = load(str(out))
    np.testing.assert_array_equal(reloaded.test_labels, original.test_labels)


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_mnist_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(120, 6, 6))
    digits = np.tile(np.arange(10), 12)
    write_idx(tmp_path / "images.idx.gz", images)
    write_idx(tmp_path / "labels.idx", digits)
    data = load(
        "mnist", images=tmp_path / "images.idx.gz", labels=tmp_path / "labels.idx", pca=5, digit=7
    )
    assert data.dim == 5
    assert data.class_counts("train")[0] + data.class_counts("test")[0] == 12
    write_idx(tmp_path / "short.idx", digits[:50])
    with pytest.raises(InputError, match="expected images"):
        load("mnist", images=tmp_path / "images.idx.gz", labels=tmp_path / "short.idx")
    (tmp_path / "junk.idx").write_bytes(b"not an idx file")
    with pytest.raises(InputError, match="bad magic number"):
        load("mnist", images=tmp_path / "junk.idx", labels=tmp_path / "labels.idx")


def test_htru2_csv(tmp_path):
    rng = np.random.default_rng(1)
    features = rng.normal(size=(60, 8))
    classes = np.repeat([0, 1], 30)
    path = tmp_path / "HTRU_2.csv"
    path.write_text(
        "\n".join(",".join(map(str, [*f, c])) for f, c in zip(features, classes, strict=True))
    )
    data = load("htru2", path=path)
    assert data.dim == 8 and data.class_counts("test") == (8, 8)  # stratified: 30 * 0.25 each
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(",".join(map(str, f)) for f in features))
    with pytest.raises(InputError, match="8 feature columns and a class column"):
        load("htru2", path=bad)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1,2,0\n3,4\n", "row 2 has 2 columns"),
        ("1,2,0\n3,x,1\n", "non-numeric"),
        ("", "empty"),
        ("1,2,0\n3,4,2\n5,6,1\n", "labels must be the integers 0 and 1"),
        ("1,2,0\n3,4,0\n5,6,0\n", "only label \\[0\\] is present"),
        ("1,nan,0\n3,4,1\n5,6,1\n", "NaN or inf"),
    ],
)
def test_malformed_csv_files_are_explained(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        load(str(path))


def test_missing_and_malformed_npz(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load("points", path=tmp_path / "absent.npz")
    (tmp_path / "broken.npz").write_bytes(b"garbage")
    with pytest.raises(InputError, match="not a readable .npz"):
        load(str(tmp_path / "broken.npz"))
    np.savez(tmp_path / "wrong.npz", x=np.zeros((3, 2)))
    with pytest.raises(InputError, match="expected arrays 'points' and 'labels'"):
        load(str(tmp_path / "wrong.npz"))
    np.savez(tmp_path / "ragged.npz", points=np.zeros((3, 2)), labels=np.array([0, 1]))
    with pytest.raises(InputError, match="one label per point"):
        load(str(tmp_path / "ragged.npz"))
    with pytest.raises(InputError, match="no file given"):
        load("htru2")
