"""One slice of the backward induction: stage cost, continuation interpolation and the 1-D minimization.

Scaled units: ``q = x / X`` in ``[0, 1]``, costs in ``c0 = T eta (|X|/T)^(1+beta)``. Stage of a trade
``n = q - y``: ``A n^(1+beta) - G n^2 + E n + lam rho y^2 + D y`` (:func:`stage_coefficients`; powers from
:class:`solvers.impact.PowerLawImpact`). Continuations are cubic Hermite in ``u`` on nodes ``q = U u^p``
with envelope slopes and Hyman's filter; the minimizer is found on ``g'`` by bisection or safeguarded
Newton. Written against an array module ``xp`` (numpy or jax.numpy): the JAX scan, the numpy loop and
the policy evaluate the same formulas. Derivations: ``solvers/docs/theory-dp.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from solvers.impact import PowerLawImpact, impact_model
from solvers.spec import ExecutionProblem

__all__ = ["StageCoefficients", "stage_coefficients", "impact", "impact_slope", "impact_curvature", "hyman_slopes", "hermite", "grid_nodes", "prepare_tables", "interpolate",
           "minimize_stage"]


@dataclass(frozen=True)
class StageCoefficients:
    """Scaled cost coefficients of the stage (see the module docstring); ``beta`` is static."""

    A: float
    G: float
    E: float
    D: float
    beta: float
    c0: float  # currency per cost unit


def _shape(c: StageCoefficients) -> PowerLawImpact:
    """The law ``n -> n^(1+beta)`` (unit ``eta``) whose exponent specialisation the stage uses."""
    return PowerLawImpact(eta=1.0, beta=float(c.beta))


def impact(xp: Any, c: StageCoefficients, n):
    """``A n^(1+beta) - G n^2 + E n`` for ``n >= 0`` (:meth:`PowerLawImpact.power`)."""
    return c.A * _shape(c).power(xp, n) - c.G * n * n + c.E * n


def impact_slope(xp: Any, c: StageCoefficients, n):
    """``d/dn`` of :func:`impact`: ``A (1+beta) n^beta - 2 G n + E``."""
    return c.A * _shape(c).power_slope(xp, n) - 2.0 * c.G * n + c.E


def impact_curvature(xp: Any, c: StageCoefficients, n):
    """``d^2/dn^2`` of :func:`impact` (``n > 0``; infinite at ``n = 0`` when ``beta < 1``)."""
    return c.A * _shape(c).power_curvature(xp, n) - 2.0 * c.G


def stage_coefficients(problem: ExecutionProblem) -> tuple[StageCoefficients, float]:
    """Stage coefficients in cost units ``c0 = T eta (|X|/T)^(1+beta)``, and ``rho_unit =
    tau X^2 / c0`` (the risk weight of a slice is ``rho_unit sigma^2``).

    The ratios are formed without ``c0`` (``X^2 / c0 = |X|^(1-beta) T^beta / eta``, ``A = N^beta``), so
    the scaled problem of an order of ``1e-200`` or ``1e100`` shares is as well posed as any other;
    only ``c0`` itself (the currency scale of the answer) may underflow or overflow."""
    a = problem.asset
    big_x, tau, beta, horizon = abs(a.holdings), problem.tau, a.impact_exponent, problem.horizon
    eta = a.temporary_impact
    if not (eta > 0 and big_x > 0 and math.isfinite(big_x)):
        c0 = impact_model(a).cost_unit(a.holdings, horizon)
        coeff = StageCoefficients(
            A=tau * eta * (big_x / tau) ** (1.0 + beta) / c0,
            G=0.5 * a.permanent_impact * big_x**2 / c0,
            E=a.spread * big_x / c0,
            D=-tau * a.drift * a.holdings / c0,
            beta=beta, c0=c0,
        )
        return coeff, tau * big_x**2 / c0
    log_x, log_t, log_eta = math.log(big_x), math.log(horizon), math.log(eta)
    per_x = math.exp(beta * (log_t - log_x) - log_eta)  # |X| / c0 (1 / currency per share)
    per_x2 = math.exp((1.0 - beta) * log_x + beta * log_t - log_eta)  # X^2 / c0
    try:
        c0 = math.exp(log_eta + (1.0 + beta) * log_x - beta * log_t)
    except OverflowError:
        c0 = math.inf
    sign = 1.0 if a.holdings > 0 else -1.0
    coeff = StageCoefficients(
        A=(horizon / tau) ** beta,
        G=0.5 * a.permanent_impact * per_x2,
        E=a.spread * per_x,
        D=-tau * a.drift * sign * per_x,
        beta=beta, c0=c0,
    )
    return coeff, tau * per_x2


def hyman_slopes(xp: Any, values, slopes, spacing):
    """Hyman's monotonicity filter on node slopes (last axis is the grid)."""
    delta = (values[..., 1:] - values[..., :-1]) / spacing
    left = xp.concatenate([delta[..., :1], delta], axis=-1)
    right = xp.concatenate([delta, delta[..., -1:]], axis=-1)
    same = left * right > 0
    sign = xp.where(right > 0, 1.0, -1.0)
    bound = 3.0 * xp.minimum(xp.abs(left), xp.abs(right))
    clipped = sign * xp.clip(sign * slopes, 0.0, bound)
    return xp.where(same, clipped, 0.0)


