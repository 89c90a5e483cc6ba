"""qp's model of a time-varying market: per-slice ``eta_k`` / ``epsilon_k``, closures and a soft finish.

Scaled holdings ``y = x / X`` (``y_0 = 1``; ``y_N = 0``, or free with a terminal penalty), costs
in the unit ``K`` of :func:`solvers.costs.cost_unit`; then ``E + lambda V = 1/2 X' Gamma X + K f``,

    f(y) = sum_k q_k' d_k^2 + sum_k e_k' |d_k| + sum_{k=1..N} w_k' y_k^2 + sum_k g_k' y_k + t' y_N^2,

``q_k = X^2 (eta_k / tau - gamma / 2) / K``, ``w_k = lambda X^2 R_k / K`` (``R_k``: slice and
closure variance), ``g_k = -mu h_k X / K``, ``t = X^2 (alpha - gamma / 2) / K``. Linear impact
with diagonal impact matrices; every number is a DPP parameter (:func:`build`, :func:`solve_time_varying`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.linalg as sla

from ..costs import cost_unit
from ..errors import MethodNotApplicable, SolverError
from ..spec import ExecutionProblem

__all__ = ["TimeVaryingModel", "applicable", "model_numbers", "solve_time_varying", "newton_polish"]

METHOD = "qp"
_CACHE: dict[tuple, "TimeVaryingModel"] = {}


@dataclass
class TimeVaryingModel:
    """A compiled CVXPY problem and its parameters."""

    problem: cp.Problem
    Y: cp.Variable
    params: dict[str, cp.Parameter]
    build_seconds: float


def applicable(problem: ExecutionProblem) -> None:
    """Raise :class:`MethodNotApplicable`, naming the key, for what this model does not cover."""
    keys = problem.time_varying_keys()
    if not problem.all_linear:
        raise MethodNotApplicable(METHOD, f"{keys[0]} is solved for linear impact only (impact_exponent = 1)")
    for key in ("temporary_impact_matrix", "permanent_impact_matrix", "factor_loadings", "imbalance_band"):
        if getattr(problem, key) is not None:
            raise MethodNotApplicable(METHOD, f"{keys[0]} together with {key} is not modelled")
    if any(a.has_holdings_bounds for a in problem.assets):
        raise MethodNotApplicable(METHOD, f"{keys[0]} together with min_holdings / max_holdings is not modelled")
    if problem.risk_aversion < 0:
        raise MethodNotApplicable(METHOD, f"risk_aversion = {problem.risk_aversion:g} < 0 is not convex")
    if problem.has_terminal_penalty:
        alpha = problem.terminal_penalties()
        gam = np.array([a.permanent_impact for a in problem.assets])
        if np.any(alpha < 0.5 * gam):
            raise MethodNotApplicable(METHOD, f"terminal_penalty = {alpha.tolist()} < gamma / 2 = {(gam / 2).tolist()}: "
                                              "the model needs alpha >= gamma / 2 to stay DCP (closed-form and dp "
                                              "solve the rest of the convex range)")


def model_numbers(problem: ExecutionProblem) -> dict[str, np.ndarray]:
    """The numbers of ``f`` (module docstring): ``q, e, w, g`` (N, m), ``t`` (m,), ``cap`` (N, m), ``K``."""
    n, m, tau = problem.slices, problem.n_assets, problem.tau
    big_x = problem.initial_holdings
    k_unit = cost_unit(problem)
    gam = np.array([a.permanent_impact for a in problem.assets])
    eta = np.stack([a.eta_slices(n) for a in problem.assets], axis=1)
    eps = np.stack([a.spread_slices(n) for a in problem.assets], axis=1)
    mu = np.array([a.drift for a in problem.assets])
    hold = problem.exposure_times()
    out = {
        "K": np.array(k_unit),
        "q": big_x**2 * (eta / tau - 0.5 * gam) / k_unit,
        "e": eps * np.abs(big_x) / k_unit,
        "g": -hold[:, None] * mu[None, :] * big_x[None, :] / k_unit,
        "t": (big_x**2 * (problem.terminal_penalties() - 0.5 * gam) / k_unit
              if problem.has_terminal_penalty else np.zeros(m)),
    }
    risk = problem.risk_aversion * problem.holding_risk()                  # (N, m, m)
    if m == 1 or np.count_nonzero(problem.covariance - np.diag(np.diag(problem.covariance))) == 0:
        out["w"] = np.einsum("kii->ki", risk) * big_x**2 / k_unit
    else:
        out["s"] = problem.risk_aversion * hold / k_unit                      # V weight h_k (x' C x)
        c_scaled = big_x[:, None] * problem.covariance * big_x[None, :]
        vals, vecs = np.linalg.eigh(c_scaled)
        out["F"] = vecs * np.sqrt(np.maximum(vals, 0.0))
    caps = np.full((n, m), np.inf)
    for i, a in enumerate(problem.assets):
        sc = a.slice_caps(n)
        if sc is not None:
            caps[:, i] = sc / abs(big_x[i])
    out["cap"] = caps
    return out


def _build(problem: ExecutionProblem, nums: dict[str, np.ndarray], key: tuple) -> TimeVaryingModel:
    start = time.perf_counter()
    n, m = problem.slices, problem.n_assets
    soft = problem.has_terminal_penalty
    Y = cp.Variable((n + 1, m), name="y")
    D = Y[:-1] - Y[1:]
    held = Y[1:]
    pr: dict[str, cp.Parameter] = {"q": cp.Parameter((n, m), nonneg=True, name="sqrt_q")}
    terms = [cp.sum_squares(cp.multiply(pr["q"], D))]
    if np.any(nums["e"] > 0):
        pr["e"] = cp.Parameter((n, m), nonneg=True, name="e")
        terms.append(cp.sum(cp.multiply(pr["e"], cp.abs(D))))
    if "w" in nums:
        pr["w"] = cp.Parameter((n, m), nonneg=True, name="sqrt_w")
        terms.append(cp.sum_squares(cp.multiply(pr["w"], held)))
    else:
        pr["s"] = cp.Parameter((n, 1), nonneg=True, name="sqrt_s")
        terms.append(cp.sum_squares(cp.multiply(pr["s"] @ np.ones((1, m)), held) @ nums["F"]))
    if np.any(nums["g"] != 0):
        pr["g"] = cp.Parameter((n, m), name="g")
        terms.append(cp.sum(cp.multiply(pr["g"], held)))
    if soft:
        pr["t"] = cp.Parameter(m, nonneg=True, name="sqrt_t")
        terms.append(cp.sum_squares(cp.multiply(pr["t"], Y[n])))
    cons = [Y[0] == 1.0]
    if not soft:
        cons.append(Y[n] == 0.0)
    capped = [i for i in range(m) if np.any(np.isfinite(nums["cap"][:, i]))]
    if capped:
        pr["cap"] = cp.Parameter((n, len(capped)), nonneg=True, name="cap")
        cons.append(D[:, capped] <= pr["cap"])
        if not problem.no_reversal:
            cons.append(-D[:, capped] <= pr["cap"])
    if problem.no_reversal:
        cons.append(D >= 0)
    prob = cp.Problem(cp.Minimize(cp.sum(cp.hstack(terms))), cons)
    if "F" not in nums and not prob.is_dcp(dpp=True):  # pragma: no cover - a formulation bug
        raise AssertionError("time-varying qp formulation is not DPP")
    return TimeVaryingModel(prob, Y, pr, time.perf_counter() - start)


def _set(model: TimeVaryingModel, nums: dict[str, np.ndarray]) -> None:
    pr = model.params
    pr["q"].value = np.sqrt(nums["q"])
    if "e" in pr:
        pr["e"].value = nums["e"]
    if "w" in pr:
        pr["w"].value = np.sqrt(nums["w"])
    if "s" in pr:
        pr["s"].value = np.sqrt(nums["s"])[:, None]
    if "g" in pr:
        pr["g"].value = nums["g"]
    if "t" in pr:
        pr["t"].value = np.sqrt(np.maximum(nums["t"], 0.0))
    if "cap" in pr:
        cols = [i for i in range(nums["cap"].shape[1]) if np.any(np.isfinite(nums["cap"][:, i]))]
        pr["cap"].value = nums["cap"][:, cols]


def solve_time_varying(problem: ExecutionProblem, solver: str, options: dict) -> tuple[np.ndarray, dict]:
    """Holdings (shares) of the compiled time-varying model and its diagnostics. A new profile of
    the same shape re-uses the compiled problem (``cache_hit``)."""
    applicable(problem)
    nums = model_numbers(problem)
    n, m = problem.slices, problem.n_assets
    key = (n, m, problem.has_terminal_penalty, bool(np.any(nums["e"] > 0)), "w" in nums,
           bool(np.any(nums["g"] != 0)), tuple(np.flatnonzero(np.any(np.isfinite(nums["cap"]), axis=0))),
           problem.no_reversal, None if "F" not in nums else nums["F"].tobytes())
    hit = key in _CACHE
    if not hit:
        _CACHE.clear()
        _CACHE[key] = _build(problem, nums, key)
    model = _CACHE[key]
    _set(model, nums)
    model.problem.solve(solver=solver, **options)
    if model.problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or model.Y.value is None:
        raise SolverError(METHOD, str(model.problem.status), f"{solver} returned {model.problem.status!r}")
    y = np.asarray(model.Y.value, dtype=np.float64)
    y, polished = newton_polish(problem, nums, y)
    x = y * problem.initial_holdings[None, :]
    x[0] = problem.initial_holdings
    if not problem.has_terminal_penalty:
        x[-1] = 0.0
    stats = model.problem.solver_stats
    diag = {"path": "cvxpy-time-varying", "solver": solver, "solver_status": model.problem.status, "cache_hit": hit,
            "build_seconds": 0.0 if hit else model.build_seconds,
            "iterations": int(stats.num_iters or 0) if stats is not None else 0, "polish": polished}
    return (x[:, 0] if m == 1 else x), diag


def _objective(nums: dict[str, np.ndarray], y: np.ndarray) -> float:
    d = y[:-1] - y[1:]
    held = y[1:]
    return float(np.sum(nums["q"] * d * d) + np.sum(nums["e"] * np.abs(d)) + np.sum(nums["w"] * held * held)
                 + np.sum(nums["g"] * held) + np.sum(nums["t"] * y[-1] ** 2))


def newton_polish(problem: ExecutionProblem, nums: dict[str, np.ndarray], y: np.ndarray,
                  tol: float = 1e-9) -> tuple[np.ndarray, str]:
    """One exact Newton step on ``f`` (quadratic where no trade is zero and no cap binds; diagonal
    risk), per asset a tridiagonal solve in the free ``y``. Kept only if no trade changes sign,
    no cap is broken and ``f`` does not rise. Returns ``(y, what happened)``."""
    if "w" not in nums:
        return y, "skipped: correlated risk"
    n, m = y.shape[0] - 1, y.shape[1]
    soft = problem.has_terminal_penalty
    free = n if soft else n - 1
    if free == 0:
        return y, "skipped: nothing free"
    d = y[:-1] - y[1:]
    if np.any(np.abs(d) <= tol) or np.any(np.abs(d) >= nums["cap"] * (1 - tol)):
        return y, "skipped: a trade is zero or a cap binds"
    out = y.copy()
    q, e, w, g, t = nums["q"], nums["e"], nums["w"], nums["g"], nums["t"]
    for i in range(m):
        qi = q[:, i]
        sign = np.sign(d[:, i])
        slope = 2.0 * qi * d[:, i] + e[:, i] * sign                      # df/dd_k
        slope_next = np.append(slope[1:], 0.0)
        grad = (slope_next - slope + 2.0 * w[:, i] * y[1:, i] + g[:, i])[:free]
        diag = (2.0 * qi + 2.0 * np.append(qi[1:], 0.0) + 2.0 * w[:, i])[:free]
        if soft:
            grad[-1] += 2.0 * t[i] * y[-1, i]
            diag[-1] += 2.0 * t[i]
        off = -2.0 * qi[1:free]
        band = np.vstack([diag, np.append(off, 0.0)])
        try:
            step = sla.solveh_banded(band, grad, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            return y, "skipped: Hessian not positive definite"
        out[1:free + 1, i] -= step
    d_new = out[:-1] - out[1:]
    if np.any(np.sign(d_new) != np.sign(d)) or np.any(np.abs(d_new) > nums["cap"]):
        return y, "rejected: the step changes the active set"
    if _objective(nums, out) > _objective(nums, y) + 1e-14 * abs(_objective(nums, y)):
        return y, "rejected: the objective rose"
    return out, "applied"
