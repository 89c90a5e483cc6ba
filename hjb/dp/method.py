"""Backward induction (method ``dp``): discrete-time dynamic programming over holdings and
volatility states, exact in time (the spec's own ``N`` slices).

Problem (MODEL.md, "Stochastic volatility"): minimize over feedback policies

    E[ sum_k  temporary_k + permanent_k + spread_k + drift_k + lam tau sigma_k^2 x_k^2 ]

where ``sigma_k = sigma(t_{k-1})`` is known when slice ``k``'s trade is chosen and moves
between slices on the Markov chain of :mod:`hjb.chain`. With deterministic volatility this is
the static ``E + lam V``, so ``dp`` must reproduce ``closed-form`` and ``qp`` there.

Two recursions (``DPSettings.recursion``):

* ``exact`` (linear impact, no caps, no drift): ``V_k(x, i) = a_k(i) x^2`` with
  ``c = eta_tilde / tau``, ``d_k(i) = lam tau sigma_{k,i}^2 + sum_j P_ij a_k(j)``:
  ``a_{k-1}(i) = c d / (c + d)``, ``a_{N-1} = c``, and the policy ``x_k = c / (c + d) x_{k-1}``.
  The spread ``epsilon |X|`` and ``1/2 gamma X^2`` are constants of any monotone schedule
  (:func:`solvers.costs.trajectory_constants`); the recursion checks monotonicity. Expected
  cost and ``E[sum tau sigma_k^2 x_k^2]`` of the policy are propagated forward exactly (the
  second moments of ``x`` per state).
* ``grid`` (everything else the spec allows for one asset: power-law impact, spread, slice
  and participation caps, no-reversal): the value on ``M`` points in ``x`` per state, one
  vectorized 1-D minimization per slice (bisection or safeguarded Newton, :mod:`hjb.dp_stage`), ``jax.lax.scan`` over slices in
  float64 (``jax_enable_x64`` is switched on when this module is imported). The expected cost
  and risk of the policy are carried as two more tables, their slopes by the chain rule
  through ``dy*/dq`` (implicit differentiation of the slice's first-order condition).

Output (:class:`solvers.result.Result`, ``time_model="discrete"``):

* ``holdings``: the optimal path with the volatility state frozen at its initial state (for
  constant or deterministic volatility simply the optimal schedule; under stochastic volatility
  only an illustration: the policy in ``Result.policy`` is the answer);
* ``expected_cost`` and ``variance``: deterministic volatility: the path priced by
  :func:`solvers.costs.schedule_cost`; stochastic: ``E[C]`` and ``E[sum tau sigma_k^2 x_k^2]``
  of the policy from ``(X, initial state)`` (``variance`` is the expected quadratic variation
  MODEL.md charges, not ``Var[C]``);
* ``objective = expected_cost + lam variance``; ``diagnostics["value_function_objective"]`` is the
  value function at ``(X, initial state)`` plus the constants, and ``objective_gap`` the
  difference (rounding for ``exact``, the discretization error for ``grid``);
* diagnostics: recursion, chain method and states, grid points, interpolation, bisection
  iterations and the largest final bracket width, compile and run seconds.

Scope: a single asset. The grid holds ``x`` in ``[0, X]`` (trades on the order's side), where the
optimum lies for ``lam >= 0``, no drift and a convex stage cost. Otherwise ``no_reversal`` must
be set, or a clear error says why: drift or ``lam < 0`` (:class:`MethodNotApplicable`);
nonlinear impact with ``gamma > lam tau min sigma^2``, where round trips pay (the
``-1/2 gamma n^2`` of the permanent impact beats ``|n|^(1+beta)``): unbounded below for
``beta < 1`` without caps (:class:`SpecError` on ``permanent_impact``), else
:class:`MethodNotApplicable`.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from solvers.costs import trajectory_constants, trades_from_holdings
from solvers.errors import MethodNotApplicable, SolverError, SpecError
from solvers.methods import MethodAccuracy, MethodInfo
from solvers.result import Result
from solvers.settings import merge_settings
from solvers.spec import ExecutionProblem

from ..jax_runtime import compiled
from .chain import VolatilityChain, volatility_chain
from .policy import GridDPPolicy, LinearDPPolicy
from .settings import DPSettings
from .stage import (StageCoefficients, grid_nodes, impact, impact_curvature, impact_slope, interpolate,
                    minimize_stage, prepare_tables)

__all__ = ["INFO", "METHOD", "solve", "GridTables", "grid_backward", "exact_backward", "stage_coefficients", "scan_length"]

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
    summary="backward induction over the spec's N slices: feedback policy under stochastic volatility",
)


# ---------------------------------------------------------------------------- scaling
def stage_coefficients(problem: ExecutionProblem) -> tuple[StageCoefficients, float]:
    """Stage coefficients in cost units ``c0 = T eta (|X|/T)^(1+beta)``, and ``rho_unit =
    tau X^2 / c0`` (the risk weight of a slice is ``rho_unit sigma^2``)."""
    a = problem.asset
    big_x, tau, beta = abs(a.holdings), problem.tau, a.impact_exponent
    c0 = problem.horizon * a.temporary_impact * (big_x / problem.horizon) ** (1.0 + beta)
    coeff = StageCoefficients(
        A=tau * a.temporary_impact * (big_x / tau) ** (1.0 + beta) / c0,
        G=0.5 * a.permanent_impact * big_x**2 / c0,
        E=a.spread * big_x / c0,
        D=-tau * a.drift * a.holdings / c0,
        beta=beta, c0=c0,
    )
    return coeff, tau * big_x**2 / c0


# ---------------------------------------------------------------------------- exact recursion
@dataclass
class _Exact:
    a: np.ndarray           # (N, S): a_k(i), k = 0..N-1 (cost units)
    expected_a: np.ndarray  # (N-1, S): (P a_k), k = 1..N-1
    ratios: np.ndarray      # (N, S): r_k(i) = x_k / x_{k-1} for slice k = 1..N (node states)


def exact_backward(c: float, risk: np.ndarray, transition: np.ndarray) -> _Exact:
    """The linear-impact recursion. ``c = eta_tilde X^2 / (tau c0)``, ``risk`` ``(N, S)`` is
    ``lam rho_{k,i}`` of slice ``k`` (row ``k-1``). Raises :class:`SpecError` when
    ``c + d <= 0`` (risk seeking beyond the convex range)."""
    n, s = risk.shape
    if s == 1 and np.all(c + risk[:, 0] > 0):  # one state: the same recursion on Python floats (fast)
        a1, r1 = [0.0] * n, [0.0] * n
        a1[n - 1] = ak = float(c)
        for k in range(n - 1, 0, -1):
            d = float(risk[k - 1, 0]) + ak
            r1[k - 1] = c / (c + d)
            a1[k - 1] = ak = c * d / (c + d)
        a = np.asarray(a1)[:, None]
        return _Exact(a=a, expected_a=a[1:].copy(), ratios=np.asarray(r1)[:, None])
    a = np.zeros((n, s))
    ratios = np.zeros((n, s))
    expected = np.zeros((max(n - 1, 0), s))
    a[n - 1] = c
    for k in range(n - 1, 0, -1):  # a_{k-1} from a_k; slice k has risk row k-1
        pa = transition @ a[k]
        expected[k - 1] = pa
        d = risk[k - 1] + pa
        if np.any(c + d <= 0):
            raise SpecError("risk_aversion", "risk seeking",
                            f"the slice-{k} quadratic is not convex (c + d = {float(np.min(c + d)):.6g} <= 0): "
                            "the cost is unbounded below")
        ratios[k - 1] = c / (c + d)
        a[k - 1] = c * d / (c + d)
    return _Exact(a=a, expected_a=expected, ratios=ratios)


def _exact_forward(chain: VolatilityChain, ex: _Exact, c: float, rho: np.ndarray) -> tuple[float, float]:
    """``E[sum n_k^2]`` and ``E[sum rho_k q_k^2]`` (fractions of the order, cost units) of the
    policy from ``q = 1`` in the initial state, propagated exactly per state."""
    n, s = ex.ratios.shape
    mass = np.zeros(s)
    mass[chain.initial_state] = 1.0  # E[q_{k-1}^2 ; state of slice k = i]
    trades2 = risk = 0.0
    for k in range(n):
        r = ex.ratios[k]
        trades2 += float(np.sum((1.0 - r) ** 2 * mass))
        risk += float(np.sum(rho[k] * r**2 * mass))
        mass = (mass * r**2) @ chain.transition
    return trades2, risk


# ---------------------------------------------------------------------------- grid recursion
@dataclass
class GridTables:
    """Output of :func:`grid_backward`: value tables ``(N, 2, S, M)`` (values, slopes) for
    ``k = 0..N-1``, expected cost and risk tables ``(2, S, M)`` at ``t_0`` and the largest final
    bisection bracket width."""

    tables: np.ndarray
    cost0: np.ndarray
    risk0: np.ndarray
    max_width: float
    compile_seconds: float
    run_seconds: float


def _grid_step(xp, c: StageCoefficients, transition, points: int, iterations: int, stage_minimizer: str, power: int,
               carry, inp):
    wv, ws, kv, qv = carry
    u0, u1, cap, risk, rho = inp
    states = wv.shape[0]
    cv = transition @ wv
    cs = prepare_tables(xp, cv, transition @ ws, u1, points, power)
    kh = transition @ kv[0]
    qh = transition @ qv[0]
    ks = prepare_tables(xp, kh, transition @ kv[1], u1, points, power)
    qs = prepare_tables(xp, qh, transition @ qv[1], u1, points, power)
    q = xp.broadcast_to(grid_nodes(xp, u0, points, power), (states, points))
    lo = xp.maximum(0.0, q - cap)
    hi = xp.minimum(q, u1)
    lo = xp.minimum(lo, hi)
    state = xp.arange(states)[:, None]

    def continuation(y, second=False):
        return interpolate(xp, cv, cs, u1, points, power, y, state, second)

    y, value, gy, width = minimize_stage(xp, c, q, lo, hi, risk[:, None], continuation, iterations, stage_minimizer)
    n = q - y
    moves = ((y == lo) & (q - cap > 0)) | ((y == hi) & (q < u1))
    interior = (y > lo) & (y < hi)
    slope = impact_slope(xp, c, n) + xp.where(moves, gy, 0.0)
    # expected cost K and risk Q of the policy: values and slopes by the chain rule, with
    # dy*/dq = f''(n) / (f''(n) + 2 lam rho + C''(y)) inside, 1 on a moving bound, 0 on a fixed one
    ccurv = continuation(y, True)[2]
    fcurv = impact_curvature(xp, c, n)
    denom = fcurv + 2.0 * risk[:, None] + ccurv
    dy = xp.where(interior, fcurv / xp.where(denom > 0, denom, 1.0), xp.where(moves, 1.0, 0.0))
    kval_c, kder_c = interpolate(xp, kh, ks, u1, points, power, y, state)
    qval_c, qder_c = interpolate(xp, qh, qs, u1, points, power, y, state)
    fslope = impact_slope(xp, c, n)
    kval = impact(xp, c, n) + c.D * y + kval_c
    kder = fslope * (1.0 - dy) + (c.D + kder_c) * dy
    qval = rho[:, None] * y * y + qval_c
    qder = (2.0 * rho[:, None] * y + qder_c) * dy
    return (value, slope, (kval, kder), (qval, qder)), (value, slope, xp.max(width))


def _grid_init(xp, c: StageCoefficients, u_last, states: int, points: int, power: int):
    q = xp.broadcast_to(grid_nodes(xp, u_last, points, power), (states, points))
    val = impact(xp, c, q)
    slope = impact_slope(xp, c, q)
    zero = xp.zeros_like(q)
    return val, slope, (val, slope), (zero, zero)


def scan_length(steps: int) -> int:
    """Scan length for ``steps`` slices: the next power of two (>= 8) up to 256, then the next
    multiple of 256, so that nearby ``N`` share one compiled program (padding steps are no-ops)."""
    if steps <= 256:
        return max(8, 1 << max(steps - 1, 0).bit_length())
    return -(-steps // 256) * 256


@functools.lru_cache(maxsize=None)
def _jax_program(beta: float, points: int, iterations: int, stage_minimizer: str, power: int):
    """The jitted backward scan for these static constants (one object per constants, so that
    :func:`hjb.jax_runtime.compiled` caches its compiled programs by argument shapes)."""
    def program(coef, transition, extents, caps, risk, rho, active, u_last):
        c = StageCoefficients(A=coef[0], G=coef[1], E=coef[2], D=coef[3], beta=beta, c0=1.0)
        states = transition.shape[0]
        init = _grid_init(jnp, c, u_last, states, points, power)

        def step(carry, inp):
            ext, cap, risk_k, rho_k, on = inp
            new, (v, sl, w) = _grid_step(jnp, c, transition, points, iterations, stage_minimizer, power, carry,
                                         (ext[0], ext[1], cap, risk_k, rho_k))
            kept = jax.tree_util.tree_map(lambda a, b: jnp.where(on, a, b), new, carry)
            return kept, (v, sl, jnp.where(on, w, 0.0))

        final, (vals, slopes, widths) = jax.lax.scan(step, init, (extents, caps, risk, rho, active), reverse=True)
        return final, vals, slopes, jnp.max(widths, initial=0.0), init

    return jax.jit(program)


def grid_backward(c: StageCoefficients, transition: np.ndarray, extents: np.ndarray, caps: np.ndarray,
                  risk: np.ndarray, rho: np.ndarray, *, points: int, iterations: int,
                  stage_minimizer: str = "bisection", power: int = 1, engine: str = "jax") -> GridTables:
    """Run the grid backward induction (see the module docstring of :mod:`hjb.dp.stage`).

    Args:
        c: stage coefficients; transition: ``(S, S)``; extents: ``U_k``, k = 0..N-1;
        caps: per-slice caps (fractions of the order, inf if none), k = 1..N;
        risk: ``lam rho`` and rho: ``rho`` per slice and state, ``(N, S)``.
        engine: ``jax`` (one compiled ``lax.scan``) or ``numpy`` (a Python loop of the same step).
    """
    n = extents.shape[0]
    s = transition.shape[0]
    if engine == "numpy":
        start = time.perf_counter()
        carry = _grid_init(np, c, extents[-1], s, points, power)
        tables = np.zeros((n, 2, s, points))
        tables[n - 1] = carry[0], carry[1]
        width = 0.0
        for k in range(n - 2, -1, -1):
            inp = (extents[k], extents[k + 1], caps[k], risk[k], rho[k])
            carry, (v, sl, w) = _grid_step(np, c, transition, points, iterations, stage_minimizer, power, carry, inp)
            tables[k] = v, sl
            width = max(width, float(w))
        return GridTables(tables, np.asarray(carry[2][0]), np.asarray(carry[3][0]), width, 0.0, time.perf_counter() - start)
    steps = n - 1
    length = scan_length(steps)
    pad = length - steps

    def padded(arr, fill):
        arr = np.asarray(arr, dtype=np.float64)
        block = np.broadcast_to(fill, (pad,) + arr.shape[1:])
        return jnp.asarray(np.concatenate([block, arr], axis=0))

    # step k (k = 0..N-2) builds W_k from W_{k+1}: extents (U_k, U_{k+1}), slice k+1's cap and risk
    ext = np.stack([extents[:-1], extents[1:]], axis=1) if steps else np.zeros((0, 2))
    args = (jnp.asarray([c.A, c.G, c.E, c.D]), jnp.asarray(transition), padded(ext, ext[0] if steps else 1.0),
            padded(caps[:-1], np.inf), padded(risk[:-1], 0.0), padded(rho[:-1], 0.0),
            jnp.asarray(np.concatenate([np.zeros(pad, dtype=bool), np.ones(steps, dtype=bool)])),
            jnp.asarray(float(extents[-1])))
    program = _jax_program(c.beta, points, iterations, stage_minimizer, power)
    (final, vals, slopes, width, init), compile_seconds, run_seconds = compiled(program, *args)
    tables = np.zeros((n, 2, s, points))
    if n > 1:
        tables[: n - 1, 0] = np.asarray(vals)[pad:]
        tables[: n - 1, 1] = np.asarray(slopes)[pad:]
    tables[n - 1] = np.asarray(init[0]), np.asarray(init[1])
    return GridTables(tables, np.asarray(final[2][0]), np.asarray(final[3][0]), float(width), compile_seconds, run_seconds)


# ---------------------------------------------------------------------------- entry point
def _applicable(problem: ExecutionProblem) -> None:
    if problem.is_basket:
        raise MethodNotApplicable(METHOD, f"backward induction is for a single asset (this spec has {problem.n_assets})")


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

    Returns a :class:`Result` with ``policy`` a :class:`LinearDPPolicy` or :class:`GridDPPolicy`.
    """
    cfg = merge_settings(DPSettings, settings, overrides)
    _applicable(problem)
    start = time.perf_counter()
    chain = volatility_chain(problem, vol_states=cfg.vol_states, width=cfg.vol_width)
    coeff, rho_unit = stage_coefficients(problem)
    lam = problem.risk_aversion
    rho = rho_unit * chain.levels**2  # (N, S)
    exact = _use_exact(problem, cfg.recursion)
    consts = trajectory_constants(problem)
    diagnostics: dict[str, Any] = {
        "recursion": "exact" if exact else "grid", "chain_method": chain.method, "vol_states": chain.n_states,
        "chain": chain.diagnostics, "cost_unit": coeff.c0,
        "holdings_note": "optimal path with the volatility state frozen at its initial state",
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
    if reverses and coeff.E > 0:
        raise MethodNotApplicable(METHOD, "the optimal policy trades both ways, so the spread is not a constant")
    i0 = chain.initial_state
    frozen = np.concatenate([[1.0], np.cumprod(ex.ratios[:, i0])])
    frozen[-1] = 0.0
    holdings = problem.asset.holdings * frozen
    value = coeff.c0 * ex.a[0, i0] + consts["permanent"] + consts["spread"]
    policy = LinearDPPolicy(problem, chain, c, ex.expected_a, rho_unit=rho_unit, risk_aversion=lam)
    diagnostics.update({"interpolation": "none (V = a x^2 exact)", "value_function_objective": value,
                        "a0": float(ex.a[0, i0])})
    if chain.n_states == 1:
        result = Result.from_schedule(problem, holdings, method=METHOD, diagnostics=diagnostics)
    else:
        trades2, risk = _exact_forward(chain, ex, c, rho)
        temporary = coeff.c0 * coeff.A * trades2
        permanent = consts["permanent"] - coeff.c0 * coeff.G * trades2
        breakdown = {"permanent": permanent, "temporary": temporary, "spread": consts["spread"], "drift": 0.0}
        expected = sum(breakdown.values())
        variance = coeff.c0 * risk
        result = Result(method=METHOD, status="optimal", problem=problem, times=problem.times, holdings=holdings,
                        trades=trades_from_holdings(holdings), expected_cost=expected, variance=variance,
                        objective=expected + lam * variance, solve_seconds=0.0, cost_breakdown=breakdown,
                        diagnostics=diagnostics)
    result.diagnostics["objective_gap"] = result.objective - value
    if chain.method in ("constant", "path", "regimes"):
        # the chain is the model itself and V = a x^2 is exact: only rounding remains (tested
        # against the closed form at 1e-12 for N up to 2000); validate holds dp to this
        result.diagnostics["objective_error"] = 1e-10 * abs(result.objective)
        result.diagnostics["holdings_error"] = 1e-10 * abs(problem.asset.holdings)
        result.diagnostics["accuracy_note"] = "exact linear recursion V = a x^2 (rounding only)"
    result.policy = policy
    result.message = _message(chain)
    return result


def _message(chain: VolatilityChain) -> str:
    if chain.n_states == 1:
        return ""
    return ("stochastic volatility: holdings freeze the volatility at its initial state; expected_cost and "
            "variance (= E[sum tau sigma_k^2 x_k^2]) are those of the feedback policy in Result.policy")


def _solve_grid(problem, chain, coeff, rho, rho_unit, lam, consts, diagnostics, cfg: DPSettings) -> Result:
    a = problem.asset
    if (a.drift != 0 or lam < 0) and not problem.no_reversal:
        raise MethodNotApplicable(METHOD, "the grid keeps holdings in [0, X]: with drift or risk_aversion < 0 the "
                                  "optimum may leave it; set no_reversal = true (or use linear impact without drift)")
    n = problem.slices
    if not a.is_linear and not problem.no_reversal:
        # -1/2 gamma n^2 makes round trips pay when gamma > lam tau sigma^2 (nonlinear impact is
        # not convex enough to stop them): then the optimum reverses (or is unbounded for beta < 1
        # without caps) and the grid, which keeps x in [0, X], would solve another problem.
        floor = lam * problem.tau * float(np.min(chain.levels**2))
        if a.permanent_impact > floor:
            unbounded = a.impact_exponent < 1 and not problem.has_caps
            raise (SpecError if unbounded else MethodNotApplicable)(
                *(("assets[0].permanent_impact", a.permanent_impact) if unbounded else (METHOD,)),
                f"round trips lower the cost when gamma = {a.permanent_impact:g} > lambda tau min sigma^2 = "
                f"{floor:g} with impact_exponent = {a.impact_exponent:g}"
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
    value = coeff.c0 * grid.tables[0, 0, i0, -1] + consts["permanent"]
    policy = GridDPPolicy(problem, chain, grid.tables, extents, caps, coeff, rho_unit, lam,
                          cfg.minimizer_iterations, cfg.stage_minimizer, power)
    # frozen path: the policy with the state fixed at the initial one
    q = np.ones(1)
    path = [1.0]
    for k in range(1, n):
        y = policy.next_fraction(k, q, np.array([i0]), np.zeros(1), np.array([chain.levels[k - 1, i0]]))
        q = y
        path.append(float(y[0]))
    path.append(0.0)
    holdings = a.holdings * np.asarray(path)
    diagnostics.update({
        "interpolation": "cubic Hermite, envelope-theorem slopes (cost/risk tables: chain-rule slopes), Hyman monotone filter",
        "x_points": cfg.x_points, "x_grid": "uniform" if power == 1 else "graded q = U u^2", "stage_minimizer": cfg.stage_minimizer, "iterations": cfg.minimizer_iterations,
        "max_bracket_width" if cfg.stage_minimizer == "bisection" else "max_last_newton_step": grid.max_width,
        "compile_seconds": grid.compile_seconds, "run_seconds": grid.run_seconds, "engine": cfg.engine,
        "value_function_objective": value,
    })
    if chain.n_states == 1:
        result = Result.from_schedule(problem, holdings, method=METHOD, diagnostics=diagnostics)
    else:
        cost = coeff.c0 * float(grid.cost0[i0, -1]) + consts["permanent"]
        variance = coeff.c0 * float(grid.risk0[i0, -1])
        result = Result(method=METHOD, status="optimal", problem=problem, times=problem.times, holdings=holdings,
                        trades=trades_from_holdings(holdings), expected_cost=cost, variance=variance,
                        objective=cost + lam * variance, solve_seconds=0.0,
                        cost_breakdown={"permanent_constant": consts["permanent"],
                                        "impact_spread_drift": cost - consts["permanent"]},
                        diagnostics=diagnostics)
    result.diagnostics["objective_gap"] = result.objective - value
    result.policy = policy
    result.message = _message(chain)
    return result
