"""The transient HJB under stochastic volatility: ``V(t, x, D, i) = z' P_i(t) z``, ``z = (x, D)``, the 2x2
``P_i`` per regime or ``s`` node coupled through the generator ``L``. In time to go ``theta``:
``P' = W_i - rho (P F + F P) - p p' / (4 eta) + sum_j L_ij P_j``, ``p = 2 P e - f``, ``e = (1, -kappa_T)``,
``f = (0, 1)``, ``F = f f'``, ``W_i = diag(lambda s_i^2, 0)``; rate ``v = x / q + beta D / eta`` with the
unknowns ``q = eta / (P_xx - kappa_T P_xD)``, ``u = q beta``, ``c = P_DD`` (zero and smooth from the singular
``theta = 0``), the policy's moments scaled by ``q^2, q, 1``. Regimes: RK4 on the whole system (order 3);
the stiff mean-reverting grid: Strang splitting, ``exp(h L / 2)`` exactly around RK4 per state (order 2);
Richardson on half the steps. Entry point :func:`solve_transient_vol`; derivation: ``solvers/docs/theory-hjb.md``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg import block_diag, expm

from solvers.costs import policy_cost, trajectory_constants
from solvers.errors import MethodNotApplicable, SpecError
from solvers.result import Result
from solvers.spec import ExecutionProblem

from .reduced import VolatilityStates, discretize
from .settings import MIN_POINTS, HJBSettings

__all__ = ["solve_transient_vol", "schedule", "Schedule", "transient_vol_rhs", "local_rhs", "apply_generator_flow", "generator_matrix",
           "MAX_RK4_STEP", "MAX_STEPS", "ORDER", "ORDER_SPLIT"]

#: the largest ``h |rate|`` of an RK4 step (the fast transient mode; under RK4 also the generator's diagonal):
#: inside RK4's stability interval (2.78) with room for accuracy
MAX_RK4_STEP = 0.5

#: the most time steps in all
MAX_STEPS = 200_000

#: the observed order in time of the RK4 integration from the singular start (the tests fit it)
ORDER = 3

#: the order in time of the Strang splitting (symmetric, second order; the tests fit it)
ORDER_SPLIT = 2


def generator_matrix(vol: VolatilityStates) -> np.ndarray:
    """The generator ``L`` between volatility states (1 / time unit): a regime model's ``Q`` or the
    tridiagonal rows of the mean-reverting grid as a dense matrix."""
    if vol.grid is None:
        return np.asarray(vol.generator, dtype=np.float64)
    g = vol.grid
    out = np.diag(g.diagonal) + np.diag(g.upper[:-1], 1) + np.diag(g.lower[1:], -1)
    return out


def transient_vol_rhs(y: np.ndarray, s2: np.ndarray, generator: np.ndarray, eta: float, kappa: float, rho: float,
                      lam: float) -> np.ndarray:
    """``d/dtheta`` of ``y`` (12, S): ``(q, u, c)`` and the scaled moments ``(q^2 M_xx, q M_xD, M_DD)``
    of the temporary cost, the transient cost and ``int s^2 x^2 dt`` (module docstring). Divisions
    by ``q`` read 0 where ``q = 0`` (at ``theta = 0``, where every numerator vanishes too)."""
    q, u, c = y[0], y[1], y[2]
    pos = q > 0
    inv = np.divide(1.0, q, out=np.zeros_like(q), where=pos)
    beta = u * inv
    b = 0.5 + kappa * c + beta
    ratio = np.where(pos[None, :], q[:, None] * inv[None, :], 1.0)  # q_i / q_j, -> 1 at theta = 0
    gr = generator * ratio
    gr2 = gr * ratio
    w = -q * (lam * s2 + kappa * rho * b) / eta - kappa * beta / eta - gr.sum(axis=1)  # (q' - 1) / q: smooth
    add = -rho + kappa * beta / eta  # the closed loop's D -> D rate
    out = np.empty_like(y)
    out[0] = 1.0 + q * w
    out[1] = u * w + q * (-rho * b + 2.0 * kappa * rho * c + kappa * beta**2 / eta + generator @ beta)
    out[2] = -2.0 * rho * c - beta**2 / eta + generator @ c
    zero = np.zeros_like(q)
    sxx = np.stack([eta + zero, zero, q * q * s2])  # temporary, transient, risk
    sxd = np.stack([beta, 0.5 + zero, zero])
    sdd = np.stack([beta**2 / eta, beta / eta, zero])
    mxx, mxd, mdd = y[3::3], y[4::3], y[5::3]  # (3, S) each
    out[3::3] = 2.0 * w * mxx + sxx + 2.0 * kappa * mxd + mxx @ gr2.T
    out[4::3] = w * mxd + sxd + kappa * mdd - beta / eta * (mxx * inv) + add * mxd + mxd @ gr.T
    out[5::3] = sdd - 2.0 * beta / eta * (mxd * inv) + 2.0 * add * mdd + mdd @ generator.T
    return out


def local_rhs(y: np.ndarray, s2: np.ndarray, eta: float, kappa: float, rho: float, lam: float) -> np.ndarray:
    """The per-state part of :func:`transient_vol_rhs` (the generator's terms dropped): each state's
    own Riccati flow and moments, ``(12, S)``."""
    q, u, c = y[0], y[1], y[2]
    inv = np.divide(1.0, q, out=np.zeros_like(q), where=q > 0)
    beta = u * inv
    b = 0.5 + kappa * c + beta
    w = -q * (lam * s2 + kappa * rho * b) / eta - kappa * beta / eta
    add = -rho + kappa * beta / eta
    bq = beta / eta
    out = np.empty_like(y)
    out[0] = 1.0 + q * w
    out[1] = u * w + q * (-rho * b + 2.0 * kappa * rho * c + kappa * beta * bq)
    out[2] = -2.0 * rho * c - beta * bq
    mxx, mxd, mdd = y[3::3], y[4::3], y[5::3]
    out[3::3] = 2.0 * w * mxx + 2.0 * kappa * mxd
    out[3] += eta
    out[9] += q * q * s2
    out[4::3] = w * mxd + kappa * mdd - bq * (mxx * inv) + add * mxd
    out[4] += beta
    out[7] += 0.5
    out[5::3] = -2.0 * bq * (mxd * inv) + 2.0 * add * mdd
    out[5] += beta * bq
    out[8] += bq
    return out


def apply_generator_flow(y: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """The generator's part over one step exactly: ``P_i -> sum_j E_ij P_j`` (and the moments' forms
    alike), ``E = exp(h L)``, applied to the original entries ``eta / q = P_xx - kappa_T P_xD``, ``beta``,
    ``c`` and the unscaled moments ``M = (mxx / q^2, mxd / q, mdd)``, then scaled back. ``q > 0``."""
    inv = 1.0 / y[0]
    orig = np.empty_like(y)
    orig[0] = inv
    orig[1] = y[1] * inv
    orig[2] = y[2]
    orig[3::3] = y[3::3] * (inv * inv)
    orig[4::3] = y[4::3] * inv
    orig[5::3] = y[5::3]
    new = orig @ flow.T
    q = 1.0 / new[0]
    new[0] = q
    new[1] *= q
    new[3::3] *= q * q
    new[4::3] *= q
    return new


def _expm2(mats: np.ndarray) -> np.ndarray:
    """``exp(M)`` of a batch of 2x2 real matrices in closed form: ``e^(t/2) (cosh(r) I + sinh(r)/r (M - t/2 I))``,
    ``t`` the trace, ``r^2 = t^2/4 - det``."""
    t = mats[:, 0, 0] + mats[:, 1, 1]
    det = mats[:, 0, 0] * mats[:, 1, 1] - mats[:, 0, 1] * mats[:, 1, 0]
    r = np.sqrt((0.25 * t * t - det).astype(np.complex128))
    small = np.abs(r) < 1e-8
    shc = np.where(small, 1.0 + r * r / 6.0, np.sinh(r) / np.where(small, 1.0, r))
    ch = np.cosh(r)
    centred = mats - 0.5 * t[:, None, None] * np.eye(2)
    out = np.exp(0.5 * t)[:, None, None] * (ch[:, None, None] * np.eye(2) + shc[:, None, None] * centred)
    return out.real


def _rk4(y0: np.ndarray, s2: np.ndarray, generator: np.ndarray, h: float, eta: float, kappa: float, rho: float,
         lam: float, steps: int, start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Classical RK4 over ``steps`` steps of ``h`` (numpy: a few small arrays per stage, no compile);
    returns ``y`` at ``theta = T``, ``(q, u)`` of state ``start`` after every step ``(steps, 2)`` and
    the smallest ``q`` over the states after every step."""
    def f(y):
        return transient_vol_rhs(y, s2, generator, eta, kappa, rho, lam)

    y = y0
    path, smallest = np.empty((steps, 2)), np.empty(steps)
    for n in range(steps):
        k1 = f(y)
        k2 = f(y + 0.5 * h * k1)
        k3 = f(y + 0.5 * h * k2)
        k4 = f(y + h * k3)
        y = y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        path[n], smallest[n] = y[:2, start], y[0].min()
    return y, path, smallest


