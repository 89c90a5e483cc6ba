"""Settings of method ``hjb``: how finely the continuous-time HJB is discretized.

The problem (:class:`solvers.spec.ExecutionProblem`) says *what* is solved; an
:class:`HJBSettings` says *how finely*: time steps, grid sizes, how far the volatility grid
reaches into the tails of the volatility model, the time stepping of the volatility direction,
and which formulation (``form``) is solved. Presets: ``HJBSettings.with_accuracy("default" |
"high" | "reference")`` (and ``"low"``; ``"medium"`` = ``"default"``). Units: ``time_steps`` counts steps over the
whole horizon ``T`` (rounded up to a multiple of the spec's ``N``); grid sizes are numbers of
points; ``coverage_sds`` is a number of standard deviations of ``sigma(t)``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from solvers.errors import SpecError
from solvers.settings import MethodSettings, check_choice, check_flag, check_integer, check_number

__all__ = ["HJBSettings", "PRESETS", "MIN_POINTS", "FORMS", "S_STEPPINGS", "S_DRIFTS"]

#: the smallest grid that resolves the schemes' stencils
MIN_POINTS = 8
#: ``form``: ``auto`` (reduced for linear impact, else full), ``reduced`` or ``full``
FORMS = ("auto", "reduced", "full")
#: ``s_stepping``: backward (default) or forward Euler in the volatility direction
S_STEPPINGS = ("implicit", "explicit")
#: ``s_drift``: the drift's differences in ``s``: central (second order; upwind where central
#: would not be monotone) or upwind (first order)
S_DRIFTS = ("central", "upwind")

#: field changes from the defaults per preset (``medium`` is the defaults); odd holdings points
#: nest the Richardson companion grid exactly (every other point)
PRESETS: dict[str, dict[str, Any]] = {
    "low": {"time_steps": 400, "vol_points": 48, "holdings_points": 97},
    "medium": {},
    "high": {"time_steps": 4000, "vol_points": 512, "holdings_points": 513},
    "reference": {"time_steps": 16000, "vol_points": 1024, "holdings_points": 2049},
}


@dataclass(frozen=True)
class HJBSettings(MethodSettings):
    """How the HJB is discretized.

    Attributes:
        time_steps: steps over ``[0, T]`` (rounded up to a multiple of ``N``); >= 8.
        vol_points: points of the volatility grid (mean-reverting model); >= 8.
        holdings_points: points of the holdings grid ``x in [0, |X|]`` (full HJB); >= 8.
        coverage_sds: the volatility grid spans ``E[sigma(t)] +- coverage_sds * sd(sigma(t))``
            over ``t in [0, T]`` (and ``sigma_0``).
        min_coverage_sds: smallest accepted coverage of a user-given ``vol_bounds``.
        vol_bounds: optional ``(lo, hi)`` of the volatility grid (volatility units).
        s_stepping: ``"implicit"`` (backward Euler, unconditionally stable) or ``"explicit"``
            (forward Euler; refused when ``dt * (b / ds^2 + |mu| / ds) > 1``, ``b = xi^2 s^(2p)``).
        s_drift: ``"central"`` (second order in ``s``; upwind at the rows where ``|mu| ds > b``
            would break monotonicity) or ``"upwind"`` (first order).
        policy_substeps: Euler sub-steps per slice of the nonlinear-impact policy.
        extrapolate: Richardson extrapolation of the grid schemes (first order in time, second
            order in ``s``): also solve with half the time steps (and, for the full HJB, every
            other holdings point: its interpolation error ``dy^2 / dt`` is first order too), report
            ``2 V - V_coarse`` (second order) and ``|V - V_coarse|`` as the first-order error
            estimate; the moments take the same step. On by default; the order-4 ODE forms ignore it.
        form: ``"auto"`` (reduced HJB for linear impact, full otherwise), ``"reduced"`` or
            ``"full"`` (a linear-impact problem on the ``(x, s)`` grid: a cross-check).
    """

    method: ClassVar[str] = "hjb"
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = PRESETS

    time_steps: int = 2000
    vol_points: int = 128
    holdings_points: int = 257
    coverage_sds: float = 6.0
    min_coverage_sds: float = 4.0
    vol_bounds: tuple[float, float] | None = None
    s_stepping: str = "implicit"
    s_drift: str = "central"
    policy_substeps: int = 32
    extrapolate: bool = True
    form: str = "auto"

    def __post_init__(self) -> None:
        for key in ("time_steps", "vol_points", "holdings_points"):
            object.__setattr__(self, key, check_integer(key, getattr(self, key), MIN_POINTS))
        object.__setattr__(self, "policy_substeps", check_integer("policy_substeps", self.policy_substeps, 1))
        for key in ("coverage_sds", "min_coverage_sds"):
            object.__setattr__(self, key, check_number(key, getattr(self, key), low=0.0))
        check_flag("extrapolate", self.extrapolate)
        check_choice("s_stepping", self.s_stepping, S_STEPPINGS)
        check_choice("s_drift", self.s_drift, S_DRIFTS)
        check_choice("form", self.form, FORMS)
        if self.vol_bounds is not None:
            try:
                lo, hi = (float(v) for v in self.vol_bounds)
            except (TypeError, ValueError):
                raise SpecError("settings.vol_bounds", self.vol_bounds, "must be two numbers (lo, hi)") from None
            if not (math.isfinite(lo) and math.isfinite(hi)) or not hi > lo:
                raise SpecError("settings.vol_bounds", self.vol_bounds, "must be (lo, hi) with hi > lo")
            object.__setattr__(self, "vol_bounds", (lo, hi))

    def steps_for(self, slices: int) -> tuple[int, int]:
        """``(total steps, steps per slice)``: ``time_steps`` rounded up to a multiple of N."""
        per_slice = -(-self.time_steps // slices)
        return per_slice * slices, per_slice

    def richardson_pair(self, slices: int) -> tuple["HJBSettings", "HJBSettings"]:
        """``(fine, coarse)`` grids of the Richardson extrapolation: the fine grid has an even
        number of steps per slice (``time_steps`` rounded up), the coarse one exactly half of
        them and every other holdings point (``(n + 1) / 2``; nested when ``n`` is odd); the
        volatility grid is shared (its central differences are second order already)."""
        half = max(-(-self.steps_for(slices)[1] // 2), -(-MIN_POINTS // slices))
        fine = dataclasses.replace(self, time_steps=2 * half * slices, extrapolate=False)
        coarse = dataclasses.replace(fine, time_steps=half * slices,
                                     holdings_points=max((self.holdings_points + 1) // 2, MIN_POINTS))
        return fine, coarse

    def coarse(self) -> "HJBSettings":
        """The companion grid of the Richardson extrapolation for one slice (see :meth:`richardson_pair`)."""
        return self.richardson_pair(1)[1]
