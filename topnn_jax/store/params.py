"""A trained network's file in a store: `DIR/params/<network_id>.npz`, its parameters (under
"<layer>/<leaf>", and those at earlier training steps under "at/<step>/<layer>/<leaf>") and a
JSON record of who it is and how its training ended."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from topnn_jax.architecture import ArchitectureSpec, Params
from topnn_jax.atomic import atomic_save_npz
from topnn_jax.errors import InputError
from topnn_jax.networks import Member, TrainedNetwork, TrainingResult

PARAMS_DIR = "params"


_FORMAT = "topnn-jax network v1"


def params_path(store: str | os.PathLike, network_id: str) -> Path:
    """Where a store keeps a network's parameters: `store/params/<network_id>.npz`."""
    return Path(store) / PARAMS_DIR / f"{network_id}.npz"


def save_network(network: TrainedNetwork, store: str | os.PathLike) -> Path:
    """Write the network's file in `store` (`params_path`): parameters plus a JSON record of
    spec and result. Returns its path."""
    member, result = network.member, network.result
    meta = {
        "format": _FORMAT,
        "dataset": member.dataset,
        "seed": member.seed,
        "spec": member.spec.to_dict(),
        "result": {
            "steps": result.steps,
            "train_correct": result.train_correct,
            "n_train": result.n_train,
            "test_correct": result.test_correct,
            "n_test": result.n_test,
            "well_trained": result.well_trained,
            "failed": result.failed,
        },
    }
    arrays = _flat(network.params)
    for step, params in network.snapshots.items():
        arrays.update(_flat(params, f"at/{step}/"))
    path = params_path(store, member.network_id)
    return atomic_save_npz(path, meta=np.array(json.dumps(meta)), **arrays)


def _flat(params: Params, prefix: str = "") -> dict[str, np.ndarray]:
    """An .npz's arrays of parameters: "<prefix><layer>/<leaf>" -> array."""
    return {
        f"{prefix}{layer}/{name}": np.asarray(value)
        for layer, leaves in params.items()
        for name, value in leaves.items()
    }


def load_network(path: str | os.PathLike) -> TrainedNetwork:
    """Read a file written by `save_network`; `InputError` naming it if it is missing,
    truncated or not such a file."""
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            params: Params = {}
            snapshots: dict[int, Params] = {}
            for name in archive.files:
                if name.startswith("at/"):
                    _, step, layer, leaf = name.split("/")
                    snapshots.setdefault(int(step), {}).setdefault(layer, {})[leaf] = archive[name]
                elif name != "meta":
                    layer, leaf = name.split("/")
                    params.setdefault(layer, {})[leaf] = archive[name]
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise InputError(
            f"{path}: damaged (truncated?) or not a saved topnn-jax network ({error})"
        ) from None
    if meta.get("format") != _FORMAT:
        raise InputError(f"{path}: unknown format {meta.get('format')!r}, expected {_FORMAT!r}")
    spec = ArchitectureSpec.from_dict(meta["spec"])
    member = Member(meta["dataset"], spec, int(meta["seed"]))
    result = TrainingResult(**meta["result"])
    return TrainedNetwork(member, params, result, dict(sorted(snapshots.items())))
