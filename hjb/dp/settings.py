"""Settings of method ``dp``: how finely the backward induction discretizes holdings and
volatility (the spec's ``N`` slices are its time grid, exactly).

Presets: ``DPSettings.with_accuracy("low" | "medium" | "high")`` (``"default"`` = ``"medium"``).
Units: ``x_points``, ``e_points`` and ``vol_states`` are numbers of points; ``vol_width`` is a number of
standard deviations of ``sigma(t)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from solvers.settings import MethodSettings, check_choice, check_integer, check_number

__all__ = ["DPSettings", "RECURSIONS", "ENGINES", "STAGE_MINIMIZERS", "X_GRIDS"]

RECURSIONS = ("auto", "exact", "grid")
ENGINES = ("jax", "numpy")
STAGE_MINIMIZERS = ("bisection", "newton")
X_GRIDS = ("auto", "uniform", "graded")


@dataclass(frozen=True)
class DPSettings(MethodSettings):
    """Discretization of the backward induction, apart from the problem.

    Attributes:
        x_points: points ``M`` of the holdings grid per slice (>= 3; grid recursion only).
        e_points: points of the displaced-volume axis of the transient ``(x, E)`` grid (>= 4;
            used only there, which then has ``x_points x e_points`` nodes per slice).
        vol_states: states of a mean-reverting model's chain (>= 3).
        vol_width: the chain covers ``E[sigma(t)] +- vol_width sd(sigma(t))`` (> 0).
        stage_minimizer: the 1-D minimization in each slice: ``bisection`` on the sign of the
            derivative (robust: resolves ``[0, 1]`` to float64 in 60 halvings) or ``newton``
            (safeguarded Newton, rtsafe; its last step is reported, not hidden).
        iterations: iterations of that minimizer (>= 1); None: 60 halvings or 24 Newton steps.
            The transient ``(x, E)`` grid scans the trades and refines by golden section
            (``iterations`` steps; None: 20); ``stage_minimizer`` does not apply there.
        x_grid: ``auto`` (graded for ``beta < 1``, uniform otherwise), ``uniform`` or ``graded``:
            nodes ``q = U u^p`` with ``u`` uniform and ``p`` = 1 or 2.
        recursion: ``auto`` (exact when it applies, else grid), ``exact`` or ``grid``.
        engine: ``jax`` (``lax.scan``) or ``numpy`` (a plain loop of the same recursion).
    """

    method: ClassVar[str] = "dp"
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "low": {"x_points": 101, "vol_states": 9, "e_points": 17},
        "medium": {},
        "high": {"x_points": 801, "vol_states": 31, "e_points": 65},
    }

    x_points: int = 201
    e_points: int = 33
    vol_states: int = 15
    vol_width: float = 4.0
    stage_minimizer: str = "bisection"
    iterations: int | None = None
    x_grid: str = "auto"
    recursion: str = "auto"
    engine: str = "jax"

    def __post_init__(self) -> None:
        object.__setattr__(self, "x_points", check_integer("x_points", self.x_points, 3))
        object.__setattr__(self, "e_points", check_integer("e_points", self.e_points, 4))
        object.__setattr__(self, "vol_states", check_integer("vol_states", self.vol_states, 3))
        if self.iterations is not None:
            object.__setattr__(self, "iterations", check_integer("iterations", self.iterations, 1))
        object.__setattr__(self, "vol_width", check_number("vol_width", self.vol_width, low=0.0))
        check_choice("x_grid", self.x_grid, X_GRIDS)
        check_choice("stage_minimizer", self.stage_minimizer, STAGE_MINIMIZERS)
        check_choice("recursion", self.recursion, RECURSIONS)
        check_choice("engine", self.engine, ENGINES)

    @property
    def minimizer_iterations(self) -> int:
        """``iterations``, or the minimizer's default (24 Newton steps, 60 halvings)."""
        if self.iterations is not None:
            return self.iterations
        return 24 if self.stage_minimizer == "newton" else 60

    def grid_power(self, beta: float) -> int:
        """Exponent ``p`` of the holdings grid ``q = U u^p``: 2 (graded) for ``beta < 1`` under
        ``auto``, else 1 (uniform: exact for the quadratic values of linear impact)."""
        if self.x_grid == "auto":
            return 2 if beta < 1 else 1
        return 2 if self.x_grid == "graded" else 1
