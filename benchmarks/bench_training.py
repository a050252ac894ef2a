"""Member-steps per second: the vmapped training program against a loop of single-member programs.

Both paths run the same members for the same steps with the same step function
(`topnn_jax.training.train_chunk`): the batched path as `batched_chunk` over groups of `chunk`
members (the member axis sharded over all local devices), the loop path as one jitted
single-member `train_chunk` called once per member. Compilation is excluded (each program runs
once before it is timed). Prints a markdown table and writes JSON (atomically).

    python benchmarks/bench_training.py                 # paper-size data, 100 steps
    python benchmarks/bench_training.py --quick         # small data, 10 steps, for a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import jax

from topnn_jax.atomic import atomic_write_text
from topnn_jax.config import TrainingConfig
from topnn_jax.datasets import load
from topnn_jax.models import ArchitectureSpec
from topnn_jax.networks import make_members
from topnn_jax.tables import markdown_row, markdown_table
from topnn_jax.training import (
    default_member_chunk,
    device_data,
    init_state,
    member_mesh,
    plan_buckets,
    sharded_chunk,
    start_batch,
    train_chunk,
)

CASES = (("D-I", "2-15-15-15-15-15-15-15-15-15-2"), ("D-II", "3-25-25-25-25-25-25-25-25-25-2"))
QUICK_SIZES = {"D-I": 2000, "D-II": 3000}
RESULTS = Path(__file__).parent / "results" / "training.json"


@dataclass(frozen=True)
class Row:
    """One measurement: `members` networks for `steps` steps each, both paths."""

    dataset: str
    architecture: str
    n_train: int
    members: int
    chunk: int
    steps: int
    loop_member_steps_per_s: float
    batched_member_steps_per_s: float

    @property
    def ratio(self) -> float:
        """Batched over loop throughput (> 1: the batched program is faster)."""
        return self.batched_member_steps_per_s / self.loop_member_steps_per_s


def _seconds(prepare: Callable[[], Any], run: Callable[[Any], Any]) -> float:
    """Wall time of `run(prepare())`, `prepare` not timed."""
    inputs = jax.block_until_ready(prepare())
    start = time.perf_counter()
    jax.block_until_ready(run(inputs))
    return time.perf_counter() - start


def measure(
    dataset_name: str,
    layers: str,
    member_counts: list[int],
    chunks: list[int | None],
    steps: int,
    size: int | None,
    repeats: int,
) -> list[Row]:
    """Time both paths for every member count and chunk size (None = all members at once).

    Each time is the least of `repeats` runs; the runs of the loop and of every chunk size take
    turns, so that a load from other processes on a shared machine hits them alike.
    """
    dataset = load(dataset_name, seed=0, size=size)
    spec = ArchitectureSpec.parse(layers, dataset.dim, "relu")
    config = TrainingConfig(eval_every=steps, max_steps=10 * steps)
    bucket = plan_buckets([spec], config.max_padding_waste)[0]
    options = {"activations": bucket.activations, "config": config, "padded": False}
    single = jax.jit(partial(train_chunk, **options))
    mesh = member_mesh()
    on_devices = device_data(dataset, mesh)
    batched = partial(sharded_chunk, data=on_devices, mesh=mesh, **options)
    rows = []
    for count in member_counts:
        members = make_members(dataset.name, [spec], range(count))
        stacked = init_state(members, bucket, config)
        states = [jax.tree.map(lambda leaf, i=i: leaf[i], stacked) for i in range(count)]
        runners: dict[int | None, tuple[Callable, Callable]] = {
            None: (lambda s=states: s, lambda s: [single(x, on_devices[0]) for x in s])
        }
        for chunk in dict.fromkeys(min(c or count, count) for c in chunks):
            groups = [members[i : i + chunk] for i in range(0, count, chunk)]
            runners[chunk] = (
                lambda g=groups: [start_batch(x, bucket, config, mesh) for x in g],
                lambda s: [batched(x) for x in s],
            )
        for prepare, run in runners.values():  # compile
            _seconds(prepare, run)
        best = dict.fromkeys(runners, float("inf"))
        for _ in range(repeats):
            for key, (prepare, run) in runners.items():
                best[key] = min(best[key], _seconds(prepare, run))
        loop_s = best.pop(None)
        for chunk, batched_s in best.items():
            row = Row(
                dataset.name,
                spec.layers,
                len(dataset.train_labels),
                count,
                chunk,
                steps,
                count * steps / loop_s,
                count * steps / batched_s,
            )
            print(_markdown_row(row), flush=True)
            rows.append(row)
    return rows


_HEADER = (
    "data",
    "architecture",
    "n_train",
    "members",
    "chunk",
    "steps",
    "loop member-steps/s",
    "batched member-steps/s",
    "ratio",
)


def _markdown_row(row: Row) -> str:
    return markdown_row(
        (
            row.dataset,
            row.architecture,
            row.n_train,
            row.members,
            row.chunk,
            row.steps,
            f"{row.loop_member_steps_per_s:.1f}",
            f"{row.batched_member_steps_per_s:.1f}",
            f"{row.ratio:.2f}",
        )
    )


def jax_machine() -> dict[str, Any]:
    """The JAX backend, devices and version, and this machine's processor and CPU count."""
    return {
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "machine": platform.machine(),
        "processor_count": os.cpu_count(),
        "jax": jax.__version__,
    }


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data sets, 10 steps")
    parser.add_argument("--steps", type=int, help="steps per member (default 100, quick 10)")
    parser.add_argument("--members", type=_ints, default=[1, 8, 32, 128])
    parser.add_argument(
        "--chunks",
        default="all",
        help="comma list of members per batched program; 'all' = every member at once "
        "(default: all, plus the platform default)",
    )
    parser.add_argument(
        "--size",
        action="append",
        default=[],
        metavar="NAME=N",
        help="approximate size of a data set, e.g. D-II=10000 (default: the paper's; quick: small)",
    )
    parser.add_argument("--datasets", default="D-I,D-II")
    parser.add_argument("--repeats", type=int, default=3, help="report the best of this many runs")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    steps = args.steps or (10 if args.quick else 100)
    chunks: list[int | None] = [
        None if part == "all" else int(part) for part in args.chunks.split(",") if part
    ]
    chunks.append(default_member_chunk())
    wanted = set(args.datasets.split(","))
    sizes = {name: int(n) for name, _, n in (pair.partition("=") for pair in args.size)}
    print(f"devices: {jax.devices()}\n\n{markdown_table(_HEADER, [])}", end="", flush=True)
    rows = [
        row
        for name, layers in CASES
        if name in wanted
        for row in measure(
            name,
            layers,
            args.members,
            chunks,
            steps,
            sizes.get(name, QUICK_SIZES[name] if args.quick else None),
            1 if args.quick else args.repeats,
        )
    ]
    report = {
        **jax_machine(),
        "steps": steps,
        "sizes": sizes,
        "quick": args.quick,
        "repeats": 1 if args.quick else args.repeats,
        "rows": [row.__dict__ | {"ratio": row.ratio} for row in rows],
    }
    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
