"""What a method will need before it allocates: memory and time from the problem's size.

Each method sizes itself (``MethodInfo.estimate(problem, settings) -> ResourceEstimate``) with
the helpers below; :func:`solvers.methods.solve` refuses, before any allocation, a problem whose
estimate exceeds the memory limit (:func:`check_memory`: a :class:`~solvers.errors.SpecError` on
``slices`` naming the method, the estimate and the limit). The limit is the machine's memory
(``os.sysconf``) unless the environment variable ``OPTEXEC_MEMORY_LIMIT`` (bytes, or with a
``K``/``M``/``G``/``T`` suffix) sets it. Constants are orders of magnitude measured on a 2-core CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import SpecError
from .spec import ExecutionProblem

__all__ = ["ResourceEstimate", "memory_limit", "check_memory", "vector_estimate", "sparse_estimate",
           "grid_estimate", "GIB", "BASE_BYTES", "GRID_BYTES", "GRID_RATE"]

GIB = 1024.0**3
#: float64, about four arrays per stored grid point
GRID_BYTES = 8.0 * 4
#: grid point updates per second
GRID_RATE = 1.0e8
#: a method's fixed overhead beyond the interpreter
BASE_BYTES = 64.0 * 1024**2


@dataclass(frozen=True)
class ResourceEstimate:
    """Peak memory (bytes) and run time (seconds) a method will need, and how they were sized."""

    bytes: float
    seconds: float
    note: str

    @property
    def gib(self) -> float:
        """``bytes`` in GiB."""
        return self.bytes / GIB


def vector_estimate(problem: ExecutionProblem, what: str) -> ResourceEstimate:
    """A method that works on O(N m) vectors."""
    n, m = problem.slices, problem.n_assets
    return ResourceEstimate(BASE_BYTES + 8.0 * 16 * (n + 1) * m, 1e-6 * n * m, f"{what}: O(N m) = {n} x {m} vectors")


def sparse_estimate(units: float, bytes_per_unit: float, seconds_per_unit: float, note: str) -> ResourceEstimate:
    """A model whose size is ``units`` entries (sparse matrices, CVXPY models)."""
    return ResourceEstimate(BASE_BYTES + bytes_per_unit * units, seconds_per_unit * units, note)


def grid_estimate(cells: float, work: float, note: str) -> ResourceEstimate:
    """A grid method storing ``cells`` points and doing ``work`` point updates."""
    return ResourceEstimate(BASE_BYTES + GRID_BYTES * cells, work / GRID_RATE, note)


def _parse_bytes(text: str) -> float:
    raw = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": 1024.0, "M": 1024.0**2, "G": GIB, "T": 1024.0**4}.get(raw[-1:], 1.0)
    number = raw[:-1] if scale != 1.0 else raw
    try:
        value = float(number) * scale
    except ValueError:
        raise SpecError("OPTEXEC_MEMORY_LIMIT", text, "must be a number of bytes, optionally with K, M, G or T") from None
    if not value > 0:
        raise SpecError("OPTEXEC_MEMORY_LIMIT", text, "must be > 0")
    return value


def memory_limit() -> tuple[float, str]:
    """``(bytes, source)``: ``OPTEXEC_MEMORY_LIMIT`` if set, else the machine's physical memory."""
    env = os.environ.get("OPTEXEC_MEMORY_LIMIT")
    if env:
        return _parse_bytes(env), "OPTEXEC_MEMORY_LIMIT"
    try:
        return float(os.sysconf("SC_PAGE_SIZE")) * float(os.sysconf("SC_PHYS_PAGES")), "this machine's memory"
    except (ValueError, OSError, AttributeError):
        return 16.0 * GIB, "an assumed 16 GiB (the machine's memory is unknown)"


def check_memory(problem: ExecutionProblem, method: str, estimate: ResourceEstimate,
                 limit_bytes: float | None = None) -> ResourceEstimate:
    """Refuse a problem whose estimate exceeds the memory limit (``limit_bytes``, else
    :func:`memory_limit`); return the estimate otherwise."""
    if limit_bytes is None:
        limit, source = memory_limit()
    else:
        limit, source = float(limit_bytes), "the given limit"
    if estimate.bytes > limit:
        raise SpecError("slices", problem.slices,
                        f"method {method} needs about {estimate.gib:.3g} GiB (estimate: {estimate.note}), more than "
                        f"{source}'s {limit / GIB:.3g} GiB; use fewer slices or a coarser grid")
    return estimate
