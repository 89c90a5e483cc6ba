"""Method ``dp``: backward induction over the spec's ``N`` slices (exact in time), and its result.

Volatility becomes a Markov chain (:mod:`hjb.dp.chain`); linear impact without caps or drift uses the
exact recursion ``V = a x^2`` (:mod:`hjb.dp.exact`), a time-varying market or drift its linear-quadratic form
(:mod:`hjb.dp.time_varying`), transient impact the ``(x, D)`` recursion (:mod:`hjb.dp.transient`) or the
``(x, E)`` grid (:mod:`hjb.dp.transient_grid`), everything else the holdings grid (:mod:`hjb.dp.grid`).
``holdings`` is the path with the volatility state frozen at its initial state;
``expected_cost``/``variance`` are the policy's ``E[C]`` and ``E[sum tau sigma_k^2 x_k^2]``;
``objective = E + lambda V``, priced through :func:`solvers.costs.policy_cost`. Derivations: the theory
page ``solvers/docs/theory-dp.md``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import numpy as np

from solvers.boundedness import alternation_eigenvalue
from solvers.costs import policy_cost, schedule_cost, trajectory_constants
from solvers.errors import MethodNotApplicable, SolverError, SpecError
from solvers.methods import MethodAccuracy, MethodInfo
from solvers.resources import check_memory
from solvers.result import Result
from solvers.settings import merge_settings
from solvers.spec import ExecutionProblem

from .chain import VolatilityChain, volatility_chain
from .exact import exact_backward, exact_forward
from .grid import frozen_path, grid_backward
from .policy import GridDPPolicy, LinearDPPolicy
from .settings import DPSettings
from .sizing import estimate as estimate_resources
from .sensitivity import derivatives
from .stage import impact_slope, interpolate, stage_coefficients
from .time_varying import TimeVaryingDPPolicy, lq_backward, lq_forward, lq_stages, require_lq
from .transient import require_exact_transient, solve_exact_transient
from .transient_grid import (SCAN_POINTS, TransientGrid, TransientGridPolicy, require_grid_transient,
                             transient_grid_backward)

__all__ = ["INFO", "METHOD", "solve"]

METHOD = "dp"

#: the facts of method ``dp`` (the registry reads them). A result may state its own error
#: (``objective_error``/``holdings_error``/``accuracy_note`` in diagnostics): the exact recursion does.
INFO = MethodInfo(
    name=METHOD,
    kind="dynamic",
    time_models=("discrete",),
    accuracy=MethodAccuracy(2e-3, 2e-2, "backward induction on a state grid with interpolation",
                            order=3.0, order_in="x_points"),
    settings=DPSettings,
    estimate=estimate_resources,
    derivatives=derivatives,
    summary="backward induction over the spec's N slices: feedback policy under stochastic volatility",
)


# ---------------------------------------------------------------------------- entry point
def _applicable(problem: ExecutionProblem) -> None:
    if problem.is_basket:
        raise MethodNotApplicable(METHOD, f"backward induction is for a single asset (this spec has {problem.n_assets})")


def _drift_only(problem: ExecutionProblem) -> bool:
    """Drift with linear impact, no caps and no transient impact: the linear-quadratic recursion of
    :mod:`hjb.dp.time_varying` solves it exactly (its linear term carries ``mu``)."""
    a = problem.asset
    return a.drift != 0 and a.is_linear and not problem.has_caps and not problem.has_transient


def _use_exact(problem: ExecutionProblem, recursion: str) -> bool:
    a = problem.asset
    reasons = []
    if not a.is_linear:
        reasons.append(f"impact_exponent = {a.impact_exponent} (needs 1)")
    if problem.has_caps:
        reasons.append("per-slice caps are set")
    if a.drift != 0:
        reasons.append(f"drift = {a.drift} (needs 0)")
    if recursion == "exact" and reasons:
        raise MethodNotApplicable(METHOD, "the exact recursion needs linear impact, no caps and no drift: "
                                  + "; ".join(reasons))
    return recursion != "grid" and not reasons


def solve(problem: ExecutionProblem, settings: DPSettings | None = None, **overrides: Any) -> Result:
    """Backward induction over the spec's ``N`` slices (method ``dp``); see the module docstring.

    Args:
        problem: a single-asset spec (any volatility model).
        settings: a :class:`DPSettings` (None: the defaults).
        overrides: :class:`DPSettings` fields and ``accuracy`` (a preset name); an unknown key is
            a :class:`SpecError` naming ``settings.<key>``. The DP is exact in time: discrete only.

    Returns a :class:`Result` with ``policy`` a :class:`LinearDPPolicy`, :class:`GridDPPolicy` or, with
    transient impact, a policy that reads the deviation (``TransientDPPolicy``, ``TransientGridPolicy``).

    Raises:
        SpecError: on ``slices`` when :func:`solvers.resources.check_memory` finds the grid too large.
        MethodNotApplicable: baskets; an optimum that leaves ``[0, X]`` (set ``no_reversal``).
    """
    cfg = merge_settings(DPSettings, settings, overrides)
    _applicable(problem)
    check_memory(problem, METHOD, estimate_resources(problem, cfg))  # also when called directly
    start = time.perf_counter()
    if problem.time_varying_keys():
        try:
            return _solve_time_varying(problem, cfg, start)
        except _ReversalBinds:
            raise MethodNotApplicable(METHOD, "no_reversal binds in the time-varying recursion (use qp)") from None
    if cfg.recursion != "grid" and _drift_only(problem):
        try:
            return _solve_time_varying(problem, cfg, start)
        except _ReversalBinds:  # the linear-quadratic optimum sells past 0: the grid keeps x in [0, X]
            if cfg.recursion == "exact":
                raise MethodNotApplicable(METHOD, "no_reversal binds in the linear recursion with drift: use "
                                          "recursion='grid'") from None
    if problem.has_transient:
        return _solve_transient(problem, cfg, start)
    chain = volatility_chain(problem, vol_states=cfg.vol_states, width=cfg.vol_width)
    coeff, rho_unit = stage_coefficients(problem)
    lam = problem.risk_aversion
    rho = rho_unit * chain.levels**2  # (N, S)
    exact = _use_exact(problem, cfg.recursion)
    consts = trajectory_constants(problem)
    diagnostics: dict[str, Any] = {
        "recursion": "exact" if exact else "grid", "chain_method": chain.method, "vol_states": chain.n_states,
        "chain": chain.diagnostics, "cost_unit": coeff.c0,
        "holdings": "frozen-initial-state",
    }
    if exact:
        try:
            result = _solve_exact(problem, chain, coeff, rho, rho_unit, lam, consts, diagnostics)
        except _ReversalBinds:
            if cfg.recursion == "exact":
                raise MethodNotApplicable(METHOD, "no_reversal binds in the linear recursion (risk seeking): "
                                          "use recursion='grid'") from None
            diagnostics["recursion"] = "grid"
            diagnostics["note"] = "no_reversal binds (risk seeking): the exact recursion does not apply"
            exact = False
    if not exact:
        result = _solve_grid(problem, chain, coeff, rho, rho_unit, lam, consts, diagnostics, cfg)
    result.solve_seconds = time.perf_counter() - start
    if not (np.all(np.isfinite(result.holdings)) and math.isfinite(result.objective)):
        raise SolverError(METHOD, "nan", "the backward induction produced non-finite numbers")
    return result


class _ReversalBinds(Exception):
    """The linear recursion's optimum reverses the order while ``no_reversal`` is set."""


