"""One JAX CPU device per usable core, so that training uses every core on a CPU-only machine.

XLA runs a narrow network's small matrix products on one core; `topnn_jax.training` splits the
members of a group over the local devices, so with one CPU device a second core idles. The
device count can only be set before JAX starts its backends: the commands that train (`run`,
`train`) call `use_cpu_cores` first; a script does the same before its first JAX operation.
JAX is imported when `use_cpu_cores` is called, not with this module.
"""

from __future__ import annotations

import contextlib
import os

DEVICE_COUNT_FLAG = "xla_force_host_platform_device_count"


def use_cpu_cores(count: int | None = None) -> int:
    """Ask for `count` CPU devices (default: one per usable core) and return the count JAX has.

    Nothing changes where JAX has already started (the count it started with is returned) or
    where XLA_FLAGS sets the device count itself. The results of training do not depend on the
    device count (see `topnn_jax.training`), only its speed.
    """
    import jax

    from topnn_jax.topology.job import available_cpus

    if DEVICE_COUNT_FLAG not in os.environ.get("XLA_FLAGS", ""):
        with contextlib.suppress(RuntimeError):  # raised once the backends run: keep them
            jax.config.update("jax_num_cpu_devices", count or available_cpus())
    return len(jax.devices("cpu"))
