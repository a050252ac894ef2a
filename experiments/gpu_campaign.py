"""The paper's GPU settings in one prepared device call: train on the GPU until a deadline while
the machine's CPU cores measure what has trained, then pack every store into a few files.

On the GPU machine (one `run` of the device tool; the wheels it lacks carried in `.whl`, see
below), from the repository root:

    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl &&
    PYTHONPATH=/tmp/site:$PWD python3 experiments/gpu_campaign.py "$OUT" --seconds 480 \
        2>&1 | tee "$OUT/campaign.log"

Back here, with the returned files (and again on the GPU, to continue, with them carried):

    python experiments/gpu_campaign.py --unpack FILES_DIR        # stores into results/paper/
    python experiments/reproduce.py d2_depths --measure-only     # measure the rest, collect

A dry run on the CPU at a tiny size (every setting with 2 seeds, 300 steps, small data, every
network measured):

    python experiments/gpu_campaign.py /tmp/campaign --tiny --seconds 150

How the time is used. `PLAN` lists the settings in the order of what they add (claim 3 on D-II,
then on D-III, claim 4 on D-II, the D-II and D-III ReLU networks short of 30, claim 4 on D-III).
One process trains them one after another with `--train-only` (the GPU does nothing else),
each in compiled groups of the plan's size, smaller near the end: a group cut short by the
deadline is lost, a finished one is saved. A second process, on the CPU (`JAX_PLATFORMS=cpu`,
at a lower priority), measures each setting once its training has ended, while the next one
trains. At the deadline both get SIGTERM (a run then stops like Ctrl-C, keeping what it
finished), and every store (parameters included, with its tables and timing.json) is packed
into `OUT/<setting>.tar.gz`, beside `campaign.json` (what each setting did) and
`campaign.log`: at most 8 files, as the device tool returns. Every setting resumes: a second
call with the unpacked stores carried (`--stores`) continues where the first stopped, and a
setting whose store is new starts from its committed tables where they exist
(`experiments/results/<setting>/`), so its earlier networks are not trained again.

Wheels the GPU machine lacks (giotto-ph; gudhi for the edge collapse at beta_2), once here:

    echo /.whl/ >> .git/info/exclude
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \\
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \\
        -d .whl giotto-ph==0.2.4 gudhi
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from topnn_jax.store import read_json, write_json

HERE = Path(__file__).resolve().parent
REPRODUCE = HERE / "reproduce.py"
SETTINGS_DIR = HERE / "paper"
COMMITTED = HERE / "results"

PLAN = (
    ("d2_depths", 96),
    ("d3_depths", 96),
    ("d2_10_by_25", 64),
    ("d2_10_by_15", 64),
    ("d3_10_by_15", 48),
    ("d3_10_by_50", 32),
)
"""(setting, networks per compiled group), in the order they are trained."""

MAX_FILES = 8
MAX_FILE_BYTES = 16 * 2**20
"""What the device tool brings back from OUT: 8 files of at most 16 MiB."""
PACK_SECONDS = 30
"""Kept free before the deadline for packing."""
MIN_SECONDS = 45
"""A setting is not started with less time left than this."""
GRACE_SECONDS = 20
"""After SIGTERM, how long a run may take to save what it finished before it is killed."""
SEED_TABLES = ("networks.csv", "betti.csv", "config.json", "environment.json")
TINY = {"D-I": 2000, "D-II": 3000, "D-III": 3780}
"""[data] size per data set in a --tiny dry run (about the smallest each data set allows)."""
TINY_VALUES = {"seeds": 2, "top_up": 2, "max_steps": 300, "eval_every": 100, "measure": '"all"'}
"""The other values of a --tiny dry run: few short trainings, every network measured (none is
well trained in 300 steps)."""


@dataclass
class SettingRecord:
    """What the campaign did with one setting (campaign.json)."""

    setting: str
    member_chunk: int
    started_from: str = "new"
    train_exit: int | None = None
    train_seconds: float = 0.0
    measure_exit: int | None = None
    measure_seconds: float = 0.0
    networks: dict[str, dict[str, int]] = field(default_factory=dict)
    betti_rows: int = 0
    packed: list[str] = field(default_factory=list)


def log(message: str) -> None:
    print(f"[campaign {time.strftime('%H:%M:%S')}] {message}", flush=True)


def tiny_configs(settings: list[str], folder: Path) -> Path:
    """Copies of the settings' TOMLs at a dry-run size (`TINY`, `TINY_VALUES`) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for setting in settings:
        text = (SETTINGS_DIR / f"{setting}.toml").read_text()
        dataset = re.search(r'^dataset = "([^"]+)"', text, re.M).group(1)
        for key, value in TINY_VALUES.items():
            text = re.sub(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
        text = text.replace("[data]\n", f"[data]\nsize = {TINY[dataset]}\n", 1)
        (folder / f"{setting}.toml").write_text(text)
    return folder


def seed_store(setting: str, store: Path, committed: Path | None) -> str:
    """Start a new store from the setting's committed tables (its trained networks are then
    not trained again; the well-trained ones are already measured); what it started from."""
    if (store / "config.json").exists():
        return "resumed store"
    tables = committed / setting if committed is not None else None
    if tables is None or not all((tables / name).exists() for name in SEED_TABLES):
        return "new"
    store.mkdir(parents=True, exist_ok=True)
    for name in SEED_TABLES:
        shutil.copyfile(tables / name, store / name)
    return f"committed tables ({tables})"


def run_until(arguments: list[str], deadline: float, env: dict | None = None) -> tuple[int, float]:
    """Run a command until it ends or the deadline passes (then SIGTERM, then SIGKILL after
    `GRACE_SECONDS`); its exit status and seconds."""
    start = time.monotonic()
    process = subprocess.Popen(arguments, env=env)
    try:
        return process.wait(timeout=max(1.0, deadline - time.monotonic())), time.monotonic() - start
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=GRACE_SECONDS), time.monotonic() - start
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(), time.monotonic() - start


