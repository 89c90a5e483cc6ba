"""Reduced HJB for linear impact: ``V(t, x, s) = x^2 A(t, s)``, ``a = A / eta`` (1 / time unit).

In time to go ``theta``: ``a_theta = c(s) - a^2 + L_s a``, ``a ~ 1/theta`` at ``theta = 0``, ``c`` from
:func:`riccati_source`. Constant, path and regime volatility: RK4 on the smooth ``q = 1/a`` (order 4);
mean-reverting volatility: backward Euler on ``d = a - 1/theta`` over the ``s`` grid of
:func:`volatility_grid` (order 1 in time, central differences: order 2 in ``s``). The policy's moments ride along (Feynman-Kac). Entry points
:func:`solve_reduced`, :func:`solve_mean_reverting_batch`; kernels :func:`reduced_kernel` and
:func:`reduced_batch_kernel` (benchmarks). Derivations: ``solvers/docs/theory-hjb.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from solvers.errors import MethodNotApplicable, SolverError, SpecError
from solvers.spec import ExecutionProblem
from solvers.volatility import ConstantVolatility, MeanRevertingVolatility, RegimeVolatility, VolatilityPath

from ..jax_runtime import compiled
from ..volatility_grid import covering_grid
from .settings import HJBSettings

__all__ = [
    "ReducedSolution", "VolatilityGrid", "volatility_grid", "VolatilityStates", "discretize", "solve_reduced", "solve_mean_reverting_batch",
    "riccati_source", "riccati_rhs_q", "moments_rhs", "rk4_moments_step", "generator_rows", "check_problem",
    "reduced_kernel", "reduced_batch_kernel", "GRID_MARGIN",
]


# ---------------------------------------------------------------------- volatility grid
#: the HJB grid's margin beyond the covered band, as a fraction of the band
GRID_MARGIN = 0.05


@dataclass(frozen=True)
class VolatilityGrid:
    """Uniform grid in ``s`` for a mean-reverting model, with ``sigma_0`` on a node.

    ``lower``, ``diagonal``, ``upper`` are the rows of ``L_s`` (1 / time unit):
    ``(L_s d)_j = lower_j d_{j-1} + diagonal_j d_j + upper_j d_{j+1}``.
    """

    s: np.ndarray
    start_index: int
    lower: np.ndarray
    diagonal: np.ndarray
    upper: np.ndarray
    coverage_sds: float
    stability_number_per_dt: float

    @property
    def ds(self) -> float:
        return float(self.s[1] - self.s[0])

    def stability_number(self, dt: float) -> float:
        """``dt * max_j (b_j / ds^2 + |mu_j| / ds)``: the explicit-step number (<= 1 needed)."""
        return dt * self.stability_number_per_dt


def riccati_source(problem: ExecutionProblem, states: np.ndarray) -> np.ndarray:
    """``c(s) = lambda s^2 |X|^(1-beta) / eta`` on the volatility ``states`` (1 / time unit^2 for
    ``beta = 1``): the source of the scaled Riccati equation (reduced HJB) and of the scaled full HJB."""
    a = problem.asset
    return problem.risk_aversion * np.asarray(states) ** 2 * abs(a.holdings) ** (1.0 - a.impact_exponent) \
        / a.temporary_impact


def generator_rows(model: MeanRevertingVolatility, s: np.ndarray, drift: str = "central"):
    """Rows ``(lower, diagonal, upper)`` of ``L_s`` on the nodes ``s`` (central diffusion; drift
    central where ``|mu| ds <= b``, else upwind; no flux at the ends) and
    ``max_j (b_j / ds^2 + |mu_j| / ds)`` (1 / time unit). Every row keeps nonnegative
    off-diagonals (an M-matrix ``I - dt L_s``)."""
    ds = s[1] - s[0]
    mu = model.reversion * (model.mean - s)
    p = model.elasticity
    base = np.maximum(s, 0.0) if p > 0 else np.abs(s)
    b = model.vol_of_vol**2 * (np.ones_like(s) if p == 0 else (base if p == 0.5 else base**2))
    b[0] = b[-1] = 0.0  # boundary rows: diffusion dropped
    central = (np.abs(mu) * ds <= b) if drift == "central" else np.zeros(s.shape, dtype=bool)
    lower = np.where(central, -0.5 * mu / ds, np.maximum(-mu, 0.0) / ds) + 0.5 * b / ds**2
    upper = np.where(central, 0.5 * mu / ds, np.maximum(mu, 0.0) / ds) + 0.5 * b / ds**2
    lower[0] = 0.0  # no flux out of the grid: drift upwinded inward only
    upper[-1] = 0.0
    diagonal = -(lower + upper)
    per_dt = float(np.max(-diagonal))
    return lower, diagonal, upper, per_dt


def volatility_grid(problem: ExecutionProblem, settings: HJBSettings, *, model: MeanRevertingVolatility | None = None
                    ) -> VolatilityGrid:
    """The ``s`` grid of a mean-reverting problem (:func:`hjb.volatility_grid.covering_grid` with a
    5% margin), checked against the model's mass: a grid covering less than
    ``settings.min_coverage_sds`` is a :class:`SpecError` naming the numbers."""
    model = model or problem.volatility_model
    if not isinstance(model, MeanRevertingVolatility):
        raise MethodNotApplicable("hjb", f"a volatility grid needs a mean-reverting model, not {model.kind!r}")
    sigma0 = problem.asset.volatility
    if settings.vol_bounds is not None:
        lo, hi = settings.vol_bounds
        if not lo <= sigma0 <= hi:
            raise SpecError("settings.vol_bounds", (lo, hi), f"must contain sigma_0 = {sigma0:g}")
    grid = covering_grid(model, sigma0, problem.horizon, points=settings.vol_points, width=settings.coverage_sds,
                         margin=GRID_MARGIN, bounds=settings.vol_bounds)
    s, band = grid.nodes, grid.band
    cover, i = band.coverage(s, nonnegative=model.elasticity > 0)
    if cover < settings.min_coverage_sds:
        field, value = (("settings.vol_bounds", settings.vol_bounds) if settings.vol_bounds is not None
                        else ("settings.coverage_sds", settings.coverage_sds))
        raise SpecError(
            field, value,
            f"the grid [{s[0]:.6g}, {s[-1]:.6g}] covers only E[sigma(t)] +- {cover:.3g} sd "
            f"(at t = {band.times[i]:g}: mean {band.mean[i]:.6g}, sd {band.sd[i]:.6g}); "
            f"need >= settings.min_coverage_sds = {settings.min_coverage_sds:g}",
        )
    lower, diagonal, upper, per_dt = generator_rows(model, s, settings.s_drift)
    return VolatilityGrid(s=s, start_index=grid.start_index, lower=lower, diagonal=diagonal, upper=upper,
                          coverage_sds=cover, stability_number_per_dt=per_dt)


@dataclass(frozen=True)
class VolatilityStates:
    """The HJB's view of a volatility model (the one dispatch on the model's kind, :func:`discretize`).

    Attributes:
        kind: ``"constant"``, ``"path"`` (deterministic, per slice), ``"regimes"`` or ``"grid"``
            (mean-reverting: the ``s`` grid of :func:`volatility_grid`).
        states: the volatility of each state: ``[sigma_0]``, the regime levels or the grid nodes.
        start_index: the state at ``t = 0``.
        generator: ``(S, S)`` generator between states (zeros for one state; None for a grid,
            whose operator is ``grid``'s tridiagonal rows).
        path: the per-slice volatilities of a path (else None); grid: the ``s`` grid (else None).
    """

    kind: str
    states: np.ndarray
    start_index: int
    generator: np.ndarray | None = None
    path: np.ndarray | None = None
    grid: VolatilityGrid | None = None

    @property
    def largest(self) -> float:
        """The largest volatility any state or slice takes (volatility units)."""
        top = float(np.max(np.abs(self.states)))
        return top if self.path is None else max(top, float(np.max(np.abs(self.path))))


def discretize(problem: ExecutionProblem, settings: HJBSettings) -> VolatilityStates:
    """The states of ``problem``'s volatility model for the HJB (see :class:`VolatilityStates`)."""
    model = problem.volatility_model
    sigma0 = problem.asset.volatility
    if isinstance(model, ConstantVolatility):
        return VolatilityStates("constant", np.array([sigma0]), 0, np.zeros((1, 1)))
    if isinstance(model, VolatilityPath):
        return VolatilityStates("path", np.array([sigma0]), 0, np.zeros((1, 1)),
                                path=np.asarray(model.path, dtype=np.float64))
    if isinstance(model, RegimeVolatility):
        return VolatilityStates("regimes", np.asarray(model.levels, dtype=np.float64), model.initial_regime,
                                model.generator_array)
    if isinstance(model, MeanRevertingVolatility):
        grid = volatility_grid(problem, settings)
        return VolatilityStates("grid", grid.s, grid.start_index, grid=grid)
    raise MethodNotApplicable("hjb", f"volatility model {getattr(model, 'kind', model)!r} has no HJB discretization")


# ---------------------------------------------------------------------- JAX kernels
def _pde_scan(c, lower, diagonal, upper, h, j0, s2=None, *, n_slices: int, per_slice: int, explicit: bool,
              moments: bool = False):
    """Backward Euler in theta for ``d`` (see module doc). Returns
    ``(d at theta = T, d at slice ends (N, ns), int d dtheta per slice (N, ns), d[j0] per step)``;
    slices are in theta order (the last slice of the horizon first).

    With ``moments=True`` (``s2`` = ``s^2`` on the grid) it also carries the policy's moments
    ``e = C / eta - 1 / theta`` and ``B`` (see :func:`solve_reduced`), one more tridiagonal solve
    with two right-hand sides per step, and appends ``(e, B)`` at theta = T to the outputs."""
    ns = c.shape[0]
    dl = jnp.concatenate([jnp.zeros(1), -h * lower[1:]])
    du = jnp.concatenate([-h * upper[:-1], jnp.zeros(1)])

    def apply_l(v):
        return diagonal * v + lower * jnp.roll(v, 1) + upper * jnp.roll(v, -1)

    def step(carry, n):
        d, integral = carry[0], carry[1]
        theta_new = (n + 1) * h
        reaction = 1.0 + h * (2.0 / theta_new + d)
        if explicit:
            new = (d + h * (c + apply_l(d))) / reaction
        else:
            new = lax.linalg.tridiagonal_solve(dl, reaction - h * diagonal, du, (d + h * c)[:, None])[:, 0]
        integral = integral + 0.5 * h * (d + new)
        if not moments:
            return (new, integral), new[j0]
        # linear equations along the policy a = 1/theta + d^{n+1}, fully implicit:
        # e_theta = d^2 - 2 e / theta - 2 d e + L e,  B_theta = s^2 - 2 B / theta - 2 d B + L B
        eb = carry[2]
        react2 = 1.0 + h * (2.0 / theta_new + 2.0 * new)
        source = jnp.stack([new**2, s2], axis=1)
        if explicit:
            lv = jax.vmap(apply_l, in_axes=1, out_axes=1)(eb)
            eb = (eb + h * (source + lv)) / react2[:, None]
        else:
            eb = lax.linalg.tridiagonal_solve(dl, react2 - h * diagonal, du, eb + h * source)
        return (new, integral, eb), new[j0]

    def one_slice(carry, first):
        steps = first + jnp.arange(per_slice)
        init = (carry[0], jnp.zeros(ns)) + carry[1:]
        out, path = lax.scan(step, init, steps)
        return (out[0],) + out[2:], (out[0], out[1], path)

    firsts = per_slice * jnp.arange(n_slices)
    init = (jnp.zeros(ns),) + ((jnp.zeros((ns, 2)),) if moments else ())
    final, (ends, integrals, paths) = lax.scan(one_slice, init, firsts)
    if moments:
        return final[0], ends, integrals, paths.reshape(-1), final[1][:, 0], final[1][:, 1]
    return final[0], ends, integrals, paths.reshape(-1)


reduced_kernel = jax.jit(_pde_scan, static_argnames=("n_slices", "per_slice", "explicit", "moments"))


def _pde_batch(c, lower, diagonal, upper, h, j0, *, n_slices: int, per_slice: int, explicit: bool):
    """:func:`_pde_scan` ``vmap``-ed over the generator rows (a batch of vol-of-vols)."""
    one = partial(_pde_scan, n_slices=n_slices, per_slice=per_slice, explicit=explicit)
    return jax.vmap(one, in_axes=(None, 0, 0, 0, None, None))(c, lower, diagonal, upper, h, j0)


reduced_batch_kernel = jax.jit(_pde_batch, static_argnames=("n_slices", "per_slice", "explicit"))


def riccati_rhs_q(q, c, generator):
    """``dq/dtheta`` of the ODE systems (``q = 1 / a``; see module doc), jnp or numpy arrays."""
    xp = jnp if isinstance(q, jax.Array) else np
    safe = xp.where(q > 0, q, 1.0)
    ratio = xp.where(q[None, :] > 0, q[:, None] / safe[None, :], 1.0)  # q_i / q_j, -> 1 at theta = 0
    return 1.0 - c * q**2 - q * xp.sum(generator * ratio, axis=1)


def _ode_scan(c_steps, generator, h):
    """Classical RK4 for ``q`` over ``theta``; ``c_steps`` (n_t, m) is constant within each
    step (slice boundaries are step boundaries). Returns ``q`` at theta_1..theta_n (n_t, m)."""
    m = c_steps.shape[1]

    def step(q, c):
        k1 = riccati_rhs_q(q, c, generator)
        k2 = riccati_rhs_q(q + 0.5 * h * k1, c, generator)
        k3 = riccati_rhs_q(q + 0.5 * h * k2, c, generator)
        k4 = riccati_rhs_q(q + h * k3, c, generator)
        new = q + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        return new, new

    _, qs = lax.scan(step, jnp.zeros(m), c_steps)
    return qs


_ode_jit = jax.jit(_ode_scan)


def moments_rhs(y, c, s2, generator):
    """``d/dtheta`` of the augmented ODE system ``y = (q, n, m)`` (each (m_states,), see
    :func:`solve_reduced`'s moments): ``q = eta / A``, ``n = q^2 C / eta``, ``m = q^2 B``.

    With ``r_ij = q_i / q_j`` (``-> 1`` as ``theta -> 0``)::

        q_i' = 1 - c_i q_i^2 - q_i sum_j Q_ij r_ij
        n_i' = 1     - 2 c_i q_i n_i + sum_j Q_ij (r_ij^2 n_j - 2 r_ij n_i)
        m_i' = s_i^2 q_i^2 - 2 c_i q_i m_i + sum_j Q_ij (r_ij^2 m_j - 2 r_ij m_i)

    Every coefficient is smooth at ``theta = 0`` (the ``-2 A C / eta`` and ``2 C q'/q`` terms
    cancel exactly in the ``q^2`` scaling), so RK4 keeps its order 4 from ``theta = 0``."""
    xp = jnp if isinstance(y, jax.Array) else np
    q, n, m = y[0], y[1], y[2]
    safe = xp.where(q > 0, q, 1.0)
    ratio = xp.where(q[None, :] > 0, q[:, None] / safe[None, :], 1.0)
    gr = generator * ratio
    gr2 = generator * ratio**2
    dq = 1.0 - c * q**2 - q * xp.sum(gr, axis=1)
    row = xp.sum(gr, axis=1)
    dn = 1.0 - 2.0 * c * q * n + gr2 @ n - 2.0 * row * n
    dm = s2 * q**2 - 2.0 * c * q * m + gr2 @ m - 2.0 * row * m
    return xp.stack([dq, dn, dm])


def rk4_moments_step(y, c, s2, generator, h):
    """One classical RK4 step of :func:`moments_rhs` for ``y = (q, n, m)`` (``c``, ``s2`` held
    constant within the step)."""
    k1 = moments_rhs(y, c, s2, generator)
    k2 = moments_rhs(y + 0.5 * h * k1, c, s2, generator)
    k3 = moments_rhs(y + 0.5 * h * k2, c, s2, generator)
    k4 = moments_rhs(y + h * k3, c, s2, generator)
    return y + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)


