"""Expected cost, variance and objective of a static schedule: the only place the conventions page's
formulas are written.

For holdings ``x_0 = X, ..., x_N = 0`` and trades ``n_k = x_{k-1} - x_k``, ``v_k = n_k / tau``:

    permanent  = 1/2 X' Gamma X - 1/2 x_N' Gamma x_N - 1/2 sum_k n_k' Gamma n_k
    temporary  = tau * sum_k sum_i eta_ik |v_ik|^(1 + beta_i)       (per-slice eta_k)
    spread     = sum_k sum_i epsilon_ik |n_ik|
    drift      = -mu' sum_{k=1..N} h_k x_k      (h_k = tau + the closure after slice k)
    transient  = sum_i 1/2 n_i' K_i n_i + D_1 terms  (:mod:`solvers.transient`; AFS for delta < 1)
    terminal   = sum_i alpha_i x_Ni^2             (terminal penalty; else x_N = 0)
    V          = sum_{k=1..N} (tau E[sigma_k^2] + d_k sigma_c^2) x_k^2  (basket: h_k x_k' C x_k)
    objective  = E + lambda V

All amounts are in currency. With ``beta = 1``, ``permanent + temporary`` equals AC 2001's
``1/2 gamma X^2 + (eta_tilde / tau) sum n_k^2``. Functions accept a batch of schedules
(leading axes) so that a whole efficient frontier is costed in one call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .impact import impact_model
from .transient import transient_model
from .spec import ExecutionProblem

__all__ = ["ScheduleCost", "schedule_cost", "policy_cost", "cost_unit", "trades_from_holdings", "trajectory_constants",
           "BREAKDOWN_KEYS", "asset_cost_unit"]

#: the keys of every method's ``cost_breakdown`` (currency), in this order
BREAKDOWN_KEYS = ("permanent", "temporary", "spread", "drift", "transient", "terminal")


@dataclass(frozen=True)
class ScheduleCost:
    """Cost parts of one schedule (floats) or of a batch of schedules (arrays). Currency."""

    permanent: np.ndarray | float
    temporary: np.ndarray | float
    spread: np.ndarray | float
    drift: np.ndarray | float
    variance: np.ndarray | float
    risk_aversion: float
    transient: np.ndarray | float = 0.0
    terminal: np.ndarray | float = 0.0

    @property
    def expected_cost(self):
        """``E = permanent + temporary + spread + drift + transient + terminal``."""
        return self.permanent + self.temporary + self.spread + self.drift + self.transient + self.terminal

    @property
    def objective(self):
        """``E + lambda V``."""
        return self.expected_cost + self.risk_aversion * self.variance

    @property
    def std(self):
        """``sqrt(V)``, the standard deviation of the cost."""
        return np.sqrt(self.variance)

    def mean_var(self, confidence_z: float):
        """Mean-VaR ``E + z sqrt(V)`` (AC 2001 section 4)."""
        return self.expected_cost + confidence_z * np.sqrt(self.variance)

    def as_dict(self) -> dict[str, float]:
        """The cost split under :data:`BREAKDOWN_KEYS` (one schedule)."""
        return {key: float(getattr(self, key)) for key in BREAKDOWN_KEYS}


def trades_from_holdings(holdings: np.ndarray) -> np.ndarray:
    """``n_k = x_{k-1} - x_k``, k = 1..N, for holdings with time on the first axis."""
    x = np.asarray(holdings, dtype=np.float64)
    return x[:-1] - x[1:]


def _check_shape(problem: ExecutionProblem, holdings: np.ndarray) -> None:
    n1 = problem.slices + 1
    if problem.is_basket:
        ok = holdings.ndim >= 2 and holdings.shape[-2:] == (n1, problem.n_assets)
        want = f"(..., {n1}, {problem.n_assets})"
    else:
        ok = holdings.ndim >= 1 and holdings.shape[-1] == n1
        want = f"(..., {n1})"
    if not ok:
        raise ValueError(f"holdings has shape {holdings.shape}; expected {want} (N+1 times)")


def schedule_cost(problem: ExecutionProblem, holdings: np.ndarray, *, check_endpoints: bool = True) -> ScheduleCost:
    """Expected cost parts, variance and objective of a static schedule (the conventions page).

    Args:
        problem: the spec.
        holdings: ``x_k`` for ``k = 0..N``: shape ``(..., N+1)`` for one asset,
            ``(..., N+1, m)`` for a basket (leading axes are a batch of schedules).
        check_endpoints: require ``x_0 = X`` and, unless the spec has a terminal penalty,
            ``x_N = 0`` (relative 1e-9 of ``|X|``).
    """
    x = np.asarray(holdings, dtype=np.float64)
    _check_shape(problem, x)
    basket = problem.is_basket
    if not basket:
        x = x[..., None]  # (..., N+1, 1): one code path for both
    big_x = problem.initial_holdings
    if check_endpoints:
        scale = np.abs(big_x) * 1e-9
        soft = problem.has_terminal_penalty
        if np.any(np.abs(x[..., 0, :] - big_x) > scale) or (not soft and np.any(np.abs(x[..., -1, :]) > scale)):
            raise ValueError("holdings must start at X and end at 0 (x_0 = X, x_N = 0)")
    tau = problem.tau
    n = x[..., :-1, :] - x[..., 1:, :]  # (..., N, m)
    last = x[..., -1, :]

    gamma = problem.permanent_impact_matrix_array
    permanent = (0.5 * big_x @ gamma @ big_x - 0.5 * np.einsum("...ki,ij,...kj->...", n, gamma, n)
                 - 0.5 * np.einsum("...i,ij,...j->...", last, gamma, last))

    if problem.temporary_impact_matrix is not None:
        h = problem.temporary_impact_matrix_array
        temporary = np.einsum("...ki,ij,...kj->...", n, h, n) / tau
    else:
        eta = np.stack([a.eta_slices(problem.slices) for a in problem.assets], axis=1)  # (N, m)
        beta = np.array([a.impact_exponent for a in problem.assets])
        speed = np.abs(n) / tau
        per_share = np.where(beta == 1.0, speed**2, speed ** (1.0 + beta))
        temporary = tau * np.sum(per_share * eta, axis=(-2, -1))

    eps = np.stack([a.spread_slices(problem.slices) for a in problem.assets], axis=1)  # (N, m)
    spread = np.sum(np.abs(n) * eps, axis=(-2, -1))

    mu = np.array([a.drift for a in problem.assets])
    held = x[..., 1:, :]  # x_1..x_N, exposed to the move over slices 1..N (and the closures)
    hold_time = problem.exposure_times()
    drift = -np.sum(held * mu * hold_time[:, None], axis=(-2, -1)) + 0.0  # + 0.0: no "-0" for zero drift

    transient = 0.0
    for i, a in enumerate(problem.assets):
        kernel = transient_model(a)
        if kernel is not None:
            transient = transient + kernel.cost(n[..., i], problem.trade_times)
    if basket:
        variance = np.einsum("k,...ki,ij,...kj->...", hold_time, held, problem.covariance, held)
    else:
        variance = np.sum(problem.holding_risk()[:, 0, 0] * held[..., 0] ** 2, axis=-1)
    terminal = 0.0
    if problem.has_terminal_penalty:
        terminal = np.sum(problem.terminal_penalties() * last**2, axis=-1)

    def out(v):
        v = np.asarray(v, dtype=np.float64)
        return float(v) if v.ndim == 0 else v

    return ScheduleCost(
        permanent=out(permanent), temporary=out(temporary), spread=out(spread), drift=out(drift),
        variance=out(variance), risk_aversion=problem.risk_aversion, terminal=out(terminal),
        transient=out(transient),
    )


def trajectory_constants(problem: ExecutionProblem) -> dict[str, float]:
    """Parts of ``E`` that no schedule can change: ``1/2 X' Gamma X`` and, for a monotone
    schedule, the spread ``sum_i epsilon_i |X_i|`` (currency). A dynamic method adds these to
    its value function so that its ``objective`` is comparable with ``E + lambda V``. Per-slice
    spreads use their mean (a method with per-slice spreads prices them itself)."""
    big_x = problem.initial_holdings
    gamma = problem.permanent_impact_matrix_array
    eps = np.array([a.spread_level for a in problem.assets])
    return {"permanent": float(0.5 * big_x @ gamma @ big_x), "spread": float(np.sum(eps * np.abs(big_x)))}


def policy_cost(problem: ExecutionProblem, *, permanent: float, temporary: float, spread: float, drift: float,
                variance: float, transient: float = 0.0, terminal: float = 0.0) -> ScheduleCost:
    """The cost record of a policy whose moments a method computed itself (dynamic methods, the
    continuous closed form): the same parts and the same ``objective = E + lambda V`` as
    :func:`schedule_cost`, so every method's ``Result`` is assembled one way."""
    return ScheduleCost(permanent=float(permanent), temporary=float(temporary), spread=float(spread),
                        drift=float(drift), variance=float(variance), risk_aversion=problem.risk_aversion,
                        transient=float(transient), terminal=float(terminal))


def cost_unit(problem: ExecutionProblem) -> float:
    """The currency unit in which qp, dp and hjb scale costs: the largest per-asset
    ``T eta (|X|/T)^(1+beta)`` (the continuous-time temporary cost of TWAP,
    :meth:`solvers.impact.PowerLawImpact.cost_unit`)."""
    return max(asset_cost_unit(a, problem.horizon) for a in problem.assets)


def asset_cost_unit(asset, horizon: float) -> float:
    """One asset's cost unit (currency): TWAP's temporary cost ``T eta (|X|/T)^(1+beta)``, or
    ``kappa_T X^2`` when the asset has transient impact and no temporary impact."""
    if asset.temporary_impact == 0 and asset.transient_impact > 0:
        return float(asset.transient_impact * asset.holdings**2)
    return impact_model(asset).cost_unit(asset.holdings, horizon)