def reproduce(setting: str, configs: Path, stores: Path, results: Path, *options: str) -> list:
    """The command line of `reproduce.py` for one setting."""
    return [
        sys.executable,
        str(REPRODUCE),
        setting,
        "--configs",
        str(configs),
        "--stores",
        str(stores),
        "--results",
        str(results),
        *options,
    ]


def count_networks(store: Path) -> dict[str, dict[str, int]]:
    """architecture/activation -> trained and well-trained counts of a store's networks.csv."""
    counts: dict[str, dict[str, int]] = {}
    path = store / "networks.csv"
    if not path.exists():
        return counts
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            entry = counts.setdefault(f"{row['architecture']}/{row['activation']}", {})
            entry["trained"] = entry.get("trained", 0) + 1
            entry["well_trained"] = entry.get("well_trained", 0) + (row["well_trained"] == "true")
    return counts


def betti_rows(store: Path) -> int:
    path = store / "betti.csv"
    return max(0, len(path.read_text().splitlines()) - 1) if path.exists() else 0


def pack(setting: str, stores: Path, results: Path, out: Path) -> list[str]:
    """`out/<setting>.tar.gz` holding `stores/<setting>` (parameters included) and
    `results/<setting>` (tables, timing.json); split into parts of at most `MAX_FILE_BYTES`
    when larger. The names of the files written."""
    archive = out / f"{setting}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for root, kind in ((stores, "stores"), (results, "results")):
            if (root / setting).exists():
                tar.add(root / setting, arcname=f"{kind}/{setting}")
    size = archive.stat().st_size
    if size <= MAX_FILE_BYTES:
        return [archive.name]
    names = []
    with archive.open("rb") as whole:
        for part in range(-(-size // MAX_FILE_BYTES)):
            name = f"{archive.name}.part{part}"
            (out / name).write_bytes(whole.read(MAX_FILE_BYTES))
            names.append(name)
    archive.unlink()
    return names


def unpack(files: Path, stores: Path, committed: Path) -> list[str]:
    """Extract every returned `<setting>.tar.gz` (or its parts) in `files`: the store into
    `stores/<setting>`, its GPU runs' timing into `committed/<setting>/timing.json`. The
    settings unpacked."""
    done = []
    for setting, _ in PLAN:
        parts = sorted(files.glob(f"{setting}.tar.gz.part*"), key=lambda p: int(p.suffix[5:]))
        archive = files / f"{setting}.tar.gz"
        if parts:
            archive = stores.parent / f".{setting}.tar.gz"
            archive.parent.mkdir(parents=True, exist_ok=True)
            archive.write_bytes(b"".join(part.read_bytes() for part in parts))
        if not archive.exists():
            continue
        staging = stores.parent / f".unpack_{setting}"
        shutil.rmtree(staging, ignore_errors=True)
        with tarfile.open(archive) as tar:
            tar.extractall(staging, filter="data")
        if (staging / "stores" / setting).exists():
            shutil.rmtree(stores / setting, ignore_errors=True)
            stores.mkdir(parents=True, exist_ok=True)
            shutil.move(staging / "stores" / setting, stores / setting)
        merge_timing(staging / "results" / setting / "timing.json", committed / setting)
        shutil.rmtree(staging)
        if parts:
            archive.unlink()
        done.append(setting)
    return done


def merge_timing(returned: Path, target: Path) -> None:
    """Add the returned timing.json's runs that `target/timing.json` lacks."""
    if not returned.exists():
        return
    runs = read_json(returned)["runs"]
    path = target / "timing.json"
    known = read_json(path)["runs"] if path.exists() else []
    new = [run for run in runs if run not in known]
    target.mkdir(parents=True, exist_ok=True)
    write_json(path, {"setting": target.name, "runs": known + new})


class Campaign:
    """The two processes of a campaign (training, measuring) and its record."""

    def __init__(self, args: argparse.Namespace, settings: list[tuple[str, int]]) -> None:
        self.args = args
        self.deadline = time.monotonic() + args.seconds - PACK_SECONDS
        self.records = {s: SettingRecord(s, chunk) for s, chunk in settings}
        self.trained: list[str] = []  # settings whose training has ended, in order
        self.training_over = threading.Event()
        names = [s for s, _ in settings]
        tiny = args.results.parent / f"{args.results.name}_configs"
        self.configs = tiny_configs(names, tiny) if args.tiny else SETTINGS_DIR
        self.committed = None if args.tiny else args.committed

    def train_all(self) -> None:
        """Train the settings in order until the deadline (`--train-only`), matrix products
        in full float32 (`JAX_DEFAULT_MATMUL_PRECISION=highest`, as the earlier GPU runs)."""
        env = dict(os.environ)
        env.setdefault("JAX_DEFAULT_MATMUL_PRECISION", "highest")
        try:
            for setting, record in self.records.items():
                if self.deadline - time.monotonic() < MIN_SECONDS:
                    log(f"{setting}: not started, too little time left")
                    break
                store = self.args.stores / setting
                record.started_from = seed_store(setting, store, self.committed)
                log(f"{setting}: training from {record.started_from}")
                command = reproduce(
                    setting,
                    self.configs,
                    self.args.stores,
                    self.args.results,
                    "--train-only",
                    "--member-chunk",
                    str(record.member_chunk),
                )
                record.train_exit, record.train_seconds = run_until(command, self.deadline, env)
                log(f"{setting}: training exit {record.train_exit}, {record.train_seconds:.0f} s")
                self.trained.append(setting)
        finally:
            self.training_over.set()

    def measure_all(self) -> None:
        """Measure each setting once its training has ended, on the CPU, until the deadline."""
        env = dict(os.environ, JAX_PLATFORMS="cpu")
        measured = 0
        while time.monotonic() < self.deadline:
            if measured == len(self.trained):
                if self.training_over.is_set():
                    return
                time.sleep(1)
                continue
            setting = self.trained[measured]
            record = self.records[setting]
            command = ["nice", "-n", "10"] + reproduce(
                setting, self.configs, self.args.stores, self.args.results, "--measure-only"
            )
            record.measure_exit, record.measure_seconds = run_until(command, self.deadline, env)
            log(f"{setting}: measuring exit {record.measure_exit}, {record.measure_seconds:.0f} s")
            measured += 1

    def run(self) -> dict:
        trainer = threading.Thread(target=self.train_all)
        trainer.start()
        self.measure_all()
        trainer.join()
        for setting, record in self.records.items():
            store = self.args.stores / setting
            record.networks = count_networks(store)
            record.betti_rows = betti_rows(store)
            if store.exists():
                record.packed = pack(setting, self.args.stores, self.args.results, self.args.out)
        return {
            "seconds": self.args.seconds,
            "tiny": self.args.tiny,
            "settings": [asdict(record) for record in self.records.values()],
        }


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", type=Path, help="folder for the packed files ($OUT)")
    parser.add_argument("--seconds", type=float, default=480, help="time for the whole campaign")
    parser.add_argument("--settings", nargs="+", help="a part of the plan, in its order")
    parser.add_argument("--stores", type=Path, default=Path("results/paper"), help="stores")
    parser.add_argument(
        "--results",
        type=Path,
        help="tables the runs collect, with timing.json (default: beside --stores, 'collected')",
    )
    parser.add_argument(
        "--committed", type=Path, default=COMMITTED, help="committed tables that seed new stores"
    )
    parser.add_argument("--tiny", action="store_true", help="a dry run at a tiny size (CPU)")
    parser.add_argument("--unpack", type=Path, metavar="FILES", help="unpack returned files")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    if args.unpack is not None:
        done = unpack(args.unpack, args.stores, args.committed)
        print(f"unpacked into {args.stores}: {', '.join(done) or 'nothing'}")
        return 0 if done else 1
    if args.out is None:
        print(
            "error: give OUT (the folder for the packed files) or --unpack FILES", file=sys.stderr
        )
        return 2
    plan = dict(PLAN)
    unknown = [s for s in args.settings or () if s not in plan]
    if unknown:
        known = ", ".join(plan)
        print(f"error: not in the plan: {', '.join(unknown)}; choose from {known}", file=sys.stderr)
        return 2
    chosen = [(s, plan[s]) for s in (args.settings or plan)]
    if len(chosen) > MAX_FILES - 2:
        print(f"error: at most {MAX_FILES - 2} settings fit the returned files", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    args.results = args.results or args.stores.parent / "collected"
    record = Campaign(args, chosen).run()
    write_json(args.out / "campaign.json", record)
    log(f"wrote {', '.join(sorted(p.name for p in args.out.iterdir() if p.is_file()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
