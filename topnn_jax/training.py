"""Train many networks at once: a jitted `lax.scan` program per shape bucket, vmapped over members.

The paper's protocol by default (Naitzat, Zhitnikov and Lim, JMLR 2020, and their code):
full-batch softmax cross-entropy, Adam (0.9, 0.999, 1e-8) with learning rate
lr * 0.5^(step / 2500), lr = 0.02, up to 12,000 steps, training accuracy checked every 500 steps;
a member that classifies every training point correctly at a check is frozen there (with
`stop_when_trained = False` it trains on to the step limit, and its last check decides). Kernels
are Glorot-uniform (`init`) and the arithmetic float32 (`precision`) by default.

Layout of a run (`train`):

* `plan_buckets` groups members whose architectures share a depth and can be zero-padded to
  common widths with a bounded share of wasted work; activations and seeds never split a bucket.
* A bucket runs in groups of at most `TrainingConfig.member_chunk` members. A group's state is one
  stacked pytree whose member axis is sharded over all local devices (`NamedSharding`).
* A group is a Python loop over chunks of `eval_every` steps: `sharded_chunk` runs the jitted
  `batched_chunk` (`train_chunk` under `vmap`, steps in `lax.scan`) on every device's members.
  After each chunk the loop stops once every member is done, failed or at the step limit, and a
  finished member never costs another chunk where the live ones fit a smaller batch
  (`rebatch_layout`): they go on at once in the fewest rows per device that hold them, a power
  of two and at least `MIN_ROWS_PER_DEVICE` (so a group compiles a few batch sizes, each once),
  on as few devices as those rows allow; filler rows make up the rest. A device with fewer rows
  is faster, one left out is free for other work (the PH workers of a run). Every check reports
  the member-steps computed (batch rows x steps run) and useful (steps the members took) in
  `Progress`.

Two training steps compute the same full-batch gradient (`TrainingConfig.step`): "reference", one
row-major pass over all points (the first version), and "tiled" (the default), every layer's
activations feature-major ([width, points], points contiguous) and the gradient summed over tiles
of points in a `lax.scan`, so that a tile's activations stay in cache (2x the member-steps/s
on a 2-core CPU, see benchmarks/bench_training.py). On CPU, JAX's CPU platform should have one
device per core (`topnn_jax.cpu_devices.use_cpu_cores`, which the command line calls): a small
product runs on one core, so the members are split over the devices.

Optional early stops of lost causes, decided at checks: `stop_when_stalled` (the original code's
rule: the best training accuracy did not rise since the previous check) and `stop_when_dead` (one
class predicted for every training point).

A member's key comes from its identity (`Member.key`), and on one backend and step its whole
training is bitwise the same whatever its batch mates, the batch size (from 2 rows per device up),
the batches it moves through or the number of devices (tests check this). The "reference" step
keeps this on small data sets only: on D-I at paper size (7,800 points) its batches of 2 or 3
rows round differently from those of 4 or more (measured on CPU, as at commit 98bf63c).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from operator import itemgetter
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from topnn_jax.config import TrainingConfig
from topnn_jax.datasets.base import Dataset, validate_labelled_points
from topnn_jax.errors import InputError
from topnn_jax.models import (
    ACTIVATIONS,
    ArchitectureSpec,
    Params,
    dense_cost,
    forward,
    forward_feature_major,
    init_params,
    pad_params,
    unpad_params,
)
from topnn_jax.networks import Member, TrainedNetwork, TrainingResult

CPU_MEMBER_CHUNK = 8
CPU_MEMBERS_PER_DEVICE = 4
"""Default members per program on CPU: `CPU_MEMBER_CHUNK`, or `CPU_MEMBERS_PER_DEVICE` per CPU
device where that is more (see benchmarks/bench_training.py); all members of a bucket on
accelerators."""

TILE_POINTS_CPU = 256
"""Points per tile of the "tiled" step on CPU (benchmarks/bench_training.py: 256 to 1,024 about
alike, whole data sets 1.5x slower); elsewhere one tile holds every point."""


def _adam(config: TrainingConfig) -> optax.GradientTransformation:
    """Adam with the continuous exponential learning-rate decay of `config`."""
    schedule = optax.exponential_decay(config.learning_rate, config.decay_steps, config.decay_rate)
    return optax.adam(schedule, b1=config.beta1, b2=config.beta2, eps=config.epsilon)


@dataclass(frozen=True)
class Bucket:
    """Members trained by one program: one depth, layer widths padded to `widths`.

    Attributes:
        widths: padded widths of all layers (input, hidden..., output).
        activations: activations of the members; a member selects its own by index.
        members: indices of the members in the list given to `plan_buckets`.
        waste: fraction of the bucket's work spent on padding.
    """

    widths: tuple[int, ...]
    activations: tuple[str, ...]
    members: tuple[int, ...]
    waste: float


def plan_buckets(specs: Sequence[ArchitectureSpec], max_waste: float) -> list[Bucket]:
    """Group architectures into zero-padded buckets with at most `max_waste` padding work.

    Architectures of different depths (or input/output widths) never share a bucket. Shapes are
    taken from the most expensive down; each joins the compatible bucket where the merged waste
    (1 - real work / padded work, work = multiply-adds per point) is least, if that is at most
    `max_waste`, else opens a new bucket.
    """
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for index, spec in enumerate(specs):
        by_shape.setdefault(spec.widths, []).append(index)
    groups: list[tuple[tuple[int, ...], list[int]]] = []  # (padded widths, member indices)
    for shape in sorted(by_shape, key=lambda s: (-dense_cost(s), s)):
        best: tuple[float, int, tuple[int, ...]] | None = None
        for g, (widths, indices) in enumerate(groups):
            if len(widths) != len(shape) or (widths[0], widths[-1]) != (shape[0], shape[-1]):
                continue
            merged = tuple(map(max, widths, shape))
            waste = _bucket_waste(merged, [specs[i] for i in (*indices, *by_shape[shape])])
            if waste <= max_waste and (best is None or waste < best[0]):
                best = (waste, g, merged)
        if best is None:
            groups.append((shape, list(by_shape[shape])))
        else:
            _, g, merged = best
            groups[g] = (merged, groups[g][1] + by_shape[shape])
    buckets = []
    for widths, indices in groups:
        members = tuple(sorted(indices))
        activations = tuple(dict.fromkeys(specs[i].activation for i in members))
        waste = _bucket_waste(widths, [specs[i] for i in members])
        buckets.append(Bucket(widths, activations, members, waste))
    return buckets


def _bucket_waste(widths: tuple[int, ...], specs: Sequence[ArchitectureSpec]) -> float:
    return 1.0 - sum(spec.cost for spec in specs) / (len(specs) * dense_cost(widths))


class TrainData(NamedTuple):
    """Device arrays shared by all members: train/test points float[n, d] (float32, or
    float64 when training in float64), labels int32[n]."""

    train_points: jax.Array
    train_labels: jax.Array
    test_points: jax.Array
    test_labels: jax.Array


class MemberState(NamedTuple):
    """Training state of one member (or, stacked, of many: every leaf gains a leading axis).

    Attributes:
        params: parameters, zero-padded to the bucket's widths.
        opt_state: Adam state (its count is the member's step, which drives the schedule).
        mask: 1 for real parameters, 0 for padding (same tree as params).
        activation: int32 index into the bucket's activations.
        key: uint32 data of the member's key (`jax.random.key_data`), for minibatch order.
        steps: int32 optimizer steps taken.
        done: bool, every training point was correct at a check.
        fail_step: int32 step at which the loss or parameters became non-finite, else -1.
        train_correct, test_correct: int32 correct counts at the last check.
        best_correct: int32 most training points correct at any check so far, -1 before the
            first (for `TrainingConfig.stop_when_stalled`).
        stopped: bool, stopped early at a check as a lost cause (stalled or dead).
    """

    params: Params
    opt_state: Any
    mask: Params
    activation: jax.Array
    key: jax.Array
    steps: jax.Array
    done: jax.Array
    fail_step: jax.Array
    train_correct: jax.Array
    test_correct: jax.Array
    best_correct: jax.Array
    stopped: jax.Array


class PointTiles(NamedTuple):
    """Points cut into tiles for the "tiled" step, the last tile zero-padded.

    Attributes:
        points: float[tiles, d, T], feature-major (the training precision).
        labels: int32[tiles, T].
        weights: float[tiles, T]: 1 / n for a real point, 0 for padding.
    """

    points: jax.Array
    labels: jax.Array
    weights: jax.Array


def point_tiles(points: jax.Array, labels: jax.Array, tile: int) -> PointTiles:
    """Cut float[n, d] points and int[n] labels into feature-major tiles of min(tile, n)."""
    n, d = points.shape
    size = min(tile, n)
    count = -(-n // size)
    pad = count * size - n
    weights = jnp.concatenate([jnp.full(n, 1.0 / n, points.dtype), jnp.zeros(pad, points.dtype)])
    points = jnp.pad(points, ((0, pad), (0, 0))).reshape(count, size, d).transpose(0, 2, 1)
    labels = jnp.pad(labels, (0, pad)).reshape(count, size)
    return PointTiles(points, labels, weights.reshape(count, size))


def tile_points(config: TrainingConfig) -> int | None:
    """Points per tile of the "tiled" step: the config's, else `TILE_POINTS_CPU` on CPU, else
    None (one tile)."""
    if config.tile_points is not None:
        return config.tile_points
    return TILE_POINTS_CPU if jax.default_backend() == "cpu" else None


def _activation(activations: tuple[str, ...], index: jax.Array) -> Callable[[jax.Array], jax.Array]:
    if len(activations) == 1:
        return ACTIVATIONS[activations[0]]
    branches = [ACTIVATIONS[name] for name in activations]
    return lambda x: jax.lax.switch(index, branches, x)


class Check(NamedTuple):
    """An accuracy check: int32 correct count and int32[classes] count of each predicted class."""

    correct: jax.Array
    predicted: jax.Array


def _check(predictions: jax.Array, labels: jax.Array, real: jax.Array, classes: int) -> Check:
    correct = jnp.sum((predictions == labels) & real, dtype=jnp.int32)
    counts = jnp.sum((predictions[None] == jnp.arange(classes)[:, None]) & real[None], axis=1)
    return Check(correct, counts.astype(jnp.int32))


def _as_given(points: jax.Array, labels: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The inputs of a "reference" pass: float[n, d] points and int[n] labels, unchanged."""
    return points, labels


def _reference_check(params: Params, activation: Callable, inputs: tuple) -> Check:
    points, labels = inputs
    logits = forward(params, points, activation)[-1]
    predictions = jnp.argmax(logits, axis=-1)
    return _check(predictions, labels, jnp.ones_like(labels, bool), logits.shape[-1])


def _tiled_check(params: Params, activation: Callable, tiles: PointTiles) -> Check:
    def one(total: Check, tile: tuple[jax.Array, ...]) -> tuple[Check, None]:
        points, labels, weights = tile
        logits = forward_feature_major(params, points, activation)
        check = _check(jnp.argmax(logits, axis=0), labels, weights > 0, logits.shape[0])
        return Check(*jax.tree.map(jnp.add, tuple(total), tuple(check))), None

    classes = params[f"Dense_{len(params) - 1}"]["bias"].shape[-1]
    zero = Check(jnp.zeros((), jnp.int32), jnp.zeros(classes, jnp.int32))
    return jax.lax.scan(one, zero, tuple(tiles))[0]


def _reference_gradient(
    params: Params, activation: Callable, inputs: tuple
) -> tuple[jax.Array, Params]:
    """Mean cross-entropy of (points, labels) and its gradient, in one row-major pass."""
    points, labels = inputs

    def loss_fn(params: Params) -> jax.Array:
        logits = forward(params, points, activation)[-1]
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    return jax.value_and_grad(loss_fn)(params)


def _tiled_gradient(
    params: Params, activation: Callable, tiles: PointTiles
) -> tuple[jax.Array, Params]:
    """Mean cross-entropy and its gradient, summed tile by tile (weights 1 / n)."""

    def tile_loss(params: Params, points: jax.Array, labels: jax.Array, weights: jax.Array):
        logits = forward_feature_major(params, points, activation)
        losses = optax.softmax_cross_entropy_with_integer_labels(logits.T, labels)
        return jnp.sum(losses * weights)

    def accumulate(total: tuple, tile: tuple[jax.Array, ...]) -> tuple[tuple, None]:
        value = jax.value_and_grad(tile_loss)(params, *tile)
        return jax.tree.map(jnp.add, total, value), None

    zero = (jnp.zeros((), tiles.points.dtype), jax.tree.map(jnp.zeros_like, params))
    return jax.lax.scan(accumulate, zero, tuple(tiles))[0]


def train_chunk(
    state: MemberState,
    data: TrainData,
    *,
    activations: tuple[str, ...],
    config: TrainingConfig,
    padded: bool,
) -> MemberState:
    """Run `config.eval_every` steps of one member, then check its accuracy (pure; vmap it).

    A member that is done, failed, stopped or at `config.max_steps` takes no step. A step whose
    loss or new parameters are not finite is not applied and marks the member failed. At the
    check, the early-stop rules of `config` may stop the member.

    Args:
        state: one member's state (unstacked).
        data: the shared data set.
        activations: the bucket's activations (`state.activation` indexes it).
        config: training settings (`config.step` picks the gradient computation).
        padded: whether the bucket has padded members (then padding is re-zeroed each step).
    """
    activation = _activation(activations, state.activation)
    optimizer = _adam(config)
    n_train = data.train_labels.shape[0]
    tiled = config.step == "tiled"
    tile = tile_points(config) or n_train

    def batch(steps: jax.Array) -> tuple[jax.Array, jax.Array]:
        size = min(config.batch_size, n_train)
        per_epoch = n_train // size
        key = jax.random.fold_in(jax.random.wrap_key_data(state.key), steps // per_epoch)
        order = jax.random.permutation(key, n_train)
        index = jax.lax.dynamic_slice(order, ((steps % per_epoch) * size,), (size,))
        return data.train_points[index], data.train_labels[index]

    # a pass's inputs: feature-major tiles, or the points and labels as given
    prepare = partial(point_tiles, tile=tile) if tiled else _as_given
    gradient_of = _tiled_gradient if tiled else _reference_gradient
    check_of = _tiled_check if tiled else _reference_check
    train_inputs = prepare(data.train_points, data.train_labels)  # once per chunk

    def gradient(params: Params, steps: jax.Array) -> tuple[jax.Array, Params]:
        inputs = train_inputs if config.batch_size is None else prepare(*batch(steps))
        return gradient_of(params, activation, inputs)

    def step(carry: tuple, _: None) -> tuple[tuple, None]:
        params, opt_state, steps, fail_step = carry
        active = ~state.done & ~state.stopped & (fail_step < 0) & (steps < config.max_steps)
        loss, grads = gradient(params, steps)
        updates, new_opt_state = optimizer.update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        if padded:  # padding stays exactly zero, so padded units compute nothing
            new_params = jax.tree.map(jnp.multiply, new_params, state.mask)
        finite = jnp.isfinite(loss)
        for leaf in jax.tree.leaves(new_params):
            finite &= jnp.isfinite(leaf).all()
        take = active & finite
        keep = partial(jax.tree.map, lambda new, old: jnp.where(take, new, old))
        fail_step = jnp.where(active & ~finite, steps, fail_step)
        return (
            keep(new_params, params),
            keep(new_opt_state, opt_state),
            steps + take,
            fail_step,
        ), None

    carry = (state.params, state.opt_state, state.steps, state.fail_step)
    (params, opt_state, steps, fail_step), _ = jax.lax.scan(
        step, carry, None, length=config.eval_every
    )
    on_train = check_of(params, activation, train_inputs)
    on_test = check_of(params, activation, prepare(data.test_points, data.test_labels))
    perfect = (fail_step < 0) & (on_train.correct == n_train)
    done = state.done | (config.stop_when_trained & perfect)
    trained = steps > state.steps  # the member took steps in this chunk
    stalled = (state.best_correct >= 0) & (on_train.correct <= state.best_correct)
    dead = jnp.max(on_train.predicted) == n_train
    # a member training on past 100% (stop_when_trained = False) is not a lost cause
    lost = ((config.stop_when_stalled & stalled) | (config.stop_when_dead & dead)) & ~perfect
    return state._replace(
        params=params,
        opt_state=opt_state,
        steps=steps,
        fail_step=fail_step,
        done=done,
        train_correct=on_train.correct,
        test_correct=on_test.correct,
        best_correct=jnp.maximum(state.best_correct, on_train.correct),
        stopped=state.stopped | (trained & ~done & (fail_step < 0) & lost),
    )


@partial(jax.jit, static_argnames=("activations", "config", "padded"), donate_argnums=0)
def batched_chunk(state: MemberState, data: TrainData, **options: Any) -> MemberState:
    """`train_chunk` vmapped over the leading (member) axis of `state`; donates `state`.

    Args:
        options: the keyword arguments of `train_chunk` (activations, config, padded).
    """
    run = partial(train_chunk, **options)
    # Every member gets its own copy of the data: with a shared operand, vmap turns the first
    # layer into one wide matrix product whose rounding depends on the member's position, and a
    # member's result would depend on its batch mates.
    members = state.steps.shape[0]
    stacked = jax.tree.map(lambda x: jnp.broadcast_to(x, (members, *x.shape)), data)
    return jax.vmap(run)(state, stacked)


def sharded_chunk(
    state: MemberState, data: Sequence[TrainData], mesh: jax.sharding.Mesh, **options: Any
) -> MemberState:
    """`batched_chunk` on each device's rows of `state`, which is sharded over `mesh`.

    Args:
        state: stacked members, leading axis sharded as ``NamedSharding(mesh, P("members"))``.
        data: `data[k]` is the data set on the k-th device of the mesh.
        options: keyword arguments of `batched_chunk`.

    The devices run concurrently (asynchronous dispatch). One compiled single-device program per
    device, rather than one program partitioned by XLA, keeps every member's result bitwise the
    same for any number of devices (XLA fuses a partitioned program differently).
    """
    leaves, treedef = jax.tree.flatten(state)
    shards = [{shard.device: shard.data for shard in leaf.addressable_shards} for leaf in leaves]
    outputs = [
        jax.tree.leaves(
            batched_chunk(jax.tree.unflatten(treedef, [s[device] for s in shards]), on, **options)
        )
        for device, on in zip(mesh.devices.flat, data, strict=True)
    ]
    return jax.tree.unflatten(
        treedef,
        [
            jax.make_array_from_single_device_arrays(
                leaf.shape, leaf.sharding, [out[i] for out in outputs]
            )
            for i, leaf in enumerate(leaves)
        ],
    )


@partial(jax.jit, static_argnums=(0, 2))
def _init_spec(spec: ArchitectureSpec, keys: jax.Array, kernel_init: str) -> Params:
    return jax.vmap(partial(init_params, spec, kernel_init=kernel_init))(keys)


def init_state(members: Sequence[Member], bucket: Bucket, config: TrainingConfig) -> MemberState:
    """Stacked initial state of `members` (all in `bucket`), leading axis = member.

    Each member's parameters are initialised at its own architecture from its own key (so they
    are bitwise independent of its batch mates), then zero-padded to the bucket's widths.
    """
    keys = [member.key() for member in members]
    init_keys = [jax.random.fold_in(key, 0) for key in keys]
    data_keys = [jax.random.fold_in(key, 1) for key in keys]
    params, masks = [], []
    for spec in dict.fromkeys(member.spec for member in members):
        rows = [i for i, member in enumerate(members) if member.spec == spec]
        stacked = _init_spec(spec, jnp.stack([init_keys[i] for i in rows]), config.init)
        stacked = jax.tree.map(lambda leaf: leaf.astype(config.precision), stacked)
        ones = jax.tree.map(lambda leaf: jnp.ones_like(leaf[0]), stacked)
        for j, i in enumerate(rows):
            member_params = jax.tree.map(lambda leaf, j=j: leaf[j], stacked)
            params.append((i, pad_params(member_params, bucket.widths)))
            masks.append((i, pad_params(ones, bucket.widths)))
    stack = partial(jax.tree.map, lambda *leaves: jnp.stack(leaves))
    params_stacked = stack(*(p for _, p in sorted(params, key=lambda x: x[0])))
    n = len(members)
    return MemberState(
        params=params_stacked,
        opt_state=jax.vmap(_adam(config).init)(params_stacked),
        mask=stack(*(m for _, m in sorted(masks, key=lambda x: x[0]))),
        activation=jnp.asarray(
            [bucket.activations.index(m.spec.activation) for m in members], jnp.int32
        ),
        key=jnp.stack([jax.random.key_data(key) for key in data_keys]),
        steps=jnp.zeros(n, jnp.int32),
        done=jnp.zeros(n, bool),
        fail_step=jnp.full(n, -1, jnp.int32),
        train_correct=jnp.zeros(n, jnp.int32),
        test_correct=jnp.zeros(n, jnp.int32),
        best_correct=jnp.full(n, -1, jnp.int32),
        stopped=jnp.zeros(n, bool),
    )


@dataclass(frozen=True)
class Progress:
    """Reported after every accuracy check: step budget spent, members finished and member-steps,
    all so far.

    Attributes:
        computed: member-steps computed: every row of every batch (filler rows and finished
            members included) x the steps of each chunk it ran.
        useful: member-steps the members took (`TrainingResult.steps`, summed).
    """

    steps_done: int
    steps_total: int
    finished: int
    members: int
    computed: int = 0
    useful: int = 0


def member_mesh(members: int | None = None, max_devices: int | None = None) -> jax.sharding.Mesh:
    """A 1-D mesh ("members") over the local devices, sharding chosen by the compiler: all of
    them, at most `max_devices`, and no more than give groups of `members`
    `MIN_ROWS_PER_DEVICE` members per device."""
    devices = jax.local_devices()[:max_devices]
    if members is not None:
        devices = devices[: max(1, min(len(devices), members // MIN_ROWS_PER_DEVICE))]
    return _mesh(devices)


def _mesh(devices: Sequence[jax.Device]) -> jax.sharding.Mesh:
    return jax.make_mesh(
        (len(devices),), ("members",), (jax.sharding.AxisType.Auto,), devices=devices
    )


def device_data(
    dataset: Dataset, mesh: jax.sharding.Mesh, precision: str = "float32"
) -> list[TrainData]:
    """The data set's arrays on every device of `mesh`, in mesh order, points in `precision`."""
    arrays = TrainData(
        np.asarray(dataset.train_points, precision),
        np.asarray(dataset.train_labels, np.int32),
        np.asarray(dataset.test_points, precision),
        np.asarray(dataset.test_labels, np.int32),
    )
    return [jax.device_put(arrays, device) for device in mesh.devices.flat]


def default_member_chunk() -> int | None:
    """Members per program when the config does not say (see `CPU_MEMBERS_PER_DEVICE`); None
    (all) off the CPU."""
    if jax.default_backend() != "cpu":
        return None
    return max(CPU_MEMBER_CHUNK, CPU_MEMBERS_PER_DEVICE * jax.local_device_count())


def train(
    dataset: Dataset,
    members: Sequence[Member],
    config: TrainingConfig = TrainingConfig(),
    progress: Callable[[Progress], None] | None = None,
    at_steps: Sequence[int] = (),
) -> list[TrainedNetwork]:
    """Train `members` on `dataset`; returns one `TrainedNetwork` per member, in order, with
    its parameters at each of `at_steps` (multiples of `config.eval_every`) it trained through
    (`TrainedNetwork.snapshots`).

    Raises:
        InputError: a member is for another data set or another input dimension, or the data
            are malformed (wrong shape, NaN, labels not 0/1).
    """
    results: list[TrainedNetwork | None] = [None] * len(members)
    for group in train_groups(dataset, members, config, progress, at_steps):
        for i, network in group:
            results[i] = network
    return results  # type: ignore[return-value]


def train_groups(
    dataset: Dataset,
    members: Sequence[Member],
    config: TrainingConfig = TrainingConfig(),
    progress: Callable[[Progress], None] | None = None,
    at_steps: Sequence[int] = (),
) -> Iterator[list[tuple[int, TrainedNetwork]]]:
    """Train `members` one compiled group at a time, yielding each group as it finishes; the
    parameters at `at_steps` are kept as in `train`.

    A member's outcome does not depend on its group (see `Member.key`), so a caller may stream
    a group's networks onward while the next group trains.

    Yields:
        (index into `members`, its `TrainedNetwork`) for every member of the finished group.

    Raises:
        InputError: as `train`.
    """
    check_members(dataset, members)
    check_precision(config)
    at_steps = config.check_at_steps(at_steps)
    chunk = config.member_chunk or default_member_chunk() or len(members)
    mesh = member_mesh(min(chunk, len(members)))
    data = device_data(dataset, mesh, config.precision)
    groups = plan_groups(members, chunk, config.max_padding_waste)
    before = Progress(0, len(groups) * config.max_steps, 0, len(members))  # earlier groups'
    for bucket, indices in groups:

        def report(check: GroupCheck, before: Progress = before) -> None:
            if progress is not None:
                progress(
                    dataclasses.replace(
                        before,
                        steps_done=before.steps_done + check.step,
                        finished=before.finished + check.finished,
                        computed=before.computed + check.computed,
                        useful=before.useful + check.useful,
                    )
                )

        group = [members[i] for i in indices]
        networks, computed = _train_group(group, bucket, data, mesh, config, report, at_steps)
        yield list(zip(indices, networks, strict=True))
        before = dataclasses.replace(
            before,
            steps_done=before.steps_done + config.max_steps,
            finished=before.finished + len(indices),
            computed=before.computed + computed,
            useful=before.useful + sum(network.result.steps for network in networks),
        )


def check_precision(config: TrainingConfig) -> None:
    """`InputError` unless JAX can compute in `config.precision` (float64 needs its x64 mode)."""
    if config.precision == "float64" and not jax.config.jax_enable_x64:
        raise InputError(
            '[training] precision = "float64" needs JAX\'s 64-bit mode: run with '
            "JAX_ENABLE_X64=1 in the environment (or call jax.config.update('jax_enable_x64', "
            "True) before any JAX work)"
        )


def check_members(dataset: Dataset, members: Sequence[Member]) -> None:
    """Raise `InputError` unless the data are well formed and every member fits the data set."""
    for split in ("train", "test"):
        validate_labelled_points(
            getattr(dataset, f"{split}_points"),
            getattr(dataset, f"{split}_labels"),
            what=f"{dataset.name} {split} set",
            need_both=split == "train",
        )
    if not members:
        raise InputError("no networks to train: give at least one architecture, activation, seed")
    if len(set(members)) != len(members):
        raise InputError(
            "a network is listed twice (same data set, architecture, activation, seed)"
        )
    for member in members:
        if member.dataset != dataset.name:
            raise InputError(
                f"{member.network_id} is for data set {member.dataset!r}, not {dataset.name!r}"
            )
        if member.spec.input_dim != dataset.dim:
            raise InputError(
                f"{member.network_id} takes {member.spec.input_dim} input features but "
                f"{dataset.name} has {dataset.dim}"
            )


def plan_groups(
    members: Sequence[Member], chunk: int, max_padding_waste: float
) -> list[tuple[Bucket, tuple[int, ...]]]:
    """The compiled groups that train `members`: (bucket, indices into `members`) per group,
    each bucket (`plan_buckets`) split into the fewest groups of at most `chunk` members."""
    buckets = plan_buckets([m.spec for m in members], max_padding_waste)
    return [(bucket, part) for bucket in buckets for part in _split(bucket.members, chunk)]


def _split(indices: Sequence[int], size: int) -> list[tuple[int, ...]]:
    """Split into the fewest parts of at most `size`, as equal as possible."""
    parts = -(-len(indices) // size)
    bounds = np.linspace(0, len(indices), parts + 1).round().astype(int)
    return [tuple(indices[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


MIN_ROWS_PER_DEVICE = 2
"""A device's batch has at least two rows. XLA compiles a batch of one differently: it drops the
member axis and may swap the operands of a matrix product, so that a member's results differ in
the last bits from the same member's in a larger batch (measured on CPU, "tiled" step: D-I
10_by_50 tanh, the first and last layers' gradients; 10_by_15 relu happened to agree; the
"reference" step differs for 3_by_6 tanh). One row would also save little on a CPU: a D-I 10_by_15
step takes 3.0 ms on one row, 3.4 ms on two, 5.0 ms on three (one core of the 2-core Xeon)."""


def batch_size(members: int, n_devices: int) -> int:
    """Rows of a group's first batch for `members`: a multiple of `n_devices` with at least
    `MIN_ROWS_PER_DEVICE` per device."""
    return max(-(-members // n_devices), MIN_ROWS_PER_DEVICE) * n_devices


def rebatch_layout(live: int, n_devices: int, rows: int) -> tuple[int, int]:
    """(devices, rows per device) of the batch that trains `live` members on, from a batch of
    `rows` per device, with up to `n_devices` devices.

    The rows per device are the fewest that hold `live` on `n_devices`, rounded up to a power of
    two and at least `MIN_ROWS_PER_DEVICE`, or `rows` where that is fewer (a batch never grows);
    the devices are as few as hold `live` in those rows (the first of the group's devices, which
    ran every larger batch, so a batch of `rows` on fewer devices compiles nothing new). Powers
    of two bound the programs a group compiles to about log2 of its first batch's rows.
    """
    needed = max(-(-live // n_devices), MIN_ROWS_PER_DEVICE)
    rows = min(rows, 1 << (needed - 1).bit_length())
    return -(-live // rows), rows


def _place(state: MemberState, real: int, mesh: jax.sharding.Mesh) -> MemberState:
    """Shard `state` (on a device or the host) over `mesh`; rows from `real` on are fillers and
    are marked done."""
    done = np.array(state.done)
    done[real:] = True
    return jax.device_put(state._replace(done=done), NamedSharding(mesh, P("members")))


def start_batch(
    group: Sequence[Member], bucket: Bucket, config: TrainingConfig, mesh: jax.sharding.Mesh
) -> MemberState:
    """Initial state of `group`, filled up to `batch_size` rows and sharded over `mesh`.

    Filler rows are copies of the first member, marked done (their results are discarded).
    """
    size = batch_size(len(group), mesh.devices.size)
    state = init_state([*group, *[group[0]] * (size - len(group))], bucket, config)
    return _place(state, len(group), mesh)


class GroupCheck(NamedTuple):
    """A group's state at an accuracy check: its step (at most the step limit), members finished,
    and member-steps computed and useful so far (see `Progress`)."""

    step: int
    finished: int
    computed: int
    useful: int


def _train_group(
    group: Sequence[Member],
    bucket: Bucket,
    data: Sequence[TrainData],
    mesh: jax.sharding.Mesh,
    config: TrainingConfig,
    report: Callable[[GroupCheck], None],
    at_steps: frozenset[int] = frozenset(),
) -> tuple[list[TrainedNetwork], int]:
    """Train one group of a bucket to completion on the mesh; `report` at every check; the
    parameters of the members still training at each of `at_steps` are kept. Returns the
    group's networks and the member-steps it computed.

    After every check where the members still training fit a smaller batch
    (`rebatch_layout`), the finished members leave and the others go on in that batch, on the
    first devices of the mesh, filled up with filler rows.
    """
    n_devices = mesh.devices.size
    # only the group's own activations are computed (a mixed group evaluates every one of them)
    activations = tuple(dict.fromkeys(member.spec.activation for member in group))
    bucket = dataclasses.replace(bucket, activations=activations)
    state = start_batch(group, bucket, config, mesh)
    rows = np.full(state.steps.shape[0], -1)  # batch position -> index in group, -1 = filler
    rows[: len(group)] = np.arange(len(group))
    devices, per_device, batch_mesh = n_devices, len(rows) // n_devices, mesh
    padded = any(member.spec.widths != bucket.widths for member in group)
    run = partial(sharded_chunk, activations=bucket.activations, config=config, padded=padded)
    networks: dict[int, TrainedNetwork] = {}
    snapshots: dict[int, dict[int, Params]] = {i: {} for i in range(len(group))}
    step = computed = 0
    if 0 in at_steps:
        _keep_snapshots(snapshots, group, rows, state, 0)
    while len(networks) < len(group):
        state = run(state, data[:devices], batch_mesh)
        step += config.eval_every
        computed += len(rows) * config.eval_every
        if step in at_steps and step < config.max_steps:
            _keep_snapshots(snapshots, group, rows, state, step)
        steps, done, stopped, fail_step = jax.device_get(
            (state.steps, state.done, state.stopped, state.fail_step)
        )
        ended = done | stopped | (fail_step >= 0) | (steps >= config.max_steps)
        active = (rows >= 0) & ~ended
        n_active = int(active.sum())
        useful = sum(n.result.steps for n in networks.values()) + int(steps[rows >= 0].sum())
        report(GroupCheck(min(step, config.max_steps), len(group) - n_active, computed, useful))
        layout = rebatch_layout(n_active, n_devices, per_device) if n_active else None
        if layout == (devices, per_device):
            continue
        final = jax.device_get(state)
        for position in np.flatnonzero((rows >= 0) & ~active):
            member = group[rows[position]]
            network = _network(member, final, position, data[0], config)
            kept = {s: p for s, p in snapshots[rows[position]].items() if s < network.result.steps}
            networks[rows[position]] = dataclasses.replace(network, snapshots=kept)
        if layout is not None:
            devices, per_device = layout
            keep = np.flatnonzero(active)
            take = np.concatenate([keep, np.full(devices * per_device - n_active, keep[0])])
            batch_mesh = _mesh(mesh.devices.flat[:devices])
            state = _place(jax.tree.map(itemgetter(take), final), n_active, batch_mesh)
            rows = np.concatenate([rows[keep], np.full(len(take) - n_active, -1)])
    return [networks[i] for i in range(len(group))], computed


def _keep_snapshots(
    snapshots: dict[int, dict[int, Params]],
    group: Sequence[Member],
    rows: np.ndarray,
    state: MemberState,
    step: int,
) -> None:
    """Keep the parameters of every member of the batch that has taken all `step` steps
    (`rows`: batch position -> index in `group`, -1 = filler)."""
    steps, params = jax.device_get((state.steps, state.params))
    for position in np.flatnonzero((rows >= 0) & (steps == step)):
        leaves = jax.tree.map(lambda leaf, p=position: np.asarray(leaf[p]), params)
        snapshots[rows[position]][step] = unpad_params(leaves, group[rows[position]].spec)


def _network(
    member: Member, final: MemberState, row: int, data: TrainData, config: TrainingConfig
) -> TrainedNetwork:
    """The trained network in row `row` of a host copy of a batch's state."""
    n_train, n_test = data.train_labels.shape[0], data.test_labels.shape[0]
    train_correct, test_correct = int(final.train_correct[row]), int(final.test_correct[row])
    fail_step = int(final.fail_step[row])
    failed = f"loss or parameters became non-finite at step {fail_step}" if fail_step >= 0 else None
    well = (
        failed is None
        and train_correct == n_train
        and n_test - test_correct <= config.max_test_error * n_test
    )
    result = TrainingResult(
        steps=int(final.steps[row]),
        train_correct=train_correct,
        n_train=n_train,
        test_correct=test_correct,
        n_test=n_test,
        well_trained=well,
        failed=failed,
    )
    params = unpad_params(
        jax.tree.map(lambda leaf: np.asarray(leaf[row]), final.params), member.spec
    )
    return TrainedNetwork(member, params, result)
