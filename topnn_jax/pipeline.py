"""Run an experiment end to end: train bucket by bucket, stream every layer to the PH workers.

While a group of networks trains on the device, the worker processes compute the Betti numbers
of the groups before it; finished results are appended to the store as they arrive (see
`topnn_jax.store`). `resume=True` skips networks and PH jobs the store already holds.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from topnn_jax.architecture import ArchitectureSpec
from topnn_jax.atomic import check_output_dir
from topnn_jax.config import ExperimentConfig
from topnn_jax.datasets import Dataset
from topnn_jax.errors import InputError
from topnn_jax.executors import BettiExecutor, TrainingExecutor, configured_executors
from topnn_jax.layer_clouds import class_clouds
from topnn_jax.networks import Member, TrainedNetwork, make_members
from topnn_jax.store import (
    NETWORK_COLUMNS,
    NETWORK_KEY,
    NETWORKS_FILE,
    TRAINING_FILE,
    CsvTable,
    betti_row,
    betti_table,
    load_network,
    network_problem,
    network_row,
    open_store,
    params_path,
    save_network,
    write_json,
)
from topnn_jax.topology import BettiResult
from topnn_jax.training import Progress, check_members, check_precision


@dataclass(frozen=True)
class PhJob:
    """One Betti computation: a network's layer, restricted to one class, after `step`
    training steps (None: the end of training, in a store measured at the end only)."""

    network_id: str
    layer: int
    label: int
    step: int | None = None

    @property
    def key(self) -> tuple:
        """The job's betti.csv key (`topnn_jax.store.betti_key`)."""
        if self.step is None:
            return (self.network_id, self.layer, self.label)
        return (self.network_id, self.step, self.layer, self.label)


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


def _should_measure(network: TrainedNetwork, measure: str) -> bool:
    """The paper's rule: only well-trained networks, unless the config asks for all."""
    if network.result.failed:
        return False
    return network.result.well_trained or measure == "all"


def run_experiment(
    config: ExperimentConfig,
    out: str | Path | None = None,
    resume: bool = False,
    events: RunEvents | None = None,
    stream: bool = True,
    train: bool = True,
    measure: bool = True,
    *,
    executor: BettiExecutor | None = None,
    trainer: TrainingExecutor | None = None,
) -> Path:
    """Run `config`, writing the store to `out` (default: the config's `[run] out`).

    Args:
        resume: continue the run already in `out` (same config), skipping finished work.
        events: progress callbacks.
        stream: measure each group of networks as soon as it has trained (the default); False
            trains every network first, then measures (for comparison in benchmarks).
        train: False trains nothing and only measures the networks a resumed store already
            holds (e.g. networks trained on a GPU machine, measured on a CPU cluster).
        measure: False measures nothing: the networks are trained and saved, to be measured
            by a later `resume=True, train=False` run (e.g. on a GPU machine whose time is
            short, measured on a CPU machine afterwards).
        executor: what runs the Betti jobs (the caller closes it); default what the config's
            `[run]` names (`configured_executors`: a `BettiPool` of its workers and threads,
            or a Ray cluster's tasks), made and closed here.
        trainer: what trains the networks; default `LocalDevices()`, this process's devices
            (or the Ray cluster's, with `[run] executor = "ray"`).

    Returns:
        The store's directory.

    Raises:
        InputError: bad input, found before anything is written where it can be (the output
            folder, the members); another run holds the store (`topnn_jax.store.StoreLock`).
    """
    if not train and not measure:
        raise InputError("nothing to do: a run that neither trains nor measures")
    out = check_output_dir(out or config.run.out)
    loaded = (config.load_dataset(name) for name in config.data.datasets)
    datasets = {dataset.name: dataset for dataset in loaded}  # canonical names, as in members
    check_experiment(config, datasets)
    with (
        configured_executors(config.run, executor, trainer) as (pool, trainer),
        open_store(config, out, resume),  # after the executors: a cluster not found writes nothing
    ):
        events = events or RunEvents()
        run = _ExperimentRun(config, out, datasets, pool, trainer, events, stream, train, measure)
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


def check_experiment(config: ExperimentConfig, datasets: dict[str, Dataset]) -> None:
    """`InputError` for what would stop the run only after its store was written: members that
    cannot be made (a seed out of range, the largest top-up seed too) or do not fit their data
    set (`check_members`), or a precision JAX is not set up for (`check_precision`)."""
    check_precision(config.training)
    largest = max(config.networks.seeds) + config.networks.top_up
    for dataset in datasets.values():
        specs = config.architecture_specs(dataset.dim)
        try:
            members = make_members(dataset.name, specs, config.networks.seeds)
            make_members(dataset.name, specs[:1], [largest])
        except InputError as error:
            raise InputError(f"[networks] seeds and top_up: {error}") from None
        check_members(dataset, members)


