"""Discretization settings of the HJB solvers, kept apart from the problem.

The problem (:class:`solvers.spec.ExecutionProblem`) says *what* is solved; an
:class:`HJBSettings` says *how finely*: time steps, grid sizes, how far the volatility grid
reaches into the tails of the volatility model, and which time stepping is used for the
volatility direction. Presets (``HJBSettings.with_accuracy("low" | "medium" | "high")``)
cover the usual needs; every field can be overridden with :meth:`HJBSettings.replace`.

Units: ``time_steps`` is the number of steps over the whole horizon ``T`` (rounded up to a
multiple of the spec's ``N`` slices so that slice boundaries are grid times); grid sizes are
numbers of points; ``coverage_sds`` is a number of standard deviations of ``sigma(t)``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from solvers.errors import SpecError

__all__ = ["HJBSettings", "PRESETS"]

_MIN_POINTS = 8
_S_STEPPING = ("implicit", "explicit")


@dataclass(frozen=True)
class HJBSettings:
    """How the HJB is discretized.

    Attributes:
        time_steps: steps over ``[0, T]`` (rounded up to a multiple of ``N``); >= 8.
        vol_points: points of the volatility grid (mean-reverting model); >= 8.
        holdings_points: points of the holdings grid ``x in [0, |X|]`` (full HJB); >= 8.
        coverage_sds: the volatility grid spans ``E[sigma(t)] +- coverage_sds * sd(sigma(t))``
            over ``t in [0, T]`` (and ``sigma_0``); a grid given by ``vol_bounds`` that covers
            less than ``min_coverage_sds`` raises :class:`SpecError` naming the numbers.
        min_coverage_sds: smallest accepted coverage of a user-given ``vol_bounds``.
        vol_bounds: optional ``(lo, hi)`` of the volatility grid (volatility units).
        s_stepping: ``"implicit"`` (backward Euler, unconditionally stable, default) or
            ``"explicit"`` (forward Euler in ``s``; refused when its stability number
            ``dt * (a / ds^2 + |mu| / ds) > 1``, where ``a = xi^2 s^(2p)``).
        policy_substeps: Euler sub-steps per slice when the nonlinear-impact policy integrates
            the frozen-volatility trade over one slice.
        extrapolate: Richardson extrapolation of the first-order grid schemes (volatility grid,
            full HJB): also solve on the grid with half the steps and ``(n + 1) / 2`` points,
            report ``objective`` from ``2 V - V_coarse`` and ``|V - V_coarse|`` as the error
            estimate of the unextrapolated value (the ODE forms are order 4 and ignore it).
    """

    time_steps: int = 2000
    vol_points: int = 128
    holdings_points: int = 256
    coverage_sds: float = 6.0
    min_coverage_sds: float = 4.0
    vol_bounds: tuple[float, float] | None = None
    s_stepping: str = "implicit"
    policy_substeps: int = 32
    extrapolate: bool = False

    def __post_init__(self) -> None:
        for key in ("time_steps", "vol_points", "holdings_points", "policy_substeps"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int):
                raise SpecError(f"settings.{key}", value, "must be an integer")
            low = 1 if key == "policy_substeps" else _MIN_POINTS
            if value < low:
                raise SpecError(f"settings.{key}", value,
                                f"must be >= {low}: a coarser grid cannot resolve the scheme's stencil")
        for key in ("coverage_sds", "min_coverage_sds"):
            value = getattr(self, key)
            if not isinstance(value, (int, float)) or not value > 0:
                raise SpecError(f"settings.{key}", value, "must be a number > 0")
        if not isinstance(self.extrapolate, bool):
            raise SpecError("settings.extrapolate", self.extrapolate, "must be true or false")
        if self.s_stepping not in _S_STEPPING:
            raise SpecError("settings.s_stepping", self.s_stepping, f"must be one of {_S_STEPPING}")
        if self.vol_bounds is not None:
            try:
                lo, hi = (float(v) for v in self.vol_bounds)
            except (TypeError, ValueError):
                raise SpecError("settings.vol_bounds", self.vol_bounds, "must be two numbers (lo, hi)") from None
            if not (math.isfinite(lo) and math.isfinite(hi)) or not hi > lo:
                raise SpecError("settings.vol_bounds", self.vol_bounds, "must be (lo, hi) with hi > lo")
            object.__setattr__(self, "vol_bounds", (lo, hi))

    @classmethod
    def with_accuracy(cls, level: str = "medium", **changes: Any) -> "HJBSettings":
        """A preset: ``"low"`` (quick looks, tests), ``"medium"`` (default), ``"high"``."""
        if level not in PRESETS:
            raise SpecError("settings.accuracy", level, f"must be one of {sorted(PRESETS)}")
        return dataclasses.replace(PRESETS[level], **changes)

    def replace(self, **changes: Any) -> "HJBSettings":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def steps_for(self, slices: int) -> tuple[int, int]:
        """``(total steps, steps per slice)``: ``time_steps`` rounded up to a multiple of N."""
        per_slice = -(-self.time_steps // slices)
        return per_slice * slices, per_slice

    def coarse(self) -> "HJBSettings":
        """The companion grid of the Richardson extrapolation: half the steps, every other point."""
        return dataclasses.replace(self, time_steps=max(self.time_steps // 2, _MIN_POINTS),
                                   vol_points=max((self.vol_points + 1) // 2, _MIN_POINTS),
                                   holdings_points=max((self.holdings_points + 1) // 2, _MIN_POINTS),
                                   extrapolate=False)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PRESETS: dict[str, HJBSettings] = {
    "low": HJBSettings(time_steps=400, vol_points=48, holdings_points=96),
    "medium": HJBSettings(),
    "high": HJBSettings(time_steps=8000, vol_points=256, holdings_points=512),
}
