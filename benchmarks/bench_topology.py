"""Betti-number engines on paper-size clouds, and JAX kNN against scikit-learn.

For one class of D-I, D-II and D-III at the paper's size and preset, and a realistic hidden-layer
cloud (the D-II class pushed through a seeded random stack of 15-wide tanh layers), all from the
same kNN table, it times:

  engine      `betti_from_neighbours(collapse="vertex")`: strong collapse + giotto-ph (the
              default without gudhi)
  edge        the same plus GUDHI's edge collapse (`collapse="edge"`, the default "auto" choice
              where the optional gudhi is installed)
  straight    giotto-ph straight on the sparse hop-count graph (`collapse="none"`)
  original    the original's method as closely as it runs here: all-pairs hop distances by
              `scipy.sparse.csgraph.shortest_path` (a dense n x n matrix), thresholded at the
              scale, to giotto-ph's dense input

and asserts that all give the same Betti numbers. Then it times exact kNN:
`device_knn_indices` (JAX) against `host_knn_indices(method="tree")` (the host kd-tree;
the same neighbour sets, asserted) and scikit-learn's `NearestNeighbors` (default algorithm, a
kd-tree in low dimension, and brute force). Each time is the best of `--repeats` runs
(compilation excluded for JAX). Prints markdown tables and writes JSON atomically.

    python benchmarks/bench_topology.py                 # paper size, 3 repeats
    python benchmarks/bench_topology.py --quick         # small clouds, 1 repeat: a smoke run
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import gph
import jax
import numpy as np
import scipy
import sklearn
from scipy.sparse.csgraph import shortest_path
from sklearn.neighbors import NearestNeighbors

from topnn_jax.atomic import atomic_write_text
from topnn_jax.datasets import load
from topnn_jax.tables import markdown_table
from topnn_jax.topology.cloud import distinct_points
from topnn_jax.topology.graph import knn_graph
from topnn_jax.topology.homology import betti_at, betti_from_neighbours
from topnn_jax.topology.knn_device import device_knn_indices
from topnn_jax.topology.knn_host import host_knn_indices

RESULTS = Path(__file__).parent / "results" / "topology.json"
QUICK_SIZES = {"D-I": 3000, "D-II": 9000, "D-III": 9000}
HIDDEN_LAYERS = 4
HIDDEN_WIDTH = 15


@dataclass(frozen=True)
class Cloud:
    """A benchmark cloud and the parameters it is measured at."""

    name: str
    points: np.ndarray
    k: int
    scale: int
    maxdim: int


@dataclass(frozen=True)
class EngineRow:
    """Seconds per method for one cloud (None: not run), with the common Betti numbers."""

    cloud: str
    n_points: int
    k: int
    maxdim: int
    n_edges: int
    n_core: int
    betti: list[int]
    engine_s: float
    edge_s: float | None
    straight_s: float
    original_s: float | None


@dataclass(frozen=True)
class KnnRow:
    """Seconds of exact kNN: JAX against the host kd-tree and scikit-learn."""

    cloud: str
    n_points: int
    dim: int
    k: int
    jax_s: float
    tree_s: float
    sklearn_auto_s: float
    sklearn_brute_s: float


def best_of(repeats: int, run: Callable[[], object]) -> tuple[float, object]:
    """(best wall time over `repeats` runs, last result)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def hidden_layer_cloud(points: np.ndarray, seed: int = 0) -> np.ndarray:
    """float32[n, 15]: points through HIDDEN_LAYERS Glorot-uniform tanh layers of width 15."""
    rng = np.random.default_rng(seed)
    out = points.astype(np.float64)
    for _ in range(HIDDEN_LAYERS):
        fan_in = out.shape[1]
        limit = np.sqrt(6 / (fan_in + HIDDEN_WIDTH))
        out = np.tanh(out @ rng.uniform(-limit, limit, size=(fan_in, HIDDEN_WIDTH)))
    return out.astype(np.float32)


def benchmark_clouds(quick: bool) -> list[Cloud]:
    """One class of each paper data set at its preset, and the hidden-layer cloud."""
    clouds = []
    for name, label in (("D-I", 1), ("D-II", 0), ("D-III", 1)):
        dataset = load(name, seed=0, size=QUICK_SIZES[name] if quick else None)
        preset = dataset.preset
        points = dataset.homology_subsample(label)
        clouds.append(Cloud(f"{name} label {label}", points, preset.k, preset.scale, preset.maxdim))
        if name == "D-II":
            clouds.append(Cloud(f"{name} label {label}", points, preset.k, preset.scale, 1))
            hidden = hidden_layer_cloud(points)
            clouds.append(
                Cloud(f"D-II label 0, tanh layer {HIDDEN_LAYERS}", hidden, preset.k, 2, 2)
            )
    return clouds


def original_method(neighbours: np.ndarray, scale: int, maxdim: int) -> tuple[int, ...]:
    """All-pairs hop distances (dense), thresholded at `scale`, to giotto-ph's dense input."""
    hops = shortest_path(knn_graph(neighbours), method="D", unweighted=True, directed=False)
    hops[hops > scale] = np.inf
    diagrams = gph.ripser_parallel(hops, metric="precomputed", maxdim=maxdim, thresh=scale)
    return betti_at(diagrams["dgms"], scale)


