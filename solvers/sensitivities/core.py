"""``sensitivities(problem, method, wrt=...)``: derivatives of the optimum in the spec's numbers.

closed form: forward-mode AD of the AC formula (single asset) or implicit differentiation of
its first-order conditions (basket); qp: implicit differentiation of the KKT system at the
certified solution; dp (exact recursion) and hjb (reduced HJB): JAX AD through the method's own
recursion or ODE solve, through the method module's ``derivatives`` hook (labelled ``ad``);
the rest: central differences of the solve with a Richardson error estimate (labelled
``finite-difference``). Elasticity ``(p / objective) d objective / d p``.
"""

from __future__ import annotations

import importlib
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import SpecError
from ..methods import METHODS, method_info, solve
from ..spec import ExecutionProblem
from .finite import Outputs, central, solve_outputs
from .params import check_names, parameter_names, parameter_value
from .static import AC_INPUTS, closed_form_jacobian, half_life_gradient, implicit

__all__ = ["Sensitivities", "sensitivities", "KINDS"]

#: how a derivative was computed, by label
KINDS = {
    "ad-formula": "forward-mode AD of the closed-form formula",
    "implicit": "implicit differentiation of the KKT system at the solution (one linear solve)",
    "ad": "automatic differentiation (JAX) through the method's own recursion or ODE solve",
    "zero": "exact zero: the method's answer does not read this parameter",
    "finite-difference": "central finite differences of the solve, Richardson-extrapolated (error estimate given)",
}


