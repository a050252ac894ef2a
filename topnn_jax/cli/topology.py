"""`topnn-jax betti` and `topnn-jax select-params`: Betti numbers of point clouds and data sets."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from topnn_jax.cli.executor import add_executor_arguments, run_section
from topnn_jax.config import RunSection
from topnn_jax.datasets import load
from topnn_jax.errors import InputError, existing_file
from topnn_jax.results import class_name
from topnn_jax.topology.parameters import COLLAPSES, check_parameter, check_stride, collapse_help

if TYPE_CHECKING:
    from topnn_jax.topology import BettiResult, ParameterScan, ScanEntry

# select-params grid: the preset's k times these factors, and these hop scales.
SCAN_K_FACTORS = (0.5, 0.75, 1.0, 1.5)
SCAN_SCALES = (1, 2, 3)
NPY_MAGIC = b"\x93NUMPY"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `betti` and `select-params`."""
    betti = subparsers.add_parser(
        "betti",
        help="Betti numbers of a point cloud (.npy) or of a data set's input classes",
        description="Betti numbers of the kNN hop-scale Vietoris-Rips complex (the paper's "
        "protocol). Either POINTS.npy [--labels LABELS.npy] with --k, or --dataset NAME (its "
        "preset k, scale, stride and maxdim unless given).",
    )
    betti.add_argument("points", nargs="?", type=Path, metavar="POINTS.npy", help="float [n, d]")
    betti.add_argument("--labels", type=Path, metavar="LABELS.npy", help="int [n]: per class")
    betti.add_argument("--dataset", metavar="NAME", help="a data set, e.g. D-II")
    betti.add_argument("--seed", type=int, default=0, help="data set seed (default 0)")
    betti.add_argument("--stride", type=int, help="homology subsample stride (default: preset)")
    betti.add_argument(
        "--k", type=int, help="true nearest neighbours, the point itself excluded (paper's 14 = 13)"
    )
    betti.add_argument("--scale", type=int, help="hop scale (default 2 or the preset's)")
    betti.add_argument("--maxdim", type=int, help="highest Betti number (default 1 or preset)")
    _add_engine_arguments(betti)
    betti.add_argument("--json", action="store_true", help="print JSON")
    betti.set_defaults(handler=_run_betti)

    select = subparsers.add_parser(
        "select-params",
        help="scan k and scale for a data set's input, marking where the truth is recovered",
        description="Betti numbers of each input class over a grid of k (default: the preset's "
        f"k times {', '.join(map(str, SCAN_K_FACTORS))}) and hop scales (default "
        f"{', '.join(map(str, SCAN_SCALES))}), against the true Betti numbers.",
    )
    select.add_argument("name", metavar="NAME", help="data set name")
    select.add_argument("--seed", type=int, default=0, help="data set seed (default 0)")
    select.add_argument("--ks", help="comma list of k values")
    select.add_argument("--scales", help="comma list of hop scales")
    select.add_argument("--stride", type=int, help="homology subsample stride (default: preset)")
    select.add_argument("--maxdim", type=int, help="highest Betti number (default: preset)")
    _add_engine_arguments(select)
    select.add_argument("--workers", type=int, help="worker processes (default: CPUs / threads)")
    add_executor_arguments(select)
    select.add_argument("--json", action="store_true", help="print JSON")
    select.set_defaults(handler=_run_select_params)


def _add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """--collapse and --threads."""
    parser.add_argument(
        "--collapse",
        choices=COLLAPSES,
        default="auto",
        help=f"exact reduction before giotto-ph ({collapse_help()})",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="giotto-ph threads per computation (default: all CPUs for betti, 1 per worker for "
        "select-params)",
    )


def load_npy(path: Path, what: str) -> np.ndarray:
    """An array from a .npy file, or `InputError` if it is missing or not a numeric .npy array."""
    existing_file(path, f"{what} file")
    with path.open("rb") as handle:
        if handle.read(len(NPY_MAGIC)) != NPY_MAGIC:
            raise InputError(f"{what} file {path} is not a .npy file (save it with numpy.save)")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise InputError(
            f"{what} file {path} is not a readable numeric .npy array: {error}"
        ) from error


