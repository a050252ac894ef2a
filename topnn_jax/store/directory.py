"""A store's directory as a whole: creating it, or proving that a resumed run is the same
experiment, taking its lock (`topnn_jax.store.lock`), and recording the machine it ran on
(environment.json)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from pathlib import Path

import jax

from topnn_jax.atomic import remove_temp_files
from topnn_jax.config import ExperimentConfig, with_saved_defaults
from topnn_jax.errors import InputError
from topnn_jax.store.lock import StoreLock
from topnn_jax.store.params import PARAMS_DIR
from topnn_jax.store.records import (
    BETTI_FILE,
    CONFIG_FILE,
    ENVIRONMENT_FILE,
    NETWORKS_FILE,
    read_json,
    write_json,
)
from topnn_jax.topology.job import available_cpus

PACKAGES = (
    "topnn-jax",
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "numpy",
    "scipy",
    "giotto-ph",
    "gudhi",
    "ray",
)


def processor() -> str:
    """The CPU's model name (float results can differ between CPU models), or "" if unknown."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def environment() -> dict:
    """Package versions, JAX backend and devices, CPU model and count: written to
    environment.json."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
        "jax_backend": jax.default_backend(),
        "jax_devices": [str(device) for device in jax.devices()],
        "device_kind": jax.devices()[0].device_kind,
        "processor": processor(),
        "cpu_count": os.cpu_count(),
        "available_cpus": available_cpus(),
    }


def open_store(
    config: ExperimentConfig,
    out: Path,
    resume: bool,
    continue_with: str = "pass --resume to continue that run",
) -> StoreLock:
    """Create the store, or check that a resumed one was made by the same experiment (and
    clear the temporary files its interrupted writes left); take its lock; write its
    config.json and environment.json. `continue_with` tells a user who meant to continue an
    existing store how to.

    Returns:
        The store's lock: hold it while writing the store (`with open_store(...):`).

    Raises:
        InputError: the store cannot be continued by this run, or another run holds it; a
            refused store is left as it was.
    """
    out = Path(out)
    check_store(config, out, resume, continue_with)  # before the lock: a refusal writes nothing
    lock = StoreLock(out)
    try:
        check_store(config, out, resume, continue_with)  # another run may have written it since
        if resume:
            for directory in (out, out / PARAMS_DIR):
                remove_temp_files(directory)
        write_json(out / CONFIG_FILE, config.to_dict())
        write_json(out / ENVIRONMENT_FILE, environment())
    except BaseException:
        lock.release()
        raise
    return lock


def check_store(config: ExperimentConfig, out: Path, resume: bool, continue_with: str) -> None:
    """`InputError` unless `out` is new, or (with `resume`) a store of the same experiment:
    one whose config.json proves it (arguments as in `open_store`)."""
    config_path = out / CONFIG_FILE
    made_elsewhere = [
        name for name in (NETWORKS_FILE, BETTI_FILE, PARAMS_DIR) if (out / name).exists()
    ]
    if made_elsewhere and not config_path.exists():
        raise InputError(
            f"{out} holds {' and '.join(made_elsewhere)} but no {CONFIG_FILE}, so nothing says "
            "which experiment made them (`topnn-jax train` records it now); run the experiment "
            "into another --out"
        )
    if config_path.exists():
        if not resume:
            raise InputError(
                f"{out} already holds results; {continue_with}, or choose another --out"
            )
        saved = read_json(config_path)
        if not isinstance(saved, dict):
            raise InputError(f"{config_path}: not a topnn-jax config (a JSON object expected)")
        saved = with_saved_defaults(saved)
        current = config.to_dict()
        if resumable_part(saved) != resumable_part(current):
            raise InputError(
                f"{out} holds a run of a different experiment; resume needs the same config "
                "(only [run], [networks] top_up and [training] member_chunk may change)"
                + _differences(saved, current)
                + _step_hint(saved, current)
            )


def _differences(saved: dict, current: dict) -> str:
    """ "; it differs in [training] max_steps (300 there, 600 here), ..." for up to 3 keys."""
    saved, current = resumable_part(saved), resumable_part(current)
    found = []
    for section in sorted(set(saved) | set(current)):
        theirs, mine = saved.get(section), current.get(section)
        if isinstance(theirs, dict) and isinstance(mine, dict):
            for key in sorted(set(theirs) | set(mine)):
                if theirs.get(key) != mine.get(key):
                    found.append(
                        f"[{section}] {key} ({theirs.get(key)!r} there, {mine.get(key)!r} here)"
                    )
        elif theirs != mine:
            found.append(f"[{section}]")
    return f"; it differs in {', '.join(found[:3])}" if found else ""


def _step_hint(saved: dict, current: dict) -> str:
    """What to set when only the training step differs (a store of the first version)."""
    step = saved.get("training", {}).get("step")
    if isinstance(step, str) and step != current["training"]["step"]:
        return f"; its networks were trained with [training] step = {step!r}: set that to resume"
    return ""


def resumable_part(config: dict) -> dict:
    """What must match between resumes: the config without its name, its [run] section,
    [networks] top_up (more top-up seeds only add networks) and [training] member_chunk (a
    member's outcome does not depend on its group)."""
    kept = {key: value for key, value in config.items() if key not in ("run", "name")}
    for section, key in (("networks", "top_up"), ("training", "member_chunk")):
        if isinstance(kept.get(section), dict):
            kept[section] = {k: v for k, v in kept[section].items() if k != key}
    return kept