def _ode_moments_scan(c_steps, s2_steps, generator, h):
    """Classical RK4 for ``(q, n, m)`` over ``theta`` (``c_steps``, ``s2_steps`` (n_t, m), constant
    within a step). Returns ``q`` at theta_1..theta_n (n_t, m) and ``(q, n, m)`` at theta = T."""
    states = c_steps.shape[1]

    def step(y, cs):
        c, s2 = cs
        new = rk4_moments_step(y, c, s2, generator, h)
        return new, new[0]

    final, qs = lax.scan(step, jnp.zeros((3, states)), (c_steps, s2_steps))
    return qs, final


_ode_moments_jit = jax.jit(_ode_moments_scan)


# ---------------------------------------------------------------------- results
@dataclass
class ReducedSolution:
    """``A(t, s)`` of the reduced HJB on its grid, with what the policy and outputs need.

    Attributes:
        kind: ``"ode"`` (constant, path, regimes) or ``"grid"`` (mean-reverting).
        states: the volatility of each state: regime levels, the ``s`` grid, or ``[sigma_0]``.
        start_index: the state at ``t = 0`` (initial regime, or the node of ``sigma_0``).
        a_start: ``A(0, s) / eta`` for every state (1 / time unit).
        slice_exponent: ``G[k-1, i] = int_{t_{k-1}}^{t_k} A(t, s_i) / eta dt`` for k = 1..N
            (``inf`` for the last slice): a holding ``x`` at ``t_{k-1}`` with ``s`` frozen
            over the slice becomes ``x exp(-G)`` at ``t_k``.
        a_slices: ``A(t_{k-1}, s_i) / eta`` for k = 1..N (N, states), t order.
        theta: fine time-to-go grid ``theta_0 = 0 .. theta_n = T`` (n_t + 1 points).
        d_path: ``A(T - theta, s_start) / eta - 1 / theta`` on that grid (``0`` at theta = 0).
        diagnostics: grid sizes, steps, stability number, timings, scheme, boundaries.
        cost_start: ``C(0, s) / eta`` per state (1 / time unit): the optimal feedback policy's
            expected temporary cost from ``(0, x, s)`` is ``eta x^2`` times this.
        risk_start: ``B(0, s)`` per state (volatility^2 x time unit): its expected quadratic
            variation ``E[int sigma_t^2 x_t^2 dt]`` from ``(0, x, s)`` is ``x^2`` times this.
            ``eta * cost_start + lambda * risk_start = eta * a_start`` in continuous time; the
            difference on the grid is the scheme's error (``diagnostics["moments_gap"]``).
    """

    kind: str
    states: np.ndarray
    start_index: int
    a_start: np.ndarray
    slice_exponent: np.ndarray
    a_slices: np.ndarray
    theta: np.ndarray
    d_path: np.ndarray
    diagnostics: dict[str, Any] = field(default_factory=dict)
    cost_start: np.ndarray | None = None
    risk_start: np.ndarray | None = None

    @property
    def value_coefficient(self) -> float:
        """``A(0, s_0) / eta`` (1 / time unit); the value is ``eta X^2`` times this."""
        return float(self.a_start[self.start_index])

    @property
    def cost_coefficient(self) -> float:
        """``C(0, s_0) / eta`` (1 / time unit): E[temporary cost] of the policy is ``eta X^2`` times this."""
        return float(self.cost_start[self.start_index])

    @property
    def risk_coefficient(self) -> float:
        """``B(0, s_0)``: E[int sigma_t^2 x_t^2 dt] of the policy is ``X^2`` times this."""
        return float(self.risk_start[self.start_index])


