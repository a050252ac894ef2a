"""topnn-jax against the script a researcher would write instead, on the work researchers bring.

The naive script: scikit-learn's `NearestNeighbors` (its default algorithm) for the kNN graph,
scipy for the hop graph (filtration value = hop count), giotto-ph on it without any collapse.
Side by side in one run, each asserted to give the same Betti numbers:

* betti     `betti_numbers(x, k=13, scale=2, maxdim=1)` against the naive script (stopped after
            `--naive-limit` seconds: without a collapse giotto-ph can take hours), on ReLU features
            of a noisy circle (a circle through one random ReLU layer: wide, low intrinsic
            dimension, as network layers are) over a grid of n points x d coordinates, and on
            Gaussian clouds (truly d-dimensional: the kd-tree's worst case);
* acceptance  the same at the sizes of issue 26's criteria, best of `--repeats` each;
* knn       the exact kNN table alone (`knn_host.host_knn_indices`, what `betti_numbers` runs)
            against `NearestNeighbors(n_neighbors=k + 1)`, float32 and float64 input, up to
            20,000 x 2,048;
* measure   `measure()` with its default executor against the naive script in a loop: 12
            clouds of ~600 points (3 classes x 4 layers) called twice, as a notebook does once
            per epoch, and 8 clouds of 4,000 x 64; and the per-call overhead of `measure()` on
            one tiny layer.

The acceptance sizes (10,000 x 512, 20,000 x 128, 6,000 x 50) and measure() take the best of
`--repeats` runs; the grid one run each. Prints markdown tables with ratios (ours / naive:
below 1 is faster) and writes JSON atomically after each section (sections not run keep
their earlier results).

    python benchmarks/bench_measure.py            # the full grid (n to 50,000, d to 2,048) and
                                                  # the peak memory of a 50,000 x 1,024 cloud
    python benchmarks/bench_measure.py --quick    # n <= 5,000, d <= 512: a smoke run
    python benchmarks/bench_measure.py --sections acceptance measure   # the issue's criteria
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import gph
import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.neighbors import NearestNeighbors

import topnn_jax
from topnn_jax.atomic import atomic_write_text
from topnn_jax.store.directory import processor
from topnn_jax.tables import markdown_table
from topnn_jax.topology import available_cpus, betti_numbers, close_shared_pool, distinct_points
from topnn_jax.topology.knn_host import host_knn_indices

RESULTS = Path(__file__).parent / "results" / "measure.json"
K, SCALE, MAXDIM = 13, 2, 1
GRID_N = (1_000, 5_000, 20_000, 50_000)
GRID_D = (2, 16, 64, 512, 2_048)
QUICK_N, QUICK_D = (1_000, 5_000), (2, 16, 64, 512)


def relu_circle(n: int, d: int, seed: int = 0) -> np.ndarray:
    """float32[n, d]: a noisy circle through one random ReLU layer of width d."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi, n)
    circle = np.stack([np.cos(angle), np.sin(angle)], axis=1) + 0.05 * rng.normal(size=(n, 2))
    weights = rng.normal(size=(2, d)) / np.sqrt(2)
    return np.maximum(circle @ weights + 0.5 * rng.normal(size=d), 0).astype(np.float32)


def gaussian(n: int, d: int, seed: int = 0) -> np.ndarray:
    """float32[n, d] standard normal points."""
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def naive_betti(points: np.ndarray, k: int = K, scale: int = SCALE, maxdim: int = MAXDIM):
    """The researcher's script: sklearn kNN, scipy hop graph, giotto-ph without a collapse."""
    n = len(points)
    _, index = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points)
    rows, cols = np.repeat(np.arange(n), k), index[:, 1:].ravel()
    adjacency = sp.csr_array((np.ones(n * k), (rows, cols)), shape=(n, n))
    adjacency = ((adjacency + adjacency.T) > 0).astype(np.int32)
    reach = adjacency
    for _ in range(scale - 1):
        reach = ((reach @ adjacency + reach) > 0).astype(np.int32)
    upper = sp.triu(reach, 1).tocoo()
    hops = np.where(adjacency[upper.row, upper.col] > 0, 1.0, 2.0)
    matrix = sp.coo_matrix((hops, (upper.row, upper.col)), shape=(n, n))
    diagrams = gph.ripser_parallel(matrix, metric="precomputed", maxdim=maxdim, thresh=scale)
    return tuple(int(np.sum(np.isinf(d[:, 1]))) for d in diagrams["dgms"])