def measure_engines(cloud: Cloud, repeats: int, original: bool, threads: int) -> EngineRow:
    """Time every method on one cloud and check they agree."""
    neighbours = device_knn_indices(distinct_points(cloud.points), cloud.k)

    def run(collapse: str) -> Callable[[], object]:
        return lambda: betti_from_neighbours(
            neighbours, cloud.scale, cloud.maxdim, collapse, n_threads=threads
        )

    engine_s, engine = best_of(repeats, run("vertex"))
    straight_s, straight = best_of(repeats, run("none"))
    edge_s = None
    if importlib.util.find_spec("gudhi") is not None:
        edge_s, edge = best_of(repeats, run("edge"))
        assert edge.betti == engine.betti, (cloud.name, "edge", edge.betti, engine.betti)
    assert straight.betti == engine.betti, (cloud.name, "straight", straight.betti, engine.betti)
    original_s = None
    if original:
        original_s, betti = best_of(
            1, lambda: original_method(neighbours, cloud.scale, cloud.maxdim)
        )
        assert betti == engine.betti, (cloud.name, "original", betti, engine.betti)
    return EngineRow(
        cloud.name,
        len(neighbours),
        cloud.k,
        cloud.maxdim,
        engine.n_edges,
        engine.n_core,
        list(engine.betti),
        engine_s,
        edge_s,
        straight_s,
        original_s,
    )


def measure_knn(name: str, points: np.ndarray, k: int, repeats: int) -> KnnRow:
    """Time JAX kNN (after one compiling run), the host kd-tree and scikit-learn's exact kNN."""
    device_knn_indices(points, k)
    jax_s, on_device = best_of(repeats, lambda: device_knn_indices(points, k))
    tree_s, on_host = best_of(repeats, lambda: host_knn_indices(points, k, "tree"))
    assert np.array_equal(np.sort(on_device, axis=1), np.sort(on_host, axis=1)), name

    def sklearn_knn(algorithm: str) -> Callable[[], object]:
        return lambda: (
            NearestNeighbors(n_neighbors=k + 1, algorithm=algorithm).fit(points).kneighbors()
        )

    auto_s, _ = best_of(repeats, sklearn_knn("auto"))
    brute_s, _ = best_of(repeats, sklearn_knn("brute"))
    return KnnRow(name, len(points), points.shape[1], k, jax_s, tree_s, auto_s, brute_s)


def ratio(numerator: float | None, denominator: float) -> str:
    return "-" if numerator is None else f"{numerator / denominator:.1f}x"


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


ENGINE_HEADER = (
    "cloud",
    "n",
    "k",
    "dims",
    "edges",
    "core",
    "Betti",
    "engine s",
    "edge s",
    "straight s",
    "original s",
    "straight/engine",
    "original/engine",
    "straight/edge",
)
KNN_HEADER = (
    "cloud",
    "n",
    "d",
    "k",
    "JAX s",
    "tree s",
    "sklearn auto s",
    "sklearn brute s",
    "JAX/tree",
    "JAX/auto",
    "JAX/brute",
)


def engine_table(rows: list[EngineRow]) -> str:
    cells = [
        (
            r.cloud,
            r.n_points,
            r.k,
            f"0..{r.maxdim}",
            r.n_edges,
            r.n_core,
            tuple(r.betti),
            seconds(r.engine_s),
            seconds(r.edge_s),
            seconds(r.straight_s),
            seconds(r.original_s),
            ratio(r.straight_s, r.engine_s),
            ratio(r.original_s, r.engine_s),
            "-" if r.edge_s is None else ratio(r.straight_s, r.edge_s),
        )
        for r in rows
    ]
    return markdown_table(ENGINE_HEADER, cells)


def knn_table(rows: list[KnnRow]) -> str:
    cells = [
        (
            r.cloud,
            r.n_points,
            r.dim,
            r.k,
            f"{r.jax_s:.3f}",
            f"{r.tree_s:.3f}",
            f"{r.sklearn_auto_s:.3f}",
            f"{r.sklearn_brute_s:.3f}",
            f"{r.jax_s / r.tree_s:.2f}x",
            f"{r.jax_s / r.sklearn_auto_s:.2f}x",
            f"{r.jax_s / r.sklearn_brute_s:.2f}x",
        )
        for r in rows
    ]
    return markdown_table(KNN_HEADER, cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing (best is kept)")
    parser.add_argument("--quick", action="store_true", help="small clouds, 1 repeat, no original")
    parser.add_argument("--threads", type=int, default=2, help="giotto-ph threads (default 2)")
    parser.add_argument(
        "--no-original", action="store_true", help="skip the slow dense original method"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON (default {RESULTS})")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    load_before = os.getloadavg()
    clouds = benchmark_clouds(args.quick)

    engines = [
        measure_engines(c, repeats, not (args.quick or args.no_original), args.threads)
        for c in clouds
        if c.maxdim >= 1
    ]
    print(engine_table(engines), end="", flush=True)

    knn_clouds = {c.name: c for c in clouds}
    knn_rows = [measure_knn(c.name, c.points, c.k, repeats) for c in knn_clouds.values()]
    if not args.quick:
        wide = np.random.default_rng(0).normal(size=(20_000, 50)).astype(np.float32)
        knn_rows.append(measure_knn("gaussian 20,000 x 50", wide, 34, repeats))
    print()
    print(knn_table(knn_rows), end="")

    report = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "jax_backend": jax.default_backend(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "versions": {
            "jax": jax.__version__,
            "giotto-ph": gph.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
        },
        "settings": {"repeats": repeats, "quick": args.quick, "threads": args.threads},
        "engines": [asdict(row) for row in engines],
        "knn": [asdict(row) for row in knn_rows],
    }
    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
