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
with JAX's 64-bit mode on.

The summary (`factors.json`, `factors.md` in `--results`) gives per variant and activation: how
many networks trained and were well trained, their training steps, class a's mean beta_0 and
class b's mean beta_1 per layer, the normalised area of each class with a 95% bootstrap interval
and its difference from the baseline (independent groups), and, where the stores hold the
parameters, how saturated the hidden units are on the homology subsample (tanh: share of
outputs with |h| > 0.99; ReLU and leaky ReLU: share of negative pre-activations) and the least
share of its points any network predicts as their label (1: splitting the clouds by predicted
rather than true labels would change nothing).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tomllib
from pathlib import Path

import jax
import numpy as np
from reproduce import run_setting, settings

from topnn_jax.atomic import atomic_write_text
from topnn_jax.claims.bootstrap import Interval, bootstrap_difference_ci, bootstrap_mean_ci
from topnn_jax.claims.statistics import network_statistics
from topnn_jax.datasets import load
from topnn_jax.models import layer_outputs
from topnn_jax.plotting.common import CYCLE, new_figure, save_figure
from topnn_jax.results import load_store
from topnn_jax.store import load_network, params_path, write_json

HERE = Path(__file__).resolve().parent
VARIANTS_DIR = HERE / "d1_factors"
BASELINE = "baseline"
ACTIVATIONS = ("relu", "leaky_relu", "tanh")
SATURATED = 0.99
"""A tanh unit's output counts as saturated beyond this magnitude."""


def run_variant(variant: str, stores: Path, results: Path) -> int:
    """Run (or resume) one variant and collect its tables; the CLI's exit status."""
    with open(VARIANTS_DIR / f"{variant}.toml", "rb") as handle:
        precision = tomllib.load(handle).get("training", {}).get("precision", "float32")
    with jax.enable_x64(precision == "float64"):
        return run_setting(variant, VARIANTS_DIR, stores, results)


def training_steps(results: Path) -> dict[str, dict]:
    """network_id -> its networks.csv row (steps, well_trained, ...)."""
    with open(results / "networks.csv", newline="") as handle:
        return {row["network_id"]: row for row in csv.DictReader(handle)}


def unit_statistics(store: Path, network_ids: list[str], activation: str) -> dict | None:
    """On D-I's homology subsample, over the networks: the mean share of saturated hidden
    units (see the module docstring), and the share of points whose predicted class is their
    label (1 means splitting the clouds by predicted labels changes nothing). None when a
    network's parameters are not in `store`."""
    paths = [params_path(store, network_id) for network_id in network_ids]
    if not paths or not all(path.exists() for path in paths):
        return None
    dataset = load("D-I", seed=0)
    indices = [dataset.homology_indices(label) for label in (0, 1)]
    points = dataset.train_points[np.concatenate(indices)]
    labels = np.repeat([0, 1], [len(i) for i in indices])
    saturated, agree = [], []
    for path in paths:
        network = load_network(path)
        outputs = layer_outputs(network.params, network.member.spec, points)
        hidden = outputs[1:-1]
        if activation == "tanh":
            saturated.append(np.mean([np.mean(np.abs(h) > SATURATED) for h in hidden]))
        else:  # ReLU: zero outputs; leaky ReLU: negative outputs (both: negative pre-activation)
            saturated.append(np.mean([np.mean(h <= 0) for h in hidden]))
        agree.append(np.mean(outputs[-1].argmax(axis=1) == labels))
    return {"saturated": float(np.mean(saturated)), "predicted_is_label": float(np.min(agree))}


def _interval(interval: Interval) -> list[float]:
    return [round(interval.estimate, 4), round(interval.low, 4), round(interval.high, 4)]


def variant_summary(variant: str, results: Path, stores: Path) -> dict[str, dict]:
    """activation -> the variant's numbers (module docstring), plus the areas per network."""
    store = load_store(results / variant)
    rows = training_steps(results / variant)
    statistics = network_statistics(store)
    summary = {}
    for activation in ACTIVATIONS:
        trained = [row for row in rows.values() if row["activation"] == activation]
        well = [row for row in trained if row["well_trained"] == "true"]
        measured = [n for n in store.networks if n.activation == activation and n.usable]
        areas = {
            label: [
                s.normalised_area
                for s in statistics
                if s.activation == activation and s.label == label
            ]
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
            "area_a": _interval(bootstrap_mean_ci(areas[0])),
            "area_b": _interval(bootstrap_mean_ci(areas[1])),
            "units": unit_statistics(
                stores / variant, [n.network_id for n in measured], activation
            ),
            "areas": areas,
        }
    return summary


