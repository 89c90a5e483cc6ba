"""The exact linear-impact recursion of method ``dp``: ``V_k(x, i) = a_k(i) x^2``.

With ``c = eta_tilde X^2 / (tau c0)`` and ``d_k(i) = lam rho_{k,i} + sum_j P_ij a_k(j)`` (cost units):
``a_{N-1} = c``, ``a_{k-1} = c d / (c + d)``, and the policy ``x_k = c / (c + d) x_{k-1}``.
:func:`exact_backward` runs it, :func:`exact_forward` propagates the policy's moments;
:func:`exact_tables` and :func:`forward_moments` are the same on numpy or ``jax.numpy`` arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from solvers.errors import SpecError

from .chain import VolatilityChain

__all__ = ["ExactRecursion", "exact_backward", "exact_forward", "exact_tables", "forward_moments"]


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
    a, expected, ratios = exact_tables(np, c, risk, transition)
    return ExactRecursion(a=a, expected_a=expected, ratios=ratios)


def exact_tables(xp: Any, c, risk, transition) -> tuple[Any, Any, Any]:
    """The recursion on ``xp`` arrays (numpy: a loop; ``jax.numpy``: ``lax.scan`` over the same
    step, so AD runs through it): ``(a (N, S), P a (N-1, S), ratios (N, S))`` as in
    :class:`ExactRecursion`. The convexity check ``c + d > 0`` runs on numpy only (a traced
    call re-runs a checked solve)."""
    n, s = risk.shape

    def step(ak, row):  # a_{k-1} from a_k; slice k has risk row k-1
        pa = transition @ ak
        d = row + pa
        return c * d / (c + d), (pa, c / (c + d), d)

    last = c + xp.zeros(s)
    if xp is np:
        rows_a, rows_e, rows_r = [last], [], []
        ak = last
        for k in range(n - 1, 0, -1):
            with np.errstate(divide="ignore", invalid="ignore"):  # c + d <= 0 raises just below
                ak, (pa, ratio, d) = step(ak, risk[k - 1])
            if np.any(c + d <= 0):
                raise SpecError("risk_aversion", "risk seeking",
                                f"the slice-{k} quadratic is not convex (c + d = {float(np.min(c + d)):.6g} <= 0): "
                                "the cost is unbounded below")
            rows_a.append(ak)
            rows_e.append(pa)
            rows_r.append(ratio)
        expected = np.stack(rows_e[::-1]) if n > 1 else np.zeros((0, s))
        return np.stack(rows_a[::-1]), expected, np.stack(rows_r[::-1] + [np.zeros(s)])
    from jax import lax  # jax is only needed on this branch (the numpy solve never loads it)

    def scan_step(ak, row):
        new, (pa, ratio, _) = step(ak, row)
        return new, (new, pa, ratio)

    _, (a_rows, expected, ratios) = lax.scan(scan_step, last, risk[:-1], reverse=True)
    return (xp.concatenate([a_rows, last[None]]), expected, xp.concatenate([ratios, xp.zeros((1, s))]))


def exact_forward(chain: VolatilityChain, ex: ExactRecursion, c: float, rho: np.ndarray) -> tuple[float, float]:
    """``E[sum n_k^2]`` and ``E[sum rho_k q_k^2]`` (fractions of the order, cost units) of the
    policy from ``q = 1`` in the initial state, propagated exactly per state."""
    trades2, risk = forward_moments(np, ex.ratios, chain.transition, rho, chain.initial_state)
    return float(trades2), float(risk)


def forward_moments(xp: Any, ratios, transition, rho, initial_state: int) -> tuple[Any, Any]:
    """:func:`exact_forward` on ``xp`` arrays (numpy: a loop; ``jax.numpy``: ``lax.scan``):
    ``(E[sum n_k^2], E[sum rho_k q_k^2])``."""
    n, s = ratios.shape

    def step(carry, rows):
        mass, trades2, risk = carry  # mass: E[q_{k-1}^2 ; state of slice k = i]
        r, rho_k = rows
        return ((mass * r**2) @ transition, trades2 + xp.sum((1.0 - r) ** 2 * mass),
                risk + xp.sum(rho_k * r**2 * mass)), None

    carry = (xp.eye(s)[initial_state], 0.0, 0.0)
    if xp is np:
        for k in range(n):
            carry, _ = step(carry, (ratios[k], rho[k]))
    else:
        from jax import lax

        carry, _ = lax.scan(step, carry, (ratios, rho))
    return carry[1], carry[2]
