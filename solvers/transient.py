"""Transient impact: the one home of the propagator kernel (conventions page, "Transient impact").

A trade of ``n_k`` shares at time ``s_k`` meets the deviation ``D_k = D_1 G(s_k)/G(0) +
sum_{j<k} G(s_k - s_j) n_j`` and pays ``n_k D_k + G(0) n_k^2 / 2`` (``delta = 1``), in all
``1/2 n'Kn`` plus the initial-deviation term, ``K_ij = G(|s_i - s_j|)`` (currency). Exponential
kernel ``G(t) = kappa exp(-rho t)``: ``D_{k+1} = a_k (D_k + kappa n_k)``, ``a_k = exp(-rho (s_{k+1} -
s_k))``, O(N). Power law ``G(t) = kappa (1 + t/t0)^(-nu)``: dense. ``delta < 1`` (exponential only):
the volume displacement ``E`` decays, slice ``k`` pays ``Phi(E_k + n_k) - Phi(E_k)``,
``Phi(y) = kappa |y|^(1+delta) / (1+delta)``. Entry points: :class:`TransientKernel`,
:func:`transient_model`, :func:`ow_schedule`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["TransientKernel", "transient_model", "ow_schedule", "ow_continuous_cost"]


@dataclass(frozen=True)
class TransientKernel:
    """One asset's transient impact.

    Attributes:
        kappa: ``kappa_T = G(0)``, currency / share per share (per share^delta for ``delta < 1``).
        kind: ``"exponential"`` or ``"power_law"``.
        rho: resilience (1 / time unit), exponential kernel.
        nu, t0: power-law exponent and timescale (time units).
        delta: book-shape exponent in (0, 1].
        initial_deviation: ``D_1`` (currency / share).
    """

    kappa: float
    kind: str = "exponential"
    rho: float = 0.0
    nu: float = 0.0
    t0: float = 1.0
    delta: float = 1.0
    initial_deviation: float = 0.0

    @property
    def exponential(self) -> bool:
        return self.kind == "exponential"

    @property
    def linear(self) -> bool:
        """``delta = 1``: the cost is the quadratic ``1/2 n'Kn`` plus a linear term."""
        return self.delta == 1.0

    # ------------------------------------------------------------------ the kernel
    def decay(self, xp: Any, dt):
        """``G(dt) / G(0)`` (dimensionless): ``exp(-rho dt)`` or ``(1 + dt/t0)^(-nu)``."""
        if self.exponential:
            return xp.exp(-self.rho * dt)
        return xp.power(1.0 + dt / self.t0, -self.nu)

    def kernel(self, xp: Any, dt):
        """``G(dt)``, currency / share per share."""
        return self.kappa * self.decay(xp, dt)

    def matrix(self, times: np.ndarray) -> np.ndarray:
        """``K_ij = G(|s_i - s_j|)`` on the trade times (dense N x N, currency / share per share)."""
        s = np.asarray(times, dtype=np.float64)
        return self.kernel(np, np.abs(s[:, None] - s[None, :]))

    def factors(self, times: np.ndarray) -> np.ndarray:
        """``a_k = exp(-rho (s_{k+1} - s_k))``, k = 1..N-1 (exponential kernel)."""
        return np.exp(-self.rho * np.diff(np.asarray(times, dtype=np.float64)))

    def min_eigenvalue_bound(self, times: np.ndarray) -> float:
        """A lower bound of ``lambda_min(K)`` (currency / share per share): exponential,
        ``kappa / max_k (1/(1-a_{k-1}) + 1/(1-a_k) - 1)`` (Gershgorin on the tridiagonal
        ``K^-1``; ``kappa (1-a)/(1+a)`` on a uniform grid); 0 for the power law (positive
        definite, no bound in closed form)."""
        if not self.exponential or len(times) < 2:
            return self.kappa if len(times) < 2 else 0.0
        gaps = self.rho * np.diff(np.asarray(times, dtype=np.float64))
        if np.any(gaps <= 0):
            return 0.0
        inv = 1.0 / -np.expm1(-gaps)  # 1 / (1 - a_k)
        rows = np.concatenate([[inv[0]], inv[:-1] + inv[1:] - 1.0, [inv[-1]]])
        return float(self.kappa / np.max(rows))

    def initial_factors(self, times: np.ndarray) -> np.ndarray:
        """``G(s_k - s_1) / G(0)``: how much of ``D_1`` is left at each trade (N numbers)."""
        s = np.asarray(times, dtype=np.float64)
        return self.decay(np, s - s[0])

    # ------------------------------------------------------------------ book shape (delta)
    def volume(self, deviation):
        """``E`` with ``F(E) = D``: ``sign(D) (|D| / kappa)^(1/delta)`` (shares)."""
        d = np.asarray(deviation, dtype=np.float64)
        return np.sign(d) * (np.abs(d) / self.kappa) ** (1.0 / self.delta)

    def book(self, xp: Any, volume):
        """``F(E) = kappa sign(E) |E|^delta``: the deviation of a displacement (currency / share)."""
        if self.delta == 1.0:
            return self.kappa * volume
        return self.kappa * xp.sign(volume) * xp.power(xp.abs(volume), self.delta)

    def potential(self, xp: Any, volume):
        """``Phi(E) = kappa |E|^(1+delta) / (1+delta)`` (currency): ``Phi(E + n) - Phi(E)`` is a trade's cost."""
        if self.delta == 1.0:
            return 0.5 * self.kappa * volume * volume
        return self.kappa * xp.power(xp.abs(volume), 1.0 + self.delta) / (1.0 + self.delta)

    def step_cost(self, xp: Any, volume, trade):
        """The transient cost of trading ``trade`` shares against displacement ``volume``:
        ``Phi(E + n) - Phi(E)`` (``= n D + kappa n^2 / 2`` for ``delta = 1``), currency."""
        if self.delta == 1.0:
            return self.kappa * trade * (volume + 0.5 * trade)
        return self.potential(xp, volume + trade) - self.potential(xp, volume)

    # ------------------------------------------------------------------ a schedule's cost
    def deviations(self, trades: np.ndarray, times: np.ndarray) -> np.ndarray:
        """``D_k`` met by each trade (currency / share); ``trades`` (..., N), leading axes a batch."""
        return self.book(np, self.volumes(trades, times))

    def volumes(self, trades: np.ndarray, times: np.ndarray) -> np.ndarray:
        """``E_k`` before each trade (shares, (..., N)); ``delta = 1``: ``D_k / kappa``. Exponential:
        the recursion; power law: ``E = (K n) / kappa`` minus the own trade, densely."""
        n = np.asarray(trades, dtype=np.float64)
        s = np.asarray(times, dtype=np.float64)
        e1 = float(self.volume(self.initial_deviation))
        if self.exponential:
            out = np.empty_like(n)
            a = self.factors(s)
            e = np.full(n.shape[:-1], e1)
            for k in range(n.shape[-1]):
                out[..., k] = e
                if k + 1 < n.shape[-1]:
                    e = a[k] * (e + n[..., k])
            return out
        g = self.decay(np, np.abs(s[:, None] - s[None, :]))
        lower = np.tril(g, -1)
        return n @ lower.T + e1 * self.initial_factors(s)

    def cost(self, trades: np.ndarray, times: np.ndarray):
        """The exact expected transient cost of static trades (currency; (..., N) -> (...)):
        ``sum_k Phi(E_k + n_k) - Phi(E_k)`` (``delta = 1``: ``1/2 n'Kn + D_1 sum_k n_k G(s_k)/G(0)``)."""
        n = np.asarray(trades, dtype=np.float64)
        e = self.volumes(n, times)
        return np.sum(self.step_cost(np, e, n), axis=-1)


