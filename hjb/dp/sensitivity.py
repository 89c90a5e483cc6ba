"""Exact derivatives of method ``dp``'s linear recursion: forward-mode AD (JAX) through
:func:`hjb.dp.exact.exact_tables` and :func:`hjb.dp.exact.forward_moments`, the same code the
solve runs on numpy. Entry point :func:`derivatives` (the hook ``solvers.sensitivities`` calls).

In currency: ``c0 = eta X^2 / T``, ``c = N - gamma T / (2 eta)``, ``rho_k = (tau T / eta) sigma_k^2``,
``P = expm(Q tau)`` (Taylor, scaled and squared); ``objective = E + lam V`` with ``E = gamma X^2 / 2 + eps |X| + c0 (N - G) E[sum f^2]``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from solvers.spec import ExecutionProblem
from hjb.parameter_layout import (ZERO_PARAMETERS, derivative_table, parameter_slots, parameter_vector,
                                  volatility_layout)

from .exact import exact_tables, forward_moments

__all__ = ["derivatives", "DP_AD_KIND", "ZERO_PARAMETERS"]

#: the labels of the derivatives given here (the sensitivities' ``kind``)
DP_AD_KIND = "ad"

def _expm(q, squarings: int, terms: int = 18):
    """``expm(q)`` by scaling and squaring of its Taylor series (plain ``jnp`` operations: cheap
    to compile and to differentiate); ``|q| / 2^squarings <= 1/2`` keeps the truncation below
    ``2^-19 / 19! ~ 1e-23`` of the result."""
    small = q / 2.0**squarings
    term = out = jnp.eye(q.shape[0])
    for j in range(1, terms + 1):
        term = term @ small / j
        out = out + term
    for _ in range(squarings):
        out = out @ out
    return out


def _outputs(z, n: int, s: int, i0: int, kind: str, squarings: int = 0):
    """``[objective, E, V, x_0 .. x_N]`` of the exact recursion from the flat numbers ``z =
    [lam, T, X, eta, gamma, eps, sigma (S or N), Q off-diagonal rates (S*S, row-major)]``."""
    lam, horizon, big_x, eta, gamma, eps = (z[j] for j in range(6))
    width = n if kind == "path" else s
    sig = z[6:6 + width]
    tau = horizon / n
    size = jnp.abs(big_x)
    c0 = eta * size * size / horizon
    g = 0.5 * gamma * horizon / eta
    c = n - g
    rho_unit = tau * horizon / eta
    levels = sig[:, None] if kind == "path" else jnp.broadcast_to(sig, (n, s))
    rho = rho_unit * levels**2
    if kind == "regimes":
        rates = z[6 + width:].reshape(s, s) * (1.0 - jnp.eye(s))
        q = rates - jnp.diag(jnp.sum(rates, axis=1))
        p = jnp.clip(_expm(q * tau, squarings), 0.0, None)
        p = p / jnp.sum(p, axis=1, keepdims=True)
    else:
        p = jnp.ones((1, 1))
    _, _, ratios = exact_tables(jnp, c, lam * rho, p)
    frozen = jnp.concatenate([jnp.ones(1), jnp.cumprod(ratios[:-1, i0]), jnp.zeros(1)])
    trades2, risk = forward_moments(jnp, ratios, p, rho, i0)
    expected = 0.5 * gamma * big_x * big_x + eps * size + c0 * c * trades2
    variance = c0 * risk
    return jnp.concatenate([jnp.stack([expected + lam * variance, expected, variance]), big_x * frozen])


_jacobian = jax.jit(jax.jacfwd(_outputs), static_argnames=("n", "s", "i0", "kind", "squarings"))




def derivatives(problem: ExecutionProblem, names: list[str], result: Any, settings: Any = None,
                **overrides: Any) -> dict[str, Any] | None:
    """Exact derivatives of ``dp``'s answer ``result`` in the spec parameters ``names`` it can
    differentiate: ``{"names", "objective", "expected_cost", "variance" (P,), "holdings" (P, N+1),
    "kind" {name: "ad" | "zero"}}``; parameters left out (drift, impact exponent, a
    mean-reverting model's numbers) are for finite differences; ``settings`` are the solve's
    (unused: the recursion has no discretization to choose). None when the solve did not run
    the exact recursion on the model's own chain (grid recursion, mean-reverting chain)."""
    diag = result.diagnostics
    layout = volatility_layout(problem)
    if (diag.get("recursion") != "exact" or layout is None or problem.is_basket or problem.has_transient
            or problem.time_varying_keys()):
        return None
    kind, sigma, rates, i0 = layout
    n, s = problem.slices, (1 if kind != "regimes" else sigma.size)
    z = parameter_vector(problem, sigma, rates)
    slots = parameter_slots(names, kind, s, i0)
    if not slots:
        return None
    norm = float(np.max(np.sum(np.abs(rates.reshape(s, s)), axis=1))) * 2.0 * problem.tau  # >= |Q tau|
    squarings = max(0, int(np.ceil(np.log2(max(norm, 1e-300) / 0.5)))) if kind == "regimes" else 0
    jac = np.asarray(_jacobian(jnp.asarray(z), n=n, s=s, i0=i0, kind=kind, squarings=squarings))  # (3 + N+1, len(z))
    return derivative_table(jac, slots, DP_AD_KIND)
