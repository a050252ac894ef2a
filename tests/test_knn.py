"""Exact kNN, on the JAX device (`topology.knn_device`) and on the host (`topology.knn_tree`),
against float64 brute force and each other."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.neighbors import NearestNeighbors

from topnn_jax.errors import InputError
from topnn_jax.topology import knn_engine, neighbour_table
from topnn_jax.topology.knn_device import device_knn_indices
from topnn_jax.topology.knn_tree import tree_knn_indices


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
    "tree": lambda points, k: tree_knn_indices(points.astype(np.float64), k),
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


# --- the host kd-tree engine ---------------------------------------------------------------------


def test_tree_with_duplicates_crowding_out_the_point_itself():
    # 30 copies of one point: the tree's candidates may all be copies, none the point itself
    points = np.vstack([np.zeros((30, 2)), np.arange(10.0)[:, None] * [1.0, 0.0] + 1])
    for k in (1, 3, 12):
        assert same_sets(tree_knn_indices(points, k), brute_force(points, k))


def test_tree_with_distances_that_overflow_to_inf():
    # cKDTree answers "no neighbour" (index n) where a squared distance overflows
    points = np.array([[0.0], [1.0], [1e200], [-1e200]])
    for k in (1, 2, 3):
        found = tree_knn_indices(points, k)
        assert found.max() < len(points)
        assert found[0, 0] == 1 and found[1, 0] == 0


@pytest.mark.parametrize(("n", "d", "k"), [(3000, 3, 34), (2500, 2, 13), (1500, 15, 10)])
def test_tree_and_device_engines_give_the_same_sets(n, d, k):
    points = np.random.default_rng(n).normal(size=(n, d)).astype(np.float32)
    points[:, 0] *= 5
    assert same_sets(tree_knn_indices(points, k), device_knn_indices(points, k))


def test_tree_on_a_grid_with_ties_at_the_kth_place():
    points = np.stack(np.meshgrid(np.arange(48), np.arange(48)), axis=-1).reshape(-1, 2)
    assert same_sets(tree_knn_indices(points.astype(np.float64), 6), brute_force(points, 6))


@pytest.mark.parametrize("k", [0, 5])
def test_tree_k_out_of_range(k):
    with pytest.raises(InputError, match="k must be between 1 and n - 1"):
        tree_knn_indices(np.zeros((5, 2)) + np.arange(5)[:, None], k)


def test_neighbour_table_is_the_same_with_either_engine():
    points = np.random.default_rng(3).integers(0, 5, size=(400, 3)).astype(np.float32)
    tree, device = (neighbour_table(points, 9, engine) for engine in ("tree", "device"))
    assert same_sets(tree.neighbours, device.neighbours)
    assert (tree.n_input, tree.k, tree.k_used) == (device.n_input, device.k, device.k_used)
    assert knn_engine("auto", 3) == "tree"  # the kd-tree up to TREE_MAX_DIM coordinates
    assert knn_engine("auto", 33) == "device"
    with pytest.raises(InputError, match="kNN engine must be one of auto, tree, device"):
        neighbour_table(points, 9, "gpu")
