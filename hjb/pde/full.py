"""Full HJB for nonlinear temporary impact on an ``(x, s)`` grid (``x`` alone for constant volatility,
``(x, regime)`` for regimes).

Scaled: ``x = |X| y``, ``V = eta |X|^(1+beta) (y^(1+beta) theta^-beta + W)``; ``W`` (smooth, ``W(0) = 0``)
is stepped semi-Lagrangian in ``y`` with the first-order control ``(1+beta) r^beta = U_y``, then one
implicit step in ``s`` (:mod:`hjb.pde.s_step`), Lie splitting, first order. Entry points
:func:`solve_full` and :func:`full_hjb_arrays` (the compiled kernel on plain arrays, for benchmarks).
Derivations: ``solvers/docs/theory-hjb.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from solvers.errors import MethodNotApplicable, SolverError, SpecError
from solvers.impact import PowerLawImpact
from solvers.spec import ExecutionProblem

from ..jax_runtime import compiled
from .reduced import check_problem, discretize, riccati_source
from .s_step import S_SOLVES, default_s_solve, implicit_s_matrix, reduction_coefficients, reduction_solve
from .settings import HJBSettings

__all__ = ["FullSolution", "solve_full", "full_hjb_arrays", "full_kernel", "power_functions", "MAX_SL_COURANT",
           "MAX_TIME_STEPS",
           "holdings_gradient", "semi_lagrangian_step", "jax_interpolator"]

#: largest accepted ``dt / dy`` (scaled holdings). The control from the first-order condition
#: with the gradient at the arrival point is an approximate minimizer; measured on the
#: mean-reverting square-root example, the scheme is stable at dt / dy = 1.6 and amplifies
#: round-off at 2.6 (JAX and numpy diverge by 0.2 after 100 steps), so 2 is the limit.
MAX_SL_COURANT = 2.0

#: the most time steps a grid is ever asked for (a need beyond it is the problem's, not a setting's)
MAX_TIME_STEPS = 10**7


def power_functions(beta: float, xp=jnp) -> tuple[Callable, Callable]:
    """``(z -> z^(1+beta), z -> z^(1/beta))`` for ``z >= 0``: :meth:`PowerLawImpact.power` and
    :meth:`PowerLawImpact.power_inverse` (exponent specialised there)."""
    law = PowerLawImpact(eta=1.0, beta=float(beta))
    return (lambda z: law.power(xp, z)), (lambda z: law.power_inverse(xp, z))


def holdings_gradient(w, dy, xp):
    """``dW/dy`` along the last axis: central inside, one-sided at the ends."""
    inner = (w[..., 2:] - w[..., :-2]) / (2 * dy)
    first = (w[..., 1:2] - w[..., 0:1]) / dy
    last = (w[..., -1:] - w[..., -2:-1]) / dy
    return xp.concatenate([first, inner, last], axis=-1)


def semi_lagrangian_step(w, theta_old, theta_new, y, y_1pb, y_b, c, h, beta, xp, interpolator, first=False, safeguard=False,
                         risk=None, s2=None):
    """The semi-Lagrangian half step (before the s-step); ``w`` is (ns, ny).

    Control: the first-order condition with the gradient at ``y``. With ``safeguard`` the
    exact minimizer of the singular part alone, ``y / theta_{n+1}`` (independent of ``W``), is
    tried too and the cheaper kept; measured within ``MAX_SL_COURANT`` it changes the value by
    < 1e-10 relative and costs 2x, so it is off by default (it does not cure the instability
    beyond the limit either). On the first step (``theta_old = 0``, ``first`` true) the control is the
    forced liquidation ``y / dt`` and the singular term at the departure point (``z = 0``) is 0.
    ``interpolator(w)`` returns ``interp(idx, frac) = W[idx] + frac (W[idx + 1] - W[idx])`` along
    each row (``idx`` in ``[0, ny - 2]``): :func:`hjb.pde.reference.numpy_interpolator` or :func:`jax_interpolator`,
    the same arithmetic.

    With ``risk`` (``B``, (ns, ny)) and ``s2`` (``s^2`` per row) it also steps the policy's risk
    ``B = E[int s^2 y^2 dtheta]`` along the same control and departure points (trapezoid source,
    the same interpolation) and returns ``(W, B)``; then ``W - k B`` (``c = k s^2``) is exactly the
    policy's scaled temporary cost on the grid.
    """
    pow_1pb, inv_beta = power_functions(beta, xp)
    ny = w.shape[1]
    dy = y[1] - y[0]
    grad = holdings_gradient(w, dy, xp)
    inv_old = xp.where(first, 0.0, xp.where(first, 1.0, theta_old) ** (-beta))
    interp = interpolator(w)
    int_type = np.int32 if xp is np else jnp.int32

    def cost(r):
        z = xp.maximum(y - r * h, 0.0)
        pos = z * (ny - 1)
        idx = xp.clip(xp.floor(pos).astype(int_type), 0, ny - 2)
        w_dep = interp(idx, pos - idx)
        return h * (pow_1pb(r) + 0.5 * c[:, None] * (y * y + z * z)) + pow_1pb(z) * inv_old + w_dep, z, idx, pos - idx

    def risk_step(z, idx, frac):
        return 0.5 * h * s2[:, None] * (y * y + z * z) + interpolator(risk)(idx, frac)

    p = y_b * theta_new ** (-beta) + grad / (1.0 + beta)
    out, z, idx, frac = cost(xp.minimum(inv_beta(xp.maximum(p, 0.0)), y / h))
    new_risk = risk_step(z, idx, frac) if risk is not None else None
    if safeguard:
        other, z2, idx2, frac2 = cost(xp.broadcast_to(y / theta_new, out.shape))
        if risk is not None:
            new_risk = xp.where(other < out, risk_step(z2, idx2, frac2), new_risk)
        out = xp.minimum(out, other)
    out = out - y_1pb * theta_new ** (-beta)
    return out if risk is None else (out, new_risk)


def jax_interpolator(w) -> Callable:
    """Linear interpolation along rows by two row-wise gathers (``take_along_axis``), bit for bit
    the table form of :func:`_numpy_interpolator`. Measured on the CPU (256 x 64 x 1000, dense
    s-step, same process): ~150 ms against ~215 ms with one gather of pairs from the stacked
    (ns * ny, 2) table; under the XLA profiler, building that interleaved table alone took
    ~80 us per step and the fusion with the pair gather ~4x as long as with these two."""

    def interp(idx, frac):
        lo = jnp.take_along_axis(w, idx, axis=1, mode="promise_in_bounds")  # idx in [0, ny - 2]
        hi = jnp.take_along_axis(w, idx + 1, axis=1, mode="promise_in_bounds")
        return lo + frac * (hi - lo)

    return interp


def _full_scan(c, lower, diagonal, upper, h, j0, s_operator, s2=None, *, beta: float, ny: int, n_slices: int,
               per_slice: int, explicit: bool, keep: bool, safeguard: bool = False, s_solve: str = "inverse",
               moments: bool = False):
    """JAX kernel. Returns ``W`` at theta = T (ns, ny) and, if ``keep``, ``W`` at slice ends
    (N, ns, ny) and ``W[j0]`` at every step (n_t, ny) (theta order). ``s_operator`` is the dense
    ``(I - dt L_s)^-1`` (``s_solve="inverse"``) or :func:`reduction_coefficients` (``"reduction"``).
    With ``moments`` (``s2`` = ``s^2`` per row) the first output is ``(W, B)``: the policy's risk
    ``B`` rides along (:func:`semi_lagrangian_step`), its s-step applied with ``W``'s."""
    ns = c.shape[0]
    y = jnp.linspace(0.0, 1.0, ny)
    y_1pb = power_functions(beta)[0](y)
    y_b = y**beta if beta not in (0.5, 1.0) else (jnp.sqrt(y) if beta == 0.5 else y)

    def s_step(w):
        if ns == 1:
            return w
        if explicit:
            return w + h * (diagonal[:, None] * w + lower[:, None] * jnp.roll(w, 1, axis=0)
                            + upper[:, None] * jnp.roll(w, -1, axis=0))
        if s_solve == "reduction":
            return reduction_solve(s_operator, w)
        return s_operator @ w

    def semi_lagrangian(w, n):
        theta_old = n * h
        if moments:  # w is (ns, 2 ny): W then B, one s-step for both
            out, risk = semi_lagrangian_step(w[:, :ny], theta_old, theta_old + h, y, y_1pb, y_b, c, h, beta, jnp,
                                             jax_interpolator, first=(n == 0), safeguard=safeguard,
                                             risk=w[:, ny:], s2=s2)
            return jnp.concatenate([out, risk], axis=1)
        return semi_lagrangian_step(w, theta_old, theta_old + h, y, y_1pb, y_b, c, h, beta, jnp, jax_interpolator,
                        first=(n == 0), safeguard=safeguard)

    # The loop carries the semi-Lagrangian output V^n (before the s-step): a step is
    # W^n = s_step(V^{n-1}), V^n = SL(W^n, n), with V^{-1} = 0 (so W^0 = 0). The same arithmetic
    # as s_step(SL(W)) per step, but the array the s-step reads is then a loop carry, which XLA
    # materializes: with the carry W instead, XLA fused the semi-Lagrangian step into the
    # strided reads of the cyclic reduction and split its gathers out (measured 2.4x slower than
    # the dense product; an optimization_barrier did not stop it on the CPU).
    def step(v, n):
        w = s_step(v)
        return semi_lagrangian(w, n), (w[j0, :ny] if keep else None)

    def one_slice(v, first):
        v, path = lax.scan(step, v, first + jnp.arange(per_slice))
        return v, ((s_step(v)[:, :ny], path) if keep else None)

    width = 2 * ny if moments else ny
    v_final, out = lax.scan(one_slice, jnp.zeros((ns, width)), per_slice * jnp.arange(n_slices))
    both = s_step(v_final)
    w_final = (both[:, :ny], both[:, ny:]) if moments else both
    if not keep:
        return w_final, None, None
    # the path rows are W^0 .. W^{n_t - 1}; drop W^0 = 0 and append W^{n_t}
    return w_final, out[0], jnp.concatenate([out[1].reshape(-1, ny)[1:], both[j0, :ny][None]])


