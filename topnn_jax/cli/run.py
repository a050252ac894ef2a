"""`topnn-jax run` (an experiment end to end) and `topnn-jax summary` (its table again)."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from tqdm import tqdm

from topnn_jax.config import ExperimentConfig, load_config
from topnn_jax.errors import InputError
from topnn_jax.pipeline import PhJob, RunEvents, run_experiment
from topnn_jax.results import format_summary, summarize
from topnn_jax.topology import BettiResult
from topnn_jax.training import Progress


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `run` and `summary`."""
    run = subparsers.add_parser(
        "run",
        help="run an experiment: train, measure every layer, summarise",
        description="Run an experiment config (TOML); without one, the embedded quick "
        "experiment (D-I, 10 layers of width 15, relu / leaky_relu / tanh, 6 seeds).",
    )
    run.add_argument("config", nargs="?", type=Path, help="experiment TOML file")
    run.add_argument("--out", type=Path, help="results directory (default: the config's)")
    run.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    run.add_argument(
        "--measure-only",
        action="store_true",
        help="with --resume: train nothing, measure the networks the store already holds",
    )
    run.add_argument(
        "--member-chunk",
        type=int,
        metavar="N",
        help="networks per compiled training group (overrides [training] member_chunk; "
        "results do not depend on it: smaller groups finish, and are saved, sooner)",
    )
    run.set_defaults(handler=_run_command)

    summary = subparsers.add_parser("summary", help="print a results directory's summary")
    summary.add_argument("directory", type=Path, help="results directory of `topnn-jax run`")
    summary.set_defaults(handler=_summary_command)


class _ProgressBars:
    """tqdm bars: one for training steps of the current group, one for PH jobs with ETA."""

    def __init__(self) -> None:
        self.training: tqdm | None = None
        self.ph = tqdm(total=0, desc="Betti jobs", unit="job", position=1, dynamic_ncols=True)

    def on_training(self, dataset: str, progress: Progress) -> None:
        if self.training is None or self.training.total != progress.steps_total:
            if self.training is not None:
                self.training.close()
            self.training = tqdm(
                total=progress.steps_total,
                desc=f"train {dataset}",
                unit="step",
                position=0,
                dynamic_ncols=True,
            )
        self.training.n = progress.steps_done
        self.training.set_postfix(finished=f"{progress.finished}/{progress.members}")

    def on_jobs(self, count: int) -> None:
        self.ph.total += count
        self.ph.refresh()

    def on_job_done(self, job: PhJob, result: BettiResult | Exception) -> None:
        self.ph.update(1)
        if isinstance(result, Exception):
            tqdm.write(f"skipped {job.network_id} layer {job.layer} label {job.label}: {result}")

    def close(self) -> None:
        if self.training is not None:
            self.training.close()
        self.ph.close()


def _run_command(args: argparse.Namespace) -> int:
    """Run the experiment and print its summary."""
    config = load_config(args.config)
    if args.member_chunk is not None:
        config = _with_member_chunk(config, args.member_chunk)
    if args.measure_only and not args.resume:
        raise InputError("--measure-only measures a store's trained networks: add --resume")
    bars = _ProgressBars()
    start = time.perf_counter()
    try:
        out = run_experiment(
            config,
            out=args.out,
            resume=args.resume,
            train=not args.measure_only,
            events=RunEvents(
                training=bars.on_training, jobs_submitted=bars.on_jobs, job_done=bars.on_job_done
            ),
        )
    finally:
        bars.close()
    print(f"\n{config.name}: finished in {time.perf_counter() - start:.0f} s; results in {out}\n")
    print(format_summary(summarize(out)))
    return 0


def _with_member_chunk(config: ExperimentConfig, chunk: int) -> ExperimentConfig:
    """`config` training `chunk` networks per compiled group."""
    if chunk < 1:
        raise InputError(f"--member-chunk must be >= 1 (networks per group), got {chunk}")
    return dataclasses.replace(
        config, training=dataclasses.replace(config.training, member_chunk=chunk)
    )


def _summary_command(args: argparse.Namespace) -> int:
    """Print the summary table of a results directory."""
    print(format_summary(summarize(args.directory)))
    return 0
