"""Batched training: protocol, early stop, failures, independence from batch mates and devices."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from topnn_jax.cli import training as training_cli
from topnn_jax.config import TrainingConfig
from topnn_jax.datasets import Dataset, load
from topnn_jax.errors import InputError
from topnn_jax.models import ACTIVATIONS, ArchitectureSpec, layer_outputs
from topnn_jax.networks import Member, make_members
from topnn_jax.store import (
    NETWORK_COLUMNS,
    load_network,
    params_path,
    save_network,
    write_networks_csv,
)
from topnn_jax.training import (
    TrainData,
    _reference_gradient,
    _tiled_gradient,
    batched_chunk,
    init_state,
    plan_buckets,
    point_tiles,
    rebatch_layout,
    train,
)

CONFIG = TrainingConfig(max_steps=600, eval_every=100)


@pytest.fixture(scope="module")
def d1() -> Dataset:
    return load("D-I", seed=0, size=1500)


@pytest.fixture(scope="module")
def eight(d1):
    """4_by_8 with relu and tanh, seeds 0-3, trained in one batch; and the progress reports."""
    specs = [ArchitectureSpec.parse("4_by_8", 2, a) for a in ("relu", "tanh")]
    members = make_members(d1.name, specs, range(4))
    reports = []
    return members, train(d1, members, CONFIG, progress=reports.append), reports


STAGGERED = TrainingConfig(max_steps=800, eval_every=100, stop_when_stalled=True)
SNAPSHOTS = (300, 600)


@pytest.fixture(scope="module")
def staggered(d1):
    """4_by_8 with relu and tanh, seeds 0-3, trained in one batch with the stalled stopped, so
    that members end at different checks (parameters kept at `SNAPSHOTS`); and the progress."""
    specs = [ArchitectureSpec.parse("4_by_8", 2, a) for a in ("relu", "tanh")]
    members = make_members(d1.name, specs, range(4))
    reports = []
    networks = train(d1, members, STAGGERED, reports.append, SNAPSHOTS)
    return members, networks, reports


def _assert_same(networks, others) -> None:
    """Same members, results and bitwise parameters (and snapshots)."""
    for a, b in zip(networks, others, strict=True):
        assert a.member == b.member and a.result == b.result
        assert sorted(a.snapshots) == sorted(b.snapshots)
        for x, y in zip(
            jax.tree.leaves((a.params, a.snapshots)),
            jax.tree.leaves((b.params, b.snapshots)),
            strict=True,
        ):
            np.testing.assert_array_equal(x, y)


def computed_member_steps(steps: list[int], config: TrainingConfig, n_devices: int) -> int:
    """Member-steps computed by a group whose members take `steps` on `n_devices` devices, when
    after every check the members still training go on in the fewest rows per device that hold
    them (a power of two, at least 2, never more than before), on the fewest devices."""
    rows, devices = max(-(-len(steps) // n_devices), 2), n_devices
    step = total = 0
    while any(s > step for s in steps):
        total += devices * rows * config.eval_every
        step += config.eval_every
        live = sum(s > step for s in steps)
        rows = min(rows, 1 << (max(-(-live // n_devices), 2) - 1).bit_length())
        devices = -(-live // rows)
    return total


def test_batch_trains_with_early_stop_and_step_limit(eight, d1):
    members, networks, reports = eight
    assert [n.member for n in networks] == members
    stopped = [n for n in networks if n.result.steps < CONFIG.max_steps]
    assert stopped, "some member should reach 100% training accuracy before the limit"
    for n in networks:
        r = n.result
        assert r.failed is None
        assert r.n_train == len(d1.train_labels) and r.n_test == len(d1.test_labels)
        assert r.steps % CONFIG.eval_every == 0 and 0 < r.steps <= CONFIG.max_steps
        if r.steps < CONFIG.max_steps:
            assert r.train_correct == r.n_train and r.train_accuracy == 1.0
        errors = r.n_test - r.test_correct
        assert r.well_trained == (r.train_correct == r.n_train and errors <= 0.01 * r.n_test)
    assert reports[-1].steps_done == reports[-1].steps_total == CONFIG.max_steps
    assert reports[-1].finished == reports[-1].members == len(members)
    assert [r.steps_done for r in reports] == sorted(r.steps_done for r in reports)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_seed_trained_alone_matches_seed_in_a_batch(eight, d1, activation):
    members, networks, _ = eight
    index = members.index(Member(d1.name, ArchitectureSpec.parse("4_by_8", 2, activation), 2))
    _assert_same(train(d1, [members[index]], CONFIG), [networks[index]])
    bucket = plan_buckets([m.spec for m in members], 0.25)[0]
    first = init_state([members[index]], bucket, CONFIG)
    batch = init_state(members, bucket, CONFIG)
    for a, b in zip(jax.tree.leaves(first.params), jax.tree.leaves(batch.params), strict=True):
        np.testing.assert_array_equal(a[0], b[index])


def test_finished_members_leave_the_batch_and_nothing_changes(staggered, d1):
    members, networks, reports = staggered
    steps = [network.result.steps for network in networks]
    assert len(set(steps)) >= 3, f"members should end at different checks: {steps}"
    assert reports[-1].useful == sum(steps)
    assert reports[-1].computed == computed_member_steps(steps, STAGGERED, n_devices=1)
    assert reports[-1].computed < len(members) * max(steps)  # the batch shrank
    assert [r.computed for r in reports] == sorted({r.computed for r in reports})
    assert all(r.useful <= r.computed for r in reports)
    # the first to end and one that trained on in the smaller batches, each as trained alone (on
    # 4 devices, shrinking otherwise: test_four_host_devices_give_the_same_results_as_one)
    for i in {steps.index(min(steps)), steps.index(max(steps))}:
        _assert_same(train(d1, [members[i]], STAGGERED, at_steps=SNAPSHOTS), [networks[i]])


def test_rebatch_layout_shrinks_to_powers_of_two_on_the_fewest_devices():
    assert rebatch_layout(4, n_devices=2, rows=3) == (2, 2)
    assert rebatch_layout(2, n_devices=2, rows=3) == (1, 2)  # one device frees the other
    assert rebatch_layout(5, n_devices=2, rows=3) == (2, 3)  # never a larger batch
    assert rebatch_layout(1, n_devices=4, rows=8) == (1, 2)  # at least 2 rows
    assert rebatch_layout(9, n_devices=1, rows=32) == (1, 16)
    assert rebatch_layout(17, n_devices=1, rows=32) == (1, 32)
    assert rebatch_layout(6, n_devices=4, rows=8) == (3, 2)


def test_reference_step_is_independent_of_batch_mates(d1):
    specs = [ArchitectureSpec.parse("3_by_6", 2, a) for a in ("relu", "tanh")]
    members = make_members(d1.name, specs, range(2))
    config = TrainingConfig(max_steps=200, eval_every=100, step="reference")
    together = train(d1, members, config)
    _assert_same(train(d1, members[2:3], config), together[2:3])


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_tiled_gradient_equals_the_reference_gradient(d1, activation):
    spec = ArchitectureSpec.parse("2-8-3-8-2", 2, activation)
    member = make_members(d1.name, [spec], [0])
    params = jax.tree.map(
        lambda x: x[0], init_state(member, plan_buckets([spec], 0)[0], CONFIG).params
    )
    points = jnp.asarray(d1.train_points, jnp.float32)
    labels = jnp.asarray(d1.train_labels, jnp.int32)
    tiles = point_tiles(points, labels, 64)
    assert len(points) % 64 and tiles.points.shape == (-(-len(points) // 64), 2, 64)  # padded
    weight_sum = np.asarray(tiles.weights, np.float64).sum()  # float32 sums round by order
    assert weight_sum == pytest.approx(1, rel=1e-6) and tiles.labels.shape == (
        len(tiles.points),
        64,
    )
    loss, grads = _tiled_gradient(params, ACTIVATIONS[activation], tiles)
    want_loss, want = _reference_gradient(params, ACTIVATIONS[activation], (points, labels))
    assert float(loss) == pytest.approx(float(want_loss), rel=1e-5)
    for got, expected in zip(jax.tree.leaves(grads), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def _dead_state(d1, config):
    """Two members whose parameters are all zero: ReLU units output 0, every point gets class 0
    for ever (the bias learns the class prior)."""
    spec = ArchitectureSpec.parse("3_by_4", 2, "relu")
    members = make_members(d1.name, [spec], range(2))
    state = init_state(members, plan_buckets([spec], 0.25)[0], config)
    data = TrainData(
        *map(jnp.asarray, (d1.train_points, d1.train_labels, d1.test_points, d1.test_labels))
    )
    return state._replace(params=jax.tree.map(jnp.zeros_like, state.params)), data


@pytest.mark.parametrize(
    ("rules", "stop_at"),
    [({}, None), ({"stop_when_dead": True}, 10), ({"stop_when_stalled": True}, 20)],
)
def test_lost_causes_stop_at_a_check(d1, rules, stop_at):
    config = TrainingConfig(max_steps=40, eval_every=10, **rules)
    state, data = _dead_state(d1, config)
    for _ in range(4):
        state = batched_chunk(state, data, activations=("relu",), config=config, padded=False)
    assert not state.done.any()
    assert state.steps.tolist() == [stop_at or 40] * 2
    assert state.stopped.tolist() == [stop_at is not None] * 2


def test_a_stalled_network_ends_not_well_trained(d1):
    spec = ArchitectureSpec.parse("3_by_6", 2, "relu")
    config = TrainingConfig(learning_rate=1e-12, max_steps=300, eval_every=100)
    members = make_members(d1.name, [spec], range(2))
    stalled = train(d1, members, dataclasses.replace(config, stop_when_stalled=True))
    assert [n.result.steps for n in stalled] == [200, 200]
    assert not any(n.result.well_trained for n in stalled)
    assert [n.result.steps for n in train(d1, members, config)] == [300, 300]


def test_early_stopped_member_is_frozen(eight, d1):
    members, networks, _ = eight
    longer = train(d1, members, TrainingConfig(max_steps=800, eval_every=100))
    stopped = [i for i, n in enumerate(networks) if n.result.steps < CONFIG.max_steps]
    _assert_same([longer[i] for i in stopped], [networks[i] for i in stopped])


def test_four_host_devices_give_the_same_results_as_one(staggered, tmp_path):
    members, networks, _ = staggered
    script = textwrap.dedent(
        f"""
        import jax
        from topnn_jax.datasets import load
        from topnn_jax.models import ArchitectureSpec
        from topnn_jax import TrainingConfig, make_members, train
        from topnn_jax.store import save_network
        assert jax.device_count() == 4, jax.devices()
        d1 = load("D-I", seed=0, size=1500)
        specs = [ArchitectureSpec.parse("4_by_8", 2, a) for a in ("relu", "tanh")]
        members = make_members(d1.name, specs, range(4))
        config = TrainingConfig(max_steps=800, eval_every=100, stop_when_stalled=True)
        reports = []
        for network in train(d1, members, config, reports.append):
            save_network(network, {str(tmp_path)!r})
        print(reports[-1].computed)
        """
    )
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded = [load_network(params_path(tmp_path, m.network_id)) for m in members]
    _assert_same(loaded, [dataclasses.replace(n, snapshots={}) for n in networks])
    # 2 rows on each device, then on fewer devices as members end
    steps = [network.result.steps for network in networks]
    assert int(done.stdout.split()[-1]) == computed_member_steps(steps, STAGGERED, n_devices=4)


def test_padded_member_matches_unpadded(d1):
    bottleneck = ArchitectureSpec.parse("2-8-3-8-2", 2, "sigmoid")
    wide = ArchitectureSpec.parse("4_by_8", 2, "tanh")
    config = TrainingConfig(max_steps=200, eval_every=100, max_padding_waste=0.5)
    (bucket,) = plan_buckets([bottleneck, wide], config.max_padding_waste)
    assert bucket.widths == (2, 8, 8, 8, 2) and bucket.waste == pytest.approx(0.25)
    padded = train(d1, make_members(d1.name, [bottleneck, wide], [0]), config)[0]
    alone = train(d1, make_members(d1.name, [bottleneck], [0]), config)[0]
    assert padded.result == alone.result
    assert [p.shape for p in jax.tree.leaves(padded.params)] == [
        p.shape for p in jax.tree.leaves(alone.params)
    ]
    points = d1.test_points
    got = layer_outputs(padded.params, bottleneck, points)
    want = layer_outputs(alone.params, bottleneck, points)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_planner_bounds_padding_waste():
    def spec(arch: str) -> ArchitectureSpec:
        return ArchitectureSpec.parse(arch, 2, "leaky_relu")

    specs = [
        spec("10_by_15"),
        spec("2-15-15-15-15-3-15-15-15-15-2"),
        spec("10_by_5"),
        spec("10_by_50"),
        spec("4_by_15"),
        spec("10_by_15"),
    ]
    buckets = plan_buckets(specs, max_waste=0.25)
    members = sorted(tuple(b.members) for b in buckets)
    assert members == [(0, 1, 5), (2,), (3,), (4,)]
    assert all(b.waste <= 0.25 for b in buckets)
    assert len(plan_buckets(specs, max_waste=0.0)) == 5
    assert len(plan_buckets(specs[:4], max_waste=1.0)) == 1
    mixed = plan_buckets([spec("10_by_15"), ArchitectureSpec.parse("10_by_15", 2, "tanh")], 0.25)
    assert len(mixed) == 1 and mixed[0].activations == ("leaky_relu", "tanh")


def test_non_finite_loss_fails_that_member_only(d1):
    spec = ArchitectureSpec.parse("3_by_4", 2, "relu")
    members = make_members(d1.name, [spec], range(2))
    (bucket,) = plan_buckets([spec], 0.25)
    config = TrainingConfig(max_steps=50, eval_every=10)
    state = init_state(members, bucket, config)
    state = state._replace(params=jax.tree.map(lambda x: x.at[0].set(jnp.nan), state.params))
    data = TrainData(
        *map(jnp.asarray, (d1.train_points, d1.train_labels, d1.test_points, d1.test_labels))
    )
    out = batched_chunk(state, data, activations=("relu",), config=config, padded=False)
    assert out.fail_step.tolist() == [0, -1]
    assert out.steps.tolist() == [0, 10]

    exploding = train(d1, members, TrainingConfig(learning_rate=1e38, max_steps=50, eval_every=10))
    for n in exploding:
        assert n.result.failed is not None and "non-finite" in n.result.failed
        assert not n.result.well_trained


def test_minibatches_are_independent_of_batch_mates(d1):
    specs = [ArchitectureSpec.parse("3_by_6", 2, a) for a in ("relu", "leaky_relu")]
    members = make_members(d1.name, specs, range(2))
    config = TrainingConfig(max_steps=60, eval_every=30, batch_size=64)
    together = train(d1, members, config)
    _assert_same(train(d1, members[3:], config), together[3:])


def test_cpu_devices_are_asked_for_before_jax_starts():
    script = (
        "import jax; from topnn_jax.cpu_devices import use_cpu_cores; "
        "print(use_cpu_cores(3), use_cpu_cores(5), jax.device_count())"
    )
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3", "3", "3"]  # the second call comes too late: kept


def test_member_key_comes_from_identity():
    spec = ArchitectureSpec.parse("10_by_15", 2, "relu")
    member = Member("D-I", spec, 2)
    same = Member("D-I", ArchitectureSpec.parse("2-" + "15-" * 9 + "2", 2, "relu"), 2)
    assert jnp.array_equal(jax.random.key_data(member.key()), jax.random.key_data(same.key()))
    others = [
        Member("D-II", spec, 2),
        Member("D-I", spec, 3),
        Member("D-I", ArchitectureSpec.parse("10_by_15", 2, "tanh"), 2),
        Member("D-I", ArchitectureSpec.parse("9_by_15", 2, "relu"), 2),
    ]
    keys = {tuple(np.asarray(jax.random.key_data(m.key()))) for m in [member, *others]}
    assert len(keys) == 5
    assert member.network_id == "D-I_10_by_15_relu_s2"
    assert Member("my data/x", spec, 0).network_id == "my_data_x_10_by_15_relu_s0"


def test_save_load_and_csv_round_trip(eight, tmp_path):
    _, networks, _ = eight
    network = networks[5]
    path = save_network(network, tmp_path)
    assert path.name == f"{network.member.network_id}.npz"
    loaded = load_network(path)
    _assert_same([loaded], [network])
    points = np.random.default_rng(1).uniform(-1, 1, (50, 2)).astype(np.float32)
    for a, b in zip(
        layer_outputs(loaded.params, loaded.member.spec, points),
        layer_outputs(network.params, network.member.spec, points),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a saved topnn-jax network"):
        load_network(tmp_path / "junk.npz")

    write_networks_csv(tmp_path / "networks.csv", networks)
    with open(tmp_path / "networks.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == NETWORK_COLUMNS
    assert [r["network_id"] for r in rows] == [n.member.network_id for n in networks]
    assert rows[5]["steps"] == str(network.result.steps)
    assert rows[5]["well_trained"] == ("true" if network.result.well_trained else "false")


def test_bad_input_raises_input_error(d1):
    spec = ArchitectureSpec.parse("3_by_4", 2, "relu")
    with pytest.raises(InputError, match="takes 3 input features but D-I has 2"):
        train(d1, [Member("D-I", ArchitectureSpec.parse("3_by_4", 3, "relu"), 0)])
    with pytest.raises(InputError, match="is for data set 'D-II'"):
        train(d1, [Member("D-II", spec, 0)])
    with pytest.raises(InputError, match="no networks"):
        train(d1, [])
    with pytest.raises(InputError, match="twice"):
        train(d1, [Member("D-I", spec, 0)] * 2)
    broken = Dataset(
        name="D-I",
        train_points=d1.train_points.copy(),
        train_labels=d1.train_labels,
        test_points=d1.test_points,
        test_labels=d1.test_labels,
        preset=d1.preset,
    )
    broken.train_points[3, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        train(broken, [Member("D-I", spec, 0)])
    with pytest.raises(InputError, match="seed"):
        Member("D-I", spec, -1)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("learning_rate", 0.0),
        ("max_steps", 0),
        ("eval_every", -5),
        ("beta2", 1.0),
        ("batch_size", 0),
        ("max_test_error", 1.5),
        ("member_chunk", 0),
        ("tile_points", 0),
        ("step", "fast"),
    ],
)
def test_bad_config_raises_input_error(field, value):
    with pytest.raises(InputError, match=field):
        TrainingConfig(**{field: value})


def test_cli_writes_networks_csv_and_parameters(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    training_cli.register(parser.add_subparsers())
    out = tmp_path / "run"
    args = parser.parse_args(
        "train --dataset D-I --size 1500 --arch 3_by_4 --activation relu --activation tanh "
        f"--seed-list 1,3 --max-steps 40 --eval-every 20 --no-progress --out {out}".split()
    )
    assert args.handler(args) == 0
    with open(out / "networks.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["activation"], r["seed"], r["architecture"]) for r in rows] == [
        ("relu", "1", "3_by_4"),
        ("relu", "3", "3_by_4"),
        ("tanh", "1", "3_by_4"),
        ("tanh", "3", "3_by_4"),
    ]
    assert sorted(p.name for p in (out / "params").iterdir()) == sorted(
        f"{r['network_id']}.npz" for r in rows
    )
    assert "of 4 networks well trained" in capsys.readouterr().out
    assert training_cli.parse_seeds(3, None) == [0, 1, 2]
    assert training_cli.parse_seeds(1, "5") == [5]
    assert training_cli.parse_seeds(1, "2,5,7") == [2, 5, 7]
    with pytest.raises(InputError, match=r"--seeds must be in 1\.\.2\*\*32 .*got 0"):
        training_cli.parse_seeds(0, None)
    for bad in ("x", "1,1", "-1", ""):
        with pytest.raises(InputError, match="--seed-list"):
            training_cli.parse_seeds(1, bad)
    with pytest.raises(InputError, match="already holds results"):  # a store is never reused
        args.handler(args)
    bad_activation = parser.parse_args(
        f"train --dataset D-I --arch 3_by_4 --activation swish --out {out}".split()
    )
    with pytest.raises(InputError, match="unknown activation 'swish'"):
        bad_activation.handler(bad_activation)


def test_training_on_past_100_percent_runs_to_the_step_limit(eight, d1):
    members, networks, _ = eight
    perfect = [i for i, n in enumerate(networks) if n.result.train_correct == n.result.n_train]
    assert perfect and all(networks[i].result.steps < CONFIG.max_steps for i in perfect)
    config = dataclasses.replace(CONFIG, stop_when_trained=False)
    on = train(d1, [members[i] for i in perfect], config)
    for network, before in zip(on, (networks[i] for i in perfect), strict=True):
        assert network.result.steps == CONFIG.max_steps
        kernel, earlier = network.params["Dense_0"]["kernel"], before.params["Dense_0"]["kernel"]
        assert not np.array_equal(kernel, earlier)
        # the counts are the final parameters' (the last check), not the first 100% check's
        logits = layer_outputs(network.params, network.member.spec, d1.train_points)[-1]
        assert network.result.train_correct == int((logits.argmax(1) == d1.train_labels).sum())


@pytest.mark.parametrize(
    ("init", "variance"), [("glorot_uniform", 2 / 500), ("he_normal", 2 / 100)]
)
def test_kernel_initialisers_have_their_variance(init, variance):
    spec = ArchitectureSpec.parse("2-100-400-2", 2, "tanh")
    members = make_members("D-I", [spec], range(2))
    state = init_state(members, plan_buckets([spec], 0.25)[0], TrainingConfig(init=init))
    kernel = np.asarray(state.params["Dense_1"]["kernel"])  # 100 in, 400 out, per member
    assert kernel.var(axis=(1, 2)) == pytest.approx([variance] * 2, rel=0.03)
    assert not np.asarray(state.params["Dense_1"]["bias"]).any()


def test_an_unknown_initialiser_is_refused():
    with pytest.raises(InputError, match="init must be one of glorot_uniform, .*got 'orthogonal'"):
        TrainingConfig(init="orthogonal")


def test_float64_training_needs_x64_and_keeps_float64_parameters(d1):
    spec = ArchitectureSpec.parse("3_by_6", 2, "tanh")
    members = make_members(d1.name, [spec], range(2))
    config = TrainingConfig(max_steps=20, eval_every=10, precision="float64")
    with pytest.raises(InputError, match="JAX_ENABLE_X64=1"):
        train(d1, members, config)
    with jax.enable_x64(True):
        doubles = train(d1, members, config)
        outputs = layer_outputs(doubles[0].params, spec, d1.train_points[:50])
    singles = train(d1, members, dataclasses.replace(config, precision="float32"))
    assert {leaf.dtype for n in doubles for leaf in jax.tree.leaves(n.params)} == {
        np.dtype(np.float64)
    }
    assert {output.dtype for output in outputs} == {np.dtype(np.float32)}
    for double, single in zip(doubles, singles, strict=True):  # the same network, rounded apart
        for a, b in zip(
            jax.tree.leaves(double.params), jax.tree.leaves(single.params), strict=True
        ):
            np.testing.assert_allclose(a, b, atol=1e-4)
            assert not np.array_equal(a, b.astype(np.float64)) or not a.any()
