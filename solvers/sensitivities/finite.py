"""Central finite differences of a method's solve, with a Richardson error estimate.

``D(h) = (f(p + h) - f(p - h)) / 2h`` at steps ``h`` and ``h/2``; the reported derivative is
``(4 D(h/2) - D(h)) / 3`` and its error estimate ``|D(h/2) - D(h)| / 3`` (the size of the
``h^2`` term that the extrapolation removes). Used for the dynamic methods (dp, hjb) and as
the check of every exact derivative. Entry points: :func:`solve_outputs`, :func:`central`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import SpecError
from ..methods import solve
from ..spec import ExecutionProblem
from .params import parameter_value, perturbed

__all__ = ["Outputs", "solve_outputs", "central", "Central", "step_size"]


@dataclass(frozen=True)
class Outputs:
    """The numbers a derivative is taken of: objective, expected cost, variance (currency,
    currency^2) and the holdings path (N+1 rows, shares)."""

    objective: float
    expected_cost: float
    variance: float
    holdings: np.ndarray

    @classmethod
    def from_result(cls, result: Any) -> "Outputs":
        """The numbers of a solved :class:`~solvers.result.Result`."""
        return cls(float(result.objective), float(result.expected_cost), float(result.variance),
                   np.asarray(result.holdings, dtype=np.float64))

    def vector(self) -> np.ndarray:
        return np.concatenate([[self.objective, self.expected_cost, self.variance], self.holdings.ravel()])


def solve_outputs(problem: ExecutionProblem, method: str, settings: Any = None, **overrides: Any) -> Outputs:
    """Solve and keep the numbers a sensitivity is taken of (raises unless optimal)."""
    return Outputs.from_result(solve(problem, method, settings, **overrides))


def step_size(problem: ExecutionProblem, name: str, relative: float) -> float:
    """``relative * max(|p|, floor)``: a floor for parameters at zero (drift: ``sigma / sqrt(T)``,
    spread: ``1e-3 * price``, correlation: 1)."""
    value = abs(parameter_value(problem, name))
    floor = 0.0
    if name.endswith(".drift"):
        i = int(name[7:name.index("]")])
        floor = problem.assets[i].volatility / math.sqrt(problem.horizon)
    elif name.endswith(".spread"):
        i = int(name[7:name.index("]")])
        floor = 1e-3 * problem.assets[i].price
    elif name.startswith("correlation"):
        floor = 1.0
    return relative * max(value, floor, 1e-300)


@dataclass(frozen=True)
class Central:
    """Richardson-extrapolated central differences of :class:`Outputs` in one parameter:
    ``derivative`` and ``error`` are vectors laid out as :meth:`Outputs.vector`; ``step`` the
    larger step ``h``; ``solves`` the solves it took."""

    derivative: np.ndarray
    error: np.ndarray
    step: float
    solves: int


def central(problem: ExecutionProblem, name: str, evaluate: Callable[[ExecutionProblem], Outputs],
            relative: float = 1e-3, richardson: bool = True) -> Central:
    """Central differences of ``evaluate`` in parameter ``name`` (steps ``h`` and ``h/2`` with
    Richardson extrapolation, or one step ``h`` when ``richardson`` is false, error then NaN);
    one-sided second-order differences where ``p - h`` leaves the valid range."""
    value = parameter_value(problem, name)
    h = step_size(problem, name, relative)

    try:
        perturbed(problem, name, value - h)
        one_sided = False
    except SpecError:  # at the edge of the valid range (a spread of 0): one-sided, second order
        one_sided = True
    base = evaluate(problem).vector() if one_sided else None

    def diff(step: float) -> np.ndarray:
        up = evaluate(perturbed(problem, name, value + step)).vector()
        if one_sided:
            up2 = evaluate(perturbed(problem, name, value + 2.0 * step)).vector()
            return (4.0 * up - up2 - 3.0 * base) / (2.0 * step)
        down = evaluate(perturbed(problem, name, value - step)).vector()
        return (up - down) / (2.0 * step)

    d1 = diff(h)
    if not richardson:
        return Central(d1, np.full_like(d1, np.nan), h, 2)
    d2 = diff(h / 2.0)
    return Central((4.0 * d2 - d1) / 3.0, np.abs(d2 - d1) / 3.0, h, 4)
