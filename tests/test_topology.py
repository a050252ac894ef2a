"""Betti numbers of the kNN hop-scale Vietoris-Rips complex (`topnn_jax.topology`)."""

from __future__ import annotations

import gudhi
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import shortest_path

from topnn_jax.datasets import load
from topnn_jax.errors import InputError
from topnn_jax.topology import (
    AutoExecutor,
    BettiPool,
    SerialExecutor,
    betti_numbers,
    persistence,
    scan_parameters,
)

COLLAPSES = ("vertex", "edge", "none")


# --- shapes with known Betti numbers -------------------------------------------------------


def circle(n: int, radius: float = 1.0, centre=(0.0, 0.0)) -> np.ndarray:
    angles = 2 * np.pi * np.arange(n) / n
    return np.stack([centre[0] + radius * np.cos(angles), centre[1] + radius * np.sin(angles)], 1)


def fibonacci_sphere(n: int) -> np.ndarray:
    i = np.arange(n)
    y = (i + 0.5) * 2 / n - 1
    rho = np.sqrt(1 - y * y)
    phi = i * np.pi * (3 - np.sqrt(5))
    return np.stack([rho * np.cos(phi), y, rho * np.sin(phi)], axis=1)


def torus(n_around: int, n_tube: int, big: float = 2.0, small: float = 0.8) -> np.ndarray:
    u, v = np.meshgrid(
        2 * np.pi * np.arange(n_around) / n_around,
        2 * np.pi * np.arange(n_tube) / n_tube,
        indexing="ij",
    )
    u, v = u.ravel(), v.ravel()
    ring = big + small * np.cos(v)
    return np.stack([ring * np.cos(u), ring * np.sin(u), small * np.sin(v)], axis=1)


def wedge_of_three_circles(n: int) -> np.ndarray:
    """Three unit circles in the three coordinate planes, meeting only at the origin."""
    angles = 2 * np.pi * np.arange(n) / n
    c, s, z = np.cos(angles), np.sin(angles), np.zeros(n)
    return np.concatenate(
        [
            np.stack([1 + c, s, z], axis=1),
            np.stack([z, 1 + c, s], axis=1),
            np.stack([s, z, 1 + c], axis=1),
        ]
    )


def noisy(points: np.ndarray, amount: float, seed: int = 0) -> np.ndarray:
    return points + np.random.default_rng(seed).uniform(-amount, amount, points.shape)


SHAPES = {
    # name: (points, k, maxdim, Betti numbers)
    "circle": (noisy(circle(80), 0.02), 4, 1, (1, 1)),
    "two circles": (np.concatenate([circle(60), circle(60, 1.5, (5.0, 0.0))]), 3, 1, (2, 2)),
    "figure eight": (np.concatenate([circle(60, 1, (-1, 0)), circle(60, 1, (1, 0))]), 4, 1, (1, 2)),
    "wedge of three circles": (wedge_of_three_circles(60), 4, 1, (1, 3)),
    "sphere": (fibonacci_sphere(300), 8, 2, (1, 0, 1)),
    "torus": (torus(30, 12), 6, 2, (1, 2, 1)),
    "two spheres": (
        np.concatenate([fibonacci_sphere(200), 3 + fibonacci_sphere(200)]),
        8,
        2,
        (2, 0, 2),
    ),
}


@pytest.mark.parametrize("collapse", COLLAPSES)
@pytest.mark.parametrize("name", SHAPES)
def test_known_shapes(name, collapse):
    points, k, maxdim, expected = SHAPES[name]
    result = betti_numbers(points, k, scale=2, maxdim=maxdim, collapse=collapse)
    assert result.betti == expected
    assert result.n_points == len(np.unique(points, axis=0))
    assert result.k_used == k and not result.k_reduced
    assert result.n_edges > 0


def test_maxdim_truncates_and_scale_one_is_the_knn_clique_complex():
    points, k, _, _ = SHAPES["torus"]
    full = betti_numbers(points, k, scale=2, maxdim=3)
    assert full.betti == (1, 2, 1, 0)
    assert betti_numbers(points, k, scale=2, maxdim=0).betti == (1,)
    assert betti_numbers(points, k, scale=2, maxdim=1).betti == (1, 2)
    assert betti_numbers(points, k, scale=1, maxdim=2).betti == oracle_betti(points, k, 1, 2)


