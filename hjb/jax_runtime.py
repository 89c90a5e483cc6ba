"""The JAX runtime of the dynamic layer: float64 and one ahead-of-time compile cache.

Importing :mod:`hjb` (any of its modules) switches JAX to float64 through :func:`enable_x64`,
here and nowhere else: the value functions span many orders of magnitude near the horizon and
the cross-checks hold methods to 1e-12. :func:`compiled` runs a ``jax.jit`` function through a
cache of compiled programs keyed by argument shapes and static arguments, and reports compile
time apart from run time (``block_until_ready`` before the clock stops).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

__all__ = ["enable_x64", "compiled", "clear_compiled"]

_ENABLED = False


def enable_x64() -> None:
    """Switch JAX to float64 (idempotent; called once when :mod:`hjb` is imported)."""
    global _ENABLED
    if not _ENABLED:
        jax.config.update("jax_enable_x64", True)
        _ENABLED = True


enable_x64()

_COMPILED: dict[Any, Any] = {}


def _signature(arg: Any) -> tuple:
    return np.shape(arg), str(getattr(arg, "dtype", np.asarray(arg).dtype))


def compiled(fn: Callable, *args: Any, key: Any = None, **static: Any) -> tuple[Any, float, float]:
    """Run the jitted ``fn(*args, **static)`` ahead-of-time compiled.

    The program is cached per ``(fn, key, argument shapes and dtypes, static arguments)``;
    ``key`` distinguishes programs that a factory builds for other constants. Returns ``(out,
    compile_seconds, run_seconds)``; ``compile_seconds`` is 0 on a cache hit.
    """
    cache_key = (id(fn), key, tuple(_signature(a) for a in args), tuple(sorted(static.items())))
    compile_s = 0.0
    if cache_key not in _COMPILED:
        start = time.perf_counter()
        _COMPILED[cache_key] = (fn, fn.lower(*args, **static).compile())  # keep fn alive: its id is the key
        compile_s = time.perf_counter() - start
    start = time.perf_counter()
    out = jax.block_until_ready(_COMPILED[cache_key][1](*args))
    return out, compile_s, time.perf_counter() - start


def clear_compiled() -> None:
    """Drop every cached program (tests, long sessions)."""
    _COMPILED.clear()
