"""What a method will need before it allocates: memory and time from the problem's size.

:func:`estimate` gives ``ResourceEstimate(bytes, seconds, note)`` per method from ``N`` slices,
``m`` assets and the method's grid (orders of magnitude, measured on a 2-core CPU); :func:`require`
raises :class:`~solvers.errors.SpecError` on ``slices`` when the estimate exceeds the machine's
memory (``os.sysconf``; the environment variable ``OPTEXEC_MEMORY_LIMIT``, in bytes or with a
``K``/``M``/``G`` suffix, overrides it). Sizes: qp ``O(N m^2)`` (sparse model) or ``O((N m)^2)``
(the dense Hessian of a nonlinear impact); dp ``O(N M S)`` for ``M`` holdings and ``S`` volatility
points; hjb ``O(steps V)`` (reduced) or ``O(steps V H)`` (full).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import SpecError
from .spec import ExecutionProblem

__all__ = ["ResourceEstimate", "estimate", "require", "memory_limit", "GIB"]

GIB = 1024.0**3

#: measured constants (bytes per unit, seconds per unit), see each branch of :func:`estimate`
_QP_SPARSE_BYTES, _QP_SPARSE_SECONDS = 5.0e3, 4.0e-5   # per slice and asset pair (CVXPY model + Clarabel)
_QP_DENSE_BYTES, _QP_DENSE_SECONDS = 1.5e2, 2.0e-7     # per (N m)^2 (convex-concave dense Hessian)
_GRID_BYTES = 8.0 * 4                                  # float64, about four arrays per stored grid point
_GRID_RATE = 1.0e8                                      # grid point updates per second
_BASE_BYTES = 64.0 * 1024**2                            # a method's fixed overhead beyond the interpreter

#: defaults used when a settings object does not have the field (the methods' own defaults)
_DEFAULTS = {"x_points": 201, "vol_states": 15, "time_steps": 2000, "vol_points": 128, "holdings_points": 256}


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


def _setting(settings: Any, key: str) -> Any:
    if settings is None:
        return _DEFAULTS[key]
    if isinstance(settings, Mapping):
        return settings.get(key, _DEFAULTS[key])
    return getattr(settings, key, _DEFAULTS[key])


def _stochastic(problem: ExecutionProblem) -> bool:
    return bool(problem.volatility_model.stochastic)


def estimate(problem: ExecutionProblem, method: str, settings: Any = None) -> ResourceEstimate:
    """Memory and time the method ``method`` needs for ``problem`` under ``settings`` (a
    settings object, a mapping of its fields, or None for the defaults). A method this module
    does not know is sized as ``O(N m)``."""
    n, m = problem.slices, problem.n_assets
    if method == "closed-form":
        size = 8.0 * 16 * (n + 1) * m
        return ResourceEstimate(_BASE_BYTES + size, 1e-6 * n * m, f"closed form: O(N m) = {n} x {m} vectors")
    if method == "qp":
        if not problem.all_linear:
            cells = float(n * m) ** 2
            return ResourceEstimate(_BASE_BYTES + _QP_DENSE_BYTES * cells, _QP_DENSE_SECONDS * cells,
                                    f"qp, nonlinear impact: dense (N m)^2 = ({n} x {m})^2 Hessian")
        units = float(n) * m * m
        return ResourceEstimate(_BASE_BYTES + _QP_SPARSE_BYTES * units, _QP_SPARSE_SECONDS * units,
                                f"qp, linear impact: sparse model of N m^2 = {n} x {m}^2 entries")
    if method == "dp":
        points = int(_setting(settings, "x_points"))
        states = int(_setting(settings, "vol_states")) if _stochastic(problem) else 1
        cells = float(n) * points * states
        work = cells * points * states  # each stage minimizes over the next holdings for every state pair
        return ResourceEstimate(_BASE_BYTES + _GRID_BYTES * cells, work / _GRID_RATE,
                                f"dp: grid M x S x N = {points} x {states} x {n}")
    if method == "hjb":
        steps = -(-int(_setting(settings, "time_steps")) // n) * n  # rounded up to a multiple of N
        vol = int(_setting(settings, "vol_points")) if _stochastic(problem) else 1
        if problem.all_linear:
            cells = float(steps) * vol
            return ResourceEstimate(_BASE_BYTES + _GRID_BYTES * cells, cells / _GRID_RATE,
                                    f"hjb reduced: steps x volatility points = {steps} x {vol}")
        hold = int(_setting(settings, "holdings_points"))
        layer = float(vol) * hold
        cells = float(n + 1) * layer + 4 * layer  # one stored layer per slice boundary, a few working ones
        return ResourceEstimate(_BASE_BYTES + _GRID_BYTES * cells, steps * layer / _GRID_RATE,
                                f"hjb full: steps x volatility x holdings points = {steps} x {vol} x {hold}")
    size = 8.0 * 16 * (n + 1) * m
    return ResourceEstimate(_BASE_BYTES + size, 1e-6 * n * m, f"{method}: O(N m) = {n} x {m} (not sized)")


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


def require(problem: ExecutionProblem, method: str, settings: Any = None,
            limit_bytes: float | None = None) -> ResourceEstimate:
    """Refuse, before any allocation, a problem whose estimate exceeds the memory limit
    (``limit_bytes``, else :func:`memory_limit`); return the estimate otherwise."""
    est = estimate(problem, method, settings)
    if limit_bytes is None:
        limit, source = memory_limit()
    else:
        limit, source = float(limit_bytes), "the given limit"
    if est.bytes > limit:
        raise SpecError("slices", problem.slices,
                        f"method {method} needs about {est.gib:.3g} GiB (estimate: {est.note}), more than "
                        f"{source}'s {limit / GIB:.3g} GiB; use fewer slices or a coarser grid")
    return est