# --- an independent oracle: brute-force kNN, BFS hop distances, GUDHI's flag complex ----------


def oracle_betti(points: np.ndarray, k: int, scale: int, maxdim: int) -> tuple[int, ...]:
    """Betti numbers by numpy + scipy + GUDHI, sharing no code with topnn_jax."""
    points = np.asarray(points, dtype=np.float64) + 0.0
    _, first = np.unique(points, axis=0, return_index=True)
    points = points[np.sort(first)]
    n = len(points)
    if n == 1:
        return (1,) + (0,) * maxdim
    k = min(k, n - 1)
    sq = np.sum((points[:, None, :] - points[None, :, :]) ** 2, axis=2)
    np.fill_diagonal(sq, np.inf)
    order = np.lexsort((np.broadcast_to(np.arange(n), (n, n)), sq), axis=1)[:, :k]
    adjacency = np.zeros((n, n), dtype=bool)
    adjacency[np.repeat(np.arange(n), k), order.ravel()] = True
    adjacency |= adjacency.T
    hops = shortest_path(sp.csr_matrix(adjacency), unweighted=True, directed=False)
    rows, cols = np.nonzero(np.triu(hops <= scale, 1))
    tree = gudhi.SimplexTree()
    for i in range(n):
        tree.insert([i])
    for i, j in zip(rows, cols, strict=True):
        tree.insert([int(i), int(j)])
    tree.expansion(maxdim + 1)
    tree.compute_persistence(persistence_dim_max=True)
    betti = list(tree.betti_numbers())[: maxdim + 1]
    return tuple(betti + [0] * (maxdim + 1 - len(betti)))


random_clouds = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**32 - 1),
        "n": st.integers(1, 45),
        "d": st.integers(2, 3),
        "k": st.integers(1, 6),
        "scale": st.integers(1, 3),
        "maxdim": st.integers(0, 2),
    }
)


