"""The JAX runtime of the dynamic layer: float64, an in-process compile cache, a disk cache.

Importing :mod:`hjb` switches JAX to float64 through :func:`enable_x64`, here and nowhere else
(value functions span many orders of magnitude; the cross-checks hold methods to 1e-12).
:func:`compiled` runs a ``jax.jit`` function through a cache of compiled programs keyed by
argument shapes and static arguments, and reports compile time apart from run time.
:func:`enable_compilation_cache` keeps compiled programs on disk across processes (the
``optexec`` command turns it on through ``OPTEXEC_JAX_CACHE=1``; ``OPTEXEC_NO_JAX_CACHE=1`` wins).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

__all__ = ["enable_x64", "compiled", "clear_compiled", "enable_compilation_cache", "compilation_cache_dir"]

#: programs compiling faster than this (seconds) are not written to the disk cache
CACHE_MIN_COMPILE_SECONDS = 0.05

_ENABLED = False


def enable_x64() -> None:
    """Switch JAX to float64 (idempotent; called once when :mod:`hjb` is imported)."""
    global _ENABLED
    if not _ENABLED:
        jax.config.update("jax_enable_x64", True)
        _ENABLED = True


enable_x64()


def compilation_cache_dir() -> Path:
    """The disk cache folder: ``$XDG_CACHE_HOME/optexec/jax``, else ``~/.cache/optexec/jax``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "optexec" / "jax"


def enable_compilation_cache(folder: str | Path | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache in ``folder`` (default
    :func:`compilation_cache_dir`), so a later process loads compiled programs instead of
    compiling them again. Returns the folder, or None when ``OPTEXEC_NO_JAX_CACHE=1`` or the
    folder cannot be created (the cache is an optimisation: never an error)."""
    if os.environ.get("OPTEXEC_NO_JAX_CACHE", "") not in ("", "0"):
        return None
    path = Path(folder) if folder is not None else compilation_cache_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", CACHE_MIN_COMPILE_SECONDS)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


if os.environ.get("OPTEXEC_JAX_CACHE", "") not in ("", "0"):
    enable_compilation_cache()

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
