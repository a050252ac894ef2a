"""The command's start-up: each quick command timed as a whole process against `import numpy`.

Runs, side by side and interleaved (one of each per round, so that a busy moment of the machine
touches every command alike), `python -c "import numpy"` (the floor: an interpreter and numpy),
`python -c "import gph"` (giotto-ph's package with its Python interface, which imports
scikit-learn; `betti` loads only its compiled engine) and the `topnn-jax` console script for
`--version`, `--help`, `datasets` (the listing), `summary` of a small store (one measured
network) and `betti` of 300 points on a noisy circle.
Prints a markdown table of each command's min and median wall time and its ratio to the floor's
(min / min, median / median), and writes JSON atomically.

    python benchmarks/bench_startup.py              # 10 rounds
    python benchmarks/bench_startup.py --repeats 3  # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import topnn_jax
from topnn_jax import SerialExecutor, measure
from topnn_jax.atomic import atomic_write_text
from topnn_jax.store.directory import processor
from topnn_jax.tables import markdown_table
from topnn_jax.topology import available_cpus

RESULTS = Path(__file__).parent / "results" / "startup.json"
FLOOR = "import numpy"
CLOUD_POINTS = 300


def noisy_circle(n: int, seed: int = 0) -> np.ndarray:
    """float32[n, 2]: a unit circle with Gaussian noise of s.d. 0.02."""
    rng = np.random.default_rng(seed)
    angles = rng.uniform(0, 2 * np.pi, n)
    circle = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return (circle + rng.normal(0, 0.02, (n, 2))).astype(np.float32)


def small_store(directory: Path) -> Path:
    """A results store of one measured network: three layers of two circles, 60 points each."""
    points = np.concatenate([noisy_circle(60), 3 * noisy_circle(60, seed=1)])
    layers = {"input": points, "hidden": np.tanh(points), "logits": points[:, ::-1]}
    labels = np.repeat([0, 1], 60)
    measured = measure(layers, labels, k=6, executor=SerialExecutor())
    return measured.save(directory / "store", dataset="circles")


def command_line() -> list[str]:
    """The `topnn-jax` console script beside this interpreter, else `python -m topnn_jax`."""
    script = shutil.which("topnn-jax", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "topnn_jax"]


def wall_seconds(argv: list[str]) -> float:
    """Wall time of one process running `argv` to its end (output discarded; it must succeed)."""
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10, help="rounds (default 10)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON file")
    args = parser.parse_args()
    topnn = command_line()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        cloud = Path(tmp) / "circle.npy"
        np.save(cloud, noisy_circle(CLOUD_POINTS))
        store = small_store(Path(tmp))
        commands = {
            FLOOR: [sys.executable, "-c", "import numpy"],
            "import gph": [sys.executable, "-c", "import gph"],
            "--version": [*topnn, "--version"],
            "--help": [*topnn, "--help"],
            "datasets": [*topnn, "datasets"],
            "summary (1 network)": [*topnn, "summary", str(store)],
            f"betti ({CLOUD_POINTS} points)": [*topnn, "betti", str(cloud), "--k", "8"],
        }
        for argv in commands.values():  # warm the file cache and the bytecode
            wall_seconds(argv)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeats):
            for name, argv in commands.items():
                times[name].append(wall_seconds(argv))

    floor_min, floor_median = min(times[FLOOR]), statistics.median(times[FLOOR])
    rows = []
    for name, seconds in times.items():
        low, median = min(seconds), statistics.median(seconds)
        rows.append(
            {
                "command": name,
                "min_s": low,
                "median_s": median,
                "ratio_min": low / floor_min,
                "ratio_median": median / floor_median,
            }
        )
    print(
        markdown_table(
            ["command", "min s", "median s", "x floor (min)", "x floor (median)"],
            [
                [
                    row["command"],
                    f"{row['min_s']:.3f}",
                    f"{row['median_s']:.3f}",
                    f"{row['ratio_min']:.1f}",
                    f"{row['ratio_median']:.1f}",
                ]
                for row in rows
            ],
        )
    )
    record = {
        "benchmark": "bench_startup",
        "machine": {
            "platform": platform.platform(),
            "processor": processor(),
            "cpus": available_cpus(),
            "cpu_count": os.cpu_count(),
            "load_average_before_after": [load_before, os.getloadavg()],
        },
        "versions": {"topnn_jax": topnn_jax.__version__, "python": platform.python_version()},
        "parameters": {
            "repeats": args.repeats,
            "floor": FLOOR,
            "command": " ".join(Path(part).name for part in topnn),
        },
        "commands": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
