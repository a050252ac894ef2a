"""Exact kNN, on the JAX device (`topology.knn_device`) and on the host (`topology.knn_host`: a
kd-tree or scikit-learn's brute force), against float64 brute force and each other."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.neighbors import NearestNeighbors

from topnn_jax.errors import InputError
from topnn_jax.topology import distinct_points, knn_engine, neighbour_table
from topnn_jax.topology.knn_device import device_knn_indices
from topnn_jax.topology.knn_host import Search, choose_method, host_knn_indices


def brute_force(points: np.ndarray, k: int) -> np.ndarray:
    """Each point's k nearest others by float64 distance, ties by lower index."""
    points = np.asarray(points, dtype=np.float64)
    everyone = np.arange(len(points))
    rows = []
    for i, point in enumerate(points):
        sq = np.sum((points - point) ** 2, axis=1)
        sq[i] = np.inf
        rows.append(np.lexsort((everyone, sq))[:k])
    return np.array(rows)


def same_sets(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(np.sort(a, axis=1), np.sort(b, axis=1)))


ENGINES = {
    "device": lambda points, k: device_knn_indices(points.astype(np.float32), k),
    "tree": lambda points, k: host_knn_indices(points.astype(np.float64), k, "tree"),
    "brute": lambda points, k: host_knn_indices(points.astype(np.float32), k, "brute", 2),
    "auto": lambda points, k: host_knn_indices(points, k),
}


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 150),
    d=st.integers(1, 6),
    k=st.integers(1, 20),
    grid=st.booleans(),
)
def test_matches_brute_force_with_ties_and_duplicates(engine, seed, n, d, k, grid):
    rng = np.random.default_rng(seed)
    # integer grids give many exact ties and duplicate points
    points = rng.integers(0, 4, size=(n, d)) if grid else rng.normal(size=(n, d))
    k = min(k, n - 1)
    found = ENGINES[engine](points, k)
    assert found.shape == (n, k) and found.dtype == np.int64
    assert same_sets(found, brute_force(points, k))


@pytest.mark.parametrize(("n", "d", "k"), [(3000, 3, 34), (2500, 2, 13), (1500, 15, 10)])
def test_large_clouds_match_scikit_learn(n, d, k):
    # large enough for the kd-leaf pass; continuous data has no ties
    points = np.random.default_rng(n).normal(size=(n, d)).astype(np.float32)
    points[:, 0] *= 5  # anisotropic, as real clouds are
    _, expected = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(points).kneighbors()
    found = device_knn_indices(points, k)
    assert found.shape == (n, k)
    assert found.dtype == np.int64
    assert same_sets(found, brute_force(points, k))
    assert same_sets(found, expected[:, :k])


def test_grid_cloud_with_ties_in_leaf_pass():
    # 48 x 48 grid: every row has exact ties at the k-th place
    points = np.stack(np.meshgrid(np.arange(48), np.arange(48)), axis=-1).reshape(-1, 2)
    assert same_sets(device_knn_indices(points.astype(np.float32), 6), brute_force(points, 6))


def test_self_is_never_a_neighbour_but_duplicates_are():
    points = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [5.0, 5.0]])
    found = device_knn_indices(points, 1)
    assert found[:, 0].tolist() == [1, 0, 0, 2]


def test_deterministic():
    points = np.random.default_rng(1).integers(0, 3, size=(200, 2)).astype(np.float32)
    assert np.array_equal(device_knn_indices(points, 7), device_knn_indices(points, 7))


@pytest.mark.parametrize("k", [0, 5])
def test_k_out_of_range(k):
    with pytest.raises(InputError, match="k must be between 1 and n - 1"):
        device_knn_indices(np.zeros((5, 2)) + np.arange(5)[:, None], k)


def test_small_block_budget_gives_same_answer():
    points = np.random.default_rng(2).normal(size=(700, 4)).astype(np.float32)
    assert np.array_equal(
        device_knn_indices(points, 9, block_bytes=1), device_knn_indices(points, 9)
    )


# --- the host engine ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["tree", "brute"])
def test_host_with_duplicates_crowding_out_the_point_itself(method):
    # 30 copies of one point: the candidates may all be copies, none the point itself
    points = np.vstack([np.zeros((30, 2)), np.arange(10.0)[:, None] * [1.0, 0.0] + 1])
    for k in (1, 3, 12):
        assert same_sets(host_knn_indices(points, k, method), brute_force(points, k))


@pytest.mark.parametrize("method", ["tree", "brute"])
def test_host_with_distances_that_overflow_to_inf(method):
    # cKDTree answers "no neighbour" (index n) where a squared distance overflows
    points = np.array([[0.0], [1.0], [1e200], [-1e200]])
    for k in (1, 2, 3):
        found = host_knn_indices(points, k, method)
        assert found.max() < len(points)
        assert found[0, 0] == 1 and found[1, 0] == 0


@pytest.mark.parametrize(("n", "d", "k"), [(3000, 3, 34), (2500, 2, 13), (1500, 15, 10)])
def test_host_and_device_engines_give_the_same_sets(n, d, k):
    points = np.random.default_rng(n).normal(size=(n, d)).astype(np.float32)
    points[:, 0] *= 5
    device = device_knn_indices(points, k)
    for method in ("tree", "brute"):
        assert same_sets(host_knn_indices(points, k, method), device)