def best_of(repeats: int, run: Callable[[], object]) -> tuple[float, object]:
    """(best wall time over `repeats` runs, last result)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def ratio(ours: float, naive: float | None) -> str:
    return "naive stopped" if naive is None else f"{ours / naive:.2f}x"


def seconds(value: float | None, limit: float | None = None) -> str:
    return f"> {limit:g}" if value is None else f"{value:.3f}"


def timed_naive(
    points: np.ndarray, limit: float, repeats: int
) -> tuple[float | None, tuple | None]:
    """(best seconds, Betti numbers) of the naive script in a child process, or (None, None)
    when it has not finished within `limit` seconds (giotto-ph without a collapse can take
    hours)."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        job = pool.apply_async(best_of, (repeats, partial(naive_betti, points)))
        try:
            return job.get(limit)
        except multiprocessing.TimeoutError:
            return None, None


def bench_betti(sizes: list[tuple[str, int, int]], limit: float, repeats: int) -> list[dict]:
    """betti_numbers against the naive script per (cloud, n, d), best of `repeats` each; the
    naive script is stopped after `limit` seconds."""
    rows = []
    for cloud, n, d in sizes:
        points = (relu_circle if cloud == "relu circle" else gaussian)(n, d)
        naive_s, expected = timed_naive(points, limit, repeats)
        ours_s, result = best_of(repeats, lambda p=points: betti_numbers(p, K, SCALE, MAXDIM))
        assert expected is None or result.betti == expected, (cloud, n, d, result.betti, expected)
        rows.append(
            {
                "cloud": cloud,
                "n": n,
                "d": d,
                "betti": list(result.betti),
                "naive_betti": None if expected is None else list(expected),
                "topnn_s": ours_s,
                "naive_s": naive_s,  # None: stopped after `limit` seconds
                "naive_limit_s": limit,
                "ratio": None if naive_s is None else ours_s / naive_s,
            }
        )
        naive = f"> {limit:g}" if naive_s is None else f"{naive_s:.3f}"
        print(f"betti {cloud} {n} x {d}: {ours_s:.3f} s vs {naive} s", flush=True)
    return rows


def bench_knn(sizes: list[tuple[str, int, int]], repeats: int) -> list[dict]:
    """The exact kNN table against NearestNeighbors, float32 and float64 input."""
    rows = []
    threads = available_cpus()
    for cloud, n, d in sizes:
        for dtype in (np.float32, np.float64):
            points = (relu_circle if cloud == "relu circle" else gaussian)(n, d).astype(dtype)

            def sklearn_knn(p=points):
                return NearestNeighbors(n_neighbors=K + 1).fit(p).kneighbors(p)[1]

            def ours(p=points):
                return host_knn_indices(distinct_points(p), K, threads=threads)

            sklearn_s, _ = best_of(repeats, sklearn_knn)
            ours_s, _ = best_of(repeats, ours)
            rows.append(
                {
                    "cloud": cloud,
                    "n": n,
                    "d": d,
                    "dtype": np.dtype(dtype).name,
                    "topnn_s": ours_s,
                    "sklearn_s": sklearn_s,
                    "ratio": ours_s / sklearn_s,
                }
            )
            print(
                f"knn {cloud} {n} x {d} {np.dtype(dtype).name}: {ours_s:.3f} s vs "
                f"{sklearn_s:.3f} s",
                flush=True,
            )
    return rows


def layers_of_classes(layers: int, points: int, d: int, classes: int) -> tuple[list, np.ndarray]:
    """`layers` ReLU-circle layers of `classes` x `points` points in d coordinates, labels."""
    outputs = [relu_circle(points * classes, d, seed=i) for i in range(layers)]
    return outputs, np.repeat(np.arange(classes), points)


def bench_measure(repeats: int) -> list[dict]:
    """measure() with its default executor against the naive script in a loop."""
    cases = [
        ("12 clouds of 600 x 15 (3 classes x 4 layers), called twice", (4, 600, 15, 3), 2),
        ("8 clouds of 4,000 x 64 (4 classes x 2 layers)", (2, 4_000, 64, 4), 1),
        ("per-call overhead: 2 clouds of 100 x 5", (1, 100, 5, 2), 1),
    ]
    rows = []
    for name, shape, calls in cases:
        layers, labels = layers_of_classes(*shape)

        def naive(layers=layers, labels=labels, calls=calls):
            for _ in range(calls):
                table = [
                    naive_betti(layer[labels == c]) for layer in layers for c in np.unique(labels)
                ]
            return table

        def ours(layers=layers, labels=labels, calls=calls):
            for _ in range(calls):
                found = topnn_jax.measure(layers, labels, k=K, scale=SCALE, maxdim=MAXDIM)
            return [row.result.betti for row in found.rows]

        close_shared_pool()  # each case starts as a fresh notebook would
        naive_s, expected = best_of(repeats, naive)
        ours_s, found = best_of(repeats, ours)
        assert found == expected, (name, found, expected)
        rows.append(
            {"case": name, "topnn_s": ours_s, "naive_s": naive_s, "ratio": ours_s / naive_s}
        )
        print(f"measure {name}: {ours_s:.3f} s vs {naive_s:.3f} s", flush=True)
    return rows