def _solve_exact(problem, chain, coeff, rho, rho_unit, lam, consts, diagnostics) -> Result:
    c = coeff.A - coeff.G  # eta_tilde X^2 / (tau c0)
    ex = exact_backward(c, lam * rho, chain.transition)
    reverses = np.any(ex.ratios[:-1] > 1.0) or np.any(ex.ratios < 0.0)
    if reverses and problem.no_reversal:
        raise _ReversalBinds()
    if reverses and problem.asset.spread > 0:
        raise MethodNotApplicable(METHOD, "the optimal policy trades both ways, so the spread is not a constant")
    i0 = chain.initial_state
    frozen = np.concatenate([[1.0], np.cumprod(ex.ratios[:, i0])])
    frozen[-1] = 0.0
    holdings = problem.asset.holdings * frozen
    value = coeff.c0 * ex.a[0, i0] + consts["permanent"] + consts["spread"]
    policy = LinearDPPolicy(problem, chain, c, ex.expected_a, rho_unit=rho_unit, risk_aversion=lam)
    diagnostics.update({"interpolation": "none", "value_function_objective": value,
                        "a0": float(ex.a[0, i0])})
    if chain.n_states == 1:
        result = Result.from_schedule(problem, holdings, method=METHOD, diagnostics=diagnostics)
    else:
        trades2, risk = exact_forward(chain, ex, c, rho)
        temporary = coeff.c0 * coeff.A * trades2
        permanent = consts["permanent"] - coeff.c0 * coeff.G * trades2
        cost = policy_cost(problem, permanent=permanent, temporary=temporary, spread=consts["spread"], drift=0.0,
                           variance=coeff.c0 * risk)
        result = Result.from_cost(problem, holdings, cost, method=METHOD, diagnostics=diagnostics, policy=policy)
    result.diagnostics["objective_gap"] = result.objective - value
    if chain.method in ("constant", "path", "regimes"):
        # the chain is the model itself and V = a x^2 is exact: only rounding remains (tested
        # against the closed form at 1e-12 for N up to 2000); validate holds dp to this
        result.diagnostics["objective_error"] = 1e-10 * abs(result.objective)
        result.diagnostics["holdings_error"] = 1e-10 * abs(problem.asset.holdings)
        result.diagnostics["accuracy_note"] = "exact linear recursion: rounding only"
    result.policy = policy
    result.message = _message(chain)
    return result


