"""Reproduce the paper: run its settings (experiments/paper/*.toml) and collect their tables.

    python experiments/reproduce.py --list              # the settings
    python experiments/reproduce.py d1_10_by_15 d1_depths   # some of them
    python experiments/reproduce.py --all               # every one
    python experiments/reproduce.py d2_10_by_15 --measure-only   # networks trained elsewhere
    python experiments/reproduce.py d2_depths --train-only       # measure later (--measure-only)

Each setting runs as `topnn-jax run` would (resuming a store left by an interrupted run) into
`--stores` (default `results/paper/`, with trained parameters), then its small tables
(networks.csv, betti.csv, config.json, environment.json) and a compute record (timing.json: wall
seconds, machine and training member-steps, computed and useful, of every run that contributed)
are copied to `--results` (default `experiments/results/<setting>/`). Reports are made from the
collected tables with `topnn-jax report`.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from topnn_jax.cli import main as topnn_jax_main
from topnn_jax.store import TRAINING_FILE, read_json, write_json
from topnn_jax.store.directory import processor

HERE = Path(__file__).resolve().parent
SETTINGS_DIR = HERE / "paper"
TABLES = ("networks.csv", "betti.csv", "config.json", "environment.json")


def settings(configs: Path = SETTINGS_DIR) -> list[str]:
    """Names of the settings (config files' stems) in `configs`, sorted."""
    return sorted(path.stem for path in configs.glob("*.toml"))


def machine() -> str:
    """This machine in words: host, processor, CPUs, memory."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    cpu = f"{platform.machine()} {processor()}".strip()
    return f"{platform.node()}: {cpu}, {os.cpu_count()} CPUs, {memory:.0f} GB"


def collect(setting: str, store: Path, results: Path, seconds: float, started: float) -> None:
    """Copy a store's tables to `results/<setting>/` and add this run to its timing.json (not
    where the run never opened the store: it has no environment.json then), with the
    member-steps its training computed and used (the store's training.json, where this run,
    begun at `started` (`time.time()`), wrote it)."""
    target = results / setting
    target.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        if (store / name).exists():
            shutil.copyfile(store / name, target / f".{name}.tmp")
            os.replace(target / f".{name}.tmp", target / name)
    if not (store / "environment.json").exists():
        return
    timing_path = target / "timing.json"
    runs = read_json(timing_path)["runs"] if timing_path.exists() else []
    environment = read_json(store / "environment.json")
    run = {
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "machine": machine(),
        "jax_backend": environment["jax_backend"],
        "jax_devices": environment["jax_devices"],
        "cpus": environment["available_cpus"],
    }
    training = store / TRAINING_FILE
    if training.exists() and training.stat().st_mtime >= started:
        run |= read_json(training)  # member_steps_computed, member_steps_useful
    runs.append(run)
    write_json(timing_path, {"setting": setting, "runs": runs})


def run_setting(
    setting: str,
    configs: Path,
    stores: Path,
    results: Path,
    measure_only: bool = False,
    member_chunk: int | None = None,
    train_only: bool = False,
) -> int:
    """Run (or resume) one setting and collect its tables; the CLI's exit status."""
    store = stores / setting
    arguments = ["run", str(configs / f"{setting}.toml"), "--out", str(store), "--no-report"]
    if (store / "config.json").exists():
        arguments.append("--resume")
    if measure_only:
        arguments.append("--measure-only")
    if train_only:
        arguments.append("--train-only")
    if member_chunk is not None:
        arguments += ["--member-chunk", str(member_chunk)]
    print(f"== {setting}: {' '.join(arguments)}", flush=True)
    started, start = time.time(), time.perf_counter()
    status = topnn_jax_main(arguments)
    seconds = time.perf_counter() - start
    if (store / "networks.csv").exists():
        collect(setting, store, results, seconds, started)
    print(f"== {setting}: exit {status} after {seconds:.0f} s", flush=True)
    return status


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("settings", nargs="*", help="setting names (see --list)")
    parser.add_argument("--all", action="store_true", help="run every setting")
    parser.add_argument("--list", action="store_true", help="print the settings and exit")
    parser.add_argument("--configs", type=Path, default=SETTINGS_DIR, help="settings' folder")
    parser.add_argument("--stores", type=Path, default=Path("results/paper"), help="run stores")
    parser.add_argument("--results", type=Path, default=HERE / "results", help="tables' folder")
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="train nothing: measure the networks the stores hold (trained elsewhere)",
    )
    parser.add_argument(
        "--train-only",
        action="store_true",
        help="train and save the networks, measure nothing (then --measure-only, elsewhere too)",
    )
    parser.add_argument(
        "--member-chunk",
        type=int,
        metavar="N",
        help="networks per compiled training group (see `topnn-jax run --member-chunk`)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    known = settings(args.configs)
    if args.list:
        print("\n".join(known))
        return 0
    chosen = known if args.all else args.settings
    unknown = [name for name in chosen if name not in known]
    if unknown or not chosen:
        what = f"unknown setting(s) {', '.join(unknown)}" if unknown else "no setting chosen"
        print(f"error: {what}; choose from: {', '.join(known)} (or --all)", file=sys.stderr)
        return 2
    failed = [
        name
        for name in chosen
        if run_setting(
            name,
            args.configs,
            args.stores,
            args.results,
            args.measure_only,
            args.member_chunk,
            args.train_only,
        )
        != 0
    ]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
