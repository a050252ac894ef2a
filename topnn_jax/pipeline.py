"""Run an experiment end to end: train bucket by bucket, stream every layer to the PH workers.

While a group of networks trains on the device, the worker processes compute the Betti numbers
of the groups before it; finished results are appended to the store as they arrive (see
`topnn_jax.store`). `resume=True` skips networks and PH jobs the store already holds.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import itertools
import os
import platform
import sys
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

from topnn_jax.config import ExperimentConfig
from topnn_jax.datasets import Dataset, TopologyPreset, load
from topnn_jax.errors import InputError
from topnn_jax.models import ArchitectureSpec, layer_outputs
from topnn_jax.ph_workers import BettiPool, available_cpus
from topnn_jax.store import BETTI_KEY, NETWORK_KEY, CsvTable, betti_columns, read_json, write_json
from topnn_jax.topology import BettiResult
from topnn_jax.training import (
    NETWORK_COLUMNS,
    Member,
    Progress,
    TrainedNetwork,
    load_network,
    make_members,
    network_row,
    save_network,
    train_groups,
)

PACKAGES = ("topnn-jax", "jax", "jaxlib", "flax", "optax", "numpy", "scipy", "giotto-ph")


@dataclass(frozen=True)
class PhJob:
    """One Betti computation: a network's layer, restricted to one class."""

    network_id: str
    layer: int
    label: int

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.network_id, self.layer, self.label)


@dataclass
class RunEvents:
    """Callbacks through which the CLI shows progress; all optional.

    Attributes:
        training: called after every accuracy check with the group's `Progress`.
        group_done: called when a group of networks has trained (its networks).
        jobs_submitted: called with the number of PH jobs just queued.
        job_done: called with each finished job and its result, or the `InputError` that
            refused it (a complex too large for memory: the row is left out).
    """

    training: Callable[[str, Progress], None] | None = None
    group_done: Callable[[list[TrainedNetwork]], None] | None = None
    jobs_submitted: Callable[[int], None] | None = None
    job_done: Callable[[PhJob, BettiResult | InputError], None] | None = None


