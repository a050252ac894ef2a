"""Member-steps per second of one activation's program against the mixed-activation program.

A training group whose members use several activations selects each member's activation with
`lax.switch`, which under `vmap` evaluates every branch (and its gradient) for every member. A
group of one activation compiles that activation alone (`training._train_group`). Both ways run
the same members (all of `--activation`) for the same steps; compilation is excluded; each time
is the least of `--repeats` runs, the two ways taking turns. Prints a markdown table and writes
JSON (atomically).

    python benchmarks/bench_activation_switch.py              # D-I and D-II, 8 members, 100 steps
    python benchmarks/bench_activation_switch.py --quick      # small data, 10 steps
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from functools import partial
from pathlib import Path

import jax
from bench_training import jax_machine

from topnn_jax.atomic import atomic_write_text
from topnn_jax.config import TrainingConfig
from topnn_jax.datasets import load
from topnn_jax.models import ACTIVATIONS, ArchitectureSpec
from topnn_jax.networks import make_members
from topnn_jax.tables import markdown_row, markdown_table
from topnn_jax.training import (
    device_data,
    member_mesh,
    plan_buckets,
    sharded_chunk,
    start_batch,
)

CASES = {"D-I": "10_by_15", "D-II": "10_by_15"}
QUICK_SIZES = {"D-I": 2000, "D-II": 3000}
MIXED = ("relu", "leaky_relu", "tanh")
RESULTS = Path(__file__).parent / "results" / "activation_switch.json"


def measure(
    dataset_name: str, architecture: str, activation: str, members: int, steps: int, size, repeats
) -> dict:
    """Member-steps per second of `members` networks of `activation`, compiled alone and mixed."""
    dataset = load(dataset_name, seed=0, size=size)
    spec = ArchitectureSpec.parse(architecture, dataset.dim, activation)
    config = TrainingConfig(eval_every=steps, max_steps=100 * steps)
    group = make_members(dataset.name, [spec], range(members))
    (bucket,) = plan_buckets([m.spec for m in group], config.max_padding_waste)
    mesh = member_mesh()
    data = device_data(dataset, mesh)
    programs = {}
    for name, activations in (("alone", (activation,)), ("mixed", MIXED)):
        with_activations = dataclasses.replace(bucket, activations=activations)
        run = partial(
            sharded_chunk, mesh=mesh, activations=activations, config=config, padded=False
        )
        programs[name] = (partial(start_batch, group, with_activations, config, mesh), run)
    best = dict.fromkeys(programs, float("inf"))
    for turn in range(repeats + 1):  # the first turn compiles
        for name, (start, run) in programs.items():
            state = jax.block_until_ready(start())
            began = time.perf_counter()
            jax.block_until_ready(run(state, data))
            if turn:
                best[name] = min(best[name], time.perf_counter() - began)
    alone, mixed = (members * steps / best[name] for name in ("alone", "mixed"))
    return {
        "dataset": dataset.name,
        "architecture": spec.layers,
        "activation": activation,
        "n_train": len(dataset.train_labels),
        "members": members,
        "steps": steps,
        "alone_member_steps_per_s": alone,
        "mixed_member_steps_per_s": mixed,
        "ratio": alone / mixed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data sets, 10 steps")
    parser.add_argument("--steps", type=int, help="steps per member (default 100, quick 10)")
    parser.add_argument("--members", type=int, default=8, help="networks per program")
    parser.add_argument("--activations", default="relu,tanh", help="comma list, each timed")
    parser.add_argument("--datasets", default="D-I,D-II")
    parser.add_argument("--repeats", type=int, default=3, help="report the best of this many runs")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    activations = [a for a in args.activations.split(",") if a]
    unknown = [a for a in activations if a not in ACTIVATIONS]
    datasets = [d for d in args.datasets.split(",") if d]
    if unknown or any(d not in CASES for d in datasets) or args.members < 1:
        parser.error(
            f"--activations from {', '.join(ACTIVATIONS)}; --datasets from {', '.join(CASES)}; "
            "--members >= 1"
        )
    steps = args.steps or (10 if args.quick else 100)
    repeats = 1 if args.quick else args.repeats
    print(f"devices: {jax.devices()}\n")
    header = ("data", "activation", "members", "steps", "alone member-steps/s", "mixed", "ratio")
    print(markdown_table(header, []), end="")
    rows = []
    for name in datasets:
        size = QUICK_SIZES[name] if args.quick else None
        for activation in activations:
            row = measure(name, CASES[name], activation, args.members, steps, size, repeats)
            rows.append(row)
            cells = (
                f"{name} {row['architecture']}",
                activation,
                args.members,
                steps,
                f"{row['alone_member_steps_per_s']:.1f}",
                f"{row['mixed_member_steps_per_s']:.1f}",
                f"{row['ratio']:.2f}",
            )
            print(markdown_row(cells), flush=True)
    report = {
        **jax_machine(),
        "quick": args.quick,
        "repeats": repeats,
        "rows": rows,
    }
    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
