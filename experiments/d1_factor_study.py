"""D-I factor study: which protocol choices D-I's layer-by-layer topology depends on (tanh's above
all), one factor changed at a time against today's protocol.

    python experiments/d1_factor_study.py --list           # the variants: experiments/d1_factors/
    python experiments/d1_factor_study.py                  # run every variant, then summarise
    python experiments/d1_factor_study.py baseline float64 # some variants (each resumes)
    python experiments/d1_factor_study.py --summary        # summarise the collected tables only

Each variant is a setting (`experiments/d1_factors/<variant>.toml`: D-I 10_by_15 with ReLU, leaky
ReLU and tanh, the same 30 seeds, up to 30 more until 30 are well trained) run as
`experiments/reproduce.py` runs one: its store (with parameters) under `--stores`, its tables
under `--results` (default `experiments/results/d1_factors/<variant>/`). A float64 variant runs
with JAX's 64-bit mode on. One variant changes the measurement instead: `origin_point` measures
`baseline_rerun`'s networks again (their parameters must be in `--stores`) with a point at the
origin added to every cloud, as the original's zero-padded activation files did.

The summary (`factors.json`, `factors.md` in `--results`) gives per variant: claim 2's verdict
under the project's one rule, and per activation how many networks trained and were well
trained, their training steps, class a's mean beta_0 and class b's mean beta_1 per layer, the
normalised area of each class with a 95% bootstrap interval and its difference from the
variant's reference (the baseline, as independent groups; for `origin_point` the same networks
unmeasured, paired), and, from the parameters (kept in `<variant>/units.json` once
computed, since stores are not committed), how saturated the hidden units are on the homology
subsample (tanh: share of outputs with |h| > 0.99; ReLU and leaky ReLU: share of negative
pre-activations) and the least share of its points any network predicts as their label (1:
splitting the clouds by predicted rather than true labels would change nothing).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
from reproduce import run_setting, settings

from topnn_jax.atomic import atomic_write_text
from topnn_jax.claims import evaluate_claims
from topnn_jax.claims.bootstrap import Interval, bootstrap_difference_ci, bootstrap_mean_ci
from topnn_jax.claims.statistics import network_statistics
from topnn_jax.datasets import Dataset, load
from topnn_jax.errors import InputError
from topnn_jax.layer_clouds import class_clouds, homology_layers
from topnn_jax.plotting.common import CYCLE, new_figure, save_figure
from topnn_jax.report import DatasetCache
from topnn_jax.results import Store, load_store
from topnn_jax.store import (
    CONFIG_FILE,
    ENVIRONMENT_FILE,
    NETWORKS_FILE,
    betti_row,
    betti_table,
    load_network,
    params_path,
    read_json,
    write_json,
)
from topnn_jax.topology import BettiPool

HERE = Path(__file__).resolve().parent
VARIANTS_DIR = HERE / "d1_factors"
BASELINE = "baseline"
RERUN = "baseline_rerun"
"""The baseline's protocol run again on another CPU model: the noise floor of the comparisons."""
ACTIVATIONS = ("relu", "leaky_relu", "tanh")
SATURATED = 0.99
"""A tanh unit's output counts as saturated beyond this magnitude."""
UNITS_FILE = "units.json"
"""Per variant, beside its tables: the unit statistics, which need the (uncommitted) stores."""
ACTIVATION_ORDER_CLAIM = 2
"""The paper's claim 2 (ReLU faster than leaky ReLU, faster than tanh), judged per variant."""


@dataclass(frozen=True)
class MeasurementVariant:
    """A variant that changes the measurement, not the training.

    Attributes:
        networks: the variant whose networks it measures again (their parameters must be in
            `--stores`); it is compared with that variant.
        description: what changes.
    """

    networks: str
    description: str


ORIGIN_POINT = "origin_point"
MEASUREMENT_VARIANTS = {
    ORIGIN_POINT: MeasurementVariant(
        RERUN,
        "baseline_rerun's networks measured with one point at the origin added to every class's "
        "cloud at every layer (what the original's zero-padded activation files did)",
    ),
}


def reference(variant: str) -> str:
    """The variant that `variant` is compared with."""
    measured = MEASUREMENT_VARIANTS.get(variant)
    return measured.networks if measured else BASELINE