def environment() -> dict:
    """Package versions, JAX backend and devices, CPU count: written to environment.json."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
        "jax_backend": jax.default_backend(),
        "jax_devices": [str(device) for device in jax.devices()],
        "cpu_count": os.cpu_count(),
        "available_cpus": available_cpus(),
    }


def open_store(config: ExperimentConfig, out: Path, resume: bool) -> None:
    """Create the store, or check that a resumed one was made by the same experiment."""
    config_path = out / "config.json"
    if config_path.exists():
        if not resume:
            raise InputError(
                f"{out} already holds results; pass --resume to continue that run, or choose "
                "another --out"
            )
        saved = read_json(config_path)
        current = config.to_dict()
        if resumable_part(saved) != resumable_part(current):
            raise InputError(
                f"{out} holds a run of a different experiment; resume needs the same config "
                "(only [run], [networks] top_up and [training] member_chunk may change)"
            )
    out.mkdir(parents=True, exist_ok=True)
    write_json(config_path, config.to_dict())
    write_json(out / "environment.json", environment())


def resumable_part(config: dict) -> dict:
    """What must match between resumes: the config without its name, its [run] section,
    [networks] top_up (more top-up seeds only add networks) and [training] member_chunk (a
    member's outcome does not depend on its group)."""
    kept = {key: value for key, value in config.items() if key not in ("run", "name")}
    for section, key in (("networks", "top_up"), ("training", "member_chunk")):
        if isinstance(kept.get(section), dict):
            kept[section] = {k: v for k, v in kept[section].items() if k != key}
    return kept


def top_up_round_size(target: int, tried: int, well: int, untried: int) -> int:
    """Seeds a spec's next top-up round trains: those it is short of `target` well-trained
    networks, scaled by its observed success rate well/tried (below 1/tried when none
    succeeded), so that one round usually suffices; at most the `untried` seeds left."""
    short = max(target - well, 0)
    if short == 0 or tried == 0:
        return min(short, untried)
    return min(-(-short * tried // max(well, 1)), untried)


def interleave(lists: list[list[Member]]) -> list[Member]:
    """The lists' members round-robin: every list's first, then every list's second, ..."""
    return [item for group in itertools.zip_longest(*lists) for item in group if item is not None]


def dataset_of(config: ExperimentConfig, name: str) -> Dataset:
    """Load one of the config's data sets with the config's seed, size and options."""
    return load(name, seed=config.data.seed, size=config.data.size, **config.data.options)


def homology_layers(
    network: TrainedNetwork, dataset: Dataset, stride: int, labels: str = "true"
) -> tuple[list[np.ndarray], np.ndarray]:
    """Every layer's output for the homology subsample, and each point's class.

    Returns:
        (outputs, membership): per layer float32[m, w] (input, hidden..., logits) for class a's
        every-`stride`-th training point then class b's, and int[m] classes: the data's labels
        with `labels="true"`, the network's predictions with `"predicted"`.
    """
    if network.member.dataset != dataset.name:
        raise InputError(
            f"the network was trained on {network.member.dataset!r}, not on {dataset.name!r}"
        )
    indices = [dataset.homology_indices(label, stride) for label in (0, 1)]
    points = dataset.train_points[np.concatenate(indices)]
    outputs = layer_outputs(network.params, network.member.spec, points)
    if labels == "true":
        membership = np.repeat([0, 1], [len(indices[0]), len(indices[1])])
    else:
        membership = np.argmax(outputs[-1], axis=1)
    return outputs, membership


def class_clouds(
    network: TrainedNetwork, dataset: Dataset, preset: TopologyPreset, labels: str
) -> Iterator[tuple[int, int, np.ndarray]]:
    """(layer, label, float32[m, w]) for every layer and class of the homology subsample, split
    by `labels` as in `homology_layers`."""
    outputs, membership = homology_layers(network, dataset, preset.stride, labels)
    for layer, output in enumerate(outputs):
        for label in (0, 1):
            cloud = output[membership == label]
            if len(cloud):
                yield layer, label, cloud


def should_measure(network: TrainedNetwork, measure: str) -> bool:
    """The paper's rule: only well-trained networks, unless the config asks for all."""
    if network.result.failed:
        return False
    return network.result.well_trained or measure == "all"


def betti_row(job: PhJob, result: BettiResult, maxdim: int) -> dict:
    """One betti.csv row; dimensions above the job's maxdim are left empty."""
    row = {
        "network_id": job.network_id,
        "layer": job.layer,
        "label": job.label,
        "n_points": result.n_points,
        "k": result.k_used,
        "scale": result.scale,
        "seconds": round(result.seconds, 4),
    }
    for d in range(maxdim + 1):
        row[f"b{d}"] = result.betti[d] if d < len(result.betti) else ""
    return row


def run_experiment(
    config: ExperimentConfig,
    out: str | Path | None = None,
    resume: bool = False,
    events: RunEvents | None = None,
    stream: bool = True,
    train: bool = True,
) -> Path:
    """Run `config`, writing the store to `out` (default: the config's `[run] out`).

    Args:
        resume: continue the run already in `out` (same config), skipping finished work.
        events: progress callbacks.
        stream: measure each group of networks as soon as it has trained (the default); False
            trains every network first, then measures (for comparison in benchmarks).
        train: False trains nothing and only measures the networks a resumed store already
            holds (e.g. networks trained on a GPU machine, measured on a CPU cluster).

    Returns:
        The store's directory.
    """
    out = Path(out or config.run.out)
    loaded = (dataset_of(config, name) for name in config.data.datasets)
    datasets = {dataset.name: dataset for dataset in loaded}  # canonical names, as in members
    open_store(config, out, resume)
    workers, threads = config.run.workers, config.run.threads or 1
    with BettiPool(workers=workers, threads=threads) as pool:
        run = ExperimentRun(config, out, datasets, pool, events or RunEvents(), stream, train)
        try:
            trained = [network for name in datasets for network in run.train(name)]
            for network in trained:  # only when not streaming
                run.measure(network)
            run.drain(block=True)
        finally:
            run.keep_finished()
    run.networks.finalize()
    run.betti.finalize()
    return out


class ExperimentRun:
    """The state of one run: its tables, the PH pool, and what to measure how."""

    def __init__(
        self,
        config: ExperimentConfig,
        out: Path,
        datasets: dict[str, Dataset],
        pool: BettiPool,
        events: RunEvents,
        stream: bool = True,
        train: bool = True,
    ) -> None:
        self.config, self.out, self.datasets = config, out, datasets
        self.pool, self.events, self.stream, self.train_new = pool, events, stream, train
        self.presets = {name: config.topology.resolve(ds.preset) for name, ds in datasets.items()}
        self.maxdim = max(preset.maxdim for preset in self.presets.values())
        self.networks = CsvTable(out / "networks.csv", NETWORK_COLUMNS, NETWORK_KEY)
        self.betti = CsvTable(out / "betti.csv", betti_columns(self.maxdim), BETTI_KEY)
        self.params_dir = out / "params"

    def drain(self, block: bool) -> None:
        """Append finished PH results to betti.csv (waiting for all with `block`)."""
        for job, result in self.pool.results(block=block):
            if not isinstance(result, InputError):
                self.betti.append(betti_row(job, result, self.maxdim))
            if self.events.job_done:
                self.events.job_done(job, result)

    def keep_finished(self) -> None:
        """Record results that finished before an interruption; a broken pool has no more."""
        with contextlib.suppress(BrokenProcessPool):
            self.drain(block=False)

    def fully_measured(self, member: Member) -> bool:
        """Every layer x class of the member already has a betti.csv row."""
        layers = range(member.spec.n_layers + 1)
        return all(
            (member.network_id, layer, label) in self.betti for layer in layers for label in (0, 1)
        )

    def measure(self, network: TrainedNetwork) -> None:
        """Queue every layer x class of a network that the config measures, unless done."""
        if not should_measure(network, self.config.topology.measure):
            return
        dataset = self.datasets[network.member.dataset]
        preset = self.presets[dataset.name]
        jobs = 0
        clouds = class_clouds(network, dataset, preset, self.config.topology.labels)
        for layer, label, cloud in clouds:
            job = PhJob(network.member.network_id, layer, label)
            if job.key not in self.betti:
                self.pool.submit(job, cloud, preset.k, preset.scale, preset.maxdim)
                jobs += 1
        if jobs and self.events.jobs_submitted:
            self.events.jobs_submitted(jobs)

    def train(self, name: str) -> list[TrainedNetwork]:
        """Train a data set's networks, then top up settings with too few well-trained ones.

        Each architecture x activation first trains the config's seeds; while fewer of them
        than there are seeds are well trained, the next seeds after the largest (up to
        `[networks] top_up` more) are trained in rounds sized by its success rate so far, as
        the paper trained more networks where fewer succeeded. Networks an earlier run
        trained but left unmeasured are measured after all training, so that a resumed run
        keeps the accelerator busy first. Returns what `train_members` returns, over all rounds.
        """
        dataset = self.datasets[name]
        specs = self.config.architecture_specs(dataset.dim)
        members = make_members(dataset.name, specs, self.config.networks.seeds)
        members += [  # a resumed run's earlier top-up rounds
            member
            for member in make_members(dataset.name, specs, self.extra_seeds())
            if (member.network_id,) in self.networks
        ]
        unmeasured = [
            member
            for member in members
            if (member.network_id,) in self.networks and not self.fully_measured(member)
        ]
        trained = self.train_members(dataset, members)
        while self.train_new and (more := self.top_up_members(dataset.name, specs)):
            trained += self.train_members(dataset, more)
        for member in unmeasured:
            self.measure(load_network(self.params_dir / f"{member.network_id}.npz"))
            self.drain(block=False)  # record finished jobs as they come, not at the end
        return trained

    def extra_seeds(self) -> list[int]:
        """The seeds a top-up may use: `top_up` of them after the config's largest seed."""
        first = max(self.config.networks.seeds) + 1
        return list(range(first, first + self.config.networks.top_up))

    def top_up_members(self, dataset: str, specs: list[ArchitectureSpec]) -> list[Member]:
        """The next top-up round: for each spec short of well-trained networks, as many untried
        extra seeds as its success rate so far says it needs (`top_up_round_size`), the specs'
        members interleaved by seed so that a round cut short has advanced every spec."""
        seeds = [*self.config.networks.seeds, *self.extra_seeds()]
        target = len(self.config.networks.seeds)
        per_spec = []
        for spec in specs:
            tried = make_members(dataset, [spec], seeds)
            rows = [self.networks.rows.get((member.network_id,)) for member in tried]
            well = sum(row is not None and row["well_trained"] == "true" for row in rows)
            untried = [member for member, row in zip(tried, rows, strict=True) if row is None]
            size = top_up_round_size(target, len(tried) - len(untried), well, len(untried))
            per_spec.append(untried[:size])
        return interleave(per_spec)

    def train_members(self, dataset: Dataset, members: list[Member]) -> list[TrainedNetwork]:
        """Train the members not yet in the store, recording and (when streaming) measuring
        each group as it finishes. Returns the newly trained networks (for the caller to
        measure when not streaming)."""
        todo = [m for m in members if (m.network_id,) not in self.networks]

        def report(progress: Progress) -> None:
            self.drain(block=False)
            if self.events.training:
                self.events.training(dataset.name, progress)

        trained = []
        if not todo or not self.train_new:
            return trained
        for group in train_groups(dataset, todo, self.config.training, report):
            networks = [network for _, network in group]
            for network in networks:
                save_network(network, self.params_dir)
                self.networks.append(network_row(network))
            if self.events.group_done:
                self.events.group_done(networks)
            if self.stream:
                for network in networks:
                    self.measure(network)
                    self.drain(block=False)
            else:
                trained.extend(networks)
        return trained
