"""Early stops of lost causes: compute saved and well-trained networks per seed, rule off vs on.

Trains the same seeds of one setting (default: ReLU 10_by_15 on D-II and D-III, 64 seeds, at a
reduced size that a 2-core CPU trains in minutes) once per rule: none (the protocol of the
committed stores), `stop_when_stalled` (the original code's: stop when the best training accuracy
did not rise since the previous check), `stop_when_dead` (one class predicted for every training
point) and both. Prints, per rule, the member-steps spent, the share saved against no rule, the
well-trained networks, and well-trained networks per 1,000 member-steps; writes JSON
(atomically, after every rule, so that an interrupted run keeps what finished).

    python benchmarks/bench_early_stop.py                     # D-II and D-III, 64 seeds
    python benchmarks/bench_early_stop.py --seeds 8 --max-steps 2000 --datasets D-II=3000
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

from topnn_jax.cpu_devices import use_cpu_cores

use_cpu_cores()  # before any JAX work

from topnn_jax.atomic import atomic_write_text  # noqa: E402
from topnn_jax.config import TrainingConfig  # noqa: E402
from topnn_jax.datasets import load  # noqa: E402
from topnn_jax.models import ArchitectureSpec  # noqa: E402
from topnn_jax.networks import make_members  # noqa: E402
from topnn_jax.tables import markdown_row, markdown_table  # noqa: E402
from topnn_jax.training import train  # noqa: E402

RULES = {
    "none": {},
    "stalled": {"stop_when_stalled": True},
    "dead": {"stop_when_dead": True},
    "stalled+dead": {"stop_when_stalled": True, "stop_when_dead": True},
}
RESULTS = Path(__file__).parent / "results" / "early_stop.json"
HEADER = (
    "data",
    "rule",
    "seeds",
    "member-steps",
    "saved",
    "well trained",
    "well trained / 1k member-steps",
    "stopped early (not 100%)",
    "seconds",
)


@dataclass(frozen=True)
class RuleRun:
    """One rule on one data set: what it cost and what it found."""

    dataset: str
    size: int
    rule: str
    seeds: int
    member_steps: int
    well_trained: int
    well_trained_seeds: list[int]
    stopped_early: int
    seconds: float


def run_rule(dataset_name: str, size: int, rule: str, seeds: int, config: TrainingConfig):
    """Train `seeds` ReLU 10_by_15 networks under `rule` (a key of `RULES`)."""
    dataset = load(dataset_name, seed=0, size=size)
    spec = ArchitectureSpec.parse("10_by_15", dataset.dim, "relu")
    members = make_members(dataset.name, [spec], range(seeds))
    start = time.perf_counter()
    networks = train(dataset, members, dataclasses.replace(config, **RULES[rule]))
    seconds = time.perf_counter() - start
    results = [n.result for n in networks]
    return RuleRun(
        dataset_name,
        size,
        rule,
        seeds,
        sum(r.steps for r in results),
        sum(r.well_trained for r in results),
        [n.member.seed for n in networks if n.result.well_trained],
        sum(r.steps < config.max_steps and r.train_correct < r.n_train for r in results),
        seconds,
    )


def _row(run: RuleRun, baseline: RuleRun) -> str:
    return markdown_row(
        (
            f"{run.dataset} ({run.size})",
            run.rule,
            run.seeds,
            run.member_steps,
            f"{1 - run.member_steps / baseline.member_steps:.1%}",
            run.well_trained,
            f"{1000 * run.well_trained / run.member_steps:.3f}",
            run.stopped_early,
            f"{run.seconds:.0f}",
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", default="D-II=3000,D-III=4000", help="NAME=SIZE pairs, comma separated"
    )
    parser.add_argument("--seeds", type=int, default=64)
    parser.add_argument("--max-steps", type=int, default=12_000)
    parser.add_argument("--rules", default=",".join(RULES), help=f"among {', '.join(RULES)}")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    config = TrainingConfig(max_steps=args.max_steps)
    report: dict = {"seeds": args.seeds, "max_steps": args.max_steps, "runs": []}
    print(markdown_table(HEADER, []), end="", flush=True)
    for pair in args.datasets.split(","):
        name, _, size = pair.partition("=")
        runs = []
        for rule in args.rules.split(","):
            runs.append(run_rule(name, int(size), rule, args.seeds, config))
            print(_row(runs[-1], runs[0]), flush=True)
            report["runs"].append(runs[-1].__dict__)
            atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
