"""Method ``hjb``: solve, choosing the formulation, and assemble the result through ``solvers.costs``.

Linear impact: the reduced HJB ``V = x^2 A(t, s)`` (:mod:`hjb.pde.reduced`); nonlinear impact or
``form="full"``: the full HJB on an ``(x, s)`` grid (:mod:`hjb.pde.full`). ``objective`` is the value
function plus ``1/2 gamma X^2 + epsilon |X|``; ``expected_cost``/``variance`` are the feedback policy's,
computed on the value's grid (``diagnostics["moments"] = "policy"``); Richardson extrapolation in time
(on by default) makes both second order; ``holdings`` is the path
with volatility frozen at ``sigma_0``; ``time_model = "continuous"``. Transient impact: the ``(x, D)``
Riccati system (:mod:`hjb.pde.transient`). Per-slice coefficients, closures or a terminal penalty:
:mod:`hjb.pde.time_varying`. Derivations: the theory page ``solvers/docs/theory-hjb.md``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from solvers.costs import policy_cost, trajectory_constants
from solvers.errors import MethodNotApplicable, SolverError
from solvers.methods import MethodAccuracy, MethodInfo
from solvers.resources import check_memory
from solvers.result import Result
from solvers.settings import merge_settings
from solvers.spec import ExecutionProblem

from .full import MAX_TIME_STEPS, FullSolution, power_functions, solve_full
from .policy import FullPolicy, ReducedPolicy
from .reduced import ReducedSolution, VolatilityStates, check_problem, discretize, riccati_source, solve_reduced
from .settings import HJBSettings
from .sizing import estimate as estimate_resources
from .sensitivity import derivatives
from .time_varying import solve_time_varying
from .transient import solve_transient

__all__ = ["solve", "METHOD", "INFO", "urgency", "MAX_KAPPA_DT"]

METHOD = "hjb"

#: the facts of method ``hjb`` (the registry reads them)
INFO = MethodInfo(
    name=METHOD,
    kind="dynamic",
    time_models=("continuous",),
    accuracy=MethodAccuracy(1e-5, 3e-2, "finite differences at the default grid: first order in time "
                            "made second order by Richardson extrapolation (on by default), central "
                            "differences in the volatility; order-4 RK4 for the ODE forms",
                            order=2.0, order_in="time_steps"),
    settings=HJBSettings,
    estimate=estimate_resources,
    derivatives=derivatives,
    summary="continuous-time HJB by finite differences (JAX): feedback policy under stochastic volatility",
)


#: the largest ``kappa dt`` a grid is run at (``kappa`` the urgency, see :func:`urgency`): RK4 on
#: ``q = 1/a`` is stable below 1.39, and the first-order schemes' error grows like ``kappa dt``
MAX_KAPPA_DT = 1.0


def urgency(problem: ExecutionProblem, vol: VolatilityStates) -> float:
    """``kappa T`` with ``kappa = c^(1/(1+beta))``, ``c = lambda sigma_max^2 |X|^(1-beta) / eta``
    (:func:`riccati_source`; 1 / time unit): the time scale on which the optimal policy trades is
    ``1/kappa`` (``kappa T`` is Almgren-Chriss's urgency for linear impact). Dimensionless."""
    c = float(riccati_source(problem, np.array([vol.largest]))[0])
    with np.errstate(over="ignore"):
        return float(c ** (1.0 / (1.0 + problem.asset.impact_exponent)) * problem.horizon)


def _expected_variance_mid(problem: ExecutionProblem, vol: VolatilityStates, t_mid: np.ndarray) -> np.ndarray:
    """``E[sigma(t)^2]`` at the midpoints of the fine grid (piecewise per slice for a path)."""
    if vol.kind == "path":
        k = np.minimum((t_mid / problem.tau).astype(np.int64), problem.slices - 1)
        return vol.path[k] ** 2
    return problem.volatility_model.expected_variance(problem.asset.volatility, t_mid)


def _path_integrals(problem: ExecutionProblem, vol: VolatilityStates, t: np.ndarray, x: np.ndarray,
                    temporary: float) -> dict[str, Any]:
    """E and V of a fine frozen path ``x`` at times ``t`` (x linear within each step)."""
    h = np.diff(t)
    ev = _expected_variance_mid(problem, vol, 0.5 * (t[1:] + t[:-1]))
    variance = float(np.sum(h * ev * (x[:-1] ** 2 + x[:-1] * x[1:] + x[1:] ** 2) / 3.0))
    consts = trajectory_constants(problem)
    breakdown = {"permanent": consts["permanent"], "temporary": float(temporary), "spread": consts["spread"],
                 "drift": 0.0}
    return {"variance": variance, "breakdown": breakdown}


#: ``diagnostics["moments"]``: what ``expected_cost`` and ``variance`` are (see the theory page):
#: the optimal feedback policy's E[C] and E[int sigma^2 x^2 dt] (Feynman-Kac, on the value's grid)
MOMENTS = ("policy",)

#: the largest relative gap between the value and ``E + lambda V`` of the policy's moments before a
#: result is ``inaccurate`` (the grid does not resolve the problem)
MOMENTS_RTOL = 5e-3


def _full_policy_moments(problem: ExecutionProblem, sol: FullSolution) -> tuple[float, float]:
    """``(E[int eta |v|^(1+beta) dt], E[int sigma_t^2 x_t^2 dt])`` of the full HJB's feedback
    policy from ``(0, X, sigma_0)`` (currency, currency^2): the risk ``X^2 B`` rides along the
    value on its grid and the temporary cost is the rest of the value, ``V - lambda X^2 B``."""
    variance = problem.asset.holdings**2 * sol.risk
    return sol.value - problem.risk_aversion * variance, variance


def _policy_moments(problem: ExecutionProblem, sol: ReducedSolution) -> tuple[float, float]:
    """``(E[int eta v^2 dt], E[int sigma_t^2 x_t^2 dt])`` of the reduced HJB's feedback policy
    from ``(0, X, sigma_0)``: ``X^2 C(0, s_0)`` (currency) and ``X^2 B(0, s_0)``
    (share^2 x volatility^2 x time unit = currency^2, the unit of the conventions page's ``V``)."""
    big_x, eta = problem.asset.holdings, problem.asset.temporary_impact
    return eta * big_x**2 * sol.cost_coefficient, big_x**2 * sol.risk_coefficient


def _reduced_path(problem: ExecutionProblem, sol: ReducedSolution):
    """Frozen path ``x(t) = X (theta / T) exp(-int_theta^T d)`` and its temporary cost."""
    big_x, eta, horizon = problem.asset.holdings, problem.asset.temporary_impact, problem.horizon
    theta, d = sol.theta, sol.d_path
    h = theta[1] - theta[0]
    cum = np.concatenate([[0.0], np.cumsum(0.5 * h * (d[1:] + d[:-1]))])
    remaining = cum[-1] - cum  # int_theta^T d
    x_theta = big_x * (theta / horizon) * np.exp(-remaining)
    v_theta = big_x / horizon * np.exp(-remaining) * (1.0 + theta * d)  # (1/theta + d) x, finite at theta = 0
    temporary = float(np.sum(0.5 * h * eta * (v_theta[1:] ** 2 + v_theta[:-1] ** 2)))
    return x_theta[::-1], temporary  # t order


def _full_path(problem: ExecutionProblem, sol: FullSolution):
    """Frozen path by the scheme's own control rule at ``s = sigma_0`` (one step per grid step)."""
    big_x = abs(problem.asset.holdings)
    pow_1pb, _ = power_functions(sol.beta, np)
    theta = sol.theta
    n_t = theta.size - 1
    h = theta[1] - theta[0]
    y = np.empty(n_t + 1)
    y[n_t] = 1.0  # at theta = T
    temporary = 0.0
    for n in range(n_t - 1, -1, -1):  # from theta_{n+1} to theta_n uses W at theta_n
        r = float(sol.rate(theta[n + 1], sol.w_path[n], np.array([y[n + 1]]), h)[0])
        if n == 0:
            r = y[1] / h
        y[n] = max(y[n + 1] - r * h, 0.0)
        temporary += h * pow_1pb(r)
    x_theta = np.sign(problem.asset.holdings) * big_x * y
    return x_theta[::-1], sol.value_scale * temporary


def solve(problem: ExecutionProblem, settings: HJBSettings | None = None, **overrides: Any) -> Result:
    """Solve ``problem`` by the HJB (method ``hjb``); see the module doc for the output.

    Raises:
        MethodNotApplicable: baskets, drift with nonlinear impact or a mean-reverting model,
            per-slice caps, negative risk aversion, a time-varying deterministic path with
            nonlinear impact.
        SpecError: bad settings (``settings.<key>``, the value and the rule); a volatility grid
            that does not cover the model's mass; an unstable explicit step; ``slices`` when the
            grid would not fit in memory (:func:`solvers.resources.check_memory`).
        SolverError: an urgency ``kappa T`` the time grid cannot resolve (``kappa dt > 1``, the
            message names the steps needed), non-finite values of a scheme.

    Returns status ``inaccurate`` (with the reason) when the value and ``E + lambda V`` of the
    result's own moments differ by more than :data:`MOMENTS_RTOL` of the cost.
    """
    settings = merge_settings(HJBSettings, settings, overrides)
    form = settings.form
    start = time.perf_counter()
    drift_only = not problem.is_basket and problem.asset.drift != 0 and problem.asset.is_linear
    if problem.time_varying_keys() or drift_only:  # per-slice coefficients, closures, a soft finish, drift
        return solve_time_varying(problem, settings, METHOD, start)
    asset = problem.asset if not problem.is_basket else None
    if asset is None:
        raise MethodNotApplicable(METHOD, "baskets are not supported (single asset only)")
    if asset.has_transient:  # the (x, D) Riccati system of hjb.pde.transient
        check_problem(problem)
        return solve_transient(problem, METHOD, start, settings.as_dict())
    check_memory(problem, METHOD, estimate_resources(problem, settings))  # also when called directly
    linear = asset.is_linear
    use_full = form == "full" or (form == "auto" and not linear)
    if form == "reduced" and not linear:
        raise MethodNotApplicable(METHOD, f"form='reduced' needs linear impact (impact_exponent = {asset.impact_exponent:g})")
    check_problem(problem)
    vol = discretize(problem, settings)
    if use_full and vol.kind == "path" and not problem.has_constant_volatility:
        raise MethodNotApplicable(METHOD, "nonlinear impact with a time-varying volatility path is not in the full HJB")
    kappa_t = urgency(problem, vol)
    requested = settings
    # Richardson runs on the grid schemes only (the ODE systems are order 4 already)
    extrapolated = settings.extrapolate and (use_full or vol.kind == "grid")
    if extrapolated:
        settings, coarse = settings.richardson_pair(problem.slices)
    steps = (coarse if extrapolated else settings).steps_for(problem.slices)[0]
    if not kappa_t <= MAX_KAPPA_DT * steps:
        need = kappa_t / MAX_KAPPA_DT * (2 if extrapolated else 1)  # the coarse grid has half the steps
        raise SolverError(METHOD, "unresolved", (
            f"the urgency kappa T = {kappa_t:.3g} (kappa = (lambda sigma_max^2 |X|^(1-beta) / eta)^(1/(1+beta))) "
            f"needs kappa dt <= {MAX_KAPPA_DT:g}, i.e. {need:.3g} time steps; this grid has {steps}: "
            + (f"set time_steps >= {math.ceil(need)}" if need <= MAX_TIME_STEPS
               else "no grid resolves it; method dp is exact in time")))
    if use_full:
        sol = solve_full(problem, settings)
        value = sol.value
        x_t, temporary = _full_path(problem, sol)
        policy = FullPolicy(problem, sol, settings.policy_substeps)
        formulation = "full"
        moments_grid = _full_policy_moments(problem, sol)
    else:
        sol = solve_reduced(problem, settings)
        value = asset.temporary_impact * asset.holdings**2 * sol.value_coefficient
        x_t, temporary = _reduced_path(problem, sol)
        policy = ReducedPolicy(problem, sol)
        formulation = "reduced"
        moments_grid = _policy_moments(problem, sol)
    if extrapolated:
        if use_full:
            sol_coarse = solve_full(problem, coarse)
            value_coarse = sol_coarse.value
            moments_coarse = _full_policy_moments(problem, sol_coarse)
        else:
            sol_coarse = solve_reduced(problem, coarse)
            value_coarse = asset.temporary_impact * asset.holdings**2 * sol_coarse.value_coefficient
            moments_coarse = _policy_moments(problem, sol_coarse)
    t_fine = problem.horizon - sol.theta[::-1]
    parts = _path_integrals(problem, vol, t_fine, x_t, temporary)
    consts = trajectory_constants(problem)
    frozen_expected = sum(parts["breakdown"].values())
    value_grid = value
    temp, variance = moments_grid
    if extrapolated:  # first order: V = V* + C h + O(h^2), so 2 V(h) - V(2h) = V* + O(h^2); the moments alike
        value = 2.0 * value_grid - value_coarse
        temp, variance = 2.0 * temp - moments_coarse[0], 2.0 * variance - moments_coarse[1]
    objective = value + consts["permanent"] + consts["spread"]
    # the feedback policy's E[C] and E[int sigma^2 x^2 dt] on the same grid (Feynman-Kac)
    breakdown = {**parts["breakdown"], "temporary": temp}
    moments = "policy"
    per_slice = settings.steps_for(problem.slices)[1]
    holdings = x_t[::per_slice].copy()
    holdings[-1] = 0.0
    diagnostics = dict(sol.diagnostics)
    diagnostics.update(
        formulation=formulation, value_function=value, trajectory_constants=consts,
        frozen_path="sigma0-rate-fine-grid",
        frozen_path_expected_cost=frozen_expected, frozen_path_variance=parts["variance"],
        frozen_path_objective=frozen_expected + problem.risk_aversion * parts["variance"],
        moments=moments,
        value_function_objective=objective, objective_gap=sum(breakdown.values()) + problem.risk_aversion * variance - objective,
        settings=requested.as_dict(), extrapolated=extrapolated,
    )
    if extrapolated:
        diagnostics.update(value_function_grid=value_grid, value_function_coarse=value_coarse,
                           error_estimate=abs(value_grid - value_coarse),
                           coarse_grid={k: getattr(coarse, k) for k in ("time_steps", "vol_points", "holdings_points")})
    status, message = "optimal", ""
    # the method's own error estimate: the value against E + lambda V of its moments (one answer
    # in continuous time; apart on a grid that does not resolve the problem). The frozen path of a
    # stochastic model may cost more than the feedback value (it is another policy), not less.
    # The full HJB's policy moments ride on the value's own grid (E + lambda V = value to rounding):
    # its check is the frozen path, costed apart on the fine grid (another policy under stochastic
    # volatility, which may cost more than the feedback value, not less).
    # Both are the fine grid's first-order answers, so the unextrapolated value is compared.
    if use_full:
        checked, repriced = "frozen path's", diagnostics["frozen_path_objective"]
        size = sum(abs(v) for v in parts["breakdown"].values()) + abs(problem.risk_aversion * parts["variance"])
        grid_objective = value_grid + consts["permanent"] + consts["spread"]
        gap = grid_objective - repriced if problem.volatility_model.stochastic else abs(grid_objective - repriced)
    else:
        checked, repriced = "policy's", sum(breakdown.values()) + problem.risk_aversion * variance
        size = sum(abs(v) for v in breakdown.values()) + abs(problem.risk_aversion * variance)
        gap = abs(objective - repriced)
    diagnostics["moments_gap_relative"] = gap / size if size > 0 else 0.0
    if not (math.isfinite(objective) and np.all(np.isfinite(holdings))):
        status, message = "numerical_error", "the HJB produced non-finite values"
    elif not gap <= MOMENTS_RTOL * size:
        status = "inaccurate"
        message = (f"the value function ({objective if not use_full else grid_objective:.6g}) and E + lambda V of the {checked} moments "
                   f"({repriced:.6g}) differ by {gap / size:.3g} of the cost, more than the declared accuracy "
                   f"of the moments {MOMENTS_RTOL:g}: the grid does not resolve this problem (kappa T = {kappa_t:.3g}, "
                   f"{diagnostics.get('time_steps')} time steps); refine time_steps / holdings_points")
    diagnostics["urgency_kappa_t"] = kappa_t
    cost = policy_cost(problem, permanent=breakdown["permanent"], temporary=breakdown["temporary"],
                       spread=breakdown["spread"], drift=breakdown["drift"], variance=variance)
    return Result.from_cost(problem, holdings, cost, method=METHOD, objective=objective, status=status,
                            solve_seconds=time.perf_counter() - start, diagnostics=diagnostics, message=message,
                            time_model="continuous", policy=policy)
