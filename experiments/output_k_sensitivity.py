"""How much the logits' Betti numbers depend on k: claim 1 ("minimal at the output") under the
paper's fixed (k, scale) and under larger k.

    python experiments/output_k_sensitivity.py results/paper/d1_10_by_15 --ks 13 20 30

For every well-trained network kept in a store (its parameters in params/), the logits of each
class's homology subsample are measured at each k (same hop scale as the run), and the share of
networks whose logits have minimal Betti numbers (1, 0, ...) is printed per activation, class and
k. The table is also written as CSV to `--out`.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from topnn_jax.atomic import atomic_write_text
from topnn_jax.layer_clouds import homology_layers
from topnn_jax.report import DatasetCache
from topnn_jax.results import load_store
from topnn_jax.store import format_row, load_network, params_path
from topnn_jax.topology import betti_numbers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path, help="a results store with params/")
    parser.add_argument("--ks", type=int, nargs="+", default=[13, 20, 30])
    parser.add_argument("--out", type=Path, help="CSV of the shares (default: print only)")
    args = parser.parse_args(argv)
    store = load_store(args.store)
    datasets = DatasetCache(store)
    minimal: dict[tuple[str, int, int], list[bool]] = {}
    usable = store.usable()
    for done, network in enumerate(usable, start=1):
        dataset, preset, labels = datasets.get(network)
        trained = load_network(params_path(network.directory, network.network_id))
        outputs, membership = homology_layers(trained, dataset, preset.stride, labels)
        for label in (0, 1):
            cloud = outputs[-1][membership == label]
            for k in args.ks:
                betti = betti_numbers(cloud, k=k, scale=preset.scale, maxdim=preset.maxdim).betti
                key = (network.activation, label, k)
                minimal.setdefault(key, []).append(betti == (1,) + (0,) * preset.maxdim)
        print(f"\r{done}/{len(usable)} networks", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    header = ("activation", "label", "k", "networks", "share_minimal")
    rows = [
        (activation, label, k, len(flags), f"{np.mean(flags):.3f}")
        for (activation, label, k), flags in sorted(minimal.items())
    ]
    writer = csv.writer(sys.stdout)
    writer.writerow(header)
    writer.writerows(rows)
    if args.out:
        atomic_write_text(args.out, "".join(format_row(map(str, r)) for r in [header, *rows]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
