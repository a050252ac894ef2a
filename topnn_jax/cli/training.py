"""`topnn-jax train`: train a sweep of networks on a data set; write networks.csv and parameters."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from topnn_jax.architecture import ACTIVATION_NAMES, KERNEL_INIT_NAMES, PAPER_ACTIVATIONS
from topnn_jax.atomic import check_output_dir
from topnn_jax.cli.datasets import add_dataset_options, load_dataset, parse_options
from topnn_jax.cli.progress import Counter
from topnn_jax.config import (
    PRECISIONS,
    TRAINING_STEPS,
    DataSection,
    ExperimentConfig,
    NetworksSection,
    RunSection,
    TopologySection,
    TrainingConfig,
)
from topnn_jax.cpu_devices import use_cpu_cores
from topnn_jax.errors import InputError
from topnn_jax.networks import MAX_SEED, check_sweep_size, make_members
from topnn_jax.store import NETWORKS_FILE, save_network, write_networks_csv

if TYPE_CHECKING:
    from topnn_jax.training import Progress

DEFAULTS = TrainingConfig()


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `train`."""
    parser = subparsers.add_parser(
        "train",
        help="train networks (architectures x activations x seeds) on a data set",
        description="Train every architecture x activation x seed on one data set with the "
        "paper's protocol (full-batch Adam, lr * 0.5^(step/2500), early stop at 100% training "
        "accuracy). Writes OUT/config.json (what a later `topnn-jax run --resume --measure-only "
        "--out OUT` needs), OUT/networks.csv and OUT/params/<network_id>.npz.",
    )
    parser.add_argument("--dataset", required=True, help="data set name, e.g. D-I")
    add_dataset_options(parser, "--data-seed")
    parser.add_argument(
        "--arch",
        action="append",
        required=True,
        help="L_by_W (e.g. 10_by_15) or all widths (e.g. 2-15-15-3-15-15-2); repeatable",
    )
    parser.add_argument(
        "--activation",
        action="append",
        required=True,
        help=f"{', '.join(ACTIVATION_NAMES)} (the paper's: {', '.join(PAPER_ACTIVATIONS)}); "
        "repeatable",
    )
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument(
        "--seeds", type=int, default=1, metavar="N", help="train seeds 0..N-1 (default 1)"
    )
    seeds.add_argument(
        "--seed-list", metavar="S,S,...", help="train these seeds, e.g. 2,5,7 or just 5"
    )
    parser.add_argument("--max-steps", type=int, default=DEFAULTS.max_steps)
    parser.add_argument("--lr", type=float, default=DEFAULTS.learning_rate, help="learning rate")
    parser.add_argument("--eval-every", type=int, default=DEFAULTS.eval_every)
    parser.add_argument(
        "--batch-size", type=int, help="points per step (default: full batch, the paper's)"
    )
    parser.add_argument(
        "--max-test-error",
        type=float,
        default=DEFAULTS.max_test_error,
        help="largest test error of a well-trained network (default 0.01)",
    )
    parser.add_argument(
        "--member-chunk", type=int, help="networks per compiled program (default: automatic)"
    )
    parser.add_argument(
        "--step",
        choices=TRAINING_STEPS,
        default=DEFAULTS.step,
        help="how a step computes the gradient (default tiled; reference: the first version)",
    )
    parser.add_argument(
        "--stop-when-stalled",
        action="store_true",
        help="stop a network whose best training accuracy did not rise since the last check",
    )
    parser.add_argument(
        "--stop-when-dead",
        action="store_true",
        help="stop a network that predicts one class for every training point at a check",
    )
    parser.add_argument(
        "--train-past-100",
        action="store_true",
        help="train every network to --max-steps, not only to its first 100%% check (the last "
        "check decides whether it is well trained)",
    )
    parser.add_argument(
        "--init",
        choices=KERNEL_INIT_NAMES,
        default=DEFAULTS.init,
        help="kernel initialiser (default glorot_uniform, the paper's)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=DEFAULTS.precision,
        help="float type of training (default float32; float64 needs JAX_ENABLE_X64=1)",
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--no-progress", action="store_true", help="show no progress")

    parser.set_defaults(handler=_run_train)


def parse_seeds(count: int, seed_list: str | None) -> list[int]:
    """The seeds of `--seeds N` (0..N-1) or of `--seed-list` ('2,5,7' -> [2, 5, 7])."""
    if seed_list is None:
        if not 1 <= count <= MAX_SEED + 1:
            raise InputError(f"--seeds must be in 1..2**32 (how many seeds), got {count}")
        check_sweep_size(count, "--seeds: ")
        return list(range(count))
    try:
        seeds = [int(part) for part in seed_list.split(",") if part.strip()]
    except ValueError:
        raise InputError(
            f"--seed-list expects a comma list of integers, got {seed_list!r}"
        ) from None
    if not seeds or min(seeds) < 0 or max(seeds) > MAX_SEED or len(set(seeds)) != len(seeds):
        raise InputError(
            f"--seed-list must give distinct integers in 0..2**32 - 1, got {seed_list!r}"
        )
    return seeds


def _experiment(args: argparse.Namespace, training: TrainingConfig) -> ExperimentConfig:
    """What `train` does, as an experiment: written to the store, so that measuring it later
    rebuilds the same data set and judges the networks by the same rule."""
    return ExperimentConfig(
        name="train",
        data=DataSection(
            datasets=(args.dataset,),
            seed=args.data_seed,
            size=args.size,
            options=parse_options(args.option),
        ),
        networks=NetworksSection(
            architectures=tuple(dict.fromkeys(args.arch)),
            activations=tuple(dict.fromkeys(args.activation)),
            seeds=tuple(parse_seeds(args.seeds, args.seed_list)),
        ),
        training=training,
        topology=TopologySection(),
        run=RunSection(out=str(args.out)),
    )


def _run_train(args: argparse.Namespace) -> int:
    """Handler of `topnn-jax train`."""
    from topnn_jax.store import open_store
    from topnn_jax.training import check_members, check_precision, train

    config = TrainingConfig(
        learning_rate=args.lr,
        max_steps=args.max_steps,
        eval_every=args.eval_every,
        batch_size=args.batch_size,
        max_test_error=args.max_test_error,
        member_chunk=args.member_chunk,
        step=args.step,
        stop_when_stalled=args.stop_when_stalled,
        stop_when_dead=args.stop_when_dead,
        stop_when_trained=not args.train_past_100,
        init=args.init,
        precision=args.precision,
    )
    check_output_dir(args.out)  # before any work: training is long
    use_cpu_cores()  # before the first JAX operation
    dataset = load_dataset(args.dataset, args.data_seed, args.size, args.option)
    experiment = _experiment(args, config)
    specs = experiment.architecture_specs(dataset.dim)
    members = make_members(dataset.name, specs, experiment.networks.seeds)
    check_members(dataset, members)
    check_precision(config)
    # refuses a directory holding results, or one another run writes
    measure = f"measure its networks with `topnn-jax run --resume --measure-only --out {args.out}`"
    with open_store(experiment, args.out, resume=False, continue_with=measure):
        with Counter("train", "step", enabled=not args.no_progress) as counter:

            def progress(event: Progress) -> None:
                finished = f"{event.finished}/{event.members} networks finished"
                counter.set(event.steps_done, event.steps_total, postfix=finished)

            networks = train(dataset, members, config, progress)
        for network in networks:
            save_network(network, args.out)
        write_networks_csv(args.out / NETWORKS_FILE, networks)
    well = sum(network.result.well_trained for network in networks)
    print(f"{well} of {len(networks)} networks well trained; wrote {args.out / NETWORKS_FILE}")
    for network in networks:
        if network.result.failed:
            print(f"{network.member.network_id}: {network.result.failed}")
    return 0
