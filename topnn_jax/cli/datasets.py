"""`topnn-jax datasets`: list, show and export data sets."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from topnn_jax.atomic import atomic_save_npz
from topnn_jax.datasets import REGISTRY, Dataset, describe_entry, load
from topnn_jax.errors import InputError
from topnn_jax.results import class_name


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `datasets`, `datasets show` and `datasets export`."""
    parser = subparsers.add_parser(
        "datasets",
        help="list, show or export data sets",
        description="Without an action, list every data set with its size and true Betti numbers.",
    )
    parser.set_defaults(handler=_list_datasets)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")

    show = actions.add_parser("show", help="describe one data set")
    _add_dataset_arguments(show)
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    show.set_defaults(handler=_show_dataset)

    export = actions.add_parser(
        "export",
        help="write a data set to .npz",
        description="Write arrays train_points, train_labels, test_points, test_labels.",
    )
    _add_dataset_arguments(export)
    export.add_argument("--out", required=True, type=Path, help="output FILE.npz")
    export.set_defaults(handler=_export_dataset)


def _add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """NAME and the data set options."""
    parser.add_argument("name", metavar="NAME", help="data set name, or a labelled .npz/.csv file")
    add_dataset_options(parser, "--seed")


def add_dataset_options(parser: argparse.ArgumentParser, seed_flag: str) -> None:
    """The data set's seed (as `seed_flag`, stored as data_seed), --size, repeated -o KEY=VALUE."""
    parser.add_argument(
        seed_flag, dest="data_seed", type=int, default=0, help="data set seed (default 0)"
    )
    parser.add_argument("--size", type=int, help="number of points for a smaller version")
    parser.add_argument(
        "--option",
        "-o",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="generator option, e.g. -o digit=3 -o pca=20 -o path=cloud.npz",
    )


def parse_options(pairs: list[str]) -> dict:
    """{'digit': 3, ...} from ['digit=3', ...]; integers and floats are converted."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--option expects KEY=VALUE, got {pair!r}")
        for convert in (int, float):
            try:
                options[key] = convert(value)
                break
            except ValueError:
                options[key] = value
    return options


def load_dataset(name: str, seed: int, size: int | None, option_pairs: list[str]) -> Dataset:
    """A data set from command-line values: NAME, --seed, --size and -o KEY=VALUE pairs."""
    options = parse_options(option_pairs)
    for key in ("seed", "size"):
        if key in options:
            raise InputError(f"give the {key} with --{key}, not -o {key}=...")
    return load(name, seed=seed, size=size, **options)


def _load_from_args(args: argparse.Namespace) -> Dataset:
    """The data set named on the command line."""
    return load_dataset(args.name, args.data_seed, args.size, args.option)


def betti_text(betti: list[int] | None) -> str:
    """(b0, b1, ...) or '?' when unknown."""
    return "?" if betti is None else "(" + ", ".join(map(str, betti)) + ")"


def _list_datasets(args: argparse.Namespace) -> int:
    """Print one line per registered data set."""
    header = (
        f"{'name':<14} {'dim':>4} {'train':>7} {'class a/b':>13} {'test':>7}  "
        "true Betti class a | b"
    )
    print(header)
    print("-" * len(header))
    for entry in REGISTRY.values():
        info = describe_entry(entry)
        if info["needs_files"]:
            print(f"{entry.name:<14} needs your files: {', '.join(info['options'])}")
            continue
        truth = info["true_betti"] or {}
        counts = "/".join(map(str, info["train_per_label"]))
        print(
            f"{entry.name:<14} {info['dim']:>4} {info['n_train']:>7} {counts:>13} "
            f"{info['n_test']:>7}  {betti_text(truth.get('0'))} | {betti_text(truth.get('1'))}"
        )
    print("\n`topnn-jax datasets show NAME` describes one; `--size N` makes a smaller version.")
    return 0


def _show_dataset(args: argparse.Namespace) -> int:
    """Print one data set's summary as text or JSON."""
    info = _load_from_args(args).summary()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    truth = info["true_betti"] or {}
    preset = info["preset"]
    print(f"{info['name']}: {info['description']}")
    print(f"  seed {info['seed']}, dimension {info['dim']}")
    print(
        f"  train {info['n_train']} ({class_name(0)} / {class_name(1)}: "
        f"{info['train_per_label'][0]}/{info['train_per_label'][1]}), test {info['n_test']}"
    )
    print(
        f"  true Betti numbers: {class_name(0)} {betti_text(truth.get('0'))}, "
        f"{class_name(1)} {betti_text(truth.get('1'))}"
    )
    print(
        f"  topology preset: k {preset['k']} neighbours, hop scale {preset['scale']}, "
        f"stride {preset['stride']}, maxdim {preset['maxdim']}"
    )
    if info["options"]:
        print("  options: " + ", ".join(f"{k}={v}" for k, v in info["options"].items()))
    return 0


def _export_dataset(args: argparse.Namespace) -> int:
    """Write the data set's four arrays to an .npz file."""
    if args.out.suffix != ".npz":
        raise InputError(f"--out must name a .npz file, got {args.out}")
    dataset = _load_from_args(args)
    atomic_save_npz(
        args.out,
        train_points=dataset.train_points,
        train_labels=dataset.train_labels,
        test_points=dataset.test_points,
        test_labels=dataset.test_labels,
    )
    print(
        f"wrote {args.out}: {len(dataset.train_labels)} training and "
        f"{len(dataset.test_labels)} test points in {dataset.dim} dimensions"
    )
    return 0
