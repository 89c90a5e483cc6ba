"""The predicted gap between the discrete-time and the continuous-time optimum.

To first order in ``tau`` (the risk sum takes sigma at the left and x at the right end of
each slice; the discrete permanent cost has ``-1/2 sum n' Gamma n``; a volatility path is
piecewise constant in both time models, so its jumps count half; a soft finish adds
``+tau lambda x_N' C_N x_N / 2``)::

    objective_discrete - objective_continuous
        = -tau (1/2 lambda X' C_1 X + lambda int (d/dt E[sigma^2]) x^2 dt + 1/2 int v' Gamma v dt)

with a residual O(tau^2) (about ``kappa_hat tau / 4`` of the prediction; ``kappa_hat``: the
fastest exponential rate of the continuous answer's trades, or of the volatility model if that is
faster), held to ``min(GAP_FRACTION,
kappa_hat tau / 2)`` of it. The prediction is trusted only where ``kappa_hat tau <=
MAX_KAPPA_TAU``; elsewhere a discrete-vs-continuous pair is not comparable at this N
(:func:`not_comparable_reason`), and ``N >= kappa_hat T / MAX_KAPPA_TAU`` makes it comparable. An exponential
transient kernel adds ``kappa_T X^2 (1/(rho (T - tau) + 2) - 1/(rho T + 2))`` (Obizhaeva-Wang's
discrete cost is ``kappa_T X^2 / (rho (T - tau) + 2)`` to second order), held to ``min(1, rho tau)``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from ..spec import ExecutionProblem

__all__ = ["GapPrediction", "predicted_discretization_gap", "not_comparable_reason", "slices_needed",
           "MAX_KAPPA_TAU", "GAP_FRACTION"]

#: the largest ``kappa_hat tau`` at which the first-order gap prediction is trusted (its residual
#: is about a quarter of ``kappa_hat tau`` of the gap: 7.5% here)
MAX_KAPPA_TAU = 0.3
#: the residual of the prediction is held to at most this fraction of the predicted gap
GAP_FRACTION = 0.1


class GapPrediction(NamedTuple):
    """The first-order gap (currency), its tolerance (currency) and ``kappa_hat`` (1/time)."""

    gap: float
    tolerance: float
    kappa_hat: float


def predicted_discretization_gap(problem: ExecutionProblem, continuous: Any) -> GapPrediction:
    """``objective_discrete - objective_continuous`` to first order in ``tau``, from the
    continuous answer's holdings and trades (``continuous``: a Result in continuous time).

    The middle term is evaluated on the expected variance and the continuous (expected)
    holdings, ``sum_k (E[sigma_{k+1}^2] - E[sigma_k^2]) x_k^2``; it matters under a volatility
    that moves in time.
    """
    tau = problem.tau
    x0 = problem.initial_holdings
    if problem.is_basket:
        c1 = problem.covariance
    else:
        c1 = np.array([[float(problem.slice_variance()[0])]])
    gamma = problem.permanent_impact_matrix_array
    n = np.asarray(continuous.trades, dtype=np.float64).reshape(problem.slices, -1)
    drift_of_variance = 0.0  # int (d/dt E[sigma^2]) x^2 dt, for a volatility that moves in time
    if not problem.is_basket and not problem.has_constant_volatility:
        s2 = problem.slice_variance()
        x = np.asarray(continuous.holdings, dtype=np.float64).reshape(problem.slices + 1)
        drift_of_variance = float(np.sum(np.diff(s2) * x[1:-1] ** 2))
        if problem.volatility_model.kind == "path":
            # piecewise constant in continuous time too: only x's right end shifts, so a jump counts half
            drift_of_variance *= 0.5
    remainder = 0.0  # a soft finish's x_N is held through slice N: the right end of the risk sum
    if problem.has_terminal_penalty:
        x_end = np.asarray(continuous.holdings, dtype=np.float64).reshape(problem.slices + 1, -1)[-1]
        c_end = problem.covariance if problem.is_basket else np.array([[float(problem.slice_variance()[-1])]])
        remainder = 0.5 * problem.risk_aversion * float(x_end @ c_end @ x_end)
    first = -tau * (0.5 * problem.risk_aversion * float(x0 @ c1 @ x0)
                    + problem.risk_aversion * drift_of_variance - remainder
                    + 0.5 * float(np.einsum("ki,ij,kj->", n, gamma, n)) / tau)
    norms = np.linalg.norm(n, axis=1)
    ok = (norms[:-1] > 0) & (norms[1:] > 0)
    rates = np.abs(np.log(norms[1:][ok] / norms[:-1][ok])) / tau if np.any(ok) else np.array([0.0])
    # the prediction's O(tau^2) residual grows with every time scale the answer moves on: the
    # trades' decay and the volatility model's own rate (regime switches, mean reversion)
    kappa_hat = max(float(rates.max()) if rates.size else 0.0, problem.volatility_model.fastest_rate)
    # transient impact (exponential, delta = 1): Obizhaeva-Wang's discrete cost is
    # kappa X^2 / (rho T' + 2), T' = T - tau, to second order; continuous kappa X^2 / (rho T + 2)
    transient, transient_tol = 0.0, 0.0
    for a in problem.assets:
        if a.has_transient and a.transient_kernel == "exponential" and a.transient_exponent == 1:
            rho, big_t = a.resilience, problem.horizon
            part = a.transient_impact * a.holdings**2 * (1.0 / (rho * (big_t - tau) + 2.0) - 1.0 / (rho * big_t + 2.0))
            transient += part
            transient_tol += min(1.0, rho * tau) * abs(part)
    tolerance = min(GAP_FRACTION, 0.5 * kappa_hat * tau) * abs(first) + transient_tol
    return GapPrediction(first + transient, tolerance, kappa_hat)


def slices_needed(problem: ExecutionProblem, kappa_hat: float) -> int:
    """The fewest slices at which ``kappa_hat tau <= MAX_KAPPA_TAU``: ``ceil(kappa_hat T / MAX_KAPPA_TAU)``."""
    return max(1, math.ceil(kappa_hat * problem.horizon / MAX_KAPPA_TAU * (1 - 1e-12)))


def not_comparable_reason(problem: ExecutionProblem, prediction: GapPrediction) -> str | None:
    """Why a discrete answer and a continuous one cannot be compared at the spec's N (None when
    they can): ``kappa_hat tau > MAX_KAPPA_TAU``, where the first-order prediction is untrusted, or
    transient impact blended with temporary impact, where there is none."""
    blended = [a.name for a in problem.assets if a.has_transient and a.temporary_impact > 0]
    if blended:
        return (f"not comparable at N = {problem.slices}: transient_impact with temporary_impact > 0 "
                f"({', '.join(blended)}) has no first-order discrete-vs-continuous gap prediction (Obizhaeva-Wang's "
                "covers eta = 0 only); the discrete optimum converges to the continuous one at first order in tau")
    kt = prediction.kappa_hat * problem.tau
    if kt <= MAX_KAPPA_TAU:
        return None
    return (f"not comparable at N = {problem.slices}: kappa tau = {kt:.3g} > {MAX_KAPPA_TAU:g}, where the "
            f"first-order discrete-vs-continuous gap prediction cannot be trusted (kappa = {prediction.kappa_hat:.4g}"
            f" per time unit); comparable with N >= kappa T / {MAX_KAPPA_TAU:g} = "
            f"{slices_needed(problem, prediction.kappa_hat)}")
