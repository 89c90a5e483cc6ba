"""Run on dask workers by the sweep tests: importing this module there loads the sweep engine
and the solvers stack (not pandas or pytest)."""

from __future__ import annotations

import os

import solvers.sweep  # noqa: F401 - the point of this module: load the engine on the worker


def warm() -> int:
    """The worker's pid (after the imports above)."""
    return os.getpid()