full_kernel = jax.jit(_full_scan, static_argnames=("beta", "ny", "n_slices", "per_slice", "explicit", "keep",
                                                 "safeguard", "s_solve", "moments"))


def full_hjb_arrays(c, lower, diagonal, upper, h, *, beta, ny, n_slices, per_slice, j0=0, explicit=False,
                    keep=False, safeguard=False, generator=None, s_solve: str | None = None, s2=None):
    """The compiled kernel on plain arrays (benchmarks, GPU script): returns
    ``(W_final, W at slice ends, W[j0] per step, compile_seconds, run_seconds)``; with ``s2``
    (``s^2`` per row) ``W_final`` is the pair ``(W, B)``, ``B`` the policy's risk. ``generator``
    (dense, states x states) replaces the tridiagonal ``L_s`` (a regime chain's ``Q``).
    ``s_solve``: how the implicit s-step is applied, one of :data:`S_SOLVES` (default
    :func:`default_s_solve`); the two agree to round-off (1e-15 relative per step)."""
    ns = int(np.size(c))
    if s_solve is None:
        s_solve = default_s_solve(ns, explicit=explicit, generator=generator is not None)
    if s_solve not in S_SOLVES:
        raise SpecError("s_solve", s_solve, f"must be one of {S_SOLVES}")
    if generator is not None:
        if explicit:
            raise SpecError("settings.s_stepping", "explicit", "a regime chain is stepped implicitly only")
        if s_solve != "inverse":
            raise SpecError("s_solve", s_solve, "a regime chain's dense generator is applied by its inverse only")
        s_operator = np.linalg.inv(np.eye(ns) - h * np.asarray(generator, dtype=np.float64))
    elif ns > 1 and not explicit:
        s_operator = (reduction_coefficients(lower, diagonal, upper, h) if s_solve == "reduction"
                      else implicit_s_matrix(lower, diagonal, upper, h))
    else:
        s_operator = np.eye(1)
    args = tuple(jnp.asarray(v, dtype=jnp.float64) for v in (c, lower, diagonal, upper)) + (
        float(h), int(j0), jnp.asarray(s_operator), None if s2 is None else jnp.asarray(s2, dtype=jnp.float64))
    (w, ends, paths), compile_s, run_s = compiled(
        full_kernel, *args, beta=float(beta), ny=int(ny), n_slices=int(n_slices), per_slice=int(per_slice),
        explicit=bool(explicit), keep=bool(keep), safeguard=bool(safeguard), s_solve=s_solve,
        moments=s2 is not None)
    return w, ends, paths, compile_s, run_s


