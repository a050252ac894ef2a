"""`topnn-jax report` (tables, claims and figures of results stores) and `topnn-jax plot`
(the figures only)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from topnn_jax.atomic import check_output_dir
from topnn_jax.cli.progress import Counter
from topnn_jax.errors import InputError
from topnn_jax.results import load_stores

if TYPE_CHECKING:
    from topnn_jax.report import FigureSpec, Progress


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `report` and `plot`."""
    report = subparsers.add_parser(
        "report",
        help="write report.md and report.html (tables, claims, figures) for results stores",
        description="Summary and claim tables and every applicable figure of one or more "
        "results directories (read together: e.g. a data set's depth and width settings).",
    )
    _add_common_arguments(report)
    report.add_argument("--title", help="report title (default: from the directories)")
    report.set_defaults(handler=_report_command)
    plot = subparsers.add_parser(
        "plot",
        help="write the figures of results stores",
        description="Every applicable figure of one or more results directories (read "
        "together), as PNG under OUT/figures/ (and SVG or PDF with --format); no report.",
    )
    _add_common_arguments(plot)
    plot.set_defaults(handler=_plot_command)


def _add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directories", nargs="+", type=Path, metavar="DIR", help="results store")
    parser.add_argument("--out", type=Path, help="output folder (default: DIR, if only one)")
    parser.add_argument(
        "--format",
        action="append",
        choices=("svg", "pdf"),
        default=[],
        help="also save figures as SVG or PDF (repeatable); PNG always",
    )
    parser.add_argument(
        "--scan",
        action="store_true",
        help="add a (k x hop scale) scan of each data set's input (slow for D-II, D-III)",
    )


def _output_folder(args: argparse.Namespace) -> Path:
    """--out, or the one directory given; `InputError` if it cannot be written."""
    if args.out is not None:
        return check_output_dir(args.out)
    if len(args.directories) > 1:
        raise InputError("several directories read together need --out for the report")
    return check_output_dir(args.directories[0], "the output folder")


def _figure_counter() -> tuple[Counter, Progress]:
    """A counter of the figures drawn and the callback that advances it."""
    counter = Counter("figures", "figure")

    def on_figure(done: int, total: int, spec: FigureSpec | None) -> None:
        counter.set(done, total, postfix="" if spec is None else spec.stem)

    return counter, on_figure


def write_store_report(
    directories: list[Path],
    out: Path,
    title: str | None = None,
    formats: tuple[str, ...] = (),
    scan: bool = False,
) -> tuple[Path, Path]:
    """Write report.md and report.html of stores read together, showing progress; returns
    their paths."""
    from topnn_jax.report import write_report

    store = load_stores(directories)
    names = ", ".join(directory.resolve().name for directory in directories)
    counter, on_figure = _figure_counter()
    with counter:
        return write_report(
            store, out, title or f"topnn-jax report: {names}", formats, scan, on_figure
        )


def _report_command(args: argparse.Namespace) -> int:
    """Write report.md and report.html."""
    out = _output_folder(args)
    markdown, page = write_store_report(
        args.directories, out, args.title, tuple(args.format), args.scan
    )
    print(f"wrote {markdown} and {page}")
    return 0


def _plot_command(args: argparse.Namespace) -> int:
    """Write the figures under OUT/figures/."""
    from topnn_jax.report import write_figures

    out = _output_folder(args)
    store = load_stores(args.directories)
    counter, on_figure = _figure_counter()
    with counter:
        drawn = write_figures(store, out, tuple(args.format), args.scan, on_figure)
    for spec, result in drawn:
        print(f"{spec.stem}: {result}")
    return 0
