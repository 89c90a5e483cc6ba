"""Independent references for the HJB's accuracy (shared by its tests and the ``hjb`` suite).

Chebyshev collocation in the volatility with scipy's Radau in time for mean-reverting volatility
(:func:`mean_reverting_reference`), Radau on the regime Riccati system (:func:`regime_reference`),
and the first integral of the Euler-Lagrange equation (Almgren 2003) by quadrature for power-law
impact (:func:`almgren_2003`); objectives in currency. None of them uses the HJB's own schemes.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.integrate import quad, solve_ivp
from scipy.optimize import brentq

from hjb.pde import HJBSettings
from hjb.pde.reduced import volatility_grid

__all__ = ["mean_reverting_reference", "regime_reference", "almgren_2003", "objective_from_urgency"]


def _chebyshev(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Chebyshev-Lobatto differentiation matrix and nodes on [-1, 1] (Trefethen's cheb)."""
    x = np.cos(np.pi * np.arange(n + 1) / n)
    c = np.hstack([2.0, np.ones(n - 1), 2.0]) * (-1.0) ** np.arange(n + 1)
    dx = x[:, None] - x[None, :]
    d = np.outer(c, 1.0 / c) / (dx + np.eye(n + 1))
    return d - np.diag(d.sum(axis=1)), x


def objective_from_urgency(problem, a_over_eta: float) -> float:
    """``eta X^2 a + 1/2 gamma X^2 + epsilon |X|`` for the urgency ``a = A(0, sigma_0) / eta`` (currency)."""
    a = problem.asset
    return a.temporary_impact * a.holdings**2 * a_over_eta + 0.5 * a.permanent_impact * a.holdings**2 \
        + a.spread * abs(a.holdings)


def mean_reverting_reference(problem, span: tuple[float, float] | None = None, n: int = 48) -> float:
    """Objective of the reduced HJB ``d_theta = c - 2 d / theta - d^2 + mu d_s + b/2 d_ss`` (``a = 1/theta +
    d``) by Chebyshev collocation on ``span`` (default: the HJB's default grid; the truncation of the
    volatility's range is the model's, not the scheme's, so a run is checked on its own span) with the
    diffusion dropped at the two end nodes, where the drift points inward, and Radau in theta (rtol 1e-12)."""
    model, a = problem.volatility_model, problem.asset
    if span is None:
        s_grid = volatility_grid(problem, HJBSettings()).s
        span = (float(s_grid[0]), float(s_grid[-1]))
    lo, hi = span
    d1, x = _chebyshev(n)
    s = lo + 0.5 * (hi - lo) * (x + 1.0)
    d1 = d1 * 2.0 / (hi - lo)
    b = model.vol_of_vol**2 * np.abs(s) ** (2.0 * model.elasticity)
    b[0] = b[-1] = 0.0
    op = model.reversion * (model.mean - s)[:, None] * d1 + 0.5 * b[:, None] * (d1 @ d1)
    c = problem.risk_aversion * s**2 / a.temporary_impact

    def rhs(theta, d):
        return c - (2.0 / theta if theta > 0 else 0.0) * d - d * d + op @ d

    def jac(theta, d):
        return op - np.diag((2.0 / theta if theta > 0 else 0.0) + 2.0 * d)

    d_end = solve_ivp(rhs, (0.0, problem.horizon), np.zeros(n + 1), method="Radau", jac=jac, rtol=1e-12,
                      atol=1e-14).y[:, -1]
    xs = 2.0 * (a.volatility - lo) / (hi - lo) - 1.0  # barycentric interpolation at sigma_0
    w = (-1.0) ** np.arange(n + 1)
    w[0] *= 0.5
    w[-1] *= 0.5
    d0 = float(np.sum(w * d_end / (xs - x)) / np.sum(w / (xs - x)))
    return objective_from_urgency(problem, 1.0 / problem.horizon + d0)


def regime_reference(problem) -> float:
    """Objective of the regime Riccati system ``d_theta = c - 2 d / theta - d^2 + Q d`` by Radau."""
    model, a = problem.volatility_model, problem.asset
    q = model.generator_array
    c = problem.risk_aversion * np.asarray(model.levels) ** 2 / a.temporary_impact

    def rhs(theta, d):
        return c - (2.0 / theta if theta > 0 else 0.0) * d - d * d + q @ d

    d_end = solve_ivp(rhs, (0.0, problem.horizon), np.zeros(c.size), method="Radau", rtol=1e-13, atol=1e-15).y[:, -1]
    return objective_from_urgency(problem, 1.0 / problem.horizon + d_end[model.initial_regime])


def almgren_2003(problem) -> float:
    """Continuous optimum with power-law impact and constant volatility (Almgren 2003): the first
    integral ``beta eta v^(1+beta) - k x^2 = k X^2 e`` (``k = lambda sigma^2``) fixes the rate as a
    function of ``x = X u``; ``e`` solves ``T = int dx / v``; the cost is ``int (eta v^(1+beta) + k x^2) / v dx``."""
    a = problem.asset
    big_x, eta, beta = abs(a.holdings), a.temporary_impact, a.impact_exponent
    k = problem.risk_aversion * a.volatility**2
    g = 1.0 / (1.0 + beta)

    def integral(fn, e):
        return quad(fn, 0.0, 1.0, points=[min(math.sqrt(e), 0.5)], epsabs=0.0, epsrel=1e-13, limit=400)[0]

    def rate(u, e):
        return (k * big_x**2 * (e + u * u) / (beta * eta)) ** g

    def duration(log_e):
        return math.log(big_x * integral(lambda u: 1.0 / rate(u, math.exp(log_e)), math.exp(log_e)) / problem.horizon)

    e = math.exp(brentq(duration, -60.0, 40.0, xtol=1e-14, rtol=1e-15))
    cost = big_x * integral(lambda u: (eta * rate(u, e) ** (1.0 + beta) + k * big_x**2 * u * u) / rate(u, e), e)
    return cost + 0.5 * a.permanent_impact * a.holdings**2 + a.spread * big_x
