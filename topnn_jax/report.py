"""The report of results stores: summary and claim tables and every applicable figure, written
as Markdown (figure files beside it) and as one self-contained HTML file (figures embedded).

The content is built once as a list of blocks (headings, paragraphs, tables, figures) and
rendered twice, so the two files always say the same.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from topnn_jax.atomic import atomic_write_text
from topnn_jax.claims import CLAIMS, ClaimResult, evaluate_claims, statistic_table
from topnn_jax.claims.verdicts import MARKS, VERDICT_RULE
from topnn_jax.config import ExperimentConfig, config_from_saved
from topnn_jax.datasets import Dataset, TopologyPreset
from topnn_jax.errors import InputError
from topnn_jax.layer_clouds import homology_layers
from topnn_jax.plotting import (
    architecture_comparison,
    betti_during_training,
    betti_trajectories,
    comparison_groups,
    during_training_groups,
    plot_barcodes,
    plot_dataset,
    plot_layers,
    plot_scan,
    save_figure,
    trajectory_groups,
)
from topnn_jax.results import FEW_NETWORKS, NetworkTrajectory, Store, class_name, summarize
from topnn_jax.store import CONFIG_FILE, MEASURE_SECTION, load_network, params_path
from topnn_jax.tables import html_table, markdown_table
from topnn_jax.topology import ParameterScan, persistence, scan_parameters

FIGURE_DIR = "figures"
BARCODE_MAX_SCALE = 3
BARCODE_MAX_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class FigureSpec:
    """A figure to draw: its file stem (under figures/), caption, section and how to draw it."""

    stem: str
    caption: str
    section: str
    draw: Callable[[], Figure]


@dataclass(frozen=True)
class _Block:
    """One piece of the report: kind is "h1", "h2", "h3", "p", "table" or "figure".

    `text` is the heading or paragraph (or the figure's caption); `header`/`rows` a table's;
    `path` a figure's PNG, relative to the report.
    """

    kind: str
    text: str = ""
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    path: str = ""


def _slug(*parts: str) -> str:
    """A file-name-safe stem from parts, e.g. ("D-I", "10_by_15") -> "d-i_10_by_15"."""
    text = "_".join(parts).lower()
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)


def _experiment_of(store: Store, network: NetworkTrajectory) -> ExperimentConfig:
    """The validated config of the experiment that trained `network` (its store's config.json)."""
    document = store.config_of(network)
    if isinstance(document, dict) and MEASURE_SECTION in document:
        raise InputError(
            f"{network.network_id} was measured from given layer outputs (topnn_jax.measure): "
            "there is no data set generator or trained network to draw from"
        )
    if not document:
        raise InputError(
            f"{network.directory / CONFIG_FILE} is missing: the data set cannot be rebuilt"
        )
    return config_from_saved(document, network.directory.name)


class DatasetCache:
    """Data sets rebuilt from the configs of a store's experiments, each built once."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.built: dict[tuple[Path, str], tuple[Dataset, TopologyPreset, str]] = {}

    def get(self, network: NetworkTrajectory) -> tuple[Dataset, TopologyPreset, str]:
        """(data set, topology preset, labels mode) the network was measured with."""
        key = (network.directory, network.dataset)
        if key not in self.built:
            config = _experiment_of(self.store, network)
            for entry in config.data.datasets:
                dataset = config.load_dataset(entry)
                if dataset.name == network.dataset:
                    preset = config.topology.resolve(dataset.preset)
                    self.built[key] = (dataset, preset, config.topology.labels)
                    break
            else:
                raise InputError(f"{network.dataset} is not among the data sets of its config")
        return self.built[key]


def _first_with_params(networks: list[NetworkTrajectory]) -> NetworkTrajectory | None:
    """The first well-trained, measured network whose parameters were kept, or None."""
    for network in sorted(networks, key=lambda n: n.seed):
        if network.usable and params_path(network.directory, network.network_id).exists():
            return network
    return None


def _figure_specs(store: Store, scan: bool = False) -> list[FigureSpec]:
    """Every applicable figure: data sets, Betti trajectories, architecture comparisons, and,
    where parameters were kept, layer projections and barcodes; parameter scans with `scan`."""
    specs: list[FigureSpec] = []
    datasets: dict[str, NetworkTrajectory] = {}
    for network in store.networks:
        datasets.setdefault(network.dataset, network)
    cache = DatasetCache(store)

    for name, network in datasets.items():
        specs.append(
            FigureSpec(
                _slug("dataset", name),
                f"The data set {name}, coloured by class "
                f"({', '.join(class_name(label) for label in store.labels)}).",
                "Data sets",
                lambda network=network: plot_dataset(cache.get(network)[0]),
            )
        )
        if scan:
            specs.append(
                FigureSpec(
                    _slug("scan", name),
                    f"Betti numbers of {name}'s input classes over k x hop scale; outlined "
                    "cells recover the true Betti numbers.",
                    "Data sets",
                    lambda network=network: plot_scan(_scan_around_preset(*cache.get(network)[:2])),
                )
            )
    for dataset, architecture in trajectory_groups(store):
        specs.append(
            FigureSpec(
                _slug("betti", dataset, architecture),
                f"{dataset}, {architecture}: Betti numbers per layer (mean ± ½ s.d. over the "
                "well-trained networks, their number in the legend; faint lines are single "
                "networks; dashed means rest on fewer than "
                f"{FEW_NETWORKS} networks).",
                "Betti numbers per layer",
                lambda d=dataset, a=architecture: betti_trajectories(store, d, a),
            )
        )
    for dataset, architecture in during_training_groups(store):
        specs.append(
            FigureSpec(
                _slug("during", dataset, architecture),
                f"{dataset}, {architecture}: mean Betti number per layer and training step, one "
                "row per activation (the number of networks measured at each step in brackets).",
                "Topology during training",
                lambda d=dataset, a=architecture: betti_during_training(store, d, a),
            )
        )
    for dataset, activation, architectures in comparison_groups(store):
        for align in ("input", "output"):
            specs.append(
                FigureSpec(
                    _slug("compare", dataset, activation, align),
                    f"{dataset}, {activation}: architectures compared, layers aligned at the "
                    f"{align} (mean ± ½ s.d.; dashed means rest on fewer than {FEW_NETWORKS} "
                    "networks).",
                    "Depth, width and bottleneck",
                    lambda d=dataset, a=activation, archs=architectures, al=align: (
                        architecture_comparison(store, d, a, archs, align=al)
                    ),
                )
            )
    for setting in store.settings():
        network = _first_with_params(store.usable(setting))
        if network is None:
            continue
        name = " ".join(setting)
        specs.append(
            FigureSpec(
                _slug("layers", *setting),
                f"{name}, seed {network.seed}: every layer's homology subsample, PCA projection.",
                "Layers of one network",
                lambda network=network: _layers_figure(network, *cache.get(network)),
            )
        )
        for label in store.labels:
            specs.append(
                FigureSpec(
                    _slug("barcodes", *setting, class_name(label).split(" (")[0]),
                    f"{name}, seed {network.seed}: persistence barcodes of {class_name(label)} "
                    f"at the middle hidden layer over hop scales 1-{BARCODE_MAX_SCALE}.",
                    "Persistence over hop scales",
                    lambda network=network, label=label: _barcodes_figure(
                        network, *cache.get(network), label
                    ),
                )
            )
    sections = list(dict.fromkeys(spec.section for spec in specs))
    return sorted(specs, key=lambda spec: sections.index(spec.section))  # stable within one


def _layers(
    network: NetworkTrajectory, dataset: Dataset, preset: TopologyPreset, labels: str
) -> tuple[list[np.ndarray], np.ndarray]:
    """A kept network's layer outputs on the homology subsample and each point's class."""
    trained = load_network(params_path(network.directory, network.network_id))
    return homology_layers(trained, dataset, preset.stride, labels)


def _layers_figure(
    network: NetworkTrajectory, dataset: Dataset, preset: TopologyPreset, labels: str
) -> Figure:
    """A network's layers side by side (3-D projections for 3-D or wider data)."""
    outputs, membership = _layers(network, dataset, preset, labels)
    title = f"{network.dataset} {network.architecture} {network.activation}, seed {network.seed}"
    return plot_layers(outputs, membership, title=title, dim=3 if dataset.dim >= 3 else 2)


def _barcodes_figure(
    network: NetworkTrajectory, dataset: Dataset, preset: TopologyPreset, labels: str, label: int
) -> Figure:
    """Barcodes of one class's cloud at the network's middle hidden layer, hop scales 1-3."""
    outputs, membership = _layers(network, dataset, preset, labels)
    layer = (len(outputs) - 1) // 2
    result = persistence(
        outputs[layer][membership == label],
        preset.k,
        max_scale=BARCODE_MAX_SCALE,
        maxdim=min(preset.maxdim, 1),
        max_bytes=BARCODE_MAX_BYTES,
    )
    title = (
        f"{network.dataset} {network.architecture} {network.activation} seed {network.seed}: "
        f"{class_name(label)}, layer {layer}, k {preset.k}"
    )
    return plot_barcodes(result, title=title)


def _scan_around_preset(dataset: Dataset, preset: TopologyPreset) -> ParameterScan:
    """The input's Betti numbers at k in {k/2, k, 2k} and hop scales 1-3 around the preset."""
    ks = sorted({max(1, preset.k // 2), preset.k, 2 * preset.k})
    return scan_parameters(dataset, ks, [1, 2, 3], maxdim=preset.maxdim, stride=preset.stride)


Progress = Callable[[int, int, "FigureSpec | None"], None]
"""Called before each figure with (figures done, figures in all, the next figure), and once
more when all are done (the figure None)."""


def _draw_figures(
    specs: list[FigureSpec], out: Path, formats: tuple[str, ...], progress: Progress | None = None
) -> Iterator[tuple[FigureSpec, Path | str]]:
    """Draw and save each figure under `out/figures/`; yields (spec, PNG path) or (spec, the
    reason it could not be drawn, e.g. a complex too large for memory)."""
    formats = tuple(dict.fromkeys(("png", *formats)))
    for done, spec in enumerate(specs):
        if progress is not None:
            progress(done, len(specs), spec)
        try:
            figure = spec.draw()
        except InputError as error:
            yield spec, str(error)
            continue
        paths = save_figure(figure, out / FIGURE_DIR / spec.stem, formats=formats)
        yield spec, paths[0]
    if progress is not None:
        progress(len(specs), len(specs), None)


def _count(n: int, noun: str) -> str:
    """ "1 network", "2 networks"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _summary_rows(store: Store) -> list[tuple[str, ...]]:
    """Per setting: counts and the mean Betti numbers at the input and at the logits."""
    rows = []
    for summary in summarize(store):
        cells = [
            summary.dataset,
            summary.architecture,
            summary.activation,
            str(summary.networks),
            str(summary.well_trained),
            str(summary.measured),
        ]
        for label in store.labels:
            means = [summary.mean_betti.get((label, d)) for d in store.dims]
            present = [m for m in means if m is not None]
            cells.append(_format_betti([m[0] for m in present]) if present else "-")
            cells.append(_format_betti([m[-1] for m in present]) if present else "-")
        rows.append(tuple(cells))
    return rows


def _format_betti(values: list[float]) -> str:
    """(9, 0) for integral means, (8.5, 0.3) otherwise."""
    return "(" + ", ".join(f"{v:g}" if float(v).is_integer() else f"{v:.1f}" for v in values) + ")"


def _summary_header(store: Store) -> tuple[str, ...]:
    """The summary table's columns: counts, then each class's Betti numbers at input and output."""
    return (
        "data set",
        "architecture",
        "activation",
        "networks",
        "well trained",
        "measured",
        *(
            f"{class_name(label)} {where}"
            for label in store.labels
            for where in ("input", "output")
        ),
    )


def _report_blocks(
    store: Store, title: str, drawn: list[tuple[FigureSpec, Path | str]], out: Path
) -> list[_Block]:
    """The report's content, in order."""
    claims = evaluate_claims(store)
    dims = ", ".join(f"b{d}" for d in store.dims)
    sources = ", ".join(str(directory) for directory in store.configs)
    blocks = [
        _Block("h1", title),
        _Block(
            "p",
            f"Results from {sources}: {_count(len(store.networks), 'network')}, "
            f"{sum(n.well_trained for n in store.networks)} well trained, "
            f"{len(store.usable())} of them measured. Betti numbers per class ({dims}) at the "
            "input (layer 0), after every hidden layer and at the logits; means over the "
            "measured well-trained networks.",
        ),
        _Block("h2", "Summary"),
        _Block("table", header=_summary_header(store), rows=tuple(_summary_rows(store))),
        _Block("h2", "Claims"),
        _Block(
            "p",
            "The paper's claims, tested on these networks, each class on its own: "
            + "; ".join(f"{claim.number} {claim.title}" for claim in CLAIMS)
            + ". "
            + VERDICT_RULE,
        ),
        *_claim_blocks(claims),
    ]
    section = None
    for spec, result in drawn:
        if spec.section != section:
            section = spec.section
            blocks.append(_Block("h2", section))
        if isinstance(result, Path):
            blocks.append(_Block("figure", spec.caption, path=result.relative_to(out).as_posix()))
        else:
            blocks.append(_Block("p", f"{spec.caption} Not drawn: {result}"))
    return blocks


def _claim_blocks(results: list[ClaimResult]) -> list[_Block]:
    """Per claim of `CLAIMS`: what was tested (once), what each statistic is, and tables with
    one column per statistic (one table per kind of test)."""
    blocks = []
    for claim in CLAIMS:
        mine = [result for result in results if result.claim == claim.number]
        blocks.append(_Block("h3", f"Claim {claim.number}: {claim.title}"))
        blocks.append(_Block("p", " ".join(dict.fromkeys(f"{r.tested}." for r in mine))))
        glossary = "; ".join(f"{name}: {meaning}" for name, meaning in claim.statistics)
        blocks.append(_Block("p", f"Statistics (estimate [95% interval]): {glossary}."))
        kinds: dict[str, list[ClaimResult]] = {}  # one table per kind of test
        for result in mine:
            kinds.setdefault(result.tested, []).append(result)
        for group in kinds.values():
            header, rows = statistic_table(group)
            blocks.append(_Block("table", header=header, rows=tuple(rows)))
    return blocks


def _render_markdown(blocks: list[_Block]) -> str:
    """The blocks as Markdown; figures link to their PNG files."""
    parts = []
    for block in blocks:
        if block.kind in ("h1", "h2", "h3"):
            parts.append(f"{'#' * int(block.kind[1])} {block.text}\n")
        elif block.kind == "p":
            parts.append(f"{block.text}\n")
        elif block.kind == "table":
            parts.append(markdown_table(block.header, block.rows))
        else:
            parts.append(f"![{block.text}]({block.path})\n\n*{block.text}*\n")
    return "\n".join(parts)


HTML_STYLE = (
    "body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;font-size:0.85em;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}"
    "th{background:#f2f2f2}img{max-width:100%}figure{margin:1.5em 0}"
    "figcaption{font-size:0.9em;color:#555}"
    "td.held{background:#e3f4e1}td.not-held{background:#fbe3e1}"
    "td.inconclusive{background:#fff4d6}td.not-enough-data{color:#777}"
    "nav ul{list-style:none;padding-left:0}nav li.h3{padding-left:1.5em}"
    "@media(max-width:900px){table{font-size:0.75em}}"
)


def _verdict_class(cell: str) -> str | None:
    """The CSS class of a table cell that states a verdict ("✔ held" -> "held"), else None."""
    for verdict, mark in MARKS.items():
        if cell.startswith(f"{mark} {verdict}"):
            return verdict.replace(" ", "-")
    return None


def _render_html(blocks: list[_Block], out: Path) -> str:
    """The blocks as one HTML page with every figure embedded as a base64 PNG, a table of
    contents after the title, and verdicts coloured."""
    parts, contents, nav_at = [], [], 0
    for number, block in enumerate(blocks):
        text = html.escape(block.text)
        if block.kind in ("h2", "h3"):
            anchor = f"s{number}"
            contents.append(f'<li class="{block.kind}"><a href="#{anchor}">{text}</a></li>')
            parts.append(f'<{block.kind} id="{anchor}">{text}</{block.kind}>')
        elif block.kind == "h1":
            parts.append(f"<h1>{text}</h1>")
            nav_at = len(parts)
        elif block.kind == "p":
            parts.append(f"<p>{text}</p>")
        elif block.kind == "table":
            parts.append(html_table(block.header, block.rows, _verdict_class))
        else:
            data = base64.b64encode((out / block.path).read_bytes()).decode()
            parts.append(
                f'<figure><img alt="{text}" src="data:image/png;base64,{data}">'
                f"<figcaption>{text}</figcaption></figure>"
            )
    title = html.escape(next((b.text for b in blocks if b.kind == "h1"), "report"))
    parts.insert(nav_at, "<nav><h2>Contents</h2><ul>" + "".join(contents) + "</ul></nav>")
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{HTML_STYLE}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n"
    )


def write_report(
    store: Store,
    out: Path,
    title: str,
    formats: tuple[str, ...] = (),
    scan: bool = False,
    progress: Progress | None = None,
) -> tuple[Path, Path]:
    """Draw the figures into `out/figures/` and write `out/report.md` and `out/report.html`
    (atomically); `formats` adds e.g. "svg" or "pdf" copies of each figure."""
    drawn = write_figures(store, out, formats, scan, progress)
    blocks = _report_blocks(store, title, drawn, out)
    markdown, page = out / "report.md", out / "report.html"
    atomic_write_text(markdown, _render_markdown(blocks))
    atomic_write_text(page, _render_html(blocks, out))
    return markdown, page


def write_figures(
    store: Store,
    out: Path,
    formats: tuple[str, ...] = (),
    scan: bool = False,
    progress: Progress | None = None,
) -> list[tuple[FigureSpec, Path | str]]:
    """Only the figures (see `write_report`)."""
    return list(_draw_figures(_figure_specs(store, scan), out, formats, progress))
