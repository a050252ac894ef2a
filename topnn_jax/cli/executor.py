"""--executor and --address: where `run` and `select-params` run their work."""

from __future__ import annotations

import argparse
import dataclasses

from topnn_jax.config import EXECUTORS, RunSection
from topnn_jax.errors import InputError


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --executor and --address."""
    parser.add_argument(
        "--executor",
        choices=EXECUTORS,
        help='who runs the work: "local" (this machine) or "ray" (a Ray cluster; needs the ray '
        "extra); default: the config's [run] executor, else local",
    )
    parser.add_argument(
        "--address",
        metavar="ADDR",
        help='with --executor ray: the cluster to join ("auto": the one started on this machine '
        "with `ray start --head`, or HOST:PORT); default: start Ray here for the run",
    )


def run_section(run: RunSection, args: argparse.Namespace) -> RunSection:
    """`run` with the command line's --executor and --address (validated as the config is)."""
    executor = args.executor or run.executor
    address = args.address if args.address is not None else run.address
    if args.address is not None and executor != "ray":
        raise InputError("--address names a Ray cluster: add --executor ray")
    return dataclasses.replace(
        run, executor=executor, address=address if executor == "ray" else None
    )
