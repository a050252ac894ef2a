"""Streamed pipeline vs the same stages one after the other (train everything, then all PH).

Runs an experiment twice in one process, once with `stream=True` (each trained group's layers
go to the PH workers while the next group trains) and once with `stream=False`, and reports wall
time, the ratio, and time per stage (training, PH compute summed over jobs). Both runs must give
identical Betti tables. Writes JSON to benchmarks/results/pipeline.json.

    python benchmarks/bench_pipeline.py                 # the quick experiment (several minutes)
    python benchmarks/bench_pipeline.py --seeds 2 --max-steps 2000   # a faster, smaller variant
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import jax

from topnn_jax.atomic import atomic_write_text
from topnn_jax.config import load_config
from topnn_jax.pipeline import RunEvents, run_experiment
from topnn_jax.tables import markdown_table
from topnn_jax.topology import available_cpus

RESULTS = Path(__file__).parent / "results" / "pipeline.json"


def betti_rows(store: Path) -> list[dict]:
    """betti.csv without its timing column."""
    with (store / "betti.csv").open(newline="") as handle:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(handle)]


def timed_run(config, out: Path, stream: bool) -> dict:
    """Run once; wall seconds, training seconds (first check to last group), PH seconds."""
    marks = {"groups": []}

    def group_done(networks):
        marks["groups"].append(time.perf_counter())

    start = time.perf_counter()
    run_experiment(config, out=out, events=RunEvents(group_done=group_done), stream=stream)
    wall = time.perf_counter() - start
    with (out / "betti.csv").open(newline="") as handle:
        ph_seconds = sum(float(row["seconds"]) for row in csv.DictReader(handle))
    return {
        "wall_s": wall,
        "training_s": marks["groups"][-1] - start if marks["groups"] else 0.0,
        "ph_compute_s": ph_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", help="experiment TOML (default: the quick one)")
    parser.add_argument("--seeds", type=int, help="override [networks] seeds (a count)")
    parser.add_argument("--max-steps", type=int, help="override [training] max_steps")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON output")
    args = parser.parse_args()

    config = load_config(args.config)
    if args.seeds:
        networks = dataclasses.replace(config.networks, seeds=tuple(range(args.seeds)))
        config = dataclasses.replace(config, networks=networks)
    if args.max_steps:
        training = dataclasses.replace(config.training, max_steps=args.max_steps)
        config = dataclasses.replace(config, training=training)

    with tempfile.TemporaryDirectory() as scratch:
        streamed = timed_run(config, Path(scratch) / "streamed", stream=True)
        sequential = timed_run(config, Path(scratch) / "sequential", stream=False)
        identical = betti_rows(Path(scratch) / "streamed") == betti_rows(
            Path(scratch) / "sequential"
        )
    ratio = sequential["wall_s"] / streamed["wall_s"]
    report = {
        "experiment": config.name,
        "networks": len(config.networks.seeds)
        * len(config.networks.activations)
        * len(config.networks.architectures),
        "max_steps": config.training.max_steps,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "cpus": available_cpus(),
        "machine": platform.machine(),
        "streamed": streamed,
        "sequential": sequential,
        "sequential_over_streamed": ratio,
        "identical_betti_tables": identical,
    }
    if not identical:
        raise SystemExit("streamed and sequential runs gave different Betti tables")
    header = ("mode", "wall s", "training s", "PH compute s (sum over jobs)")
    rows = [
        (mode, f"{report[mode]['wall_s']:.1f}", f"{report[mode]['training_s']:.1f}")
        + (f"{report[mode]['ph_compute_s']:.1f}",)
        for mode in ("streamed", "sequential")
    ]
    print(markdown_table(header, rows), end="")
    print(
        f"\nsequential / streamed wall time: {ratio:.2f}x on {report['cpus']} CPUs, "
        f"{report['backend']}"
    )
    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    print(f"wrote {os.path.relpath(args.out)}")


if __name__ == "__main__":
    main()
