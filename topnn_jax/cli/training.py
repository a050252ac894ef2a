"""`topnn-jax train`: train a sweep of networks on a data set; write networks.csv and parameters."""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from topnn_jax.cli.datasets import add_dataset_options, load_dataset
from topnn_jax.config import TrainingConfig
from topnn_jax.errors import InputError
from topnn_jax.models import ACTIVATIONS, PAPER_ACTIVATIONS, ArchitectureSpec
from topnn_jax.networks import make_members
from topnn_jax.store import NETWORKS_FILE, save_network, write_networks_csv
from topnn_jax.training import Progress, train

DEFAULTS = TrainingConfig()


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `train`."""
    parser = subparsers.add_parser(
        "train",
        help="train networks (architectures x activations x seeds) on a data set",
        description="Train every architecture x activation x seed on one data set with the "
        "paper's protocol (full-batch Adam, lr * 0.5^(step/2500), early stop at 100%% training "
        "accuracy). Writes OUT/networks.csv and OUT/params/<network_id>.npz.",
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
        help=f"{', '.join(ACTIVATIONS)} (the paper's: {', '.join(PAPER_ACTIVATIONS)}); repeatable",
    )
    parser.add_argument(
        "--seeds",
        default="1",
        help="N (seeds 0..N-1) or a comma list such as 2,5,7 (one seed s: 's,'); default 1",
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
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_run_train)


def parse_seeds(text: str) -> list[int]:
    """'4' -> [0, 1, 2, 3]; '2,5,7' -> [2, 5, 7]; '3,' -> [3]."""
    try:
        if "," in text:
            seeds = [int(part) for part in text.split(",") if part.strip()]
        else:
            seeds = list(range(int(text)))
    except ValueError:
        raise InputError(f"--seeds expects N or a comma list of integers, got {text!r}") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise InputError(f"--seeds must give distinct non-negative integers, got {text!r}")
    return seeds


def _run_train(args: argparse.Namespace) -> int:
    """Handler of `topnn-jax train`."""
    config = TrainingConfig(
        learning_rate=args.lr,
        max_steps=args.max_steps,
        eval_every=args.eval_every,
        batch_size=args.batch_size,
        max_test_error=args.max_test_error,
        member_chunk=args.member_chunk,
    )
    dataset = load_dataset(args.dataset, args.data_seed, args.size, args.option)
    specs = [
        ArchitectureSpec.parse(arch, dataset.dim, activation)
        for arch in dict.fromkeys(args.arch)
        for activation in dict.fromkeys(args.activation)
    ]
    members = make_members(dataset.name, specs, parse_seeds(args.seeds))
    with tqdm(unit="step", desc="train", disable=args.no_progress or None) as bar:

        def progress(event: Progress) -> None:
            bar.total = event.steps_total
            bar.n = event.steps_done
            bar.set_postfix_str(f"{event.finished}/{event.members} networks done", refresh=False)
            bar.refresh()

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
