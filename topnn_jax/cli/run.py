"""`topnn-jax run` (an experiment end to end) and `topnn-jax summary` (its table again)."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING

from topnn_jax.cli.executor import add_executor_arguments, run_section
from topnn_jax.cli.progress import Counter
from topnn_jax.cli.report import write_store_report
from topnn_jax.config import ExperimentConfig, config_from_saved, load_config
from topnn_jax.cpu_devices import use_cpu_cores
from topnn_jax.errors import InputError
from topnn_jax.results import class_name, format_summary, summarize
from topnn_jax.store import CONFIG_FILE, read_json

if TYPE_CHECKING:
    from topnn_jax.pipeline import PhJob
    from topnn_jax.topology import BettiResult
    from topnn_jax.training import Progress


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `run` and `summary`."""
    run = subparsers.add_parser(
        "run",
        help="run an experiment: train, measure every layer, summarise",
        description="Run an experiment config (TOML); without one, the experiment of the store "
        "given with --resume --out, else the embedded quick experiment (D-I, 10 layers of width "
        "15, relu / leaky_relu / tanh, 6 seeds). Ends by writing the store's report.",
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
        "--train-only",
        action="store_true",
        help="train and save the networks, measure nothing (measure them later, elsewhere if "
        "need be, with --resume --measure-only)",
    )
    run.add_argument(
        "--member-chunk",
        type=int,
        metavar="N",
        help="networks per compiled training group (overrides [training] member_chunk; "
        "results do not depend on it: smaller groups finish, and are saved, sooner)",
    )
    add_executor_arguments(run)
    run.add_argument(
        "--no-report", action="store_true", help="do not write report.md and report.html"
    )
    run.set_defaults(handler=_run_command)

    summary = subparsers.add_parser("summary", help="print a results directory's summary")
    summary.add_argument("directory", type=Path, help="results directory of `topnn-jax run`")
    summary.set_defaults(handler=_summary_command)


class _ProgressBars:
    """Training steps of the current round of groups, and Betti jobs (see `Counter`)."""

    def __init__(self) -> None:
        self.training: Counter | None = None
        self.ph = Counter("Betti jobs", "job", position=1)

    def on_training(self, dataset: str, progress: Progress) -> None:
        if self.training is None or self.training.total != progress.steps_total:
            if self.training is not None:
                self.training.close()
            self.training = Counter(f"train {dataset}", "step", progress.steps_total)
        finished = f"{progress.finished}/{progress.members} networks finished"
        self.training.set(progress.steps_done, postfix=finished)

    def on_jobs(self, count: int) -> None:
        self.ph.add(count)

    def on_job_done(self, job: PhJob, result: BettiResult | Exception) -> None:
        self.ph.update(1)
        if isinstance(result, Exception):
            where = f"{job.network_id} layer {job.layer} {class_name(job.label)}"
            self.ph.write(f"skipped {where}: {result}")

    def close(self) -> None:
        if self.training is not None:
            self.training.close()
        self.ph.close()


def _experiment(args: argparse.Namespace) -> ExperimentConfig:
    """CONFIG; without one, the experiment a resumed store holds; else the quick one."""
    if args.config is None and args.resume and args.out is not None:
        saved = args.out / CONFIG_FILE
        if not saved.is_file():
            raise InputError(
                f"nothing to resume in {args.out} (no {CONFIG_FILE}); give the experiment's "
                "TOML to start it there, or the --out of an earlier run"
            )
        return config_from_saved(read_json(saved), args.out.name)
    return load_config(args.config)


def _run_command(args: argparse.Namespace) -> int:
    """Run the experiment, print its summary and write its report."""
    from topnn_jax.pipeline import RunEvents, run_experiment

    config = _experiment(args)
    if args.member_chunk is not None:
        config = _with_member_chunk(config, args.member_chunk)
    config = dataclasses.replace(config, run=run_section(config.run, args))
    if args.measure_only and not args.resume:
        raise InputError("--measure-only measures a store's trained networks: add --resume")
    if args.measure_only and args.train_only:
        raise InputError("--measure-only and --train-only exclude each other: give one")
    use_cpu_cores()  # before the first JAX operation
    bars = _ProgressBars()
    start = time.perf_counter()
    try:
        out = run_experiment(
            config,
            out=args.out,
            resume=args.resume,
            train=not args.measure_only,
            measure=not args.train_only,
            events=RunEvents(
                training=bars.on_training, jobs_submitted=bars.on_jobs, job_done=bars.on_job_done
            ),
        )
    finally:
        bars.close()
    print(f"\n{config.name}: finished in {time.perf_counter() - start:.0f} s; results in {out}\n")
    print(format_summary(summarize(out)))
    if not args.no_report:
        _, page = write_store_report([out], out)
        print(f"\nnext: open {page} (tables, the paper's claims, figures)")
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
