"""Which reduction before giotto-ph is fastest on real layer clouds: vertex, edge, none, and "auto".

For every network of the given stores whose parameters were kept, every layer's class clouds (as
the pipeline measures them: the store's k, scale, stride, maxdim and labels) get one kNN table
each, then the Betti numbers of that table by every collapse, timed side by side (the Betti
numbers must agree). Prints the total per collapse by data set and maxdim, and the ratio of
"auto" (what `resolve_collapse` picks for each cloud) to the best fixed choice in total; writes
JSON (atomically). Needs gudhi (the edge collapse).

    python benchmarks/bench_collapse.py results/quick results/d2_small
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from topnn_jax.atomic import atomic_write_text
from topnn_jax.layer_clouds import class_clouds
from topnn_jax.report import DatasetCache
from topnn_jax.results import load_store
from topnn_jax.store import load_network, params_path
from topnn_jax.tables import markdown_row, markdown_table
from topnn_jax.topology.cloud import neighbour_table
from topnn_jax.topology.homology import betti_from_neighbours
from topnn_jax.topology.parameters import resolve_collapse

FIXED = ("vertex", "edge", "none")
RESULTS = Path(__file__).parent / "results" / "collapse.json"


def measure_store(directory: Path) -> list[dict]:
    """One record per layer cloud: its size, the preset, and seconds per fixed collapse."""
    store = load_store(directory)
    cache = DatasetCache(store)
    records = []
    for network in store.networks:
        path = params_path(network.directory, network.network_id)
        if not path.exists():
            continue
        dataset, preset, labels = cache.get(network)
        for layer, label, cloud in class_clouds(load_network(path), dataset, preset, labels):
            table = neighbour_table(cloud, preset.k)
            if table.k_used < 1:
                continue
            seconds, betti = {}, set()
            for collapse in FIXED:
                start = time.perf_counter()
                result = betti_from_neighbours(
                    table.neighbours, preset.scale, preset.maxdim, collapse
                )
                seconds[collapse] = time.perf_counter() - start
                betti.add(result.betti)
            if len(betti) != 1:
                raise AssertionError(
                    f"{network.network_id} layer {layer}: collapses disagree {betti}"
                )
            auto = resolve_collapse("auto", preset.maxdim)
            records.append(
                {
                    "store": str(directory),
                    "network_id": network.network_id,
                    "dataset": network.dataset,
                    "layer": layer,
                    "label": label,
                    "points": table.n_points,
                    "width": int(cloud.shape[1]),
                    "maxdim": preset.maxdim,
                    "betti": list(betti.pop()),
                    "seconds": seconds,
                    "auto": auto,
                }
            )
    return records


HEADER = ("data", "maxdim", "clouds", *FIXED, "auto", "auto / best")


def summary_rows(records: list[dict]) -> list[dict]:
    """Totals per (data set, maxdim) and over all clouds."""
    groups: dict[tuple[str, int | str], list[dict]] = {}
    for record in records:
        groups.setdefault((record["dataset"], record["maxdim"]), []).append(record)
    groups[("all", "")] = records
    rows = []
    for (dataset, maxdim), group in groups.items():
        totals = {c: sum(r["seconds"][c] for r in group) for c in FIXED}
        auto = sum(r["seconds"][r["auto"]] for r in group)
        best = min(totals.values())
        rows.append(
            {"dataset": dataset, "maxdim": maxdim, "clouds": len(group), **totals}
            | {"auto": auto, "auto_over_best": auto / best}
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stores", nargs="+", type=Path, help="result stores with parameters")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    records = [record for store in args.stores for record in measure_store(store)]
    rows = summary_rows(records)
    print("seconds in all, per collapse:\n")
    print(markdown_table(HEADER, []), end="")
    for row in rows:
        print(
            markdown_row(
                (
                    row["dataset"],
                    row["maxdim"],
                    row["clouds"],
                    *(f"{row[c]:.2f}" for c in FIXED),
                    f"{row['auto']:.2f}",
                    f"{row['auto_over_best']:.2f}",
                )
            )
        )
    atomic_write_text(args.out, json.dumps({"summary": rows, "clouds": records}, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