@dataclass
class FullSolution:
    """``U = V / (eta |X|^(1+beta)) = y^(1+beta) theta^-beta + W`` on the ``(s, y)`` grid.

    Attributes:
        states: the ``s`` grid, the regime levels, or ``[sigma_0]``; ``start_index`` is the node
            of ``sigma_0`` (the initial regime); ``kind`` is ``"grid"``, ``"regimes"`` or ``"constant"``.
        y: holdings grid as a fraction of ``|X|`` (ny points on [0, 1]).
        beta: impact exponent.
        w_start: ``W`` at ``t = 0`` (ns, ny).
        w_slices: ``W`` at ``t_{k-1}``, k = 1..N (N, ns, ny), t order (slice 1 first).
        theta: fine time-to-go grid (n_t + 1 points).
        w_path: ``W(theta_n, ., sigma_0)`` for n = 0..n_t (n_t + 1, ny) (row 0 is zeros).
        value_scale: ``eta |X|^(1+beta)`` (currency).
        risk_start: ``B`` at ``t = 0`` (ns, ny): the feedback policy's ``E[int s^2 y^2 dt]``
            from ``(0, y, s)`` on the same grid, along the same control (volatility^2 x time unit).
    """

    states: np.ndarray
    start_index: int
    y: np.ndarray
    beta: float
    w_start: np.ndarray
    w_slices: np.ndarray
    theta: np.ndarray
    w_path: np.ndarray
    value_scale: float
    horizon: float
    diagnostics: dict[str, Any] = field(default_factory=dict)
    kind: str = "grid"
    risk_start: np.ndarray | None = None

    @property
    def value(self) -> float:
        """``V(0, X, sigma_0)`` without the trajectory constants (currency)."""
        return self.value_scale * (self.horizon ** (-self.beta) + float(self.w_start[self.start_index, -1]))

    @property
    def risk(self) -> float:
        """``E[int sigma_t^2 y_t^2 dt]`` of the policy from ``(0, 1, sigma_0)``; the variance is
        ``X^2`` times this (currency^2, the conventions page's ``V``)."""
        return float(self.risk_start[self.start_index, -1])

    def rate(self, theta: float, w_row: np.ndarray, y: np.ndarray, dt: float) -> np.ndarray:
        """Scaled rate ``r`` at holdings ``y`` from a row of ``W`` (the scheme's control rule)."""
        _, inv_beta = power_functions(self.beta, np)
        dy = self.y[1] - self.y[0]
        grad = np.interp(y, self.y, holdings_gradient(w_row, dy, np))
        p = np.maximum(y, 0.0) ** self.beta * theta ** (-self.beta) + grad / (1.0 + self.beta)
        return np.clip(inv_beta(np.maximum(p, 0.0)), 0.0, np.maximum(y, 0.0) / dt)