class _ExperimentRun:
    """The state of one run: its tables, who runs its work, and what to measure how (the
    arguments as in `run_experiment`)."""

    def __init__(
        self,
        config: ExperimentConfig,
        out: Path,
        datasets: dict[str, Dataset],
        pool: BettiExecutor,
        trainer: TrainingExecutor,
        events: RunEvents,
        stream: bool = True,
        train: bool = True,
        measure: bool = True,
    ) -> None:
        self.config, self.out, self.datasets = config, out, datasets
        self.pool, self.trainer, self.events = pool, trainer, events
        self.stream, self.train_new, self.measure_new = stream, train, measure
        self.presets = {name: config.topology.resolve(ds.preset) for name, ds in datasets.items()}
        self.maxdim = max(preset.maxdim for preset in self.presets.values())
        self.at_steps = config.topology.at_steps
        steps = bool(self.at_steps)  # a step column only where measured during training
        self.networks = CsvTable(
            out / NETWORKS_FILE, NETWORK_COLUMNS, NETWORK_KEY, check=network_problem
        )
        self.betti = betti_table(out, self.maxdim, steps)
        self.member_steps = (0, 0)  # computed, useful: this run's training so far
        self.record_member_steps()

    def drain(self, block: bool) -> None:
        """Append finished PH results to betti.csv (waiting for all with `block`)."""
        for job, result in self.pool.results(block=block):
            if not isinstance(result, InputError):
                step = "" if job.step is None else job.step
                row = betti_row(job.network_id, job.layer, job.label, result, self.maxdim, step)
                self.betti.append(row)
            if self.events.job_done:
                self.events.job_done(job, result)

    def record_member_steps(self) -> None:
        """Write this run's member-steps so far to training.json (`TRAINING_FILE`)."""
        computed, useful = self.member_steps
        record = {"member_steps_computed": computed, "member_steps_useful": useful}
        write_json(self.out / TRAINING_FILE, record)

    def keep_finished(self) -> None:
        """Record results that finished before an interruption."""
        self.drain(block=False)

    def measured_steps(self, final: int) -> list[int | None]:
        """The steps at which the config measures a network whose training ended at step
        `final`: None (the end) in a store without a step column; else the `at_steps` before
        `final` (those its snapshots were kept at), and `final`."""
        if not self.at_steps:
            return [None]
        return [step for step in self.at_steps if step < final] + [final]

    def fully_measured(self, member: Member) -> bool:
        """Every layer x class of the member (at every step measured) has a betti.csv row."""
        layers = range(member.spec.n_layers + 1)
        final = int(self.networks.rows[(member.network_id,)]["steps"])
        return all(
            PhJob(member.network_id, layer, label, step).key in self.betti
            for step in self.measured_steps(final)
            for layer in layers
            for label in (0, 1)
        )

    def measure(self, network: TrainedNetwork) -> None:
        """Queue every layer x class of a network that the config measures, unless done: at
        the end of training, and at each of `[topology] at_steps` it trained through. Nothing
        in a run that does not measure."""
        if not self.measure_new or not _should_measure(network, self.config.topology.measure):
            return
        dataset = self.datasets[network.member.dataset]
        preset = self.presets[dataset.name]
        jobs = 0
        for step in self.measured_steps(network.result.steps):
            at_end = step in (None, network.result.steps)
            params = network.params if at_end else network.snapshots.get(step)
            if params is None:
                continue  # no snapshot kept there
            state = dataclasses.replace(network, params=params, snapshots={})
            clouds = class_clouds(state, dataset, preset, self.config.topology.labels)
            for layer, label, cloud in clouds:
                job = PhJob(network.member.network_id, layer, label, step)
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
            self.stored_network(member)
            for member in members
            if self.measure_new
            and (member.network_id,) in self.networks
            and self.may_measure(member)
            and not self.fully_measured(member)
        ]
        trained = self.train_members(dataset, members)
        while self.train_new and (more := self.top_up_members(dataset.name, specs)):
            trained += self.train_members(dataset, more)
        for network in unmeasured:
            if network is not None:
                self.measure(network)
                self.drain(block=False)  # record finished jobs as they come, not at the end
        return trained

    def may_measure(self, member: Member) -> bool:
        """Whether the config may measure a stored network: not where its networks.csv row
        says it is not well trained and only well-trained networks are measured (so a store
        whose failed networks' parameters were not kept, e.g. one rebuilt from committed
        tables, resumes without training them again)."""
        row = self.networks.rows[(member.network_id,)]
        return self.config.topology.measure == "all" or row["well_trained"] == "true"

    def stored_network(self, member: Member) -> TrainedNetwork | None:
        """A network an earlier run trained, read from its params file; None (its networks.csv
        row dropped, with a warning, so that it is trained again) where the file is damaged.
        `InputError` where it is damaged and this run trains nothing."""
        path = params_path(self.out, member.network_id)
        try:
            return load_network(path)
        except InputError as error:
            if not self.train_new:
                message = f"{error}: resume without --measure-only to train it again"
                raise InputError(message) from None
            warnings.warn(f"{error}: training {member.network_id} again", UserWarning, 2)
            self.networks.discard((member.network_id,))
            return None

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
        before = self.member_steps

        def report(progress: Progress) -> None:
            self.member_steps = (before[0] + progress.computed, before[1] + progress.useful)
            self.drain(block=False)
            if self.events.training:
                self.events.training(dataset.name, progress)

        trained = []
        if not todo or not self.train_new:
            return trained
        groups = self.trainer.train_groups(
            dataset, todo, self.config.training, report, self.at_steps
        )
        for group in groups:
            networks = [network for _, network in group]
            for network in networks:
                save_network(network, self.out)
                self.networks.append(network_row(network))
            self.record_member_steps()
            if self.events.group_done:
                self.events.group_done(networks)
            if self.stream:
                for network in networks:
                    self.measure(network)
                    self.drain(block=False)
            else:
                trained.extend(networks)
        return trained