def peak_memory(n: int, d: int) -> dict:
    """Peak resident memory of a fresh process that finds the Betti numbers of an n x d
    float32 ReLU-circle cloud (the cloud itself included)."""
    code = (
        "import resource, sys; sys.path.insert(0, 'benchmarks'); import bench_measure as b;"
        f"b.betti_numbers(b.relu_circle({n}, {d}), b.K);"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    peak = int(out.stdout.split()[-1]) * 1024
    seconds = time.perf_counter() - start
    print(f"memory: betti_numbers of {n} x {d}: peak {peak / 2**30:.2f} GiB, {seconds:.1f} s")
    return {"n": n, "d": d, "peak_rss_bytes": peak, "seconds": seconds}


def write(result: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS, json.dumps(result, indent=2) + "\n")


SECTIONS = ("acceptance", "measure", "betti", "knn", "memory")
KNN_MAX_ENTRIES = 20_000 * 2_048  # the kNN section's largest cloud (50,000 x 2,048: minutes)
# The acceptance sizes: wide layers where topnn-jax was 2.6-57x slower than the script.
ACCEPTANCE = [
    ("relu circle", 10_000, 512),
    ("relu circle", 20_000, 128),
    ("relu circle", 6_000, 50),
]


def betti_table(rows: list[dict]) -> str:
    return markdown_table(
        ("cloud", "n", "d", "betti", "topnn-jax s", "naive s", "ratio"),
        [
            (
                r["cloud"],
                r["n"],
                r["d"],
                r["betti"],
                f"{r['topnn_s']:.3f}",
                seconds(r["naive_s"], r["naive_limit_s"]),
                ratio(r["topnn_s"], r["naive_s"]),
            )
            for r in rows
        ],
    )


def tables(result: dict) -> str:
    """Markdown tables of the sections run."""
    out = []
    if "measure" in result:
        out.append(
            markdown_table(
                ("measure() case", "topnn-jax s", "naive s", "ratio"),
                [
                    (r["case"], f"{r['topnn_s']:.3f}", f"{r['naive_s']:.3f}",
                     ratio(r["topnn_s"], r["naive_s"]))
                    for r in result["measure"]
                ],
            )
        )  # fmt: skip
    for section in ("acceptance", "betti"):
        if section in result:
            out.append(betti_table(result[section]))
    if "knn" in result:
        out.append(
            markdown_table(
                ("cloud", "n", "d", "input", "topnn-jax kNN s", "sklearn s", "ratio"),
                [
                    (r["cloud"], r["n"], r["d"], r["dtype"], f"{r['topnn_s']:.3f}",
                     f"{r['sklearn_s']:.3f}", ratio(r["topnn_s"], r["sklearn_s"]))
                    for r in result["knn"]
                ],
            )
        )  # fmt: skip
    if "memory" in result:
        peak = result["memory"]["peak_rss_bytes"] / 2**30
        out.append(f"peak memory, betti_numbers of 50,000 x 1,024: {peak:.2f} GiB\n")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n <= 5,000, d <= 512, 1 repeat")
    parser.add_argument("--repeats", type=int, default=None, help="default 3 (quick: 1)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON file")
    parser.add_argument(
        "--naive-limit", type=float, default=120, help="seconds before a naive run is stopped"
    )
    parser.add_argument(
        "--sections", nargs="+", choices=SECTIONS, default=SECTIONS, help="what to run"
    )
    args = parser.parse_args()
    globals()["RESULTS"] = args.out
    repeats = args.repeats or (1 if args.quick else 3)
    grid_n, grid_d = (QUICK_N, QUICK_D) if args.quick else (GRID_N, GRID_D)
    sizes = [("relu circle", n, d) for n in grid_n for d in grid_d]
    sizes += [("gaussian", n, d) for n in grid_n[1:3] for d in (16, 64)]
    # sections not run keep their results from an earlier run
    result = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    result |= {
        "machine": {
            "platform": platform.platform(),
            "processor": processor(),
            "cpus": available_cpus(),
            "cpu_count": os.cpu_count(),
        },
        "versions": {
            "topnn_jax": topnn_jax.__version__,
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
        },
        "parameters": {"k": K, "scale": SCALE, "maxdim": MAXDIM, "repeats": repeats},
    }
    runs = {
        "acceptance": lambda: bench_betti(ACCEPTANCE, args.naive_limit, repeats),
        "measure": lambda: bench_measure(repeats),
        "betti": lambda: bench_betti(sizes, args.naive_limit, 1),
        "knn": lambda: bench_knn([s for s in sizes if s[1] * s[2] <= KNN_MAX_ENTRIES], 1),
        "memory": lambda: peak_memory(50_000, 1_024),
    }
    for section in SECTIONS:
        if section in args.sections and not (args.quick and section == "memory"):
            result[section] = runs[section]()
            write(result)
    print()
    print(tables(result))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