def check_problem(problem: ExecutionProblem) -> None:
    if problem.is_basket:
        raise MethodNotApplicable("hjb", "baskets are not supported (single asset only)")
    if problem.has_drift:
        raise MethodNotApplicable("hjb", f"price drift (drift = {problem.asset.drift:g}) is not in the HJB")
    if problem.has_caps:
        raise MethodNotApplicable("hjb", "per-slice caps (max_slice_trade / participation) are not in the HJB")
    if problem.risk_aversion < 0:
        raise MethodNotApplicable("hjb", f"risk_aversion = {problem.risk_aversion:g} < 0 (risk seeking)")


def _slice_exponents_from_d(d_all: np.ndarray, theta: np.ndarray, n_slices: int, per_slice: int) -> np.ndarray:
    """``G`` per slice from ``d`` on the fine grid (trapezoid for ``int d``, exact ``log`` for
    ``int 1/theta``); rows in t order (slice 1 first); ``d_all`` is (n_t + 1, states)."""
    out = np.empty((n_slices,) + d_all.shape[1:])
    for j in range(n_slices):  # j-th slice in theta order
        lo, hi = j * per_slice, (j + 1) * per_slice
        seg = d_all[lo:hi + 1]
        integral = np.sum(0.5 * (seg[1:] + seg[:-1]), axis=0) * (theta[1] - theta[0])
        log_part = np.inf if lo == 0 else math.log(theta[hi] / theta[lo])
        out[n_slices - 1 - j] = log_part + integral
    return out