def _solve_transient(problem: ExecutionProblem, cfg: DPSettings, start: float) -> Result:
    """The exact ``(x, D)`` recursion per volatility state (:mod:`hjb.dp.transient`) where it applies
    and is not overridden by ``recursion='grid'``; otherwise the ``(x, E)`` grid
    (:mod:`hjb.dp.transient_grid`)."""
    try:
        require_exact_transient(problem)
    except MethodNotApplicable:
        if cfg.recursion == "exact":
            raise
        return _solve_transient_grid(problem, cfg, start)
    if cfg.recursion == "grid":
        return _solve_transient_grid(problem, cfg, start)
    return solve_exact_transient(problem, cfg.vol_states, cfg.vol_width, start)


def _solve_transient_grid(problem: ExecutionProblem, cfg: DPSettings, start: float) -> Result:
    """Backward induction on the one-way ``(x, E)`` grid; the path (the policy from ``(X, E_1)``) is
    priced exactly by :mod:`solvers.costs`; its error is estimated against a grid of half the points."""
    require_grid_transient(problem)
    a = problem.asset
    power = cfg.grid_power(a.impact_exponent)
    grid = transient_grid_backward(problem, x_points=cfg.x_points, e_points=cfg.e_points,
                                   iterations=cfg.iterations, q_power=power)
    policy = TransientGridPolicy(problem, grid)
    q_path, e_path = grid.path()
    if not problem.no_reversal:
        _check_one_way(problem, grid, q_path, e_path)
    holdings, deviations = a.holdings * q_path, policy.deviations(e_path)
    consts = trajectory_constants(problem)
    value = grid.stages.c0 * grid.value0 + consts["permanent"] + consts["spread"]
    coarse_points = (max(4, (cfg.x_points + 1) // 2), max(4, (cfg.e_points + 1) // 2))
    coarse = transient_grid_backward(problem, x_points=coarse_points[0], e_points=coarse_points[1],
                                     iterations=cfg.iterations, q_power=power)
    coarse_holdings = a.holdings * coarse.path()[0]
    diagnostics: dict[str, Any] = {
        "recursion": "grid-transient", "state": "(x, E)", "cost_unit": grid.stages.c0,
        "holdings": "deterministic (no volatility state)", "x_points": cfg.x_points, "e_points": cfg.e_points,
        "x_grid": "uniform" if power == 1 else "graded", "e_grid": "uniform" if grid.e_power == 1 else "graded",
        "interpolation": "tensor-cubic-lagrange", "stage_minimizer": "scan-golden",
        "scan_points": SCAN_POINTS, "iterations": grid.iterations, "engine": "numpy",
        "value_function_objective": value, "deviations": deviations.tolist(),
        "coarse_grid": list(coarse_points),
    }
    result = Result.from_schedule(problem, holdings, method=METHOD, diagnostics=diagnostics)
    coarse_objective = float(schedule_cost(problem, coarse_holdings).objective)
    result.diagnostics["objective_gap"] = result.objective - value
    result.diagnostics["coarse_objective"] = coarse_objective
    # the path is a feasible schedule priced exactly, so its error is its excess over the optimum;
    # with at least first-order convergence that excess is at most the coarse grid's excess over it
    result.diagnostics["objective_error"] = abs(coarse_objective - result.objective)
    result.diagnostics["holdings_error"] = float(np.max(np.abs(coarse_holdings - holdings)))
    result.diagnostics["accuracy_note"] = ("grid on (x, E): the path's objective against the path of a grid with "
                                           "half the points per axis")
    result.policy = policy
    result.solve_seconds = time.perf_counter() - start
    return result


def _check_one_way(problem: ExecutionProblem, grid: TransientGrid, q_path: np.ndarray, e_path: np.ndarray) -> None:
    """Refuse when the one-way grid's path stops at a bound that only the one-way rule imposes and
    a trade the other way would lower the cost to first order: no trade while buying back pays
    (``g'(q-) + E < 0``), or selling out early while selling past ``x = 0`` and buying back pays
    (``g'(0+) - 2 E > 0``; ``E`` the scaled spread, ``g`` the slice's objective in cost units)."""
    a = problem.asset
    st = grid.stages
    spread = a.spread * abs(a.holdings) / st.c0
    tol = 1e-6 * max(1.0, abs(grid.value0))
    for k in range(1, problem.slices):
        q, e, y = q_path[k - 1], e_path[k - 1], q_path[k]
        if q <= 0.0:
            return
        lo, hi = (float(b) for b in grid.bounds(k, np.array(q)))
        reason = ""
        if hi == q and y >= q - 1e-6 and float(grid.slope(k, q, e, q)) + spread < -tol:
            reason = f"slice {k} does not trade, and buying back would lower the cost"
        elif lo == 0.0 and y <= 1e-6 and float(grid.slope(k, q, e, 0.0)) - 2.0 * spread > tol:
            reason = f"slice {k} sells out, and selling past x = 0 then buying back would lower the cost"
        if reason:
            raise MethodNotApplicable(
                METHOD, f"transient_impact: the optimum trades both ways ({reason}; transient_exponent = "
                f"{a.transient_exponent:g}, initial_deviation = {a.initial_deviation:g}); the (x, E) grid keeps "
                "trades on the order's side: set no_reversal = true")


def _solve_time_varying(problem: ExecutionProblem, cfg: DPSettings, start: float) -> Result:
    """Per-slice coefficients, closures, a terminal penalty: the exact recursion of
    :mod:`hjb.dp.time_varying` per volatility state."""
    require_lq(problem)
    if cfg.recursion == "grid":
        raise MethodNotApplicable(METHOD, f"{problem.time_varying_keys()[0]}: recursion='grid' is not implemented "
                                  "for a time-varying market; use recursion='auto' or 'exact'")
    chain = volatility_chain(problem, vol_states=cfg.vol_states, width=cfg.vol_width)
    stages = lq_stages(problem, chain)
    rec = lq_backward(stages, chain.step_matrices(), problem.risk_aversion)
    policy = TimeVaryingDPPolicy(problem, chain, rec)
    holdings = policy.frozen_path()
    a = problem.asset
    i0 = chain.initial_state
    value = stages.c0 * float(rec.A[0, i0] + rec.B[0, i0] + rec.C[0, i0]) + 0.5 * a.permanent_impact * a.holdings**2
    trades = (holdings[:-1] - holdings[1:]) * np.sign(a.holdings)
    if np.any(trades < -1e-12 * abs(a.holdings)):
        if problem.no_reversal:
            raise _ReversalBinds()
        if np.any(a.spread_slices(problem.slices) > 0):
            raise MethodNotApplicable(METHOD, "the optimal policy trades both ways, so the spread is not linear")
    diagnostics: dict[str, Any] = {
        "recursion": "exact-time-varying", "chain_method": chain.method, "vol_states": chain.n_states,
        "chain": chain.diagnostics, "cost_unit": stages.c0, "holdings": "frozen-initial-state",
        "value_function_objective": value, "interpolation": "none",
    }
    if chain.n_states == 1:
        result = Result.from_schedule(problem, holdings, method=METHOD, diagnostics=diagnostics)
    else:
        cost = lq_forward(problem, chain, stages, rec)
        result = Result.from_cost(problem, holdings, cost, method=METHOD, diagnostics=diagnostics, policy=policy)
    result.diagnostics["objective_gap"] = result.objective - value
    if chain.method in ("constant", "path", "regimes"):
        result.diagnostics["objective_error"] = 1e-10 * abs(result.objective)
        result.diagnostics["holdings_error"] = 1e-10 * abs(a.holdings)
        result.diagnostics["accuracy_note"] = "exact linear-quadratic recursion: rounding only"
    result.policy = policy
    result.message = _message(chain)
    result.solve_seconds = time.perf_counter() - start
    return result


def _message(chain: VolatilityChain) -> str:
    if chain.n_states == 1:
        return ""
    return ("stochastic volatility: holdings freeze the volatility at its initial state; expected_cost and "
            "variance (= E[sum tau sigma_k^2 x_k^2]) are those of the feedback policy in Result.policy")


def _check_no_crossing(problem, policy: GridDPPolicy, coeff, spread: float, path, state: int) -> None:
    """Refuse when the grid's path sells out before the last slice while selling past ``x = 0`` and
    buying back would cost less: ``g'(0-) = 2 G q - A (1+beta) q^beta - 2 E + D - W'(0+) > 0`` (cost
    units; ``W`` without the spread), the first-order gain of a round trip through zero, which the
    grid (``x`` in ``[0, X]``) cannot take."""
    for k in range(1, problem.slices):
        if path[k] > 0.0 or path[k - 1] <= 0.0:
            continue
        values, slopes = policy.continuation_tables(k)
        _, w0 = interpolate(np, values, slopes, policy.extents[k], policy.points, policy.power, np.zeros(1),
                            np.array([state]))
        q = np.array([path[k - 1]])
        marginal = float((-impact_slope(np, coeff, q) + coeff.D - w0)[0]) - 2.0 * spread
        if marginal > 1e-9 * (abs(coeff.A) + abs(spread) + abs(float(w0[0]))):
            a = problem.asset
            raise MethodNotApplicable(
                METHOD, f"the optimum crosses zero: slice {k} sells out, and selling past x = 0 then buying back "
                f"would lower the cost ({marginal:.3g} cost units per fraction of the order: the concave "
                f"permanent impact -1/2 gamma n^2, gamma = {a.permanent_impact:g}, outweighs the temporary "
                f"impact with impact_exponent = {a.impact_exponent:g}); the grid keeps holdings in [0, X]: "
                "set no_reversal = true")
        return


def _solve_grid(problem, chain, coeff, rho, rho_unit, lam, consts, diagnostics, cfg: DPSettings) -> Result:
    a = problem.asset
    # the grid trades n >= 0 only, so the spread E sum n = E is a constant: it leaves the stage
    # (in cost units it can exceed the impact terms by 1e100 and drown them in rounding)
    spread, coeff = coeff.E, dataclasses.replace(coeff, E=0.0)
    if (a.drift != 0 or lam < 0) and not problem.no_reversal:
        raise MethodNotApplicable(METHOD, "the grid keeps holdings in [0, X]: with drift or risk_aversion < 0 the "
                                  "optimum may leave it; set no_reversal = true (or use linear impact without drift)")
    n = problem.slices
    if not a.is_linear and not problem.no_reversal:
        # -1/2 gamma n^2 makes trades alternating in sign pay when the quadratic part of the cost is
        # not positive semi-definite (conventions page; nonlinear impact is not convex enough to stop
        # them): then the optimum reverses (or is unbounded for beta < 1 without caps) and the grid,
        # which keeps x in [0, X], would solve another problem. Worst case over the volatility states.
        floor = lam * problem.tau * float(np.min(chain.levels**2))
        # with caps the amplitude is bounded: one round trip at the cap is the test (as before);
        # without caps alternation at any amplitude counts, the full boundedness rule
        slices = 1 if problem.has_caps else n - 1
        smallest = alternation_eigenvalue([np.array([[floor]])] * slices, np.array([[a.permanent_impact]]))
        if smallest < -1e-12 * max(floor, a.permanent_impact):
            unbounded = a.impact_exponent < 1 and not problem.has_caps
            raise (SpecError if unbounded else MethodNotApplicable)(
                *(("assets[0].permanent_impact", a.permanent_impact) if unbounded else (METHOD,)),
                f"round trips lower the cost when gamma{'' if slices == 1 else ' (1 + cos(pi/N))'} = "
                f"{a.permanent_impact * (1 if slices == 1 else 1 + np.cos(np.pi / n)):g} "
                f"> lambda tau min sigma^2 = {floor:g} with impact_exponent = {a.impact_exponent:g}"
                + (" (unbounded below)" if unbounded else "; the grid keeps trades on the order's side")
                + ": set no_reversal = true")
    big_x = abs(a.holdings)
    caps = a.slice_caps(n)
    caps = np.full(n, np.inf) if caps is None else caps / big_x
    remaining = np.cumsum(caps[::-1])[::-1]  # capacity of slices k+1..N at t_k, k = 0..N-1
    extents = np.minimum(1.0, remaining)
    extents[0] = 1.0  # the spec is validated feasible
    power = cfg.grid_power(a.impact_exponent)
    grid = grid_backward(coeff, chain.transition, extents, caps, lam * rho, rho,
                         points=cfg.x_points, iterations=cfg.minimizer_iterations, stage_minimizer=cfg.stage_minimizer,
                         power=power, engine=cfg.engine)
    i0 = chain.initial_state
    value = coeff.c0 * grid.tables[0, 0, i0, -1] + consts["permanent"] + consts["spread"]
    policy = GridDPPolicy(problem, chain, grid.tables, extents, caps, coeff, rho_unit, lam,
                          cfg.minimizer_iterations, cfg.stage_minimizer, power)
    # frozen path: the policy with the state fixed at the initial one
    if cfg.engine == "jax":
        risk0 = lam * rho_unit * chain.levels[: n - 1, i0] ** 2  # the policy's (lam rho_unit) sigma^2
        path = [1.0, *frozen_path(coeff, grid.tables, chain.transition, extents, caps, risk0, i0, points=cfg.x_points,
                                  iterations=cfg.minimizer_iterations, stage_minimizer=cfg.stage_minimizer,
                                  power=power), 0.0]
    else:
        q = np.ones(1)
        path = [1.0]
        for k in range(1, n):
            y = policy.next_fraction(k, q, np.array([i0]), np.zeros(1), np.array([chain.levels[k - 1, i0]]))
            q = y
            path.append(float(y[0]))
        path.append(0.0)
    if not problem.no_reversal:
        _check_no_crossing(problem, policy, coeff, spread, path, i0)
    holdings = a.holdings * np.asarray(path)
    diagnostics.update({
        "interpolation": "hermite-envelope-hyman",
        "x_points": cfg.x_points, "x_grid": "uniform" if power == 1 else "graded", "stage_minimizer": cfg.stage_minimizer, "iterations": cfg.minimizer_iterations,
        "max_bracket_width" if cfg.stage_minimizer == "bisection" else "max_last_newton_step": grid.max_width,
        "compile_seconds": grid.compile_seconds, "run_seconds": grid.run_seconds, "engine": cfg.engine,
        "value_function_objective": value,
    })
    if chain.n_states == 1:
        result = Result.from_schedule(problem, holdings, method=METHOD, diagnostics=diagnostics)
    else:
        # the cost table carries temporary + drift - 1/2 gamma sum n^2 together (one stage cost):
        # reported under "temporary", the constants 1/2 gamma X^2 and epsilon |X| apart
        combined = coeff.c0 * float(grid.cost0[i0, -1])
        cost = policy_cost(problem, permanent=consts["permanent"], temporary=combined, spread=consts["spread"], drift=0.0,
                           variance=coeff.c0 * float(grid.risk0[i0, -1]))
        result = Result.from_cost(problem, holdings, cost, method=METHOD, diagnostics=diagnostics, policy=policy)
        result.diagnostics["cost_split"] = "combined"
    result.diagnostics["objective_gap"] = result.objective - value
    result.policy = policy
    result.message = _message(chain)
    return result
