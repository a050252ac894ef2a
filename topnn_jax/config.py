"""Experiment configurations: TOML files validated into frozen dataclasses.

A config has five sections; every key is optional except where noted::

    [data]      dataset = "D-I"          # or a list; seed = 0; size = 2000; options = {pca = 20}
    [networks]  architectures = ["10_by_15"]; activations = ["relu", "tanh"]; seeds = 8; top_up = 8
    [training]  learning_rate = 0.02; max_steps = 12000; eval_every = 500; max_test_error = 0.01
    [topology]  k = 13; scale = 2; stride = 3; maxdim = 1; labels = "true"; measure = "well_trained"
    [run]       out = "results/quick"; workers = "auto"; threads = "auto"; executor = "local"

`[training]` takes every field of `TrainingConfig`. `[topology]` keys left out take the data
set's preset. An unknown key or a wrong type raises `InputError` naming the key and what is
allowed; each section checks its values in its `__post_init__`.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from topnn_jax.architecture import (
    PAPER_ACTIVATIONS,
    ArchitectureSpec,
    check_activation,
    check_kernel_init,
)
from topnn_jax.datasets import Dataset, TopologyPreset, load, resolve_dataset
from topnn_jax.errors import InputError, existing_file, read_text
from topnn_jax.networks import MAX_SEED, check_sweep_size
from topnn_jax.topology.parameters import check_parameter, check_stride

DEFAULT_EXPERIMENT = "quick"
LABEL_SOURCES = ("true", "predicted")
MEASURE_CHOICES = ("well_trained", "all")
EXECUTORS = ("local", "ray")
"""Who runs an experiment's work (`RunSection.executor`): this machine, or a Ray cluster."""


@dataclass(frozen=True)
class DataSection:
    """Which data sets, from which seed, at which size (None = the paper's)."""

    datasets: tuple[str, ...] = ("D-I",)
    seed: int = 0
    size: int | None = None
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.datasets:
            raise InputError("[data] datasets must name at least one data set")
        for dataset in self.datasets:
            entry = resolve_dataset(dataset)
            unknown = sorted(set(self.options) - set(entry.options) - {"path"})
            if "size" in self.options or "seed" in self.options:
                raise InputError("[data] give seed and size as keys of [data], not inside options")
            if unknown:
                raise InputError(
                    f"[data] options: {entry.name} does not take {', '.join(unknown)}; it "
                    f"takes: {', '.join(entry.options) or 'none'}"
                )
        if self.seed < 0:
            raise InputError(f"[data] seed must be >= 0, got {self.seed}")
        if self.size is not None and self.size < 1:
            raise InputError(f"[data] size must be a positive integer, got {self.size}")


@dataclass(frozen=True)
class NetworksSection:
    """The sweep: every architecture x activation x seed is one network.

    Attributes:
        top_up: extra seeds (after the largest of `seeds`) an architecture x activation may
            train, in rounds, while fewer than len(seeds) of its networks are well trained.
    """

    architectures: tuple[str, ...] = ("10_by_15",)
    activations: tuple[str, ...] = PAPER_ACTIVATIONS
    seeds: tuple[int, ...] = tuple(range(6))
    top_up: int = 0

    def __post_init__(self) -> None:
        for key in ("architectures", "activations", "seeds"):
            if not getattr(self, key):
                raise InputError(f"[networks] {key} must not be empty")
        for activation in self.activations:
            check_activation(activation)
        for arch in self.architectures:
            ArchitectureSpec.parse(
                arch, ArchitectureSpec.named_input_dim(arch), self.activations[0]
            )
        if self.top_up < 0:
            raise InputError(f"[networks] top_up must be >= 0 (extra seeds), got {self.top_up}")
        if any(seed < 0 for seed in self.seeds) or len(set(self.seeds)) != len(self.seeds):
            raise InputError(f"[networks] seeds must be distinct and >= 0, got {list(self.seeds)}")
        networks = (len(self.seeds) + self.top_up) * len(self.architectures)
        check_sweep_size(networks * len(self.activations), "[networks] ")


