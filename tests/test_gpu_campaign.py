"""experiments/gpu_campaign.py: its stores packed into the files a device call returns and
unpacked here, new stores seeded from committed tables, tiny dry-run configs, the deadline."""

from __future__ import annotations

import importlib.util
import json
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from topnn_jax.config import load_config

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def load_campaign():
    sys.path.insert(0, str(EXPERIMENTS))  # it imports reproduce.py beside it
    spec = importlib.util.spec_from_file_location("gpu_campaign", EXPERIMENTS / "gpu_campaign.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_campaign"] = module  # its dataclass needs its module registered
    spec.loader.exec_module(module)
    return module


campaign = load_campaign()


GPU_RUNS = [{"machine": "the GPU machine", "seconds": 1.0}]
"""The compute record (timing.json's runs) of a store packed on the GPU machine."""


def _store(root: Path, setting: str) -> Path:
    store = root / "stores" / setting
    (store / "params").mkdir(parents=True)
    (store / "networks.csv").write_text("network_id\nx\n")
    noise = np.random.default_rng(0).bytes(16 * 1024)  # does not compress
    (store / "params" / "x.npz").write_bytes(noise)
    timing = root / "results" / setting / "timing.json"
    timing.parent.mkdir(parents=True)
    timing.write_text(json.dumps({"setting": setting, "runs": GPU_RUNS}))
    return store


@pytest.mark.parametrize("limit", [2**20, 5000])
def test_a_packed_store_unpacks_whole_and_its_timing_merges_once(tmp_path, monkeypatch, limit):
    monkeypatch.setattr(campaign, "MAX_FILE_BYTES", limit)
    store = _store(tmp_path / "gpu", "d2_depths")
    out = tmp_path / "out"
    out.mkdir()
    names = campaign.pack(
        "d2_depths", tmp_path / "gpu" / "stores", tmp_path / "gpu" / "results", out
    )
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    assert all(p.stat().st_size <= limit for p in out.iterdir())
    assert (len(names) > 1) == (limit < 16 * 1024)
    here, committed = tmp_path / "here" / "stores", tmp_path / "here" / "results"
    for _ in range(2):  # unpacking twice adds the GPU run once
        assert campaign.unpack(out, here, committed) == ["d2_depths"]
    params = here / "d2_depths" / "params" / "x.npz"
    assert params.read_bytes() == (store / "params" / "x.npz").read_bytes()
    runs = json.loads((committed / "d2_depths" / "timing.json").read_text())["runs"]
    assert runs == GPU_RUNS
    assert sorted(p.name for p in here.parent.iterdir()) == ["results", "stores"]  # no leftovers


def test_a_new_store_starts_from_the_committed_tables(tmp_path):
    store = tmp_path / "d2_10_by_15"
    started = campaign.seed_store("d2_10_by_15", store, EXPERIMENTS / "results")
    assert started.startswith("committed tables")
    committed = EXPERIMENTS / "results" / "d2_10_by_15" / "networks.csv"
    assert (store / "networks.csv").read_text() == committed.read_text()
    assert campaign.seed_store("d2_10_by_15", store, EXPERIMENTS / "results") == "resumed store"
    assert campaign.seed_store("d2_depths", tmp_path / "new", EXPERIMENTS / "results") == "new"


def test_every_planned_setting_has_a_valid_tiny_config(tmp_path):
    settings = [setting for setting, _ in campaign.PLAN]
    folder = campaign.tiny_configs(settings, tmp_path)
    for setting in settings:
        tiny, full = (
            load_config(folder / f"{setting}.toml"),
            load_config(EXPERIMENTS / "paper" / f"{setting}.toml"),
        )
        assert tiny.data.size == campaign.TINY[full.data.datasets[0]]
        assert (tiny.networks.seeds, tiny.networks.top_up) == ((0, 1), 2)
        assert (tiny.training.max_steps, tiny.topology.measure) == (300, "all")
        assert tiny.networks.architectures == full.networks.architectures


def test_a_command_past_the_deadline_is_terminated(tmp_path):
    status, _ = campaign.run_until(["sleep", "30"], time.monotonic() + 1)
    assert status == -signal.SIGTERM  # ended by the deadline: `sleep 30` alone exits 0
    status, _ = campaign.run_until(["true"], time.monotonic() + 30)
    assert status == 0  # a command that ends in time keeps its own status