def solve_full(problem: ExecutionProblem, settings: HJBSettings | None = None) -> FullSolution:
    """Solve the full HJB of ``problem`` (any ``beta``; constant or mean-reverting volatility)."""
    settings = settings or HJBSettings()
    check_problem(problem)
    a = problem.asset
    model = problem.volatility_model
    eta, lam, beta, big_x = a.temporary_impact, problem.risk_aversion, a.impact_exponent, abs(a.holdings)
    n_t, per_slice = settings.steps_for(problem.slices)
    h = problem.horizon / n_t
    ny = settings.holdings_points
    courant = h * (ny - 1)  # dt / dy in the scaled holdings y = x / |X| (rates r ~ 1 / time unit)
    if courant > MAX_SL_COURANT:
        need = math.ceil(problem.horizon * (ny - 1) / MAX_SL_COURANT)
        if need > MAX_TIME_STEPS:  # no setting can fix it: not the user's setting
            raise SolverError("hjb", "unresolved", f"dt / dy = {courant:.3g} > {MAX_SL_COURANT:g} on a horizon of "
                              f"{problem.horizon:g} time units would need {need:.3g} time steps (> {MAX_TIME_STEPS:g})")
        raise SpecError("settings.time_steps", settings.time_steps,
                        f"too coarse for the semi-Lagrangian FOC scheme: dt / dy = {h:.4g} * {ny - 1} = {courant:.3g} "
                        f"> {MAX_SL_COURANT:g} (dt = T / steps, dy = 1 / (holdings_points - 1)); "
                        f"use time_steps >= {need} or fewer holdings_points")
    diag: dict[str, Any] = {"time_steps": n_t, "steps_per_slice": per_slice, "dt": h, "holdings_points": ny,
                            "dy_fraction": 1.0 / (ny - 1)}
    generator = None
    vol = discretize(problem, settings)
    kind = vol.kind
    if vol.kind == "constant" or problem.has_constant_volatility:
        s = np.array([a.volatility])
        j0 = 0
        lower = diagonal = upper = np.zeros(1)
        number = 0.0
        diag.update(vol_points=1)
        explicit = False
        kind = "constant"
    elif vol.kind == "regimes":
        s, j0, generator = vol.states, vol.start_index, vol.generator
        lower = diagonal = upper = np.zeros(s.size)
        number = float(h * np.max(np.abs(np.diag(generator))))
        explicit = False
        diag.update(regimes=int(s.size))
    elif vol.kind == "grid":
        grid = vol.grid
        s, j0, lower, diagonal, upper = grid.s, grid.start_index, grid.lower, grid.diagonal, grid.upper
        number = grid.stability_number(h)
        explicit = settings.s_stepping == "explicit"
        if explicit and number > 1.0:
            raise SpecError("settings.time_steps", settings.time_steps,
                            f"explicit s-stepping is unstable: dt * max(b/ds^2 + |mu|/ds) = {number:.4g} > 1 "
                            f"(dt = {h:.4g}, ds = {grid.ds:.4g}); use more time steps or s_stepping='implicit'")
        diag.update(vol_points=int(s.size), vol_min=float(s[0]), vol_max=float(s[-1]), ds=grid.ds,
                    coverage_sds=grid.coverage_sds)
    else:
        raise MethodNotApplicable("hjb", f"the full HJB supports constant, mean-reverting and regime volatility, "
                                  f"not {model.kind!r} (with linear impact the reduced HJB handles it)")
    c = riccati_source(problem, s)
    s_solve = default_s_solve(s.size, explicit=explicit, generator=generator is not None)
    w, ends, paths, compile_s, run_s = full_hjb_arrays(
        c, lower, diagonal, upper, h, beta=beta, ny=ny, n_slices=problem.slices, per_slice=per_slice, j0=j0,
        explicit=explicit, keep=True, generator=generator, s_solve=s_solve, s2=s**2)
    w, risk = np.asarray(w[0]), np.asarray(w[1])
    if not np.all(np.isfinite(w)):
        raise SolverError("hjb", "numerical_error", f"the full HJB produced non-finite values on this grid "
                          f"({n_t} time steps, {ny} holdings points)")
    ends = np.asarray(ends)  # theta order: ends[i] is W at theta = (i + 1) tau
    # W at t_{k-1} for k = 1..N: theta = (N - k + 1) tau -> ends[N - k]
    w_slices = ends[::-1].copy()
    w_path = np.vstack([np.zeros((1, ny)), np.asarray(paths)])
    theta = h * np.arange(n_t + 1)
    diag.update(
        scheme="sl-fe" if explicit else "sl-be-lie",
        unknown="w=u-y^(1+beta)/theta^beta",
        boundary_conditions="no-flux",
        stability_number=number, semi_lagrangian_courant=courant,
        s_solve=("none" if s.size == 1 else "explicit" if explicit else s_solve),
        order_time=1, moments_scheme="sl-along-policy",
        compile_seconds=compile_s, run_seconds=run_s,
    )
    return FullSolution(states=s, start_index=j0, y=np.linspace(0.0, 1.0, ny), beta=beta, w_start=w,
                        w_slices=w_slices, theta=theta, w_path=w_path, value_scale=eta * big_x ** (1.0 + beta),
                        horizon=problem.horizon, diagnostics=diag, kind=kind, risk_start=risk)
