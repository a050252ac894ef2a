"""The quick experiment's Betti stage through the local process pool and through Ray, side by side.

Trains the quick experiment's networks once (this process's devices), cuts every layer x class
cloud as the pipeline does, then computes all their Betti numbers on this machine with a
`BettiPool` (one worker per CPU) and with a Ray instance started here (one task per CPU), twice
on each executor: a first pass on fresh workers (they import giotto-ph, scipy, ... as they start)
and a second on the same, warm ones (as in a run, where the workers start while the first group
trains). Each pass is timed from the first submit to the last result. Reports wall time, jobs/s
and the ratio Ray / local per pass, and Ray's start-up; every pass must give the same Betti
numbers. Writes JSON (atomically).

    python benchmarks/bench_executor.py                       # the quick experiment (minutes)
    python benchmarks/bench_executor.py --seeds 2 --max-steps 2000   # smaller, faster
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path

from topnn_jax.cpu_devices import use_cpu_cores

use_cpu_cores()  # before any JAX work: one CPU device per core

from topnn_jax.atomic import atomic_write_text  # noqa: E402
from topnn_jax.config import load_config  # noqa: E402
from topnn_jax.layer_clouds import class_clouds  # noqa: E402
from topnn_jax.networks import make_members  # noqa: E402
from topnn_jax.ray_cluster import RayCluster  # noqa: E402
from topnn_jax.tables import markdown_table  # noqa: E402
from topnn_jax.topology import BettiPool, available_cpus  # noqa: E402
from topnn_jax.training import train_groups  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "executor.json"


def quick_clouds(seeds: int | None, max_steps: int | None) -> tuple[list, dict]:
    """Every (job id, cloud) of the quick experiment's networks (all, well trained or not), and
    its preset."""
    config = load_config()
    if seeds:
        networks = dataclasses.replace(config.networks, seeds=tuple(range(seeds)))
        config = dataclasses.replace(config, networks=networks)
    if max_steps:
        training = dataclasses.replace(config.training, max_steps=max_steps)
        config = dataclasses.replace(config, training=training)
    dataset = config.load_dataset(config.data.datasets[0])
    preset = config.topology.resolve(dataset.preset)
    members = make_members(
        dataset.name, config.architecture_specs(dataset.dim), config.networks.seeds
    )
    print(f"training {len(members)} networks of the quick experiment ...", flush=True)
    trained = [net for group in train_groups(dataset, members, config.training) for _, net in group]
    clouds = [
        ((network.member.network_id, layer, label), cloud)
        for network in trained
        for layer, label, cloud in class_clouds(network, dataset, preset, config.topology.labels)
    ]
    return clouds, {"k": preset.k, "scale": preset.scale, "maxdim": preset.maxdim}


def betti_stage(executor, clouds: list, preset: dict) -> tuple[float, dict]:
    """Seconds from the first submit to the last result, and job id -> Betti numbers."""
    start = time.perf_counter()
    for job_id, cloud in clouds:
        executor.submit(job_id, cloud, preset["k"], preset["scale"], preset["maxdim"])
    betti = {job_id: tuple(result.betti) for job_id, result in executor.results()}
    return time.perf_counter() - start, betti


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, help="seeds per setting (default: the quick's)")
    parser.add_argument("--max-steps", type=int, help="training steps (default: the quick's)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    cpus = available_cpus()
    clouds, preset = quick_clouds(args.seeds, args.max_steps)
    print(f"{len(clouds)} Betti jobs, {cpus} CPUs", flush=True)

    passes = ("fresh workers", "warm workers")
    with BettiPool(workers=cpus) as pool:
        local = [betti_stage(pool, clouds, preset) for _ in passes]
    start = time.perf_counter()
    with RayCluster(num_cpus=cpus) as cluster:
        startup_s = time.perf_counter() - start
        executor = cluster.betti_executor()
        on_ray = [betti_stage(executor, clouds, preset) for _ in passes]
        executor.close()
    if any(betti != local[0][1] for _, betti in local + on_ray):
        raise SystemExit("the passes gave different Betti numbers")

    jobs = len(clouds)
    rows = [
        [name, f"{local_s:.2f}", f"{ray_s:.2f}", f"{jobs / ray_s:.1f}", f"{ray_s / local_s:.2f}"]
        for name, (local_s, _), (ray_s, _) in zip(passes, local, on_ray, strict=True)
    ]
    print(f"Ray started in {startup_s:.1f} s")
    print(markdown_table(["pass", "local s", "Ray s", "Ray jobs/s", "Ray / local"], rows))
    record = {
        "benchmark": "bench_executor",
        "machine": {"platform": platform.platform(), "cpus": cpus, "cpu_count": os.cpu_count()},
        "jobs": jobs,
        "preset": preset,
        "ray_startup_s": startup_s,
        "passes": [
            {"pass": name, "local_s": local_s, "ray_s": ray_s, "overhead": ray_s / local_s}
            for name, (local_s, _), (ray_s, _) in zip(passes, local, on_ray, strict=True)
        ],
        "same_betti": True,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