def _strang(y0: np.ndarray, s2: np.ndarray, generator: np.ndarray, h: float, eta: float, kappa: float,
            rho: float, lam: float, steps: int, start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Strang splitting over ``steps`` steps of ``h``: the generator's flow ``exp(h L / 2)`` exactly
    (:func:`apply_generator_flow`), each state's own flow by one RK4 step, the generator's half again
    (adjacent halves merged into one ``exp(h L)``); the first half at ``theta = 0`` is the identity
    (every state starts at the same zero). Same returns as :func:`_rk4` (``q > 0`` after each local
    step keeps it positive through the generator's flow: ``exp(h L)`` is a stochastic matrix)."""
    def f(y):
        return local_rhs(y, s2, eta, kappa, rho, lam)

    half, full = expm(0.5 * h * generator), expm(h * generator)
    row = half[start]
    path, smallest = np.empty((steps, 2)), np.empty(steps)
    z = y0
    for n in range(steps):
        if n:
            z = apply_generator_flow(z, full)
        k1 = f(z)
        k2 = f(z + 0.5 * h * k1)
        k3 = f(z + 0.5 * h * k2)
        k4 = f(z + h * k3)
        z = z + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        smallest[n] = z[0].min()
        inv = 1.0 / z[0]
        q = 1.0 / (row @ inv)  # (1/q, beta) of state start after the closing half step
        path[n] = q, q * (row @ (z[1] * inv))
    return apply_generator_flow(z, half), path, smallest


def _fastest_rate(hamiltonian_rate: float, generator: np.ndarray) -> float:
    """The largest rate (1 / time unit) the RK4 step must resolve: the transient Hamiltonian's
    largest eigenvalue at the largest volatility (the caller's) and the generator's largest exit rate."""
    return max(float(hamiltonian_rate), float(np.max(-np.diag(generator))), 1e-300)


def _integrate(problem: ExecutionProblem, blocks: list[VolatilityStates], steps: int, scheme: str):
    """Integrate the state sets ``blocks`` side by side (one array, a block-diagonal generator: they do
    not interact) over ``steps`` steps; returns each block's final ``y``, the path of the first
    block's start state, the smallest ``q`` per step and the seconds."""
    a = problem.asset
    h = problem.horizon / steps
    run = _rk4 if scheme == "rk4" else _strang
    states = np.concatenate([vol.states for vol in blocks])
    generator = block_diag(*[generator_matrix(vol) for vol in blocks])
    begin = time.perf_counter()
    final, path, smallest = run(np.zeros((12, states.size)), states**2, generator, h, a.temporary_impact,
                                a.transient_impact, a.resilience, problem.risk_aversion, steps, blocks[0].start_index)
    cuts = np.cumsum([vol.states.size for vol in blocks])[:-1]
    return np.split(final, cuts, axis=1), path, smallest, time.perf_counter() - begin


def _answer(problem: ExecutionProblem, final: np.ndarray, start: int) -> dict[str, float]:
    """Value and moments at ``(t = 0, X, D_1, s_0)`` (currency; risk in currency^2)."""
    a = problem.asset
    eta, kappa = a.temporary_impact, a.transient_impact
    y = final[:, start]
    q, u, c = y[0], y[1], y[2]
    beta = u / q
    b = 0.5 + kappa * c + beta
    z = np.array([a.holdings, a.initial_deviation])

    def form(mxx, mxd, mdd):
        mat = np.array([[mxx / q**2, mxd / q], [mxd / q, mdd]])
        return float(z @ mat @ z)

    value = float(z @ np.array([[eta / q + kappa * b, b], [b, c]]) @ z)
    return {"value": value, "temporary": form(*y[3:6]), "transient": form(*y[6:9]), "variance": form(*y[9:12])}


def _frozen_path(problem: ExecutionProblem, qu: np.ndarray, steps: int) -> np.ndarray:
    """Holdings on the slice boundaries of the policy with the state frozen at the start (``qu``: its
    ``(q, u)`` after every step, ``(steps, 2)``): the closed
    loop ``z' = A z`` stepped by the exponential of ``A`` at each step's midpoint (order 2)."""
    a = problem.asset
    eta, kappa, rho = a.temporary_impact, a.transient_impact, a.resilience
    h = problem.horizon / steps
    q = np.concatenate([[0.0], qu[:, 0]])  # theta = 0 .. T
    u = np.concatenate([[0.0], qu[:, 1]])
    qm, um = 0.5 * (q[1:] + q[:-1]), 0.5 * (u[1:] + u[:-1])  # midpoints, theta order
    beta = um / qm
    mats = np.zeros((steps, 2, 2))
    mats[:, 0, 0], mats[:, 0, 1] = -1.0 / qm, -beta / eta
    mats[:, 1, 0], mats[:, 1, 1] = kappa / qm, -rho + kappa * beta / eta
    props = _expm2(mats[::-1] * h)  # t order
    per_slice = steps // problem.slices
    z = np.array([a.holdings, a.initial_deviation], dtype=np.float64)
    out = [z[0]]
    for n in range(steps):
        z = props[n] @ z
        if (n + 1) % per_slice == 0:
            out.append(z[0])
    out[-1] = 0.0
    return np.asarray(out)


@dataclass(frozen=True)
class Schedule:
    """How :func:`solve_transient_vol` integrates a spec: the volatility states, the scheme
    (``"rk4"`` or ``"strang"``), its order in time, the fine run's steps (the coarse run takes half,
    beside the grid of half the points) and the rate that bounds the step (1 / time unit)."""

    vol: VolatilityStates
    generator: np.ndarray
    scheme: str
    order: int
    steps: int
    fastest: float


def schedule(problem: ExecutionProblem, settings: HJBSettings, hamiltonian_rate: Any, method: str = "hjb") -> Schedule:
    """The :class:`Schedule` of ``problem`` (``hamiltonian_rate(sigma)``: the deterministic flow's largest
    rate at volatility ``sigma``). Regimes (a few states, rates as given): RK4 on the whole system, the step
    bounded by the Hamiltonian's rate and the generator's exit rate. The mean-reverting grid (exit rates
    growing like ``vol_points^2``): Strang splitting with the generator's exact flow, the step bounded by
    the Hamiltonian's rate alone. Steps per slice are even (Richardson's coarse run)."""
    vol = discretize(problem, settings)
    if vol.kind not in ("regimes", "grid"):
        raise MethodNotApplicable(method, f"the coupled transient Riccati system is for stochastic volatility, not "
                                  f"{vol.kind!r}")
    generator = generator_matrix(vol)
    hamiltonian = float(hamiltonian_rate(vol.largest))
    split = vol.grid is not None
    fastest = max(hamiltonian, 1e-300) if split else _fastest_rate(hamiltonian, generator)
    per_slice = max(-(-settings.time_steps // problem.slices), math.ceil(fastest * problem.tau / MAX_RK4_STEP))
    per_slice += per_slice % 2
    scheme, order = ("strang", ORDER_SPLIT) if split else ("rk4", ORDER)
    return Schedule(vol, generator, scheme, order, per_slice * problem.slices, fastest)


def _other_grid(problem: ExecutionProblem, settings: HJBSettings, vol: VolatilityStates) -> list[VolatilityStates]:
    """The mean-reverting grid of half the points (of twice as many at the fewest points, ``MIN_POINTS``)
    for the grid's error; none for regimes (their generator is exact)."""
    if vol.grid is None:
        return []
    points = max(settings.vol_points // 2, MIN_POINTS)
    points = 2 * settings.vol_points if points == settings.vol_points else points
    return [discretize(problem, dataclasses.replace(settings, vol_points=points))]


def solve_transient_vol(problem: ExecutionProblem, method: str, start: float, settings: HJBSettings,
                        hamiltonian_rate: Any) -> Result:
    """The ``hjb`` result of a transient spec under regimes or mean-reverting volatility
    (``hamiltonian_rate(sigma)``: the largest rate of the deterministic flow at volatility ``sigma``):
    ``objective = z0' P_{s_0}(0) z0 + 1/2 gamma X^2 + epsilon |X|``; moments the feedback policy's;
    Richardson on half the time steps at the scheme's order (the correction: the time error); plus,
    on a mean-reverting grid, the change on half the points (:func:`_other_grid`) in ``error_estimate``."""
    plan = schedule(problem, settings, hamiltonian_rate, method)
    vol, generator, scheme, order, steps, fastest = (plan.vol, plan.generator, plan.scheme, plan.order, plan.steps,
                                                      plan.fastest)
    if steps > MAX_STEPS:
        a = problem.asset
        raise MethodNotApplicable(method, (
            f"the coupled transient Riccati system needs {steps} {scheme} steps (> {MAX_STEPS}) to resolve its "
            f"fastest rate {fastest:.3g} / time unit (temporary_impact = "
            f"{a.temporary_impact:g}, transient_impact = {a.transient_impact:g}"
            f"{'' if scheme == 'strang' else ', the regimes generator'}); use method dp"))
    # the fine run alone; the coarse one (half the steps) side by side with the grid of half the points
    other_grid = _other_grid(problem, settings, vol)
    (final,), path, smallest, seconds = _integrate(problem, [vol], steps, scheme)
    (coarse, *other), _, _, seconds_coarse = _integrate(problem, [vol, *other_grid], steps // 2, scheme)
    if not (np.all(np.isfinite(final)) and np.all(smallest > 0)):
        raise SpecError("settings.time_steps", settings.time_steps,
                        f"the coupled transient Riccati integration left q > 0 with {steps} {scheme} steps")
    fine, rough = _answer(problem, final, vol.start_index), _answer(problem, coarse, vol.start_index)
    # X(h) = X* + C h^p (p = 3 for RK4 from the singular start, 2 for Strang): X(h) + (X(h) - X(2h)) / (2^p - 1)
    # is the Richardson value, and |X(h) - X(2h)| / (2^p - 1) the fine grid's error (a bound for the extrapolated one)
    best = {key: fine[key] + (fine[key] - rough[key]) / (2**order - 1) for key in fine}
    consts = trajectory_constants(problem)
    objective = best["value"] + consts["permanent"] + consts["spread"]
    time_error = abs(fine["value"] - rough["value"]) / (2**order - 1)
    grid_diag: dict[str, Any] = {}
    grid_error = 0.0
    if other_grid:
        # order p in ds (2 central, 1 upwind): V(ds) - V(r ds) = (1 - r^p) C ds^p at equal steps (the time error
        # cancels), so the grid's error of V(ds) is |V(ds) - V(r ds)| / |1 - r^p|
        grid = other_grid[0]
        other_value = _answer(problem, other[0], grid.start_index)["value"]
        order_s = 1 if settings.s_drift == "upwind" else 2
        grid_error = abs(rough["value"] - other_value) / abs(1.0 - (grid.grid.ds / vol.grid.ds) ** order_s)
        grid_diag = {"value_function_other_grid": other_value, "other_grid_points": int(grid.states.size),
                     "vol_grid_ds": vol.grid.ds, "other_grid_ds": grid.grid.ds, "order_s": order_s,
                     "vol_grid_error": grid_error}
    error = time_error + grid_error + 1e-12 * abs(objective)
    cost = policy_cost(problem, permanent=consts["permanent"], temporary=best["temporary"], spread=consts["spread"],
                       drift=0.0, variance=best["variance"], transient=best["transient"])
    size = abs(cost.expected_cost) + abs(problem.risk_aversion * cost.variance)
    gap = abs(cost.objective - objective)
    holdings = _frozen_path(problem, path, steps)
    diagnostics: dict[str, Any] = {
        "formulation": "transient-riccati-coupled", "volatility": vol.kind, "vol_states": int(vol.states.size),
        "time_steps": steps, "scheme": scheme, "order_time": order,
        "fastest_rate": fastest, "extrapolated": True,
        "value_function": best["value"], "value_function_grid": fine["value"],
        "value_function_coarse": rough["value"], "time_error": time_error, **grid_diag, "error_estimate": error,
        "error_covers": "time and volatility grid" if grid_diag else "time",
        "objective_error": error, "trajectory_constants": consts, "moments": "policy",
        "moments_gap_relative": gap / size if size > 0 else 0.0, "frozen_path": "initial-state-exponential-midpoint",
        "holdings": "frozen-initial-state", "settings": settings.as_dict(),
        "run_seconds": seconds + seconds_coarse}
    status, message = "optimal", ("stochastic volatility: holdings freeze the volatility at its initial state; "
                                  "expected_cost and variance are those of the feedback policy")
    if not gap <= 1e-6 * size + 100.0 * error:
        status = "inaccurate"
        message = (f"the value ({objective:.6g}) and E + lambda V of the policy's moments ({cost.objective:.6g}) "
                   f"differ by {gap / size:.3g} of the cost: refine time_steps")
    return Result.from_cost(problem, holdings, cost, method=method, objective=objective, status=status,
                            solve_seconds=time.perf_counter() - start, diagnostics=diagnostics, message=message,
                            time_model="continuous")