def test_tree_on_a_grid_with_ties_at_the_kth_place():
    points = np.stack(np.meshgrid(np.arange(48), np.arange(48)), axis=-1).reshape(-1, 2)
    for method in ("tree", "brute"):
        assert same_sets(host_knn_indices(points, 6, method), brute_force(points, 6))


@pytest.mark.parametrize("k", [0, 5])
def test_tree_k_out_of_range(k):
    with pytest.raises(InputError, match="k must be between 1 and n - 1"):
        host_knn_indices(np.zeros((5, 2)) + np.arange(5)[:, None], k)


def test_neighbour_table_is_the_same_with_every_engine():
    points = np.random.default_rng(3).integers(0, 5, size=(400, 3)).astype(np.float32)
    tables = {engine: neighbour_table(points, 9, engine) for engine in ("auto", "tree", "brute")}
    tables["device"] = neighbour_table(points, 9, "device")
    for table in tables.values():
        assert same_sets(table.neighbours, brute_force(distinct_points(points), 9))
        assert same_sets(table.neighbours, tables["auto"].neighbours)
        assert (table.n_input, table.k, table.k_used) == (400, 9, 9)
    with pytest.raises(InputError, match="kNN engine must be one of auto, tree, brute, device"):
        neighbour_table(points, 9, "gpu")
    assert knn_engine("auto") == "auto"


# --- wide clouds: the host's two searches and the choice between them -----------------------


def relu_features(n: int, d: int, seed: int = 0) -> np.ndarray:
    """float32[n, d]: a noisy circle through one random ReLU layer (a wide, low-dimensional
    cloud, as network layers are)."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi, n)
    circle = np.stack([np.cos(angle), np.sin(angle)], axis=1) + 0.05 * rng.normal(size=(n, 2))
    return np.maximum(circle @ rng.normal(size=(2, d)) + 0.5 * rng.normal(size=d), 0).astype(
        np.float32
    )


@pytest.mark.parametrize("method", ["tree", "brute"])
@pytest.mark.parametrize(
    ("cloud", "k"),
    [("relu_512", 13), ("gaussian_40", 9), ("grid_in_64", 6), ("clustered_300", 20)],
)
def test_wide_clouds_match_brute_force(method, cloud, k):
    rng = np.random.default_rng(7)
    if cloud == "relu_512":
        points = relu_features(700, 512)
    elif cloud == "gaussian_40":
        points = rng.normal(size=(900, 40))
    elif cloud == "grid_in_64":  # exact ties at the k-th place, embedded in 64 coordinates
        grid = np.stack(np.meshgrid(np.arange(20), np.arange(20)), axis=-1).reshape(-1, 2)
        points = grid @ np.linalg.qr(rng.normal(size=(64, 64)))[0][:2] * 3.0
        points = np.round(points, 12) + 1e6  # far from the origin: the GEMM cancels digits
    else:  # tight clusters far apart: tiny distances against a large radius
        centres = rng.normal(size=(6, 300)) * 1e3
        points = centres[rng.integers(0, 6, 600)] + 1e-3 * rng.normal(size=(600, 300))
    found = host_knn_indices(points, k, method, threads=2)
    assert found.shape == (len(points), k) and found.dtype == np.int64
    assert same_sets(found, brute_force(points, k))


def test_equidistant_neighbours_beyond_the_candidates_are_broken_by_index():
    # the centre of a regular simplex has 40 neighbours at one distance: more than k + 8
    # candidates tie, so the lower indices must be chosen by the exact fallback
    points = np.vstack([np.eye(40) * 2.0, np.zeros((1, 40)), np.full((1, 40), 9.0)])
    for method in ("tree", "brute"):
        found = host_knn_indices(points, 5, method)
        assert same_sets(found, brute_force(points, 5))
        assert sorted(found[40]) == [0, 1, 2, 3, 4]


def test_threads_and_choice_do_not_change_the_table():
    points = relu_features(3000, 64)
    tables = [
        host_knn_indices(points, 13, method, threads)
        for method in ("tree", "brute")
        for threads in (1, 2)
    ]
    for table in tables[1:]:
        assert same_sets(table, tables[0])
    assert same_sets(host_knn_indices(points, 13), tables[0])


def test_choice_by_trial_on_large_clouds(monkeypatch):
    def slow(self, rows, count):
        time.sleep(0.05)

    def fast(self, rows, count):
        pass

    monkeypatch.setattr(Search, "tree", fast)
    monkeypatch.setattr(Search, "brute", slow)
    assert choose_method(Search(np.zeros((5000, 20)), 1), 5) == "tree"  # brute's trial slower
    monkeypatch.setattr(Search, "tree", slow)
    monkeypatch.setattr(Search, "brute", fast)
    assert choose_method(Search(np.zeros((5000, 20)), 1), 5) == "brute"
    assert choose_method(Search(np.zeros((5000, 3)), 1), 5) == "tree"  # few coordinates
    assert choose_method(Search(np.zeros((500, 20)), 1), 5) == "tree"  # small: by its width
    assert choose_method(Search(np.zeros((500, 100)), 1), 5) == "brute"


def test_unknown_method():
    with pytest.raises(InputError, match="kNN method must be one of auto, tree, brute"):
        host_knn_indices(np.arange(10.0)[:, None], 3, "ball")