def _clouds_from_files(args: argparse.Namespace) -> dict[str, np.ndarray] | np.ndarray:
    """The POINTS cloud, or {label: cloud} when --labels is given."""
    points = load_npy(args.points, "points")
    if args.labels is None:
        return points
    labels = load_npy(args.labels, "labels")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise InputError(
            f"labels must be a 1-D integer array, got {labels.dtype} of shape {labels.shape}"
        )
    if points.ndim == 0 or len(labels) != len(points):
        raise InputError(
            f"expected one label per point: {len(labels)} labels for points of shape {points.shape}"
        )
    return {str(label): points[labels == label] for label in np.unique(labels)}


def _result_text(result: BettiResult) -> str:
    """One line: Betti numbers, sizes, time."""
    reduced = f" (reduced from {result.k}: too few points)" if result.k_reduced else ""
    return (
        f"betti {tuple(result.betti)}  points {result.n_points}  k {result.k_used}{reduced}  "
        f"scale {result.scale}  edges {result.n_edges}  {result.seconds:.2f} s"
    )


def _run_betti(args: argparse.Namespace) -> int:
    """Compute and print Betti numbers of a cloud, of a labelled cloud's classes, or of a data
    set's input classes."""
    from topnn_jax.topology import available_cpus, betti_numbers

    if (args.points is None) == (args.dataset is None):
        raise InputError("give exactly one of POINTS.npy and --dataset NAME")
    truth: dict[str, tuple[int, ...]] = {}
    if args.dataset is not None:
        if args.labels is not None:
            raise InputError("--labels goes with POINTS.npy, not with --dataset")
        dataset = load(args.dataset, seed=args.seed)
        preset = dataset.preset
        k = preset.k if args.k is None else args.k
        scale = preset.scale if args.scale is None else args.scale
        maxdim = preset.maxdim if args.maxdim is None else args.maxdim
        stride = preset.stride if args.stride is None else args.stride
        check_stride(
            dict(enumerate(dataset.class_counts())), check_parameter("k", k), stride, "--stride: "
        )
        clouds = {str(label): dataset.homology_subsample(label, stride) for label in (0, 1)}
        truth = {
            str(label): dataset.truth(label, maxdim)
            for label in (0, 1)
            if dataset.truth(label, maxdim) is not None
        }
    else:
        if args.k is None:
            raise InputError("--k is required with POINTS.npy")
        if args.stride is not None:
            raise InputError("--stride goes with --dataset; thin POINTS.npy yourself")
        k = args.k
        scale = 2 if args.scale is None else args.scale
        maxdim = 1 if args.maxdim is None else args.maxdim
        clouds = _clouds_from_files(args)

    threads = available_cpus() if args.threads is None else args.threads

    def measure(cloud: np.ndarray) -> BettiResult:
        return betti_numbers(cloud, k, scale, maxdim, collapse=args.collapse, n_threads=threads)

    if isinstance(clouds, np.ndarray):
        result = measure(clouds)
        print(json.dumps(result.to_dict()) if args.json else _result_text(result))
        return 0
    results = {label: measure(cloud) for label, cloud in clouds.items()}
    if args.json:
        print(json.dumps({"classes": {label: r.to_dict() for label, r in results.items()}}))
        return 0
    for label, result in results.items():
        known = f"  (true {truth[label]})" if label in truth else ""
        print(f"{class_name(int(label))}: {_result_text(result)}{known}")
    return 0


