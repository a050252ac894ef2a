"""experiments/d1_factor_study.py: the measurement variant that adds a point at the origin to
every cloud (the original's zero-padded activation files), measured on a store's networks."""

from __future__ import annotations

import csv
import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np

from topnn_jax.layer_clouds import homology_layers
from topnn_jax.store import load_network, params_path
from topnn_jax.topology import betti_numbers

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def load_study():
    sys.path.insert(0, str(EXPERIMENTS))  # it imports reproduce.py beside it
    spec = importlib.util.spec_from_file_location(
        "d1_factor_study", EXPERIMENTS / "d1_factor_study.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["d1_factor_study"] = module  # its dataclass needs its module registered
    spec.loader.exec_module(module)
    return module


study = load_study()


def _rows(path: Path) -> dict[tuple[str, str, str], dict[str, str]]:
    with path.open(newline="") as handle:
        return {(r["network_id"], r["layer"], r["label"]): r for r in csv.DictReader(handle)}


def test_origin_point_measures_every_cloud_again_with_one_more_point(
    tmp_path, tiny_store, tiny_config
):
    results = tmp_path / "results"
    assert study.measure_with_origin(tiny_store.name, tiny_store.parent, results) == 0
    target = results / study.ORIGIN_POINT
    assert (target / "networks.csv").read_text() == (tiny_store / "networks.csv").read_text()
    plain, with_origin = _rows(tiny_store / "betti.csv"), _rows(target / "betti.csv")
    assert with_origin.keys() == plain.keys()  # every cloud the store measured, no other
    for key, row in with_origin.items():
        grew = int(row["n_points"]) - int(plain[key]["n_points"])
        # the origin is a new point unless the layer already maps a point there (ReLU can);
        # D-I's grid has no point at the origin, so the input always gains one
        assert grew == 1 if key[1] == "0" else grew in (0, 1)

    # each row holds the Betti numbers of its own cloud: recompute one network's by hand
    network_id = sorted(plain)[0][0]
    network = load_network(params_path(tiny_store, network_id))
    dataset = tiny_config.load_dataset("D-I")
    preset = tiny_config.topology.resolve(dataset.preset)
    outputs, labels = homology_layers(network, dataset, preset.stride)
    for layer, output in enumerate(outputs):
        for label in (0, 1):
            cloud = np.vstack([output[labels == label], np.zeros((1, output.shape[1]))])
            expected = betti_numbers(cloud, preset.k, preset.scale, preset.maxdim).betti
            row = with_origin[(network_id, str(layer), str(label))]
            assert (int(row["b0"]), int(row["b1"])) == tuple(expected)

    before = (target / "betti.csv").read_text()
    assert study.measure_with_origin(tiny_store.name, tiny_store.parent, results) == 0
    assert (target / "betti.csv").read_text() == before  # resumed: nothing measured again


def test_origin_point_needs_the_store_that_trained_the_networks(tmp_path, capsys, tiny_store):
    assert study.measure_with_origin("baseline_rerun", tmp_path / "none", tmp_path) == 1
    error = capsys.readouterr().err
    assert "holds none" in error and "d1_factor_study.py baseline_rerun" in error

    tables_only = tmp_path / "stores" / "copied"  # the tables without the parameters
    shutil.copytree(tiny_store, tables_only, ignore=shutil.ignore_patterns("params"))
    assert study.measure_with_origin("copied", tables_only.parent, tmp_path) == 1
    assert "lacks the parameters of 4 measured networks" in capsys.readouterr().err
    assert not (tmp_path / study.ORIGIN_POINT).exists()