def transient_model(asset: Any) -> TransientKernel | None:
    """The transient impact of one asset of a spec; None when ``transient_impact`` is 0."""
    kappa = float(getattr(asset, "transient_impact", 0.0) or 0.0)
    if kappa == 0.0:
        return None
    power = asset.transient_kernel == "power_law"
    return TransientKernel(kappa=kappa, kind=asset.transient_kernel, rho=float(asset.resilience),
                           nu=float(asset.kernel_exponent) if power else 0.0,
                           t0=float(asset.kernel_timescale) if power else 1.0,
                           delta=float(asset.transient_exponent), initial_deviation=float(asset.initial_deviation))


def ow_schedule(order: float, kappa: float, rho: float, times: np.ndarray) -> tuple[np.ndarray, float]:
    """Obizhaeva-Wang's discrete optimum (pure transient, exponential, ``D_1 = 0``) on the trade
    times ``s_k``: ``n_k = X w_k / sum w`` with ``w_1 = 1/(1+a_1)``, ``w_N = 1/(1+a_{N-1})``,
    ``w_k = 1/(1+a_{k-1}) + 1/(1+a_k) - 1`` (uniform grid: ``(1-a)/(1+a)`` inside, ``1/(1+a)`` at the
    ends); cost ``kappa X^2 / (2 sum w)``. Returns (trades (N,), cost in currency)."""
    s = np.asarray(times, dtype=np.float64)
    if s.size == 1:
        return np.array([float(order)]), 0.5 * kappa * order * order
    gaps = rho * np.diff(s)
    # 1/(1+a) and 1/(1+a) - 1/2 = tanh(rho dt / 2) / 2, written without cancellation
    half = 0.5 * np.tanh(0.5 * gaps)          # 1/(1+a) - 1/2
    w = np.empty(s.size)
    w[0] = 0.5 + half[0]
    w[-1] = 0.5 + half[-1]
    w[1:-1] = half[:-1] + half[1:]
    total = float(np.sum(w))
    return order * w / total, 0.5 * kappa * order * order / total


def ow_continuous_cost(order: float, kappa: float, rho: float, horizon: float) -> float:
    """``kappa X^2 / (rho T + 2)``: Obizhaeva-Wang's continuous-time optimal cost (currency)."""
    return kappa * order * order / (rho * horizon + 2.0)
