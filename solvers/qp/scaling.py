"""The spec in scaled units, shared by the CVXPY model, the polish and the structured path.

Scaled holdings ``y_ki = x_ki / X_i`` (``y_0 = 1``, ``y_N = 0``), trades ``d_ki = y_(k-1)i - y_ki``,
costs in the unit ``K = sum_i T eta_i (|X_i| / T)^(1 + beta_i)`` (currency); then
``E + lambda V = 1/2 X' Gamma X + K f(y)`` with

    f(y) = sum_k q(d_k) + sum_k e' |d_k| + sum_{k=1..N} y_k' W_k y_k + g' sum_{k=1..N} y_k.

Entry point :func:`scale_problem`; the terms of ``f`` are derived on the page
``solvers/docs/theory-qp.md``. Reported costs always come from :mod:`solvers.costs`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MethodNotApplicable, SpecError
from ..impact import PowerLawImpact, impact_model
from ..spec import ExecutionProblem
from ..transient import transient_model
from .kernel_terms import ScaledTransient, objective_term, scaled_transient

__all__ = ["ScaledProblem", "scale_problem"]


@dataclass(frozen=True)
class ScaledProblem:
    """Numbers of the scaled problem (see the module docstring). Shapes: ``N`` slices, ``m`` assets."""

    problem: ExecutionProblem
    N: int
    m: int
    X: np.ndarray                 # (m,) signed order, shares
    K: float                      # cost unit, currency
    linear: bool                  # all beta = 1: q(d) = d'Qd
    Q: np.ndarray | None          # (m, m) linear case
    c: np.ndarray                 # (m,) power coefficients (nonlinear case)
    p: np.ndarray                 # (m,) exponents 1 + beta
    P: np.ndarray                 # (m, m) concave permanent part (nonlinear case)
    e: np.ndarray                 # (m,) spread
    W: np.ndarray | None          # (N, m) diagonal risk weights, or None
    M: np.ndarray | None          # (m, m) dense risk matrix (same every slice), or None
    g: np.ndarray                 # (m,) drift coefficient of sum_k y_k
    cap: np.ndarray               # (N, m) cap on |d| (inf: none)
    no_reversal: bool
    ylo: np.ndarray               # (m,) lower bound on y_k, k = 1..N-1 (-inf: none)
    yhi: np.ndarray               # (m,) upper bound
    band_w: np.ndarray | None     # (m,) price_i X_i / B: the dollar imbalance of d_k is band_w . d_k
    band: np.ndarray | None       # (N,) band / B
    band_scale: float             # B = sum_i |price_i X_i|, currency
    factor: np.ndarray | None = None       # (m, r) F with M = F F' + diag(factor_diag) (factor model)
    factor_diag: np.ndarray | None = None  # (m,)
    laws: tuple[PowerLawImpact, ...] = ()  # (m,) each asset's impact law: c_i laws[i].power(|d_i|)
    log_K: float = 0.0                     # log of K (K itself may under- or overflow)

    def per_share(self) -> np.ndarray:
        """``K / |X_i|`` (currency per share): a scaled multiplier on ``d_i`` in currency per share."""
        return np.exp(self.log_K - np.log(np.abs(self.X)))
    transient: tuple[ScaledTransient, ...] = ()  # the assets' transient kernel terms (kernel_terms.py)

    def temporary(self, xp, d):
        """``(N, m)`` scaled temporary costs ``c_i |d_ki|^(1+beta_i)`` (nonlinear case)."""
        return xp.stack([self.c[i] * law.power(xp, xp.abs(d[:, i])) for i, law in enumerate(self.laws)], axis=1)

    def temporary_slope(self, xp, d):
        """``d/dd`` of :meth:`temporary`: ``c_i (1+beta_i) |d|^beta_i sign(d)``."""
        return xp.stack([self.c[i] * law.power_slope(xp, xp.abs(d[:, i])) * xp.sign(d[:, i])
                         for i, law in enumerate(self.laws)], axis=1)

    def temporary_curvature(self, xp, d):
        """Second derivative of :meth:`temporary`: ``c_i (1+beta_i) beta_i |d|^(beta_i-1)``; ``inf`` at
        ``d = 0`` when ``beta_i < 1``."""
        cols = []
        for i, law in enumerate(self.laws):
            z = xp.abs(d[:, i])
            curv = self.c[i] * law.power_curvature(xp, z)
            cols.append(xp.where((z == 0) & (law.beta < 1.0), xp.inf, curv))
        return xp.stack(cols, axis=1)

    @property
    def diagonal_quadratic(self) -> bool:
        return self.Q is not None and np.count_nonzero(self.Q - np.diag(np.diag(self.Q))) == 0

    @property
    def has_concave_part(self) -> bool:
        return (not self.linear) and bool(np.any(self.P != 0))

    @property
    def capped_assets(self) -> tuple[int, ...]:
        return tuple(int(i) for i in np.flatnonzero(np.any(np.isfinite(self.cap), axis=0)))

    def holdings(self, y: np.ndarray) -> np.ndarray:
        """Unscaled holdings (shares) from scaled ``y`` of shape (N+1, m); squeezed for one asset."""
        x = np.asarray(y, dtype=np.float64) * self.X[None, :]
        x[0] = self.X
        x[-1] = 0.0
        return x[:, 0] if self.m == 1 else x

    def scaled(self, holdings: np.ndarray) -> np.ndarray:
        """Scaled ``y`` (N+1, m) from holdings in shares."""
        x = np.asarray(holdings, dtype=np.float64).reshape(self.N + 1, self.m)
        return x / self.X[None, :]

    def objective(self, y: np.ndarray) -> float:
        """``f(y)`` of the module docstring (scaled; ``E + lambda V = 1/2 X'Gamma X + K f``)."""
        y = np.asarray(y, dtype=np.float64).reshape(self.N + 1, self.m)
        d = y[:-1] - y[1:]
        if self.linear:
            val = float(np.einsum("ki,ij,kj->", d, self.Q, d))
        else:
            val = float(np.sum(self.temporary(np, d))) - 0.5 * float(np.einsum("ki,ij,kj->", d, self.P, d))
        val += float(np.sum(self.e * np.abs(d)))
        held = y[1:]
        val += float(np.sum(self.W * held**2)) if self.W is not None else float(np.einsum("ki,ij,kj->", held, self.M, held))
        return val + float(np.sum(held @ self.g)) + objective_term(self, d)


def scale_problem(problem: ExecutionProblem, *, covariance: str = "auto") -> ScaledProblem:
    """Scale a spec (module docstring). A stochastic volatility model is replaced by its
    expected slice variance ``E[sigma_k^2]`` (the static optimum).

    Args:
        covariance: ``"auto"`` (diagonal weights when the correlation is the identity, the
            factor form ``M = F F' + diag`` when the spec has a factor model, else a dense
            matrix), ``"dense"`` (always the dense matrix).
    """
    if problem.risk_aversion < 0:
        raise MethodNotApplicable("qp", f"risk_aversion = {problem.risk_aversion:g} < 0 makes the objective "
                                  "non-convex (only the closed form has the risk-seeking branch)")
    if covariance not in ("auto", "dense"):
        raise SpecError("covariance", covariance, "must be 'auto' or 'dense'")
    n, m, tau, big_t = problem.slices, problem.n_assets, problem.tau, problem.horizon
    x = problem.initial_holdings
    ax = np.abs(x)
    if m > 1 and float(np.min(ax)) < 1e-100 * float(np.max(ax)):
        i = int(np.argmin(ax))
        raise SpecError(f"assets[{i}].holdings", float(x[i]),
                        f"is below 1e-100 of the basket's largest order ({float(np.max(ax)):g}): qp scales each asset to "
                        "fractions of its own order, and a hedge of the larger orders in those units leaves float64")
    laws = tuple(impact_model(a) for a in problem.assets)
    beta = np.array([law.beta for law in laws])
    gamma = problem.permanent_impact_matrix_array
    linear = problem.all_linear
    log_k = _log_cost_unit(problem, laws)
    with np.errstate(divide="ignore", over="ignore", under="ignore"):
        log_x = np.log(ax)
        # x / sqrt(K) and x / K, formed in logarithms: X^2 or K alone under- or overflows for
        # orders like 1e-200 or 1e+100 shares while every scaled coefficient is a normal number
        xs = np.sign(x) * np.exp(log_x - 0.5 * log_k)
        xk = np.sign(x) * np.exp(log_x - log_k)
        k_unit = float(np.exp(log_k))
        dxs = np.diag(xs)
        if linear:
            q = dxs @ problem.eta_tilde_matrix @ dxs / tau
            q = 0.5 * (q + q.T)
            c = np.zeros(m)
            pmat = np.zeros((m, m))
        else:
            q = None
            c = np.array([np.exp(np.log(tau * law.eta) + (1.0 + law.beta) * (lx - np.log(tau)) - log_k) if law.eta > 0 else 0.0
                          for law, lx in zip(laws, log_x)])
            pmat = dxs @ gamma @ dxs
    lam = problem.risk_aversion
    if m == 1:
        w = (lam * tau * problem.slice_variance() * xs[0] ** 2)[:, None]
        mmat = None
    else:
        cov = problem.covariance
        diagonal = np.count_nonzero(cov - np.diag(np.diag(cov))) == 0
        if problem.has_factor_model and covariance == "auto":
            b = np.array(problem.factor_loadings)
            fac = np.sqrt(lam * tau) * dxs @ b
            fdiag = lam * tau * np.square(problem.specific_volatility) * xs**2
            w = None
            mmat = fac @ fac.T + np.diag(fdiag)
        elif diagonal and covariance == "auto":
            w = np.tile(lam * tau * np.diag(cov) * xs**2, (n, 1))
            mmat = None
        else:
            w = None
            mmat = lam * tau * dxs @ cov @ dxs
            mmat = 0.5 * (mmat + mmat.T)
    if m == 1 or not (problem.has_factor_model and covariance == "auto"):
        fac = fdiag = None
    eps = np.array([a.spread for a in problem.assets])
    mu = np.array([a.drift for a in problem.assets])
    caps = np.full((n, m), np.inf)
    for i, a in enumerate(problem.assets):
        sc = a.slice_caps(n)
        if sc is not None:
            caps[:, i] = sc / ax[i]
    ylo = np.full(m, -np.inf)
    yhi = np.full(m, np.inf)
    for i, a in enumerate(problem.assets):
        lo = -np.inf if a.min_holdings is None else a.min_holdings / x[i]
        hi = np.inf if a.max_holdings is None else a.max_holdings / x[i]
        if x[i] < 0:
            lo, hi = (-np.inf if a.max_holdings is None else a.max_holdings / x[i]), \
                     (np.inf if a.min_holdings is None else a.min_holdings / x[i])
        ylo[i], yhi[i] = lo, hi
    prices = np.array([a.price for a in problem.assets])
    b_scale = float(np.sum(np.abs(prices * x)))
    bands = problem.imbalance_bands()
    return ScaledProblem(
        problem=problem, N=n, m=m, X=x, K=k_unit, log_K=log_k, linear=linear, Q=q, c=c, p=1.0 + beta, P=pmat,
        e=eps * np.abs(xk), W=w, M=mmat, g=-tau * mu * xk, cap=caps, no_reversal=problem.no_reversal,
        ylo=ylo, yhi=yhi, band_w=None if bands is None else prices * x / b_scale,
        band=None if bands is None else bands / b_scale, band_scale=b_scale, factor=fac, factor_diag=fdiag,
        laws=laws, transient=scaled_transient(problem, k_unit, [transient_model(a) for a in problem.assets]),
    )


def _log_cost_unit(problem: ExecutionProblem, laws: tuple[PowerLawImpact, ...]) -> float:
    """``log K``: each asset's TWAP temporary cost ``T eta (|X| / T)^(1+beta)`` (else ``epsilon |X|``,
    else ``gamma X^2``, else 1, as :meth:`PowerLawImpact.cost_unit`), summed in logarithms; with a
    temporary impact matrix ``H``, ``K = X' H X / T``."""
    x = problem.initial_holdings
    big_t = problem.horizon
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        if problem.temporary_impact_matrix is not None:
            a = float(np.max(np.abs(x)))
            xh = x / a
            return float(2.0 * np.log(a) + np.log(xh @ problem.temporary_impact_matrix_array @ xh / big_t))
        logs = []
        for asset, law, xi in zip(problem.assets, laws, x):
            lx = np.log(abs(float(xi)))
            kappa = asset.transient_impact if law.eta == 0 else 0.0  # costs.asset_cost_unit: kappa_T X^2
            candidates = (np.log(big_t * law.eta) + (1.0 + law.beta) * (lx - np.log(big_t)) if law.eta > 0 else -np.inf,
                          np.log(kappa) + 2.0 * lx if kappa > 0 else -np.inf,
                          np.log(law.epsilon) + lx if law.epsilon > 0 else -np.inf,
                          np.log(law.gamma) + 2.0 * lx if law.gamma > 0 else -np.inf, 0.0)
            logs.append(next(c for c in candidates if np.isfinite(c)))
        top = max(logs)
        return float(top + np.log(np.sum(np.exp(np.array(logs) - top))))
