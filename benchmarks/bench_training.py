"""Member-steps per second of the training steps, side by side: the first ("reference") step as it
ran before (one device), the "tiled" step on every local device, and a loop of single-member
programs; with the matrix-product GFLOP/s each reaches and its share of the machine's peak.
`--groups` instead trains one group whose members end at different checks two ways, side by
side: in one batch to the end (every member computed until the last ends) and as `train_groups`
does, finished members leaving the batch; it reports wall seconds (compilation included), the
member-steps computed and useful, and checks that both give bitwise the same networks.

All paths run the same members for the same steps (`topnn_jax.training.train_chunk`); the batched
paths as `sharded_chunk` over groups of `chunk` members, the loop as one jitted single-member
tiled `train_chunk` called once per member (on at most 8 members: its rate does not depend on the
count). The peak is a large float32 matrix product timed in the same run. GFLOP/s count the
multiply-adds of the dense layers, forward and backward (3 products per layer: 6 FLOP per
multiply-add of the forward pass), not biases or activations. Compilation is excluded. Prints
a markdown table and writes JSON (atomically).

    python benchmarks/bench_training.py                 # paper-size data
    python benchmarks/bench_training.py --quick         # small data, few steps, a smoke run
    python benchmarks/bench_training.py --groups        # D-I 10_by_15 relu, seeds 0-5, 12,000 steps
    python benchmarks/bench_training.py --groups --quick
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from topnn_jax.cpu_devices import use_cpu_cores

use_cpu_cores()  # before any JAX work: one CPU device per core

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from topnn_jax.atomic import atomic_write_text  # noqa: E402
from topnn_jax.config import TrainingConfig  # noqa: E402
from topnn_jax.datasets import load  # noqa: E402
from topnn_jax.models import ArchitectureSpec, dense_cost  # noqa: E402
from topnn_jax.networks import make_members  # noqa: E402
from topnn_jax.tables import markdown_row, markdown_table  # noqa: E402
from topnn_jax.training import (  # noqa: E402
    Progress,
    default_member_chunk,
    device_data,
    init_state,
    member_mesh,
    plan_buckets,
    sharded_chunk,
    start_batch,
    train_chunk,
    train_groups,
)

CASES = {"D-I": "10_by_15", "D-II": "10_by_15"}
STEPS = {"D-I": 50, "D-II": 20}
QUICK_SIZES = {"D-I": 2000, "D-II": 3000}
LOOP_MEMBERS = 8
RESULTS = Path(__file__).parent / "results" / "training.json"
GROUP_RESULTS = Path(__file__).parent / "results" / "training_groups.json"
GROUP = ("D-I", None, "10_by_15", ("relu",), 6, TrainingConfig())
"""The group `--groups` trains: data set, size, architecture, activations, seeds, protocol (the
paper's: 4 of the 6 end by step 2,000, 2 lost causes run to 12,000)."""
QUICK_GROUP = (
    "D-I",
    1500,
    "4_by_8",
    ("relu", "tanh"),
    4,
    TrainingConfig(max_steps=800, eval_every=100, stop_when_stalled=True),
)
"""`--groups --quick`: members ending at 200 to 800 steps (the training tests' group)."""


@dataclass(frozen=True)
class Row:
    """One member count on one data set: member-steps/s of every path."""

    dataset: str
    architecture: str
    n_train: int
    members: int
    chunk: int
    steps: int
    flop_per_member_step: float
    loop: float
    reference: float
    tiled: float

    @property
    def speedup(self) -> float:
        """Tiled over reference member-steps/s (> 1: the new step is faster)."""
        return self.tiled / self.reference

    @property
    def vmap_over_loop(self) -> float:
        """Tiled batched over the single-member loop."""
        return self.tiled / self.loop

    def gflops(self, rate: float) -> float:
        """Matrix-product GFLOP/s at `rate` member-steps/s."""
        return rate * self.flop_per_member_step / 1e9


def _seconds(prepare: Callable[[], Any], run: Callable[[Any], Any]) -> float:
    """Wall time of `run(prepare())`, `prepare` not timed."""
    inputs = jax.block_until_ready(prepare())
    start = time.perf_counter()
    jax.block_until_ready(run(inputs))
    return time.perf_counter() - start


def matmul_peak_gflops(size: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of the best of `repeats` float32 [size, size] products (the machine's peak)."""
    a = jnp.ones((size, size), jnp.float32)
    product = jax.jit(lambda x: x @ x)
    jax.block_until_ready(product(a))
    best = min(_seconds(lambda: a, product) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def measure(
    dataset_name: str, member_counts: list[int], steps: int, size: int | None, repeats: int
) -> list[Row]:
    """Time every path for every member count at the default chunk; the least of `repeats`
    runs each, the paths taking turns (a load from other processes hits them alike)."""
    dataset = load(dataset_name, seed=0, size=size)
    spec = ArchitectureSpec.parse(CASES[dataset_name], dataset.dim, "relu")
    n_train = len(dataset.train_labels)
    bucket = plan_buckets([spec], 0.25)[0]
    configs = {
        name: TrainingConfig(eval_every=steps, max_steps=10 * steps, step=name)
        for name in ("reference", "tiled")
    }
    chunk = default_member_chunk() or max(member_counts)
    meshes = {"reference": member_mesh(chunk, max_devices=1), "tiled": member_mesh(chunk)}
    single = jax.jit(
        partial(train_chunk, activations=bucket.activations, config=configs["tiled"], padded=False)
    )
    loop_data = device_data(dataset, meshes["reference"])[0]
    rows = []
    for count in member_counts:
        members = make_members(dataset.name, [spec], range(count))
        looped = min(count, LOOP_MEMBERS)
        stacked = init_state(members[:looped], bucket, configs["tiled"])
        states = [jax.tree.map(lambda leaf, i=i: leaf[i], stacked) for i in range(looped)]
        runners: dict[str, tuple[Callable, Callable, int]] = {
            "loop": (lambda s=states: s, lambda s: [single(x, loop_data) for x in s], looped)
        }
        for name, config in configs.items():
            mesh = meshes[name]
            run = partial(
                sharded_chunk,
                data=device_data(dataset, mesh),
                mesh=mesh,
                activations=bucket.activations,
                config=config,
                padded=False,
            )
            groups = [members[i : i + chunk] for i in range(0, count, chunk)]
            runners[name] = (
                lambda g=groups, c=config, m=mesh: [start_batch(x, bucket, c, m) for x in g],
                lambda s, run=run: [run(x) for x in s],
                count,
            )
        for prepare, run, _ in runners.values():  # compile
            _seconds(prepare, run)
        best = dict.fromkeys(runners, float("inf"))
        for _ in range(repeats):
            for name, (prepare, run, _) in runners.items():
                best[name] = min(best[name], _seconds(prepare, run))
        rate = {name: runners[name][2] * steps / best[name] for name in runners}
        row = Row(
            dataset.name,
            spec.layers,
            n_train,
            count,
            min(chunk, count),
            steps,
            6.0 * dense_cost(spec.widths) * n_train,
            rate["loop"],
            rate["reference"],
            rate["tiled"],
        )
        rows.append(row)
    return rows


@dataclass(frozen=True)
class GroupWay:
    """One way of training the group: wall seconds (compilation included), member-steps."""

    way: str
    seconds: float
    computed: int
    useful: int


def one_batch(dataset: Any, members: list, config: TrainingConfig) -> tuple[list, int]:
    """The members in one batch (over the local devices) until every one has ended: (steps,
    parameter leaves) per member and the member-steps computed. So trained `GROUP` at commit
    98bf63c, whose rule moved the live members to a smaller batch only once at most half of the
    batch was training."""
    bucket = plan_buckets([m.spec for m in members], config.max_padding_waste)[0]
    mesh = member_mesh(len(members))
    data = device_data(dataset, mesh, config.precision)
    state = start_batch(members, bucket, config, mesh)
    options = {"activations": bucket.activations, "config": config, "padded": False}
    computed = 0
    while True:
        state = sharded_chunk(state, data, mesh, **options)
        computed += state.steps.shape[0] * config.eval_every
        final = jax.device_get(state)
        ended = final.done | final.stopped | (final.fail_step >= 0)
        if (ended | (final.steps >= config.max_steps)).all():
            break
    leaves = jax.tree.leaves(final.params)
    return [(int(final.steps[i]), [leaf[i] for leaf in leaves]) for i in range(len(members))], (
        computed
    )


def compare_groups(group: tuple) -> list[GroupWay]:
    """Train `group` (as `GROUP`) in one batch and rebatched, compilation included (caches
    cleared before each), and check that both ways give the same steps and bitwise parameters."""
    name, size, architecture, activations, seeds, config = group
    dataset = load(name, seed=0, size=size)
    specs = [ArchitectureSpec.parse(architecture, dataset.dim, a) for a in activations]
    members = make_members(dataset.name, specs, range(seeds))
    jax.clear_caches()
    start = time.perf_counter()
    fixed, computed = one_batch(dataset, members, config)
    fixed_seconds = time.perf_counter() - start
    jax.clear_caches()
    reports: list[Progress] = []
    start = time.perf_counter()
    whole = dataclasses.replace(config, member_chunk=len(members))
    trained = dict(
        item for part in train_groups(dataset, members, whole, reports.append) for item in part
    )
    seconds = time.perf_counter() - start
    for i, (steps, leaves) in enumerate(fixed):
        network = trained[i]
        same = network.result.steps == steps and all(
            (a == b).all() for a, b in zip(jax.tree.leaves(network.params), leaves, strict=True)
        )
        if not same:
            raise SystemExit(f"{network.member.network_id}: the two ways differ")
    useful = sum(steps for steps, _ in fixed)
    return [
        GroupWay("one batch", fixed_seconds, computed, useful),
        GroupWay("rebatched", seconds, reports[-1].computed, reports[-1].useful),
    ]


def groups_main(quick: bool, out: Path) -> None:
    """`--groups`: print and write (`out`) the two ways and their ratio."""
    group = QUICK_GROUP if quick else GROUP
    name, size, architecture, activations, seeds, config = group
    print(
        f"devices: {jax.devices()}; {name} (size {size or 'paper'}) {architecture} "
        f"{'/'.join(activations)}, seeds 0-{seeds - 1}, max_steps {config.max_steps}, "
        f"eval_every {config.eval_every}:\n"
    )
    ways = compare_groups(group)
    header = ("way", "seconds", "member-steps computed", "useful", "computed / useful")
    rows = [
        (w.way, f"{w.seconds:.1f}", w.computed, w.useful, f"{w.computed / w.useful:.2f}")
        for w in ways
    ]
    print(markdown_table(header, rows), end="")
    ratio = ways[0].seconds / ways[1].seconds
    print(f"\none batch / rebatched: {ratio:.2f}x wall, the same networks bitwise")
    report = {
        **jax_machine(),
        "group": {
            "dataset": name,
            "size": size,
            "architecture": architecture,
            "activations": list(activations),
            "seeds": seeds,
            "config": dataclasses.asdict(config),
        },
        "quick": quick,
        "ways": [dataclasses.asdict(w) for w in ways],
        "one_batch_over_rebatched_seconds": ratio,
    }
    atomic_write_text(out, json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {out}")


HEADER = (
    "data",
    "n_train",
    "members",
    "chunk",
    "loop",
    "reference",
    "tiled",
    "tiled / reference",
    "tiled / loop",
    "tiled GFLOP/s",
    "of peak",
)


def _markdown_row(row: Row, peak: float) -> str:
    return markdown_row(
        (
            row.dataset,
            row.n_train,
            row.members,
            row.chunk,
            f"{row.loop:.1f}",
            f"{row.reference:.1f}",
            f"{row.tiled:.1f}",
            f"{row.speedup:.2f}",
            f"{row.vmap_over_loop:.2f}",
            f"{row.gflops(row.tiled):.1f}",
            f"{row.gflops(row.tiled) / peak:.1%}",
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
    parser.add_argument("--quick", action="store_true", help="small data sets, few steps")
    parser.add_argument("--steps", type=int, help="steps per member (default D-I 50, D-II 20)")
    parser.add_argument("--members", type=_ints, default=[8, 32, 128])
    parser.add_argument(
        "--size",
        action="append",
        default=[],
        metavar="NAME=N",
        help="approximate size of a data set, e.g. D-II=10000 (default: the paper's; quick: small)",
    )
    parser.add_argument("--datasets", default="D-I,D-II")
    parser.add_argument("--repeats", type=int, default=2, help="report the best of this many runs")
    parser.add_argument(
        "--groups",
        action="store_true",
        help="a group trained in one batch vs rebatched (writes results/training_groups.json)",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.groups:
        groups_main(args.quick, args.out or GROUP_RESULTS)
        return
    args.out = args.out or RESULTS
    sizes = {name: int(n) for name, _, n in (pair.partition("=") for pair in args.size)}
    repeats = 1 if args.quick else args.repeats
    peak = matmul_peak_gflops()
    print(f"devices: {jax.devices()}; matmul peak {peak:.1f} GFLOP/s; member-steps/s:\n")
    print(markdown_table(HEADER, []), end="", flush=True)
    rows = []
    for name in args.datasets.split(","):
        steps = args.steps or (5 if args.quick else STEPS[name])
        size = sizes.get(name, QUICK_SIZES[name] if args.quick else None)
        for row in measure(name, args.members, steps, size, repeats):
            print(_markdown_row(row, peak), flush=True)
            rows.append(row)
    report = {
        **jax_machine(),
        "matmul_peak_gflops": peak,
        "sizes": sizes,
        "quick": args.quick,
        "repeats": repeats,
        "rows": [
            dataclasses.asdict(row)
            | {
                "tiled_over_reference": row.speedup,
                "tiled_over_loop": row.vmap_over_loop,
                "tiled_gflops": row.gflops(row.tiled),
                "reference_gflops": row.gflops(row.reference),
                "tiled_share_of_peak": row.gflops(row.tiled) / peak,
            }
            for row in rows
        ],
    }
    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
