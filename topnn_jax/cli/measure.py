"""`topnn-jax measure`: the Betti numbers of any network's layers, saved as a results store."""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path

import numpy as np

from topnn_jax.cli.progress import Counter
from topnn_jax.cli.topology import load_npy
from topnn_jax.errors import InputError, existing_file

ORDER_KEY = "layers"
"""An optional array of the .npz: the layer names in order (else the file's order)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `measure`."""
    parser = subparsers.add_parser(
        "measure",
        help="Betti numbers of every layer of your own network, saved as a results store",
        description="Measure every layer's output of a network (one array [n, d] per layer in "
        "LAYERS.npz, in the file's order or that of its 'layers' array of names), each class "
        "of LABELS.npy on its own, and add it to the results store --out (for summary, plot "
        "and report).",
    )
    parser.add_argument("layers", type=Path, metavar="LAYERS.npz", help="per-layer outputs")
    parser.add_argument(
        "--labels", type=Path, required=True, metavar="LABELS.npy", help="int [n], 2+ classes"
    )
    parser.add_argument("--k", type=int, required=True, help="true nearest neighbours per point")
    parser.add_argument("--scale", type=int, default=2, help="hop scale (default 2)")
    parser.add_argument("--maxdim", type=int, default=1, help="highest Betti number (default 1)")
    parser.add_argument(
        "--stride", type=int, default=1, help="keep every stride-th point of a class"
    )
    parser.add_argument("--workers", type=int, help="Betti worker processes (default: CPUs)")
    parser.add_argument("--out", type=Path, required=True, help="results store to add it to")
    parser.add_argument("--network-id", default="network", help="its name in the store")
    parser.add_argument("--dataset", default="custom", help="data set name it is grouped by")
    parser.add_argument("--activation", default="unspecified", help="activation it is grouped by")
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="its seed (networks differing only in seed are averaged)",
    )
    parser.add_argument("--step", type=int, help="the training step the layers were taken at")
    parser.add_argument(
        "--diagrams", action="store_true", help="also save persistence diagrams (diagrams/)"
    )
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_measure_command)


def load_layers(path: Path) -> dict[str, np.ndarray]:
    """name -> array of a layers .npz, in layer order (see `ORDER_KEY`)."""
    existing_file(path, "layers file")
    try:
        loaded = np.load(path, allow_pickle=False)
        arrays = None
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded as archive:
                arrays = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise InputError(
            f"layers file {path} is not a readable .npz of numeric arrays (save it with "
            f"numpy.savez): {error}"
        ) from None
    if arrays is None:
        raise InputError(
            f"layers file {path} holds one array, not an .npz of layers: save them with "
            "numpy.savez(path, input=x, hidden_1=h1, ...)"
        )
    order = arrays.pop(ORDER_KEY, None)
    if order is None:
        return arrays
    names = [str(name) for name in np.atleast_1d(order)]
    unknown = [name for name in names if name not in arrays]
    if unknown or len(set(names)) != len(names) or set(names) != set(arrays):
        raise InputError(
            f"{path}: its '{ORDER_KEY}' array must name each of its other arrays once "
            f"(it names {names}; the arrays are {sorted(arrays)})"
        )
    return {name: arrays[name] for name in names}


def _measure_command(args: argparse.Namespace) -> int:
    from topnn_jax.measurement import measure
    from topnn_jax.store.measured import check_destination

    layers = load_layers(args.layers)
    labels = load_npy(args.labels, "labels")
    check_destination(  # before the work, not after it
        args.out,
        args.network_id,
        args.dataset,
        args.activation,
        args.seed,
        args.step,
        {"k": args.k, "scale": args.scale, "maxdim": args.maxdim, "stride": args.stride},
        [np.shape(array)[-1] for array in layers.values()],
    )
    with Counter("Betti jobs", "job", enabled=not args.no_progress) as counter:
        result = measure(
            layers,
            labels,
            k=args.k,
            scale=args.scale,
            maxdim=args.maxdim,
            stride=args.stride,
            workers=args.workers,
            diagrams=args.diagrams,
            progress=lambda done, total: counter.set(done, total),
        )
    result.save(
        args.out,
        network_id=args.network_id,
        dataset=args.dataset,
        activation=args.activation,
        seed=args.seed,
        step=args.step,
    )
    if args.json:
        print(json.dumps(result.records()))
    else:
        print(result.format())
        print(f"saved into {args.out} as {args.network_id}: topnn-jax report {args.out}")
    return 0
