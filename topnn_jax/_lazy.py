"""Lazy re-exports for a package's `__init__` (PEP 562, as in scientific-python's SPEC 1).

A re-exported name's module is imported the first time the name is used, so that importing one
light module of a package (a worker process's, or `topnn_jax.results`) does not import the
whole package, JAX and the training loop with it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def attach(
    package: str, exports: dict[str, tuple[str, ...]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """`(__getattr__, __dir__, __all__)` for `package`, re-exporting `exports`: a module path
    relative to the package (e.g. ".cloud") -> the names it gives."""
    origin = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in origin:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(origin[name], package), name)
        setattr(sys.modules[package], name, value)  # found at once next time
        return value

    def __dir__() -> list[str]:
        return sorted(set(origin) | set(vars(sys.modules[package])))

    return __getattr__, __dir__, sorted(origin)