def _parse_int_list(text: str, what: str) -> list[int]:
    """[1, 2, 3] from '1,2,3'."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise InputError(f"{what} must be a comma list of integers, got {text!r}") from error
    if not values:
        raise InputError(f"{what} is empty")
    return values


def _betti_cell(betti: tuple[int, ...] | None) -> str:
    """'(9,9,0)', or 'too-large' for a refused computation."""
    return "too-large" if betti is None else "(" + ",".join(map(str, betti)) + ")"


def _scan_table(scan: ParameterScan, truth: dict[int, tuple[int, ...]]) -> str:
    """Text grid: rows k, columns scale, both classes' Betti numbers; '*' marks the truth."""
    ks = sorted({entry.k for entry in scan.entries})
    scales = sorted({entry.scale for entry in scan.entries})
    cell = {(e.label, e.k, e.scale): e for e in scan.entries}
    labels = sorted({entry.label for entry in scan.entries})
    recovered = set(scan.recovered())
    width = 4 + 16 * len(labels)
    lines = [
        f"{scan.dataset}: stride {scan.stride}, maxdim {scan.maxdim}; true Betti numbers "
        + ", ".join(f"{class_name(label)} {truth.get(label, '?')}" for label in labels),
        "cells: Betti numbers of "
        + " and ".join(class_name(label) for label in labels)
        + "; * = every class recovered; too-large = refused (over the memory limit)",
        f"{'k':>5} " + "".join(f"| scale {scale:<{width - 7}}" for scale in scales),
    ]
    for k in ks:
        row = f"{k:>5} "
        for scale in scales:
            text = " ".join(_betti_cell(cell[(label, k, scale)].betti) for label in labels)
            mark = " *" if (k, scale) in recovered else ""
            row += f"| {text + mark:<{width - 1}}"
        lines.append(row)
    return "\n".join(line.rstrip() for line in lines)


def _scan_entry_json(entry: ScanEntry) -> dict:
    """One scan cell as JSON: its coordinates, truth, and the result or the refusal."""
    cell = {
        "label": entry.label,
        "k": entry.k,
        "scale": entry.scale,
        "truth": None if entry.truth is None else list(entry.truth),
        "recovered": entry.recovered,
    }
    if isinstance(entry.result, InputError):
        return cell | {"error": str(entry.result)}
    return cell | entry.result.to_dict()


def _run_select_params(args: argparse.Namespace) -> int:
    """Scan (k, scale) for a data set's input and print the table (or JSON)."""
    from topnn_jax.topology import scan_parameters

    dataset = load(args.name, seed=args.seed)
    preset = dataset.preset
    ks = (
        sorted({max(1, round(preset.k * f)) for f in SCAN_K_FACTORS})
        if args.ks is None
        else _parse_int_list(args.ks, "--ks")
    )
    scales = list(SCAN_SCALES) if args.scales is None else _parse_int_list(args.scales, "--scales")
    threads = 1 if args.threads is None else args.threads
    grid = dict(maxdim=args.maxdim, stride=args.stride)
    run = run_section(RunSection(), args)
    if run.executor == "ray":
        from topnn_jax.ray_cluster import RayCluster

        if args.workers is not None:
            raise InputError("--workers sizes the local pool: Ray's tasks use the cluster's CPUs")
        with RayCluster(run.address, run.retries) as cluster:
            executor = cluster.betti_executor(threads, args.collapse)
            try:
                scan = scan_parameters(dataset, ks, scales, **grid, executor=executor)
            finally:
                executor.close()
    else:
        pool = dict(collapse=args.collapse, workers=args.workers, threads=threads)
        scan = scan_parameters(dataset, ks, scales, **grid, **pool)
    if args.json:
        print(
            json.dumps(
                {
                    "dataset": scan.dataset,
                    "stride": scan.stride,
                    "maxdim": scan.maxdim,
                    "recovered": [list(cell) for cell in scan.recovered()],
                    "entries": [_scan_entry_json(e) for e in scan.entries],
                }
            )
        )
        return 0
    truth = {label: dataset.truth(label, scan.maxdim) for label in (0, 1)}
    truth = {label: betti for label, betti in truth.items() if betti is not None}
    print(_scan_table(scan, truth))
    return 0