def run_variant(variant: str, stores: Path, results: Path) -> int:
    """Run (or resume) one variant and collect its tables; the CLI's exit status."""
    if variant in MEASUREMENT_VARIANTS:
        return measure_with_origin(MEASUREMENT_VARIANTS[variant].networks, stores, results)
    with open(VARIANTS_DIR / f"{variant}.toml", "rb") as handle:
        precision = tomllib.load(handle).get("training", {}).get("precision", "float32")
    with jax.enable_x64(precision == "float64"):
        return run_setting(variant, VARIANTS_DIR, stores, results)


def measure_with_origin(networks: str, stores: Path, results: Path) -> int:
    """Measure the measured networks of variant `networks` again, with one point at the origin
    (all zeros) added to every class's cloud at every layer, the input included, as their
    experiment measured them otherwise (k, scale, stride, labels), into
    `results/origin_point/`: the networks.csv, config.json and environment.json of
    `stores/<networks>/` (where their parameters are), a betti.csv of its own. Resumes (a
    network with all its rows is skipped). Returns an exit status."""
    source, target = stores / networks, results / ORIGIN_POINT
    if not (source / NETWORKS_FILE).exists():
        print(
            f"error: {ORIGIN_POINT} measures {networks}'s networks, but {source} holds none: "
            f"run `python experiments/d1_factor_study.py {networks} --stores {stores}` first",
            file=sys.stderr,
        )
        return 1
    store = load_store(source)
    lacking = [
        n.network_id
        for n in store.networks
        if n.measured and not params_path(source, n.network_id).exists()
    ]
    if lacking:
        print(
            f"error: {source} lacks the parameters of {len(lacking)} measured networks (e.g. "
            f"{lacking[0]}): {ORIGIN_POINT} needs the store that trained them",
            file=sys.stderr,
        )
        return 1
    target.mkdir(parents=True, exist_ok=True)
    write_json(target / CONFIG_FILE, {**read_json(source / CONFIG_FILE), "name": ORIGIN_POINT})
    atomic_write_text(target / NETWORKS_FILE, (source / NETWORKS_FILE).read_text())
    atomic_write_text(target / ENVIRONMENT_FILE, (source / ENVIRONMENT_FILE).read_text())
    maxdim = max(store.dims)
    betti = betti_table(target, maxdim)
    todo = [
        network
        for network in store.networks
        if network.measured
        and any(
            (network.network_id, layer, label) not in betti
            for layer in range(len(network.betti))
            for label in store.labels
        )
    ]
    datasets = DatasetCache(store)
    start = time.perf_counter()
    with BettiPool() as pool:
        for network in todo:
            dataset, preset, labels = datasets.get(network)
            trained = load_network(params_path(source, network.network_id))
            for layer, label, cloud in class_clouds(trained, dataset, preset, labels):
                with_origin = np.vstack([cloud, np.zeros((1, cloud.shape[1]), cloud.dtype)])
                job = (network.network_id, layer, label)
                pool.submit(job, with_origin, preset.k, preset.scale, preset.maxdim)
        for done, (job, outcome) in enumerate(pool.results(), start=1):
            if isinstance(outcome, InputError):
                raise outcome
            betti.append(betti_row(*job, outcome, maxdim))
            if done % 200 == 0:
                print(f"{ORIGIN_POINT}: {done} clouds measured", flush=True)
    betti.finalize()
    print(f"{ORIGIN_POINT}: {len(todo)} networks measured in {time.perf_counter() - start:.0f} s")
    return 0


def training_steps(results: Path) -> dict[str, dict]:
    """network_id -> its networks.csv row (steps, well_trained, ...)."""
    with open(results / "networks.csv", newline="") as handle:
        return {row["network_id"]: row for row in csv.DictReader(handle)}


def unit_statistics(dataset: Dataset, paths: list[Path], activation: str) -> dict:
    """On the homology subsample of `dataset`, over the networks saved at `paths`: the mean
    share of saturated hidden units (see the module docstring), and the least share of a
    network's points predicted as their label (1 means splitting the clouds by predicted labels
    changes nothing)."""
    saturated, agree = [], []
    for path in paths:
        outputs, labels = homology_layers(load_network(path), dataset, dataset.preset.stride)
        hidden = outputs[1:-1]
        if activation == "tanh":
            saturated.append(np.mean([np.mean(np.abs(h) > SATURATED) for h in hidden]))
        else:  # ReLU: zero outputs; leaky ReLU: negative outputs (both: negative pre-activation)
            saturated.append(np.mean([np.mean(h <= 0) for h in hidden]))
        agree.append(np.mean(outputs[-1].argmax(axis=1) == labels))
    return {"saturated": float(np.mean(saturated)), "predicted_is_label": float(np.min(agree))}