def hermite(xp: Any, values, slopes, spacing, points: int, y, state, second: bool = False):
    """Cubic Hermite interpolant and its derivative (and second derivative if ``second``) at ``y`` (any shape) on the uniform grid
    ``0, h, ..., (points-1) h``; ``values``/``slopes`` have shape ``(S, points)`` and ``state``
    (broadcastable to ``y``) picks the row."""
    u = y / spacing
    cell = xp.clip(xp.floor(u), 0, points - 2).astype("int32" if xp.__name__.startswith("jax") else int)
    t = xp.clip(u - cell, 0.0, 1.0)
    v0, v1 = values[state, cell], values[state, cell + 1]
    m0, m1 = slopes[state, cell] * spacing, slopes[state, cell + 1] * spacing
    t2 = t * t
    t3 = t2 * t
    val = (2 * t3 - 3 * t2 + 1) * v0 + (t3 - 2 * t2 + t) * m0 + (-2 * t3 + 3 * t2) * v1 + (t3 - t2) * m1
    der = ((6 * t2 - 6 * t) * (v0 - v1) + (3 * t2 - 4 * t + 1) * m0 + (3 * t2 - 2 * t) * m1) / spacing
    if not second:
        return val, der
    curv = ((12 * t - 6) * (v0 - v1) + (6 * t - 4) * m0 + (6 * t - 2) * m1) / (spacing * spacing)
    return val, der, curv


def grid_nodes(xp: Any, extent, points: int, power: int):
    """Holdings nodes ``q_m = U u_m^p``, ``u_m = m / (M - 1)``: uniform for ``p = 1``, graded towards
    ``q = 0`` for ``p = 2`` (used for ``beta < 1``, where ``W ~ q^(1+beta)`` is not smooth at 0 in
    ``q`` but is a cubic-like ``u^(2+2 beta)`` in ``u``)."""
    u = xp.linspace(0.0, 1.0, points)
    return extent * u**power


def prepare_tables(xp: Any, values, slopes, extent, points: int, power: int):
    """Node slopes in ``u`` (``dW/du = W'(q) dq/du``), Hyman-filtered: the tables that
    :func:`interpolate` reads. ``values``/``slopes`` (d/dq) have shape ``(S, M)``."""
    u = xp.linspace(0.0, 1.0, points)
    dq_du = power * extent * u ** (power - 1)
    return hyman_slopes(xp, values, slopes * dq_du, 1.0 / (points - 1))


