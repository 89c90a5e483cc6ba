"""The flat parameter vector the dynamic methods differentiate (``hjb.dp.sensitivity``,
``hjb.pde.sensitivity``): ``z = [lambda, T, X, eta, gamma, epsilon, sigma levels (S, or N for a
path), off-diagonal regime rates (S*S)]``, and where each spec path sits in it."""

from __future__ import annotations

import re

import numpy as np

from solvers.spec import ExecutionProblem
from solvers.volatility import ConstantVolatility, RegimeVolatility, VolatilityPath

__all__ = ["SCALARS", "volatility_layout", "parameter_slot"]

#: spec path -> index of the scalar parameters at the head of ``z``
SCALARS = {"risk_aversion": 0, "horizon": 1, "assets[0].holdings": 2, "assets[0].temporary_impact": 3,
           "assets[0].permanent_impact": 4, "assets[0].spread": 5}
_LEVEL = re.compile(r"^volatility_model\.(levels|path)\[(\d+)\]$")
_RATE = re.compile(r"^volatility_model\.generator\[(\d+)\]\[(\d+)\]$")


def volatility_layout(problem: ExecutionProblem) -> tuple[str, np.ndarray, np.ndarray, int] | None:
    """``(kind, sigma, rates, i0)`` for constant, path and regime volatility (the models whose
    exact recursions are differentiated), else None."""
    model, sigma0 = problem.volatility_model, problem.asset.volatility
    if isinstance(model, ConstantVolatility):
        return "constant", np.array([sigma0]), np.zeros(1), 0
    if isinstance(model, VolatilityPath):
        return "path", np.asarray(model.path, dtype=np.float64), np.zeros(1), 0
    if isinstance(model, RegimeVolatility):
        rates = np.array(model.generator_array, dtype=np.float64)
        np.fill_diagonal(rates, 0.0)
        return "regimes", np.asarray(model.levels, dtype=np.float64), rates.ravel(), model.initial_regime
    return None


def parameter_slot(name: str, kind: str, s: int, i0: int) -> int | None:
    """Index of the spec path ``name`` in ``z`` (None: the answer does not read it)."""
    if name in SCALARS:
        return SCALARS[name]
    if name == "assets[0].volatility":
        return 6 + i0
    level = _LEVEL.match(name)
    if level and (level.group(1) == "path") == (kind == "path"):
        return 6 + int(level.group(2))
    rate = _RATE.match(name)
    if rate and kind == "regimes":
        return 6 + s + int(rate.group(1)) * s + int(rate.group(2))
    return None


#: spec paths the dynamic methods' answers do not depend on (exact zero derivatives)
ZERO_PARAMETERS = ("assets[0].price",)


def parameter_vector(problem: ExecutionProblem, sigma: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """``z`` for ``problem`` (module docstring), with the layout's ``sigma`` and ``rates``."""
    a = problem.asset
    return np.concatenate([[problem.risk_aversion, problem.horizon, a.holdings, a.temporary_impact,
                            a.permanent_impact, a.spread_level], sigma, rates])


def parameter_slots(names: list[str], kind: str, s: int, i0: int) -> dict[str, int | None]:
    """``{name: index in z}`` for the names the answer reads, ``None`` for :data:`ZERO_PARAMETERS`;
    other names are left out (the caller differences them)."""
    slots: dict[str, int | None] = {}
    for name in names:
        j = parameter_slot(name, kind, s, i0)
        if j is not None or name in ZERO_PARAMETERS:
            slots[name] = j
    return slots


def derivative_table(jac: np.ndarray, slots: dict[str, int | None], kind: str) -> dict:
    """The derivatives hook's answer from a Jacobian of ``[objective, E, V, x_0 .. x_N]`` in ``z``:
    one row per slot (zeros for a ``None`` slot, labelled ``"zero"``, the others ``kind``)."""
    cols = np.stack([jac[:, j] if j is not None else np.zeros(jac.shape[0]) for j in slots.values()])
    return {"names": list(slots), "objective": cols[:, 0], "expected_cost": cols[:, 1], "variance": cols[:, 2],
            "holdings": cols[:, 3:], "kind": {m: kind if j is not None else "zero" for m, j in slots.items()}}