def variant_units(
    variant: str, store: Store, results: Path, stores: Path
) -> dict[str, dict | None]:
    """activation -> `unit_statistics` of the variant's measured networks (None where unknown).
    Computed where `stores` holds all their parameters and then kept in
    `results/<variant>/units.json`; read from there where it does not (stores are not in git)."""
    path = results / variant / UNITS_FILE
    params = {
        activation: [
            params_path(stores / variant, n.network_id)
            for n in store.networks
            if n.activation == activation and n.usable
        ]
        for activation in ACTIVATIONS
    }
    if not all(paths and all(p.exists() for p in paths) for paths in params.values()):
        return read_json(path) if path.exists() else dict.fromkeys(ACTIVATIONS)
    dataset = load("D-I", seed=0)
    computed = {a: unit_statistics(dataset, paths, a) for a, paths in params.items()}
    write_json(path, computed)
    return computed


def activation_order(store: Store) -> dict[str, dict]:
    """Class ("0", "1") -> claim 2's verdict on the variant's networks under the project's one
    rule, with its area differences ("leaky_relu - relu area": [estimate, low, high])."""
    return {
        str(result.label): {
            "verdict": result.verdict,
            "differences": {
                number.quantity: [
                    round(value, 4) for value in (number.estimate, number.ci_low, number.ci_high)
                ]
                for number in result.numbers
                if " - " in number.quantity
            },
        }
        for result in evaluate_claims(store)
        if result.claim == ACTIVATION_ORDER_CLAIM and result.label is not None
    }


def _interval(interval: Interval) -> list[float]:
    return [round(interval.estimate, 4), round(interval.low, 4), round(interval.high, 4)]


def variant_summary(variant: str, store: Store, results: Path, stores: Path) -> dict[str, dict]:
    """activation -> the variant's numbers (module docstring), plus the areas per network;
    `store` is the variant's tables, loaded from `results`."""
    rows = training_steps(results / variant)
    statistics = network_statistics(store)
    units = variant_units(variant, store, results, stores)
    summary = {}
    for activation in ACTIVATIONS:
        trained = [row for row in rows.values() if row["activation"] == activation]
        well = [row for row in trained if row["well_trained"] == "true"]
        measured = [n for n in store.networks if n.activation == activation and n.usable]
        areas = {  # label -> network id -> normalised area
            label: {
                s.network_id: s.normalised_area
                for s in statistics
                if s.activation == activation and s.label == label
            }
            for label in (0, 1)
        }
        betti = np.stack([n.betti for n in measured])  # [networks, layers, labels, dims]
        steps = [int(row["steps"]) for row in well]
        summary[activation] = {
            "trained": len(trained),
            "well_trained": len(well),
            "measured": len(measured),
            "steps_median": float(np.median(steps)),
            "steps_quartiles": [float(q) for q in np.percentile(steps, [25, 75])],
            "class_a_b0": [round(float(v), 2) for v in betti[:, :, 0, 0].mean(axis=0)],
            "class_b_b1": [round(float(v), 2) for v in betti[:, :, 1, 1].mean(axis=0)],
            "area_a": _interval(bootstrap_mean_ci(list(areas[0].values()))),
            "area_b": _interval(bootstrap_mean_ci(list(areas[1].values()))),
            "units": units[activation],
            "areas": areas,
        }
    return summary


def area_difference(
    areas: dict[str, float], reference_areas: dict[str, float], paired: bool
) -> Interval:
    """Mean area minus the reference's, with its 95% bootstrap interval: over the networks both
    measured when `paired` (a measurement variant: the same networks), else as independent
    groups."""
    if paired:
        common = sorted(areas.keys() & reference_areas.keys())
        return bootstrap_mean_ci([areas[i] - reference_areas[i] for i in common])
    return bootstrap_difference_ci(list(areas.values()), list(reference_areas.values()))


