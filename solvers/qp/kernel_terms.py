"""The scaled transient term of ``qp`` (asset ``i``): ``1/2 kappa_s d'Gd + l'd`` with ``kappa_s =
kappa_T X_i^2 / K``, ``G_jk = G(|s_j - s_k|)/G(0)``, ``l_k = X_i D_1 G(s_k - s_1)/G(0) / K`` (scaled
trades ``d = n / X_i``, cost unit ``K``). :class:`ScaledTransient` applies ``kappa_s G`` in O(N) for
the exponential kernel; :func:`objective_term` sums the terms of a scaled problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..transient import TransientKernel

__all__ = ["ScaledTransient", "scaled_transient", "objective_term", "kernel_factor"]


@dataclass(frozen=True)
class ScaledTransient:
    """One asset's scaled transient term."""

    asset: int
    kernel: TransientKernel
    kappa: float            # kappa_T X_i^2 / K
    linear: np.ndarray      # (N,) l
    times: np.ndarray       # (N,) trade times s_k

    def normalized_matrix(self) -> np.ndarray:
        """``G(|s_j - s_k|) / G(0)`` (dense N x N)."""
        s = self.times
        return self.kernel.decay(np, np.abs(s[:, None] - s[None, :]))

    def apply(self, d: np.ndarray) -> np.ndarray:
        """``kappa_s G d`` (O(N) for the exponential kernel)."""
        if not self.kernel.exponential:
            return self.kappa * (self.normalized_matrix() @ d)
        a = self.kernel.factors(self.times)
        f = np.empty_like(d)
        b = np.empty_like(d)
        f[0] = d[0]
        for k in range(1, d.size):
            f[k] = d[k] + a[k - 1] * f[k - 1]
        b[-1] = d[-1]
        for k in range(d.size - 2, -1, -1):
            b[k] = d[k] + a[k] * b[k + 1]
        return self.kappa * (f + b - d)


def scaled_transient(problem, cost_unit: float, kernels) -> tuple[ScaledTransient, ...]:
    """The scaled terms of the assets with a kernel (``kernels[i]`` None: none)."""
    times = problem.trade_times
    out = []
    for i, kernel in enumerate(kernels):
        if kernel is None:
            continue
        x = problem.assets[i].holdings
        lin = x * kernel.initial_deviation * kernel.initial_factors(times) / cost_unit
        out.append(ScaledTransient(i, kernel, kernel.kappa * x * x / cost_unit, lin, times))
    return tuple(out)


def objective_term(sp: Any, d: np.ndarray) -> float:
    """``sum_i 1/2 kappa_s d_i'G d_i + l'd_i`` (scaled), ``d`` (N, m)."""
    total = 0.0
    for term in sp.transient:
        di = d[:, term.asset]
        total += 0.5 * float(di @ term.apply(di)) + float(term.linear @ di)
    return total


def kernel_factor(term: ScaledTransient, diagonal: float) -> np.ndarray:
    """``F`` with ``F F' = 1/2 kappa_s G + diagonal I`` (the CVXPY form ``sum_squares(F'd)``); an
    eigen factor, exact for a kernel that rounding makes look semi-definite."""
    mat = 0.5 * term.kappa * term.normalized_matrix() + diagonal * np.eye(term.times.size)
    w, v = np.linalg.eigh(mat)
    return v * np.sqrt(np.maximum(w, 0.0))
