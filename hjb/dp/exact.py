"""The exact linear-impact recursion of method ``dp``: ``V_k(x, i) = a_k(i) x^2``.

With ``c = eta_tilde X^2 / (tau c0)`` and ``d_k(i) = lam rho_{k,i} + sum_j P_ij a_k(j)`` (cost units):
``a_{N-1} = c``, ``a_{k-1} = c d / (c + d)``, and the policy ``x_k = c / (c + d) x_{k-1}``.
:func:`exact_backward` runs it, :func:`exact_forward` propagates the policy's moments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvers.errors import SpecError

from .chain import VolatilityChain

__all__ = ["ExactRecursion", "exact_backward", "exact_forward"]


@dataclass
class ExactRecursion:
    """The linear recursion's tables (cost units, fractions of the order)."""

    a: np.ndarray           # (N, S): a_k(i), k = 0..N-1 (cost units)
    expected_a: np.ndarray  # (N-1, S): (P a_k), k = 1..N-1
    ratios: np.ndarray      # (N, S): r_k(i) = x_k / x_{k-1} for slice k = 1..N (node states)


def exact_backward(c: float, risk: np.ndarray, transition: np.ndarray) -> ExactRecursion:
    """The linear-impact recursion. ``c = eta_tilde X^2 / (tau c0)``, ``risk`` ``(N, S)`` is
    ``lam rho_{k,i}`` of slice ``k`` (row ``k-1``). Raises :class:`SpecError` when
    ``c + d <= 0`` (risk seeking beyond the convex range)."""
    n, s = risk.shape
    if s == 1 and np.all(c + risk[:, 0] > 0):  # one state: the same recursion on Python floats (fast)
        a1, r1 = [0.0] * n, [0.0] * n
        a1[n - 1] = ak = float(c)
        for k in range(n - 1, 0, -1):
            d = float(risk[k - 1, 0]) + ak
            r1[k - 1] = c / (c + d)
            a1[k - 1] = ak = c * d / (c + d)
        a = np.asarray(a1)[:, None]
        return ExactRecursion(a=a, expected_a=a[1:].copy(), ratios=np.asarray(r1)[:, None])
    a = np.zeros((n, s))
    ratios = np.zeros((n, s))
    expected = np.zeros((max(n - 1, 0), s))
    a[n - 1] = c
    for k in range(n - 1, 0, -1):  # a_{k-1} from a_k; slice k has risk row k-1
        pa = transition @ a[k]
        expected[k - 1] = pa
        d = risk[k - 1] + pa
        if np.any(c + d <= 0):
            raise SpecError("risk_aversion", "risk seeking",
                            f"the slice-{k} quadratic is not convex (c + d = {float(np.min(c + d)):.6g} <= 0): "
                            "the cost is unbounded below")
        ratios[k - 1] = c / (c + d)
        a[k - 1] = c * d / (c + d)
    return ExactRecursion(a=a, expected_a=expected, ratios=ratios)


def exact_forward(chain: VolatilityChain, ex: ExactRecursion, c: float, rho: np.ndarray) -> tuple[float, float]:
    """``E[sum n_k^2]`` and ``E[sum rho_k q_k^2]`` (fractions of the order, cost units) of the
    policy from ``q = 1`` in the initial state, propagated exactly per state."""
    n, s = ex.ratios.shape
    mass = np.zeros(s)
    mass[chain.initial_state] = 1.0  # E[q_{k-1}^2 ; state of slice k = i]
    trades2 = risk = 0.0
    for k in range(n):
        r = ex.ratios[k]
        trades2 += float(np.sum((1.0 - r) ** 2 * mass))
        risk += float(np.sum(rho[k] * r**2 * mass))
        mass = (mass * r**2) @ chain.transition
    return trades2, risk