@dataclass(frozen=True)
class Sensitivities:
    """Derivatives of one method's optimum, one entry per parameter (spec path).

    ``objective``, ``expected_cost``, ``variance``: (P,) derivatives (currency per unit of the
    parameter); ``holdings``: (P, N+1[, m]) ``d x_k / d p``; ``kind``: a :data:`KINDS` label per
    parameter; ``error``: estimated absolute errors (same layout; zero-width for exact kinds,
    Richardson estimates for finite differences); ``base``: the solve's own numbers."""

    method: str
    parameters: list[str]
    values: np.ndarray
    base: Outputs
    objective: np.ndarray
    expected_cost: np.ndarray
    variance: np.ndarray
    holdings: np.ndarray
    kind: dict[str, str]
    error: dict[str, np.ndarray] = field(default_factory=dict)
    half_life: np.ndarray | None = None
    seconds: float = 0.0
    solve_seconds: float = 0.0
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def elasticities(self) -> dict[str, float]:
        """``d log objective / d log p = (p / objective) d objective / d p`` per parameter."""
        obj = self.base.objective
        return {name: float(v * d / obj) if obj != 0 else math.nan
                for name, v, d in zip(self.parameters, self.values, self.objective)}

    def derivative(self, name: str) -> dict[str, Any]:
        """The derivatives in one parameter as a dict (objective, expected_cost, variance, holdings)."""
        j = self.parameters.index(name)
        return {"objective": float(self.objective[j]), "expected_cost": float(self.expected_cost[j]),
                "variance": float(self.variance[j]), "holdings": self.holdings[j]}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``method``, ``parameters``, ``objective``/``expected_cost``/``variance``
        ``{name: d}``, ``holdings`` ``{name: [d x_0 .. d x_N]}``, plus values, elasticities,
        kinds, error estimates and the base solve."""
        names = self.parameters
        out: dict[str, Any] = {
            "method": self.method, "parameters": list(names),
            "values": {n: float(v) for n, v in zip(names, self.values)},
            "objective": {n: float(d) for n, d in zip(names, self.objective)},
            "expected_cost": {n: float(d) for n, d in zip(names, self.expected_cost)},
            "variance": {n: float(d) for n, d in zip(names, self.variance)},
            "holdings": {n: np.asarray(d).tolist() for n, d in zip(names, self.holdings)},
            "elasticities": self.elasticities(),
            "kind": dict(self.kind), "kinds": {k: KINDS[k] for k in sorted(set(self.kind.values()))},
            "error": {key: {n: float(e) for n, e in zip(names, err)} for key, err in self.error.items()},
            "base": {"objective": self.base.objective, "expected_cost": self.base.expected_cost,
                     "variance": self.base.variance, "holdings": self.base.holdings.tolist()},
            "seconds": self.seconds, "solve_seconds": self.solve_seconds,
            "diagnostics": self.diagnostics,
        }
        if self.half_life is not None:
            out["half_life"] = {n: float(d) for n, d in zip(names, self.half_life)}
        return out


_FORMULA = AC_INPUTS  # the parameters the AC formula depends on (the others: implicit differentiation)


def _shape(problem: ExecutionProblem, holdings: np.ndarray) -> np.ndarray:
    """(P, N+1, m) -> (P, N+1) for one asset."""
    return holdings[..., 0] if not problem.is_basket else holdings


def sensitivities(problem: ExecutionProblem, method: str = "closed-form", wrt=None, settings: Any = None,
                  *, relative_step: float = 1e-3, exact: bool = True, **overrides: Any) -> Sensitivities:
    """Derivatives of ``objective``, ``expected_cost``, ``variance`` and the holdings path of
    ``method``'s optimum in the spec parameters ``wrt`` (spec paths; default
    :func:`~solvers.sensitivities.params.parameter_names`).

    ``settings``/``overrides`` go to the method's solve (and, when ``exact``, to its
    ``derivatives`` hook: ``derivatives(problem, names, result, settings, **overrides)`` returns
    AD derivatives for the names it can, or None; ``exact=False`` differences every parameter);
    ``relative_step`` is the finite difference step ``h / max(|p|, floor)`` (Richardson: ``h``, ``h/2``).
    Raises what the solve raises (MethodNotApplicable, SolverError) and SpecError for an
    unknown parameter.
    """
    names = check_names(problem, parameter_names(problem) if wrt is None else
                        ([wrt] if isinstance(wrt, str) else list(wrt)))
    if not names:
        raise SpecError("wrt", [], "name at least one parameter")
    info = method_info(method)
    start = time.perf_counter()
    result = solve(problem, method, settings, **overrides)
    base = Outputs.from_result(result)
    solve_seconds = time.perf_counter() - start
    values = np.array([parameter_value(problem, n) for n in names])
    time_model = dict(overrides).get("time_model", getattr(settings, "time_model", "discrete"))
    static = info.kind == "static" and time_model == "discrete"
    diagnostics: dict[str, Any] = {"time_model": info.time_models[0] if static else time_model}
    half = None
    if static:
        hold_jac = None
        kind = {n: "implicit" for n in names}
        if method == "closed-form" and not problem.is_basket:
            ad = closed_form_jacobian(problem, names)
            kkt = implicit(problem, names, base.holdings)
            hold_jac = np.array(ad[..., None])
            for j, n in enumerate(names):
                if n not in _FORMULA:
                    hold_jac[j] = kkt.holdings[j]
                else:
                    kind[n] = "ad-formula"
            gap = np.max(np.abs(hold_jac - kkt.holdings) / np.maximum(
                np.max(np.abs(kkt.holdings), axis=(1, 2), keepdims=True), 1e-300))
            diagnostics["ad_vs_implicit_holdings"] = float(gap)
            half = half_life_gradient(problem, names) if problem.risk_aversion > 0 else None
        res = implicit(problem, names, base.holdings, hold_jac)
        diagnostics.update(kkt_residual=res.kkt_residual,
                           envelope_gap=float(np.max(np.abs(res.envelope - res.objective))
                                              / max(np.max(np.abs(res.objective)), 1e-300)),
                           active_constraints=len(res.active.fixed) + len(res.active.bounds) + len(res.active.bands))
        z = np.zeros(len(names))
        error = {"objective": z, "expected_cost": z, "variance": z}
        return Sensitivities(method, names, values, base, res.objective, res.expected_cost, res.variance,
                             _shape(problem, res.holdings), kind, error, half, time.perf_counter() - start,
                             solve_seconds, diagnostics)
    hook = getattr(importlib.import_module(METHODS[method]), "derivatives", None)
    given = hook(problem, names, result, settings, **overrides) if hook is not None and exact else None
    given = given or {"names": [], "kind": {}}
    rows, errs, kinds, solves = [], [], {}, 0

    def evaluate(p: ExecutionProblem) -> Outputs:
        return solve_outputs(p, method, settings, **overrides)

    width = 3 + base.holdings.size
    for n in names:
        if n in given["names"]:
            j = given["names"].index(n)
            rows.append(np.concatenate([[given["objective"][j], given["expected_cost"][j], given["variance"][j]],
                                        np.ravel(given["holdings"][j])]))
            errs.append(np.zeros(width))
            kinds[n] = given["kind"][n]
            continue
        c = central(problem, n, evaluate, relative=relative_step)
        rows.append(c.derivative)
        errs.append(c.error)
        kinds[n] = "finite-difference"
        solves += c.solves
    d, e = np.array(rows), np.array(errs)
    hshape = (len(names),) + base.holdings.shape
    diagnostics.update(solves=solves, relative_step=relative_step)
    error = {"objective": e[:, 0], "expected_cost": e[:, 1], "variance": e[:, 2],
             "holdings": np.max(e[:, 3:], axis=1)}
    return Sensitivities(method, names, values, base, d[:, 0], d[:, 1], d[:, 2], d[:, 3:].reshape(hshape),
                         kinds, error, None, time.perf_counter() - start, solve_seconds, diagnostics)