def make_cloud(seed: int, n: int, d: int) -> np.ndarray:
    """A random cloud: a few noisy clusters, so that holes and components appear."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-3, 3, size=(rng.integers(1, 4), d))
    return centres[rng.integers(0, len(centres), n)] + rng.normal(size=(n, d))


@settings(max_examples=40, deadline=None)
@given(cloud=random_clouds)
def test_agrees_with_independent_oracle(cloud):
    points = make_cloud(cloud["seed"], cloud["n"], cloud["d"])
    expected = oracle_betti(points, cloud["k"], cloud["scale"], cloud["maxdim"])
    for collapse in COLLAPSES:
        result = betti_numbers(
            points, cloud["k"], cloud["scale"], cloud["maxdim"], collapse=collapse
        )
        assert result.betti == expected, collapse


@settings(max_examples=25, deadline=None)
@given(cloud=random_clouds, permutation_seed=st.integers(0, 2**32 - 1))
def test_invariant_under_permutation_and_duplication(cloud, permutation_seed):
    points = make_cloud(cloud["seed"], cloud["n"], cloud["d"])
    args = (cloud["k"], cloud["scale"], cloud["maxdim"])
    reference = betti_numbers(points, *args)
    rng = np.random.default_rng(permutation_seed)
    permuted = betti_numbers(points[rng.permutation(len(points))], *args)
    copies = rng.integers(0, len(points), size=len(points) // 2 + 1)
    duplicated = betti_numbers(np.concatenate([points, points[copies]]), *args)
    assert permuted.betti == reference.betti
    assert duplicated.betti == reference.betti
    assert duplicated.n_points == reference.n_points == len(points)
    assert duplicated.n_input == len(points) + len(copies)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(3, 10), maxdim=st.integers(1, 2))
def test_fast_path_equals_straight_giotto_ph_on_larger_clouds(seed, k, maxdim):
    rng = np.random.default_rng(seed)
    # a noisy torus-like ring: collapses have real work to do
    points = noisy(torus(24, 8), 0.15, seed)[rng.permutation(192)][: rng.integers(80, 193)]
    results = {c: betti_numbers(points, k, 2, maxdim, collapse=c) for c in COLLAPSES}
    assert len({r.betti for r in results.values()}) == 1
    assert results["vertex"].n_core <= results["none"].n_core == results["none"].n_points


# --- persistence over the hop filtration -----------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 60), density=st.floats(0.05, 0.6))
def test_giotto_engine_called_directly_gives_ripser_parallel_diagrams(seed, n, density):
    from gph import ripser_parallel

    from topnn_jax.topology.homology import _giotto_diagrams

    rng = np.random.default_rng(seed)
    upper = sp.triu(sp.random_array((n, n), density=density, rng=rng), k=1, format="coo")
    upper = sp.coo_array((rng.integers(1, 4, upper.nnz).astype(float), (upper.row, upper.col)),
                         shape=(n, n))  # fmt: skip
    for maxdim, thresh in ((1, 2.0), (2, 3.0)):
        expected = ripser_parallel(upper, metric="precomputed", maxdim=maxdim, thresh=thresh)
        found = _giotto_diagrams(upper, maxdim, thresh, 1)
        assert len(found) == maxdim + 1
        for ours, theirs in zip(found, expected["dgms"], strict=True):
            assert np.array_equal(ours, theirs)


def test_persistence_gives_betti_at_every_scale():
    points, k, _, _ = SHAPES["torus"]
    result = persistence(points, k, max_scale=3, maxdim=2)
    for scale in (1, 2, 3):
        assert result.betti_at(scale) == betti_numbers(points, k, scale, 2).betti
    assert result.betti.shape == (3, 3)
    assert len(result.diagrams) == 3
    births, deaths = result.diagrams[0][:, 0], result.diagrams[0][:, 1]
    assert np.all(births == 0) and np.sum(np.isinf(deaths)) == result.betti[-1, 0]
    assert set(np.unique(result.diagrams[1])) <= {1.0, 2.0, 3.0, np.inf}
    with pytest.raises(InputError, match="scale must be in 1..3"):
        result.betti_at(4)


def test_persistence_of_one_point():
    result = persistence(np.ones((4, 2)), k=3, max_scale=2, maxdim=1)
    assert result.betti.tolist() == [[1, 0], [1, 0]]
    assert result.n_points == 1


# --- small and degenerate clouds -------------------------------------------------------------


def test_fewer_points_than_k_reduces_k_and_reports_it():
    points = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    result = betti_numbers(points, k=10, scale=1, maxdim=2)
    assert result.k_used == 3 and result.k_reduced and result.k == 10
    assert result.n_points == 4 and result.n_input == 5
    assert result.betti == (1, 0, 0)
    assert result.to_dict()["k_reduced"] is True


def test_one_distinct_point():
    result = betti_numbers(np.zeros((7, 3)), k=13, scale=2, maxdim=3)
    assert result.betti == (1, 0, 0, 0)
    assert result.n_points == 1 and result.k_used == 0


def test_integer_points_are_accepted():
    assert betti_numbers(circle(40).round(3) * 1000, 3, 2, 1).betti == (1, 1)
    grid = np.stack(np.meshgrid(np.arange(5), np.arange(5)), -1).reshape(-1, 2)
    assert betti_numbers(grid, 4, 2, 1).betti == (1, 0)
    # at scale 1 the tie-broken 4-neighbour graph leaves unfilled squares
    assert betti_numbers(grid, 4, 1, 1).betti == oracle_betti(grid, 4, 1, 1) == (1, 4)


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("points", "kwargs", "message"),
    [
        (np.array([[0.0, np.nan], [1.0, 1.0]]), {}, "NaN or inf"),
        (np.array([[0.0, np.inf], [1.0, 1.0]]), {}, "NaN or inf"),
        (np.arange(5.0), {}, "2-D array"),
        (np.zeros((2, 2, 2)), {}, "2-D array"),
        (np.zeros((0, 3)), {}, "non-empty"),
        (np.zeros((3, 0)), {}, "non-empty"),
        (np.array([["a", "b"]]), {}, "real numbers"),
        (circle(10), {"k": 0}, "k must be >= 1"),
        (circle(10), {"k": 2.5}, "k must be an integer"),
        (circle(10), {"k": True}, "k must be an integer"),
        (circle(10), {"scale": 0}, "scale must be >= 1"),
        (circle(10), {"maxdim": 4}, "maxdim must be in 0..3"),
        (circle(10), {"maxdim": -1}, "maxdim must be in 0..3"),
        (circle(10), {"collapse": "magic"}, "collapse must be one of"),
    ],
)
def test_bad_input(points, kwargs, message):
    args = {"k": 3, "scale": 2, "maxdim": 1} | kwargs
    with pytest.raises(InputError, match=message):
        betti_numbers(points, **args)


def test_complex_too_large_is_refused_before_it_is_built():
    with pytest.raises(InputError, match=r"larger stride \(keep every \d+-th point"):
        betti_numbers(fibonacci_sphere(500), 8, 2, 2, max_bytes=100_000)
    with pytest.raises(InputError, match="larger stride"):
        persistence(fibonacci_sphere(500), 8, 3, 2, max_bytes=100_000)


# --- the process pool ------------------------------------------------------------------------


def test_pool_matches_serial_and_streams_results():
    jobs = {name: SHAPES[name] for name in ("circle", "sphere", "torus", "two circles")}
    jobs["one point"] = (np.ones((3, 2)), 5, 1, (1, 0))
    # a circle in 40 coordinates: a wide cloud (its kNN by brute force in the worker)
    circle, k, *_ = SHAPES["circle"]
    rotation = np.linalg.qr(np.random.default_rng(0).normal(size=(40, 40)))[0]
    jobs["circle in 40 dimensions"] = (np.pad(circle, ((0, 0), (0, 38))) @ rotation, k, 1, (1, 1))
    with BettiPool(workers=2, threads=1) as pool:
        for name, (points, k, maxdim, _) in jobs.items():
            pool.submit(name, points, k, 2, maxdim)
        assert pool.pending == len(jobs)
        results = dict(pool.results())
        assert pool.pending == 0
    assert set(results) == set(jobs)
    for name, (points, k, maxdim, expected) in jobs.items():
        assert results[name].betti == expected
        assert results[name] == betti_numbers(points, k, 2, maxdim)  # timings not compared


def test_pool_yields_a_refused_job_without_stopping_the_stream():
    with BettiPool(workers=1, max_bytes=200_000) as pool:
        pool.submit("big", fibonacci_sphere(400), 8, 2, 2)
        pool.submit("small", circle(30), 3, 2, 1)
        results = dict(pool.results())
    assert isinstance(results["big"], InputError) and "larger stride" in str(results["big"])
    assert results["small"].betti == (1, 1)


def test_coordinates_too_large_for_squared_distances_are_refused():
    with pytest.raises(InputError, match="too large: squared distances would overflow"):
        betti_numbers(np.array([[0.0], [1.0], [2.0], [1e200]]), 2)


def test_auto_executor_runs_small_work_here_and_large_work_on_one_warm_pool(monkeypatch):
    from topnn_jax.topology import pool as pools

    jobs = {name: SHAPES[name] for name in ("circle", "sphere", "two circles")}
    expected = {
        name: betti_numbers(points, k, 2, maxdim) for name, (points, k, maxdim, _) in jobs.items()
    }

    def run(executor: AutoExecutor) -> dict:
        with executor:
            for name, (points, k, maxdim, _) in jobs.items():
                executor.submit(name, points, k, 2, maxdim)
            return dict(executor.results())

    pools.close_shared_pool()
    assert run(AutoExecutor(workers=2)) == expected
    assert pools.warm_pool() is None  # small work: no process was started
    monkeypatch.setattr(pools, "POOL_AFTER_SECONDS", -1.0)  # every job is "large"
    assert run(AutoExecutor(workers=1)) == expected  # one worker: always here
    assert pools.warm_pool() is None
    monkeypatch.setattr(pools, "WARM_POOL_AFTER_SECONDS", -1.0)
    assert run(AutoExecutor(workers=2)) == expected
    warm = pools.warm_pool()
    assert warm is not None and warm.workers == 2
    processes = set(warm._executor._processes)
    assert run(AutoExecutor(workers=2)) == expected
    assert pools.warm_pool() is warm and set(warm._executor._processes) == processes  # reused
    pools.close_shared_pool()
    assert pools.warm_pool() is None


def test_pool_rejects_bad_input_at_submit():
    with BettiPool(workers=1) as pool, pytest.raises(InputError, match="NaN"):
        pool.submit("bad", np.array([[np.nan, 0.0]]), 3)


# --- the paper's data sets at their presets (seed 0, full size) ------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("D-I", {0: (9, 0), 1: (1, 9)}),
        ("D-II", {0: (9, 9, 0), 1: (9, 9, 0)}),
        ("D-III", {0: (9, 0, 9), 1: (18, 0, 9)}),
    ],
)
def test_input_betti_numbers_at_the_paper_presets(name, expected):
    dataset = load(name, seed=0)
    preset = dataset.preset
    with BettiPool(workers=2) as pool:
        for label in (0, 1):
            cloud = dataset.homology_subsample(label)
            pool.submit(label, cloud, preset.k, preset.scale, preset.maxdim)
        measured = {label: result.betti for label, result in pool.results()}
    assert measured == expected


@pytest.mark.parametrize(
    ("name", "size", "seed"),
    [("D-I", 1500, 0), ("D-I", 4000, 1), ("D-II", 2880, 0), ("D-II", 9000, 1), ("D-III", 3780, 0)],
)
def test_small_versions_recover_the_truth_at_their_presets(name, size, seed):
    dataset = load(name, seed=seed, size=size)
    preset = dataset.preset
    for label in (0, 1):
        cloud = dataset.homology_subsample(label)
        result = betti_numbers(cloud, preset.k, preset.scale, preset.maxdim)
        assert result.betti == dataset.true_betti[label], (label, preset)


def test_scan_parameters_marks_the_truth():
    dataset = load("D-I", seed=0)
    scan = scan_parameters(dataset, ks=[2, 13], scales=[1, 2], workers=2)
    assert len(scan.entries) == 8
    assert [(e.label, e.k, e.scale) for e in scan.entries][:4] == [
        (0, 2, 1),
        (0, 2, 2),
        (0, 13, 1),
        (0, 13, 2),
    ]
    assert (13, 2) in scan.recovered()
    cell = {(e.label, e.k, e.scale): e for e in scan.entries}
    assert cell[(1, 13, 2)].result.betti == (1, 9) and cell[(1, 13, 2)].recovered
    assert cell[(0, 13, 2)].truth == (9, 0)


def test_scan_through_a_given_executor_equals_the_default_pool():
    dataset = load("D-I", seed=0, size=1500)
    pooled = scan_parameters(dataset, ks=[4, 13], scales=[1, 2], workers=2)
    with SerialExecutor() as executor:
        serial = scan_parameters(dataset, ks=[4, 13], scales=[1, 2], executor=executor)
    assert serial.entries == pooled.entries  # results compare without their timings
    with pytest.raises(InputError, match="an executor or the pool's settings"):
        scan_parameters(dataset, ks=[4], scales=[1], workers=2, executor=SerialExecutor())


def test_scan_keeps_going_past_a_refused_cell():
    dataset = load("D-I", seed=0)
    scan = scan_parameters(dataset, ks=[13], scales=[1, 3], workers=1, max_bytes=1_500_000)
    cell = {(e.label, e.k, e.scale): e for e in scan.entries}
    assert cell[(0, 13, 1)].betti is not None
    refused = cell[(1, 13, 3)]
    assert isinstance(refused.result, InputError) and refused.betti is None
    assert refused.recovered is False


def test_auto_collapse_uses_gudhi_where_installed():
    from topnn_jax.topology.parameters import resolve_collapse

    assert resolve_collapse("auto", maxdim=2) == "edge"  # the test extra installs gudhi
    assert resolve_collapse("auto", maxdim=1) == "vertex"  # where the edge collapse costs more
    assert resolve_collapse("vertex", maxdim=2) == "vertex"
    with pytest.raises(InputError, match="collapse must be one of auto, vertex, edge, none"):
        resolve_collapse("fast", maxdim=1)