def compare(summaries: dict[str, dict]) -> dict[str, dict]:
    """The summaries with each variant's area differences from the baseline's (per class)."""
    baseline = summaries[BASELINE]
    for summary in summaries.values():
        for activation, numbers in summary.items():
            for label, key in ((0, "area_a"), (1, "area_b")):
                numbers[f"{key}_minus_baseline"] = _interval(
                    bootstrap_difference_ci(
                        numbers["areas"][label], baseline[activation]["areas"][label]
                    )
                )
    return summaries


def _span(values: list[float], digits: int = 2) -> str:
    estimate, low, high = values
    return f"{estimate:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def markdown(summaries: dict[str, dict], descriptions: dict[str, str]) -> str:
    """The summary as markdown tables: one block per activation, one row per variant."""
    lines = [
        "# D-I factor study: one protocol choice changed at a time",
        "",
        "Made by `python experiments/d1_factor_study.py --summary` from the tables in this "
        "folder. Areas: normalised area of the total Betti number (0 = minimal right after the "
        "input, 1 = no reduction), mean and 95% bootstrap interval; the difference from the "
        "baseline treats the two variants as independent groups.",
        "",
        "![Class a's beta_0 and class b's beta_1 per layer, per variant](factors.png)",
        "",
        "| variant | what changes |",
        "|---|---|",
        *(f"| `{variant}` | {descriptions[variant]} |" for variant in summaries),
    ]
    for activation in ACTIVATIONS:
        layers = len(summaries[BASELINE][activation]["class_a_b0"])
        head = " | ".join(["in", *map(str, range(1, layers - 1)), "out"])
        lines += [
            "",
            f"## {activation}",
            "",
            "| variant | well trained (of) | steps, median [quartiles] | class a area | − baseline "
            "| class b area | − baseline | saturated units | predicted = label |",
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
                else (_span(n["area_a_minus_baseline"]), _span(n["area_b_minus_baseline"]))
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


CURVES = (("class_a_b0", "class a β₀"), ("class_b_b1", "class b β₁"))


def figure(summaries: dict[str, dict], stem: Path) -> Path:
    """Class a's mean beta_0 and class b's mean beta_1 per layer, one panel per activation and
    class, one line per variant (the baseline black and thick); written to `stem`.png."""
    fig = new_figure(12, 6.5)
    axes = fig.subplots(len(CURVES), len(ACTIVATIONS), sharex=True, sharey="row")
    for row, (key, title) in enumerate(CURVES):
        for column, activation in enumerate(ACTIVATIONS):
            ax = axes[row, column]
            for index, (variant, summary) in enumerate(summaries.items()):
                values = summary[activation][key]
                baseline = variant == BASELINE
                ax.plot(
                    range(len(values)),
                    values,
                    color="black" if baseline else CYCLE[index % len(CYCLE)],
                    linewidth=2.5 if baseline else 1.3,
                    marker="o",
                    markersize=3,
                    label=variant,
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
    """The first comment line of a variant's TOML, after its colon."""
    first = (VARIANTS_DIR / f"{variant}.toml").read_text().splitlines()[0]
    return first.split(": ", 1)[-1]


def summarise(variants: list[str], results: Path, stores: Path) -> Path:
    """Write factors.json and factors.md for the collected `variants` (baseline first)."""
    present = [v for v in variants if (results / v / "betti.csv").exists()]
    if BASELINE not in present:
        raise SystemExit(f"error: no baseline tables in {results / BASELINE}: run it first")
    order = [BASELINE, *(v for v in present if v != BASELINE)]
    summaries = compare({variant: variant_summary(variant, results, stores) for variant in order})
    figure(summaries, results / "factors")
    atomic_write_text(
        results / "factors.md", markdown(summaries, {v: description(v) for v in order})
    )
    for summary in summaries.values():
        for numbers in summary.values():
            numbers["areas"] = {
                str(k): [round(a, 4) for a in v] for k, v in numbers["areas"].items()
            }
    write_json(results / "factors.json", summaries)
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
    known = settings(VARIANTS_DIR)
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
    chosen = args.variants or known
    failed = (
        [] if args.summary else [v for v in chosen if run_variant(v, args.stores, args.results)]
    )
    print(f"summary: {summarise(known, args.results, args.stores)}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