TRAINING_STEPS = ("tiled", "reference")
"""Names of the training steps (`TrainingConfig.step`); see `topnn_jax.training`."""

PRECISIONS = ("float32", "float64")
"""Float types training may compute in (`TrainingConfig.precision`)."""

SAVED_TRAINING_DEFAULTS = {"step": "reference"}
"""[training] values of stores written before the key existed (what trained their networks)."""


@dataclass(frozen=True)
class TrainingConfig:
    """How to train; defaults are the paper's protocol.

    Attributes:
        learning_rate: Adam's initial step size.
        decay_steps: the learning rate is multiplied by `decay_rate` every `decay_steps` steps,
            continuously: lr * decay_rate ** (step / decay_steps).
        decay_rate: see `decay_steps`.
        beta1, beta2, epsilon: Adam's moment decay rates and denominator offset.
        max_steps: step limit per member.
        eval_every: steps between accuracy checks (early stop is decided at checks only).
        batch_size: points per step; None = full batch (the paper's). Minibatches are drawn
            without replacement within an epoch, from the member's own key.
        max_test_error: a network is well trained when it classifies every training point
            correctly and its test error is at most this fraction.
        max_padding_waste: the planner merges architectures of one depth into a zero-padded
            bucket only while at most this fraction of the bucket's work is padding.
        member_chunk: members per compiled program run (rounded up to a multiple of the device
            count); None = `topnn_jax.training.default_member_chunk` (8 on a 2-core CPU, all
            members of a bucket elsewhere).
        step: how a training step computes the gradient, a name in `TRAINING_STEPS`: "tiled"
            (activations feature-major, the full-batch gradient summed over tiles of
            `tile_points` points; the default) or "reference" (the first version: one
            row-major pass over all points; what stores without this key were trained with).
            The two round differently; a store is resumed only with the step that made it.
        tile_points: points per tile of the "tiled" step; None = `TILE_POINTS_CPU` on CPU,
            every point in one tile elsewhere.
        stop_when_stalled: the original code's rule: a member whose best training accuracy did
            not rise since the previous check stops there (not well trained).
        stop_when_dead: a member whose predictions are one class for every training point at a
            check stops there (not well trained).
        stop_when_trained: a member that classifies every training point correctly at a check
            stops there (the paper's rule); False trains every member to `max_steps`, and the
            last check decides whether it is well trained.
        init: the kernels' initialiser, a name in `topnn_jax.architecture.KERNEL_INIT_NAMES`
            ("glorot_uniform", the paper's, by default); biases start at zero.
        precision: the float type of the parameters, data and arithmetic of training, a name
            in `PRECISIONS`; "float64" needs JAX's 64-bit mode (`JAX_ENABLE_X64=1`). Layer
            outputs are measured in float32 either way.
    """

    learning_rate: float = 0.02
    decay_steps: int = 2500
    decay_rate: float = 0.5
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    max_steps: int = 12_000
    eval_every: int = 500
    batch_size: int | None = None
    max_test_error: float = 0.01
    max_padding_waste: float = 0.25
    member_chunk: int | None = None
    step: str = "tiled"
    tile_points: int | None = None
    stop_when_stalled: bool = False
    stop_when_dead: bool = False
    stop_when_trained: bool = True
    init: str = "glorot_uniform"
    precision: str = "float32"

    def __post_init__(self) -> None:
        if self.step not in TRAINING_STEPS:
            raise InputError(
                f"[training] step must be one of {', '.join(TRAINING_STEPS)}, got {self.step!r}"
            )
        if self.precision not in PRECISIONS:
            raise InputError(
                f"[training] precision must be one of {', '.join(PRECISIONS)}, got "
                f"{self.precision!r}"
            )
        check_kernel_init(self.init)
        for field_ in dataclasses.fields(self):
            value = getattr(self, field_.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise InputError(f"[training] {field_.name} must be a finite number, got {value}")
        positive = ("learning_rate", "decay_steps", "decay_rate", "max_steps", "eval_every")
        for name in positive:
            if not getattr(self, name) > 0:
                raise InputError(f"training {name} must be > 0, got {getattr(self, name)}")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise InputError(f"training {name} must be in [0, 1), got {getattr(self, name)}")
        if not self.epsilon >= 0:
            raise InputError(f"training epsilon must be >= 0, got {self.epsilon}")
        for name in ("batch_size", "member_chunk", "tile_points"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InputError(f"training {name} must be >= 1 or None, got {value}")
        for name in ("max_test_error", "max_padding_waste"):
            if not 0 <= getattr(self, name) <= 1:
                raise InputError(f"training {name} must be in [0, 1], got {getattr(self, name)}")

    def check_at_steps(self, steps: Sequence[int]) -> frozenset[int]:
        """The steps at which training keeps the parameters, or `InputError` unless each is a
        multiple >= 0 of `eval_every` (the parameters are read between compiled chunks)."""
        kept = frozenset(int(step) for step in steps)
        off = sorted(step for step in kept if step < 0 or step % self.eval_every)
        if off:
            raise InputError(
                f"at_steps {off} are not multiples of [training] eval_every = {self.eval_every} "
                "(or are negative): the parameters are read between chunks of eval_every steps"
            )
        return kept


@dataclass(frozen=True)
class TopologySection:
    """Betti-number measurement; None takes the data set's preset.

    Attributes:
        labels: "true" splits each layer's cloud by the data's labels, "predicted" by the
            network's output.
        measure: "well_trained" measures only networks that pass the paper's rule, "all" every
            network that did not fail.
        at_steps: training steps at which every layer is measured as well as at the end (e.g.
            [0, 500, 2000]: 0 is the initialisation), ascending; each a multiple of [training]
            eval_every (the parameters are read between the compiled chunks of steps). A
            network that stopped before a step has no row there.
    """

    k: int | None = None
    scale: int | None = None
    stride: int | None = None
    maxdim: int | None = None
    labels: str = "true"
    measure: str = "well_trained"
    at_steps: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        steps = self.at_steps
        if (
            any(b <= a for a, b in zip(steps[:-1], steps[1:], strict=True))
            or min(steps, default=0) < 0
        ):
            raise InputError(
                "[topology] at_steps must be ascending steps >= 0 without repeats, got "
                f"{list(steps)}"
            )
        for key in ("k", "scale", "stride", "maxdim"):
            if getattr(self, key) is not None:
                check_parameter(key, getattr(self, key), where="[topology] ")
        if self.labels not in LABEL_SOURCES:
            raise InputError(
                f"[topology] labels must be one of {LABEL_SOURCES}, got {self.labels!r}"
            )
        if self.measure not in MEASURE_CHOICES:
            raise InputError(
                f"[topology] measure must be one of {MEASURE_CHOICES}, got {self.measure!r}"
            )

    def resolve(self, preset: TopologyPreset) -> TopologyPreset:
        """The data set's preset with this section's explicit values applied."""
        chosen = {
            name: getattr(self, name) if getattr(self, name) is not None else getattr(preset, name)
            for name in ("k", "scale", "stride", "maxdim")
        }
        return TopologyPreset(**chosen)


@dataclass(frozen=True)
class RunSection:
    """Where results go and who runs the work.

    Attributes:
        workers: local PH worker processes (None: chosen from the CPU count).
        threads: giotto-ph threads per Betti job (None: 1).
        executor: "local" (this machine's processes and JAX devices) or "ray" (a Ray cluster:
            training groups and Betti jobs as Ray tasks, see `topnn_jax.ray_cluster`).
        address: with "ray", the cluster to join ("auto": the one running on this machine,
            or "HOST:PORT"); None starts a Ray instance on this machine for the run.
        retries: with "ray", how many times a task whose worker or node died is run again.
    """

    out: str = "results/quick"
    workers: int | None = None
    threads: int | None = None
    executor: str = "local"
    address: str | None = None
    retries: int = 3

    def __post_init__(self) -> None:
        if not str(self.out).strip():
            raise InputError('[run] out must name the results folder, e.g. out = "results/quick"')
        for key in ("workers", "threads"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise InputError(f'[run] {key} must be >= 1 or "auto", got {value}')
        if self.executor not in EXECUTORS:
            raise InputError(
                f"[run] executor must be one of {', '.join(EXECUTORS)}, got {self.executor!r}"
            )
        if self.address is not None and self.executor != "ray":
            raise InputError('[run] address names a Ray cluster: set executor = "ray" too')
        if self.retries < 0:
            raise InputError(f"[run] retries must be >= 0, got {self.retries}")


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment, validated."""

    name: str
    data: DataSection
    networks: NetworksSection
    training: TrainingConfig
    topology: TopologySection
    run: RunSection

    def __post_init__(self) -> None:
        try:
            self.training.check_at_steps(self.topology.at_steps)
        except InputError as error:
            raise InputError(f"[topology] {error}") from None

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, not tuples), as written to the results store; `at_steps` only
        when set (so stores measured at the end only have the config they always had)."""
        sections = ("data", "networks", "training", "topology", "run")
        document = {"name": self.name} | {
            section: _jsonable(dataclasses.asdict(getattr(self, section))) for section in sections
        }
        if not self.topology.at_steps:
            del document["topology"]["at_steps"]
        return document

    def load_dataset(self, name: str) -> Dataset:
        """One of the config's data sets, loaded with the config's seed, size and options, its
        [topology] stride checked against its classes (`check_stride`)."""
        dataset = load(name, seed=self.data.seed, size=self.data.size, **self.data.options)
        preset = self.topology.resolve(dataset.preset)
        check_stride(
            dict(enumerate(dataset.class_counts())), preset.k, preset.stride, f"[topology] {name}: "
        )
        return dataset

    def architecture_specs(self, input_dim: int) -> list[ArchitectureSpec]:
        """Every architecture x activation as a spec for data of `input_dim` features."""
        return [
            ArchitectureSpec.parse(arch, input_dim, activation)
            for arch in self.networks.architectures
            for activation in self.networks.activations
        ]


def _jsonable(value: Any) -> Any:
    """Tuples to lists, recursively."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


SECTIONS: dict[str, type] = {
    "data": DataSection,
    "networks": NetworksSection,
    "training": TrainingConfig,
    "topology": TopologySection,
    "run": RunSection,
}


def parse_config(text: str, name: str = "experiment") -> ExperimentConfig:
    """Validate TOML text into an `ExperimentConfig`; `name` is the experiment's (a file's stem)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"config {name}: not valid TOML: {error}") from None
    return config_from_document(document, name)


def config_from_document(document: Any, name: str = "experiment") -> ExperimentConfig:
    """Validate a parsed config (TOML tables, or a store's config.json without its "name")."""
    if not isinstance(document, dict):
        raise InputError(f"config {name}: expected a table of sections, got {document!r:.60}")
    unknown = sorted(set(document) - set(SECTIONS))
    if unknown:
        raise InputError(
            f"config {name}: unknown section [{unknown[0]}]; sections are "
            + ", ".join(f"[{section}]" for section in SECTIONS)
        )
    values = {}
    for section, cls in SECTIONS.items():
        table = document.get(section, {})
        if not isinstance(table, dict):
            raise InputError(f"config {name}: {section} must be a table [{section}]")
        values[section] = _build_section(name, section, cls, _normalise(section, table))
    return ExperimentConfig(name=name, **values)


def config_from_saved(document: Any, fallback_name: str) -> ExperimentConfig:
    """Validate a store's config.json (`ExperimentConfig.to_dict`: sections and a "name",
    `fallback_name` when it has none)."""
    if not isinstance(document, dict):
        raise InputError(f"config {fallback_name}: expected a table of sections")
    name = str(document.get("name", fallback_name))
    return config_from_document(with_saved_defaults(document), name)


def with_saved_defaults(document: dict) -> dict:
    """A store's config.json without its "name", the [training] keys that older stores lack
    filled in as they were then: `SAVED_TRAINING_DEFAULTS` where the behaviour has changed
    since, else today's default (a key added later keeps the old behaviour by default)."""
    sections = {key: value for key, value in document.items() if key != "name"}
    training = sections.get("training")
    if isinstance(training, dict):
        today = _jsonable(dataclasses.asdict(TrainingConfig()))
        sections["training"] = today | SAVED_TRAINING_DEFAULTS | training
    return sections


def _normalise(section: str, table: dict) -> dict:
    """Accept the friendly spellings: dataset = "D-I", seeds = 8, workers = "auto"."""
    table = dict(table)
    if section == "data" and "dataset" in table:
        if "datasets" in table:
            raise InputError("[data]: give either dataset or datasets, not both")
        value = table.pop("dataset")
        table["datasets"] = [value] if isinstance(value, str) else value
    if section == "networks":
        _normalise_seeds(table)
    if section == "run":
        for key in ("workers", "threads"):
            if table.get(key) == "auto":
                table[key] = None
    return table


def _normalise_seeds(table: dict) -> None:
    """seeds = N as the list 0..N-1, after checking what it would cost; every seed and the
    largest top-up seed at most `MAX_SEED` (a key holds 32 bits)."""
    if isinstance(table.get("seeds"), int):
        count = table["seeds"]
        if isinstance(count, bool) or count < 1:
            raise InputError(f"[networks] seeds must be >= 1 (a count) or a list, got {count}")
        defaults = NetworksSection.__dataclass_fields__
        networks = count * len(table.get("architectures", defaults["architectures"].default))
        check_sweep_size(networks * len(table.get("activations", PAPER_ACTIVATIONS)), "[networks] ")
        table["seeds"] = list(range(count))
    seeds = [seed for seed in table.get("seeds", []) if isinstance(seed, int)]
    for seed in seeds:
        if seed > MAX_SEED:
            raise InputError(
                f"[networks] seeds: {seed} is too large, seeds must be < 2**32 (the random key "
                "holds 32 bits)"
            )
    top_up = table.get("top_up", 0)
    if seeds and isinstance(top_up, int) and max(seeds) + top_up > MAX_SEED:
        raise InputError(
            f"[networks] top_up: {top_up} more seeds after {max(seeds)} go past 2**32 - 1, the "
            "largest seed (the random key holds 32 bits)"
        )


def _build_section(name: str, section: str, cls: type, table: dict) -> Any:
    """Check every key's type against the dataclass's annotations, then construct it."""
    hints = typing.get_type_hints(cls)
    allowed = [f.name for f in dataclasses.fields(cls)]
    for key, value in table.items():
        if key not in hints:
            raise InputError(
                f"config {name}: unknown key {key!r} in [{section}]; allowed: {', '.join(allowed)}"
            )
        _check_type(f"[{section}] {key}", value, hints[key])
    converted = {
        key: tuple(value) if isinstance(value, list) else value for key, value in table.items()
    }
    return cls(**converted)


def _check_type(where: str, value: Any, hint: Any) -> None:
    """Raise `InputError` unless `value` (from TOML) fits the annotation `hint`."""
    if not _type_matches(value, hint):
        shown = "list" if isinstance(value, list) else type(value).__name__
        raise InputError(f"{where} must be {_describe_type(hint)}, got {shown} {value!r}")


def _type_matches(value: Any, hint: Any) -> bool:
    """Whether a TOML value fits an annotation: int, float, str, dict, tuple[X, ...], X | None."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_matches(value, option) for option in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return isinstance(value, list) and all(_type_matches(v, item) for v in value)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return isinstance(value, hint)


def _describe_type(hint: Any) -> str:
    """'an integer', 'a list of strings', ... for error messages."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [_describe_type(h) for h in typing.get_args(hint) if h is not type(None)]
        return " or ".join(options)
    if origin is tuple:
        return f"a list of {_describe_type(typing.get_args(hint)[0]).split(' ', 1)[1]}s"
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return names.get(hint, "a table")


def load_config(source: str | Path | None = None) -> ExperimentConfig:
    """A config from a TOML file, or the embedded default experiment when `source` is None.

    A relative `[run] out` is taken against the working folder.
    """
    if source is None:
        text = resources.files("topnn_jax").joinpath("quick.toml").read_text()
        return parse_config(text, name=DEFAULT_EXPERIMENT)
    path = existing_file(source, "config file")
    return parse_config(read_text(path, "config file"), name=path.stem)