def interpolate(xp: Any, values, slopes_u, extent, points: int, power: int, y, state, second: bool = False):
    """``W(y)``, ``W'(y)`` (and ``W''(y)``) from Hermite tables in ``u`` (see :func:`prepare_tables`),
    ``y`` in ``[0, U]``. At ``u = 0`` with ``p = 2`` the derivative is the limit ``H_uu / q_uu``."""
    safe = xp.where(extent > 0, extent, 1.0)
    ratio = xp.clip(y / safe, 0.0, 1.0)
    u = ratio if power == 1 else xp.sqrt(ratio)
    out = hermite(xp, values, slopes_u, 1.0 / (points - 1), points, u, state, True)
    h, h_u, h_uu = out
    if power == 1:
        wy, wyy = h_u / safe, h_uu / (safe * safe)
    else:  # q = U u^2: q_u = 2 U u, q_uu = 2 U
        q_u = 2.0 * safe * u
        small = u < 1e-8
        wy = xp.where(small, h_uu / (2.0 * safe), h_u / xp.where(small, 1.0, q_u))
        wyy = xp.where(small, 0.0, (h_uu - wy * 2.0 * safe) / xp.where(small, 1.0, q_u * q_u))
    return (h, wy, wyy) if second else (h, wy)


def minimize_stage(
    xp: Any, c: StageCoefficients, q, lo, hi, risk, continuation: Callable, iterations: int,
    stage_minimizer: str = "bisection",
):
    """Minimize ``g(y) = impact(q - y) + risk y^2 + D y + C(y)`` over ``[lo, hi]`` (elementwise).

    ``continuation(y, second) -> (C, C')``, or ``(C, C', C'')`` when ``second``; ``risk = lam * rho``
    broadcastable to ``q``. ``stage_minimizer``: ``"bisection"`` halves the bracket on the sign of ``g'``
    ``iterations`` times; ``"newton"`` takes safeguarded Newton steps on ``g' = 0`` (a step leaving
    the current bracket is replaced by bisection), quadratic near the root.
    Returns ``(y*, g(y*), g'(y*), resolution)``: the minimizer, its value, the derivative there
    (zero at an interior root, the bound's slope otherwise) and the final bracket width
    (bisection) or last step (Newton), zero where a bound is optimal.
    """

    def grad(y, second=False):
        n = q - y
        out = continuation(y, second)
        g1 = -impact_slope(xp, c, n) + 2.0 * risk * y + c.D + out[1]
        if not second:
            return g1
        return g1, impact_curvature(xp, c, n) + 2.0 * risk + out[2]

    g_lo, g_hi = grad(lo), grad(hi)
    at_lo = g_lo >= 0
    at_hi = (g_hi <= 0) & ~at_lo
    a, b = lo, hi
    y0 = 0.5 * (a + b)
    step0 = b - a

    def bisect(state):
        a, b, y, step, _ = state
        mid = 0.5 * (a + b)
        up = grad(mid) > 0
        a, b = xp.where(up, a, mid), xp.where(up, mid, b)
        return a, b, 0.5 * (a + b), b - a, step

    def newton(state):
        # rtsafe (Numerical Recipes): Newton inside the bracket, bisection when the step would
        # leave it or would not halve the step before last (at least linear convergence)
        a, b, y, step, step_old = state
        g1, g2 = grad(y, True)
        up = g1 > 0
        a, b = xp.where(up, a, y), xp.where(up, y, b)
        trial = y - g1 / xp.where(g2 > 0, g2, 1.0)
        ok = (g2 > 0) & (trial > a) & (trial < b) & (xp.abs(2.0 * g1) <= xp.abs(step_old * g2))
        new = xp.where(ok, trial, 0.5 * (a + b))
        new = xp.where(g1 == 0, y, new)
        return a, b, new, xp.abs(new - y), step

    body = newton if stage_minimizer == "newton" else bisect
    state = (a, b, y0, step0, step0)
    if xp.__name__.startswith("jax"):
        import jax

        state = jax.lax.fori_loop(0, iterations, lambda _, st: body(st), state)
    else:
        for _ in range(iterations):
            state = body(state)
    interior = ~(at_lo | at_hi)
    y = xp.where(at_lo, lo, xp.where(at_hi, hi, state[2]))
    resolution = xp.where(interior, state[3], 0.0)
    cval, cder = continuation(y, False)[:2]
    n = q - y
    value = impact(xp, c, n) + risk * y * y + c.D * y + cval
    slope_y = -impact_slope(xp, c, n) + 2.0 * risk * y + c.D + cder
    return y, value, xp.where(interior, 0.0, slope_y), resolution