def solve_reduced(problem: ExecutionProblem, settings: HJBSettings | None = None) -> ReducedSolution:
    """Solve the reduced (linear-impact) HJB of ``problem`` on the grid of ``settings``."""
    settings = settings or HJBSettings()
    check_problem(problem)
    a = problem.asset
    if not a.is_linear:
        raise MethodNotApplicable("hjb", f"the reduced HJB needs linear impact (impact_exponent = {a.impact_exponent:g})")
    eta, lam, horizon = a.temporary_impact, problem.risk_aversion, problem.horizon
    n_t, per_slice = settings.steps_for(problem.slices)
    h = horizon / n_t
    theta = h * np.arange(n_t + 1)
    vol = discretize(problem, settings)
    diag: dict[str, Any] = {"time_steps": n_t, "steps_per_slice": per_slice, "dt": h}
    if vol.kind == "grid":
        grid = vol.grid
        explicit = settings.s_stepping == "explicit"
        number = grid.stability_number(h)
        if explicit and number > 1.0:
            raise SpecError("settings.time_steps", settings.time_steps,
                            f"explicit s-stepping is unstable: dt * max(b/ds^2 + |mu|/ds) = {number:.4g} > 1 "
                            f"(dt = {h:.4g}, ds = {grid.ds:.4g}); use more time steps or s_stepping='implicit'")
        c = riccati_source(problem, grid.s)
        args = tuple(jnp.asarray(v) for v in (c, grid.lower, grid.diagonal, grid.upper)) + (
            h, grid.start_index, jnp.asarray(grid.s**2))
        (d_final, ends, integrals, path, e_final, b_final), compile_s, run_s = compiled(
            reduced_kernel, *args, n_slices=problem.slices, per_slice=per_slice, explicit=explicit, moments=True)
        integrals = np.asarray(integrals)
        exps = np.empty_like(integrals)
        for j in range(problem.slices):  # theta order -> t order; exact log part of int 1/theta
            lo, hi = j * per_slice, (j + 1) * per_slice
            exps[problem.slices - 1 - j] = (np.inf if lo == 0 else math.log(theta[hi] / theta[lo])) + integrals[j]
        d_path = np.concatenate([[0.0], np.asarray(path)])
        a_start = 1.0 / horizon + np.asarray(d_final)
        diag.update(
            scheme=("be-" if not explicit else "fe-") + settings.s_drift,
            drift=settings.s_drift, order_vol=2 if settings.s_drift == "central" else 1,
            unknown="d=a-1/theta",
            boundary_conditions="no-flux",
            vol_points=int(grid.s.size), vol_min=float(grid.s[0]), vol_max=float(grid.s[-1]), ds=grid.ds,
            coverage_sds=grid.coverage_sds, stability_number=number, order_time=1,
        )
        slice_theta = problem.tau * np.arange(problem.slices, 0, -1)  # theta at t_{k-1}, k = 1..N
        a_slices = np.asarray(ends)[::-1] + 1.0 / slice_theta[:, None]
        cost_start = 1.0 / horizon + np.asarray(e_final)
        risk_start = np.asarray(b_final)
        diag.update(moments_scheme="be-along-policy",
                    **_moments_gap(eta, lam, a_start, cost_start, risk_start, grid.start_index))
        return ReducedSolution("grid", grid.s, grid.start_index, a_start, exps, a_slices, theta, d_path,
                               {**diag, "compile_seconds": compile_s, "run_seconds": run_s},
                               cost_start=cost_start, risk_start=risk_start)
    levels, generator, start, path_sigma = vol.states, vol.generator, vol.start_index, vol.path
    if path_sigma is None:
        s2_steps = np.broadcast_to(levels**2, (n_t, levels.size))
        c_steps = np.broadcast_to(riccati_source(problem, levels), (n_t, levels.size))
    else:  # slice k (t in [t_{k-1}, t_k)) is theta in (T - t_k, T - t_{k-1}]: reversed order
        s2_steps = np.repeat((path_sigma**2)[::-1], per_slice)[:, None]
        c_steps = np.repeat(riccati_source(problem, path_sigma)[::-1], per_slice)[:, None]
    (qs, final), compile_s, run_s = compiled(_ode_moments_jit, jnp.asarray(c_steps), jnp.asarray(s2_steps),
                                           jnp.asarray(generator), h)
    q_end, n_end, m_end = np.asarray(final)
    qs = np.vstack([np.zeros((1, levels.size)), np.asarray(qs)])
    with np.errstate(divide="ignore", invalid="ignore"):
        d_all = np.where(theta[:, None] > 0, 1.0 / qs - 1.0 / np.where(theta > 0, theta, 1.0)[:, None], 0.0)
    exps = _slice_exponents_from_d(d_all, theta, problem.slices, per_slice)
    if not np.all(np.isfinite(qs)) or np.any(qs[1:] <= 0):
        raise SolverError("hjb", "numerical_error", f"the Riccati integration left q = 1/a > 0 (non-finite or "
                          f"non-positive values) with {n_t} time steps")
    diag.update(
        scheme="rk4", unknown="q=1/a",
        boundary_conditions="none",
        states=int(levels.size), stability_number=float(h * max(np.max(np.abs(generator)), math.sqrt(np.max(c_steps)))),
        order_time=4,
        moments_scheme="rk4-q2-scaled",
    )
    a_slices = 1.0 / qs[per_slice * np.arange(problem.slices, 0, -1)]
    a_start, cost_start, risk_start = 1.0 / q_end, n_end / q_end**2, m_end / q_end**2
    diag.update(_moments_gap(eta, lam, a_start, cost_start, risk_start, start))
    return ReducedSolution("ode", levels, start, a_start, exps, a_slices, theta, d_all[:, start],
                           {**diag, "compile_seconds": compile_s, "run_seconds": run_s},
                           cost_start=cost_start, risk_start=risk_start)