def compare(summaries: dict[str, dict]) -> dict[str, dict]:
    """The summaries with each variant's area differences from its reference's (per class;
    none for the baseline)."""
    for variant, summary in summaries.items():
        if variant == BASELINE:
            continue
        compared = summaries[reference(variant)]
        for activation, numbers in summary.items():
            for label, key in ((0, "area_a"), (1, "area_b")):
                numbers[f"{key}_minus_reference"] = _interval(
                    area_difference(
                        numbers["areas"][label],
                        compared[activation]["areas"][label],
                        paired=variant in MEASUREMENT_VARIANTS,
                    )
                )
    return summaries


def _span(values: list[float], digits: int = 2) -> str:
    estimate, low, high = values
    return f"{estimate:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def markdown(
    summaries: dict[str, dict], orders: dict[str, dict], descriptions: dict[str, str]
) -> str:
    """The summary as markdown tables: claim 2 per variant (`orders`: variant ->
    `activation_order`), then one block per activation, one row per variant."""
    lines = [
        "# D-I factor study: one protocol choice changed at a time",
        "",
        "Made by `python experiments/d1_factor_study.py --summary` from the tables in this "
        "folder. Areas: normalised area of the total Betti number (0 = minimal right after the "
        "input, 1 = no reduction), mean and 95% bootstrap interval; the difference from the "
        "variant's reference treats the two as independent groups, except for a measurement "
        "variant, whose networks are its reference's (the mean of the paired differences).",
        "",
        "![Class a's beta_0 and class b's beta_1 per layer, per variant](factors.png)",
        "",
        "| variant | what changes | reference |",
        "|---|---|---|",
        *(
            f"| `{variant}` | {descriptions[variant]} | "
            f"{'–' if variant == BASELINE else f'`{reference(variant)}`'} |"
            for variant in summaries
        ),
        "",
        "## Claim 2 in each variant",
        "",
        "ReLU faster than leaky ReLU, leaky ReLU faster than tanh: the project's one verdict "
        "rule (held when every adjacent difference of mean areas has its 95% CI above 0).",
        "",
        "| variant | class a | leaky − ReLU | tanh − leaky | class b | leaky − ReLU "
        "| tanh − leaky |",
        "|---|---|---|---|---|---|---|",
        *(f"| `{variant}` | {_order_cells(order)} |" for variant, order in orders.items()),
    ]
    for activation in ACTIVATIONS:
        layers = len(summaries[BASELINE][activation]["class_a_b0"])
        head = " | ".join(["in", *map(str, range(1, layers - 1)), "out"])
        lines += [
            "",
            f"## {activation}",
            "",
            "| variant | well trained (of) | steps, median [quartiles] | class a area "
            "| − reference | class b area | − reference | saturated units | predicted = label |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for variant, summary in summaries.items():
            n = summary[activation]
            low, high = n["steps_quartiles"]
            units = n["units"] or {}
            saturated, agree = (
                f"{units[key]:.2f}" if key in units else "–"
                for key in ("saturated", "predicted_is_label")
            )
            differences = (
                ("–", "–")
                if variant == BASELINE
                else (_span(n["area_a_minus_reference"]), _span(n["area_b_minus_reference"]))
            )
            lines.append(
                f"| `{variant}` | {n['well_trained']} ({n['trained']}) | "
                f"{n['steps_median']:.0f} [{low:.0f}, {high:.0f}] | {_span(n['area_a'])} | "
                f"{differences[0]} | {_span(n['area_b'])} | {differences[1]} | {saturated} | "
                f"{agree} |"
            )
        for key, title in (("class_a_b0", "class a mean β₀"), ("class_b_b1", "class b mean β₁")):
            lines += ["", f"{title} per layer:", "", f"| variant | {head} |"]
            lines.append("|---" * (layers + 1) + "|")
            lines += [
                f"| `{variant}` | " + " | ".join(f"{v:g}" for v in summary[activation][key]) + " |"
                for variant, summary in summaries.items()
            ]
    return "\n".join(lines) + "\n"


def _order_cells(order: dict[str, dict]) -> str:
    """Claim 2's verdict and its two differences for class a, then class b."""
    cells = []
    for label in ("0", "1"):
        differences = order[label]["differences"]
        cells.append(order[label]["verdict"])
        cells += [
            _span(differences[quantity]) if quantity in differences else "–"
            for quantity in ("leaky_relu - relu area", "tanh - leaky_relu area")
        ]
    return " | ".join(cells)


CURVES = (("class_a_b0", "class a β₀"), ("class_b_b1", "class b β₁"))


def figure(summaries: dict[str, dict], stem: Path) -> Path:
    """Class a's mean beta_0 and class b's mean beta_1 per layer, one panel per activation and
    class, one line per variant (the baseline black and thick, its rerun black and dashed, the
    measurement variants dotted); written to `stem`.png."""
    others = [v for v in summaries if v not in (BASELINE, RERUN)]
    styles = {
        BASELINE: {"color": "black", "linewidth": 2.5},
        RERUN: {"color": "black", "linestyle": "--"},
        **{
            variant: {
                "color": CYCLE[index % len(CYCLE)],
                "linestyle": ":" if variant in MEASUREMENT_VARIANTS else "-",
            }
            for index, variant in enumerate(others)
        },
    }
    fig = new_figure(12, 6.5)
    axes = fig.subplots(len(CURVES), len(ACTIVATIONS), sharex=True, sharey="row")
    for row, (key, title) in enumerate(CURVES):
        for column, activation in enumerate(ACTIVATIONS):
            ax = axes[row, column]
            for variant, summary in summaries.items():
                values = summary[activation][key]
                style = {"linewidth": 1.3, **styles[variant]}
                ax.plot(
                    range(len(values)), values, marker="o", markersize=3, label=variant, **style
                )
            ax.set_title(f"{activation}: {title}")
            ax.grid(alpha=0.3)
            if row == len(CURVES) - 1:
                ax.set_xlabel("layer (0 = input, 10 = logits)")
            if column == 0:
                ax.set_ylabel(f"mean {title}")
    axes[0, -1].legend(fontsize=7, loc="lower left")
    fig.suptitle("D-I 10_by_15: one protocol choice changed at a time (30+ networks each)")
    return save_figure(fig, stem)[0]


def description(variant: str) -> str:
    """What a variant changes: the first comment line of its TOML, after its colon."""
    if variant in MEASUREMENT_VARIANTS:
        return MEASUREMENT_VARIANTS[variant].description
    first = (VARIANTS_DIR / f"{variant}.toml").read_text().splitlines()[0]
    return first.split(": ", 1)[-1]


def summarise(variants: list[str], results: Path, stores: Path) -> Path:
    """Write factors.json and factors.md for the collected `variants` (baseline first)."""
    present = [v for v in variants if (results / v / "betti.csv").exists()]
    if BASELINE not in present:
        raise SystemExit(f"error: no baseline tables in {results / BASELINE}: run it first")
    order = [BASELINE, *(v for v in present if v != BASELINE)]
    tables = {variant: load_store(results / variant) for variant in order}
    summaries = compare(
        {variant: variant_summary(variant, tables[variant], results, stores) for variant in order}
    )
    orders = {variant: activation_order(tables[variant]) for variant in order}
    figure(summaries, results / "factors")
    atomic_write_text(
        results / "factors.md",
        markdown(summaries, orders, {v: description(v) for v in order}),
    )
    for summary in summaries.values():
        for numbers in summary.values():
            numbers["areas"] = {
                str(label): {i: round(a, 4) for i, a in areas.items()}
                for label, areas in numbers["areas"].items()
            }
    write_json(results / "factors.json", {"variants": summaries, "claim_2": orders})
    return results / "factors.md"


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="*", help="variant names (default: every one)")
    parser.add_argument("--list", action="store_true", help="print the variants and exit")
    parser.add_argument("--summary", action="store_true", help="only summarise, run nothing")
    parser.add_argument("--stores", type=Path, default=Path("results/d1_factors"), help="stores")
    parser.add_argument(
        "--results", type=Path, default=HERE / "results" / "d1_factors", help="tables' folder"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    known = [*settings(VARIANTS_DIR), *MEASUREMENT_VARIANTS]  # measured after the trained
    if args.list:
        print("\n".join(f"{v}: {description(v)}" for v in known))
        return 0
    unknown = [v for v in args.variants if v not in known]
    if unknown:
        print(
            f"error: unknown variant(s) {', '.join(unknown)}; choose from: {', '.join(known)}",
            file=sys.stderr,
        )
        return 2
    chosen = [v for v in known if v in args.variants] if args.variants else known
    failed = (
        [] if args.summary else [v for v in chosen if run_variant(v, args.stores, args.results)]
    )
    print(f"summary: {summarise(known, args.results, args.stores)}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
