"""The `topnn-jax` command: one sub-command module per area, each with `register(subparsers)`.

Every sub-command module adds its parser with `set_defaults(handler=...)`; a handler takes the
parsed arguments and returns an exit code. Building the parser imports no JAX, Flax,
scikit-learn or matplotlib: a handler imports what its command needs, so that `--help`,
`datasets` or `summary` answer at once. `InputError` (bad input) becomes a one-line message on
stderr and exit code 2, never a traceback; Ctrl-C and SIGTERM stop the command in order (pools
closed, finished results kept), exit codes 130 and 143.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

from topnn_jax import __version__
from topnn_jax.cli import datasets as datasets_cmd
from topnn_jax.cli import measure as measure_cmd
from topnn_jax.cli import report as report_cmd
from topnn_jax.cli import run as run_cmd
from topnn_jax.cli import topology as topology_cmd
from topnn_jax.cli import training as training_cmd
from topnn_jax.errors import InputError, WorkLostError

COMMAND_MODULES = (run_cmd, report_cmd, datasets_cmd, training_cmd, topology_cmd, measure_cmd)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="topnn-jax",
        description="Topology of deep neural networks: train many networks with JAX, measure the "
        "Betti numbers of every layer with giotto-ph.",
    )
    parser.add_argument("--version", action="version", version=f"topnn-jax {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread as Ctrl-C is, so that a command stops the same way."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises `Terminated` in this context (main thread only); the previous handler is
    restored after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `topnn-jax` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        with _sigterm_as_interrupt():
            return int(handler(args) or 0)
    except InputError as error:
        print(f"topnn-jax {args.command}: error: {error}", file=sys.stderr)
        return 2
    except WorkLostError as error:
        print(f"topnn-jax {args.command}: error: {error}", file=sys.stderr)
        return 1
    except Terminated:
        print(f"topnn-jax {args.command}: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print(f"topnn-jax {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away, e.g. `topnn-jax datasets | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