def _moments_gap(eta: float, lam: float, a_start, cost_start, risk_start, start: int) -> dict[str, float]:
    """``(C + lambda B) / A - 1`` at ``(0, s_0)``: zero in continuous time (Feynman-Kac), the
    discretization's inconsistency between the value and the policy's moments on the grid."""
    a0 = float(a_start[start])
    return {"moments_gap": float((eta * cost_start[start] + lam * risk_start[start]) / (eta * a0) - 1.0)}


def solve_mean_reverting_batch(problem: ExecutionProblem, vol_of_vols: Sequence[float],
                               settings: HJBSettings | None = None) -> dict[str, Any]:
    """``A(0, sigma_0)`` for a batch of vol-of-vols in one ``vmap``-ed compiled call.

    The grid is the one of the largest vol-of-vol (it covers every other). Returns
    ``{"vol_of_vol", "value_coefficient" (A/eta per entry), "grid", "compile_seconds", "run_seconds"}``.
    """
    settings = settings or HJBSettings()
    check_problem(problem)
    model = problem.volatility_model
    if not isinstance(model, MeanRevertingVolatility):
        raise MethodNotApplicable("hjb", "a vol-of-vol sweep needs a mean-reverting model")
    xis = np.asarray(vol_of_vols, dtype=np.float64)
    if xis.ndim != 1 or xis.size == 0 or np.any(xis < 0):
        raise SpecError("vol_of_vols", list(np.atleast_1d(xis)), "must be a non-empty list of numbers >= 0")
    widest = MeanRevertingVolatility(model.reversion, model.mean, float(xis.max()), model.elasticity)
    grid = volatility_grid(problem, settings, model=widest)
    rows = [generator_rows(MeanRevertingVolatility(model.reversion, model.mean, float(x), model.elasticity), grid.s,
                           settings.s_drift) for x in xis]
    lower, diagonal, upper = (np.stack([r[i] for r in rows]) for i in range(3))
    a = problem.asset
    n_t, per_slice = settings.steps_for(problem.slices)
    h = problem.horizon / n_t
    c = riccati_source(problem, grid.s)
    (d_final, *_), compile_s, run_s = compiled(
        reduced_batch_kernel, jnp.asarray(c), jnp.asarray(lower), jnp.asarray(diagonal), jnp.asarray(upper), h,
        grid.start_index, n_slices=problem.slices, per_slice=per_slice, explicit=False)
    coeff = 1.0 / problem.horizon + np.asarray(d_final)[:, grid.start_index]
    return {"vol_of_vol": xis, "value_coefficient": coeff, "grid": grid,
            "compile_seconds": compile_s, "run_seconds": run_s}
