"""Transient impact from bars and fills: a propagator regression of mid moves on signed volume.

With our signed shares ``n_i`` in bar ``i`` (sales positive) and an exponential kernel, the
observed mid moves by ``dm_i = -(gamma + a kappa_T) n_i + (1 - a) kappa_T sum_{j<i} a^(i-j) n_j +
noise``, ``a = exp(-rho h)``, ``h`` the bar spacing (the conventions page, "Transient impact").
For each ``rho`` the model is linear in ``(gamma, kappa_T)``; ``rho`` minimizes the profiled sum
of squares. Intervals: Gauss-Newton covariance, normal for ``kappa_T``, log-normal for ``rho``;
a ``kappa_T`` interval that includes 0 is "not identified" (no transient impact detected).
Entry point :func:`fit_transient_impact`; the free lag coefficients are in ``diagnostics``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.signal import lfilter

from .estimate import Estimate
from .impact import children_from_fills
from .market import bar_spacing, own_shares_per_bar
from .readers import Bars, Fills

__all__ = ["TransientFit", "fit_transient_impact", "lagged_regressor"]

METHOD = "propagator regression of mid moves on lagged signed volume (exponential kernel, profiled rho)"


@dataclass(frozen=True)
class TransientFit:
    """``transient_impact`` (currency / share per share), ``resilience`` (1 / time unit) and the
    permanent impact ``gamma`` fitted jointly with them (currency / share^2)."""

    transient_impact: Estimate
    resilience: Estimate
    diagnostics: dict[str, Any] = field(default_factory=dict)
    permanent_impact: Estimate | None = None
    covariance: np.ndarray | None = None  # of (permanent_impact, transient_impact, resilience)
    own_moves: np.ndarray | None = None  # fitted mid move of bar i from bar i-1 due to our trades (currency/share)


def lagged_regressor(n: np.ndarray, a: float, breaks: np.ndarray | None = None) -> np.ndarray:
    """``f_i = -a n_i + (1 - a) sum_{j<i} a^(i-j) n_j`` (shares), the transient part of ``dm_i``
    per unit ``kappa_T``; the memory restarts after a session break (``breaks[i]``: bar ``i``
    starts a new session)."""
    lag = np.empty_like(n)
    starts = [0] + ([] if breaks is None else [int(i) for i in np.flatnonzero(breaks) if i > 0]) + [n.size]
    for lo, hi in zip(starts[:-1], starts[1:]):  # lag_i = a (lag_{i-1} + n_{i-1}) within a session
        lag[lo:hi] = lfilter([0.0, a], [1.0, -a], n[lo:hi])
    return -a * n + (1.0 - a) * lag


def fit_transient_impact(fills: Fills, bars: Bars, *, confidence: float = 0.95, max_lags: int = 10,
                         rho_range: tuple[float, float] | None = None) -> TransientFit:
    """Estimate ``kappa_T`` and ``rho`` with intervals at ``confidence`` (see the module doc).

    ``rho_range`` (1 / time unit) bounds the search; default ``(1e-3, 20) / h``. A minimum on the
    bound, or a kernel the data cannot see, comes back not identified with the reason.
    """
    from scipy import stats  # heavy, lazily

    h = bar_spacing(bars)
    children = children_from_fills(fills, h)
    n = own_shares_per_bar(bars, children.start, children.duration, children.signed_shares)
    brk = np.r_[True, bars.sessions_break()]
    y, keep = np.diff(bars.mid, prepend=np.nan), ~brk
    lo, hi = rho_range if rho_range is not None else (1e-3 / h, 20.0 / h)
    grid = np.exp(np.linspace(math.log(lo), math.log(hi), 60))

    def _rss_kept(rho: float) -> float:
        x = np.column_stack([-n, lagged_regressor(n, math.exp(-rho * h), brk)])[keep]
        coef, *_ = np.linalg.lstsq(x, y[keep], rcond=None)
        r = y[keep] - x @ coef
        return float(r @ r)

    values = np.array([_rss_kept(r) for r in grid])
    i = int(np.argmin(values))
    units_k, units_r = "currency/share per share", "1/time"
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    if i in (0, grid.size - 1):
        reason = f"the profiled fit puts rho on the search bound {grid[i]:.3g}: no decay visible in the data"
        return TransientFit(Estimate.not_identified("transient_impact", reason, units_k, METHOD, confidence),
                            Estimate.not_identified("resilience", reason, units_r, METHOD, confidence),
                            {"bar_spacing": h})
    # refine on log rho by golden section between the neighbours
    left, right = math.log(grid[i - 1]), math.log(grid[i + 1])
    g = (math.sqrt(5) - 1) / 2
    for _ in range(40):
        m1, m2 = right - g * (right - left), left + g * (right - left)
        if _rss_kept(math.exp(m1)) < _rss_kept(math.exp(m2)):
            right = m2
        else:
            left = m1
    rho = math.exp(0.5 * (left + right))
    a = math.exp(-rho * h)
    regressors = np.column_stack([-n, lagged_regressor(n, a, brk)])
    x = regressors[keep]
    coef, *_ = np.linalg.lstsq(x, y[keep], rcond=None)
    gamma, kappa = (float(c) for c in coef)
    resid = y[keep] - x @ coef
    dof = max(int(keep.sum()) - 3, 1)
    s2 = float(resid @ resid) / dof
    da = 1e-6 * max(a, 1e-12)
    dfda = (lagged_regressor(n, a + da, brk) - lagged_regressor(n, a - da, brk))[keep] / (2 * da)
    jac = np.column_stack([x, kappa * dfda * (-h * a)])  # d/d(gamma, kappa, rho)
    scale = np.linalg.norm(jac, axis=0)
    scale[scale == 0] = 1.0
    cov = s2 * np.linalg.pinv((jac / scale).T @ (jac / scale)) / np.outer(scale, scale)
    se_g, se_k, se_r = (math.sqrt(max(cov[j, j], 0.0)) for j in range(3))
    perm = Estimate("permanent_impact", gamma, se_g, gamma - z * se_g, gamma + z * se_g, confidence,
                    "currency/share^2", METHOD + ", jointly with the kernel")
    kap = Estimate("transient_impact", kappa, se_k, kappa - z * se_k, kappa + z * se_k, confidence, units_k, METHOD)
    spread = z * se_r / rho
    res = Estimate("resilience", rho, se_r, rho * math.exp(-spread), rho * math.exp(spread), confidence, units_r,
                   METHOD + ", log-normal interval")
    if not kap.ci_low > 0:
        reason = (f"kappa_T estimate {kappa:.3g} <= 0" if not kappa > 0 else
                  f"kappa_T interval {kap.ci_low:.3g} .. {kap.ci_high:.3g} includes 0: no transient impact detected")
        kap = Estimate.not_identified("transient_impact", reason, units_k, METHOD, confidence)
        res = Estimate.not_identified("resilience", reason, units_r, METHOD, confidence)
    lags = np.column_stack([np.roll(n, l) for l in range(max_lags + 1)])[keep][max_lags:]
    free, *_ = np.linalg.lstsq(lags, y[keep][max_lags:], rcond=None)
    diag = {"bar_spacing": h, "permanent_plus_instant": gamma, "residual_sd": math.sqrt(s2), "increments": int(keep.sum()),
            "free_lag_coefficients": free.tolist()}
    own = regressors @ coef
    own[brk] = 0.0
    return TransientFit(kap, res, diag, perm, cov, own)
