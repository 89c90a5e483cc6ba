"""Derivatives of method ``hjb``'s reduced HJB (constant, path and regime volatility): JAX
forward-mode AD through the RK4 integration of ``(q, n, m)`` (:func:`hjb.pde.reduced.moments_rhs`,
the same steps, step size ``h = T / n_t`` and source ``c = lam s^2 / eta`` as the solve) and
through the frozen path's trapezoid rule. Entry point :func:`derivatives` (the hook
``solvers.sensitivities`` calls); the full HJB and mean-reverting volatility are left to
finite differences. ``objective = eta X^2 / q(T) + gamma X^2 / 2 + eps |X|``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from solvers.settings import merge_settings
from solvers.spec import ExecutionProblem
from hjb.parameter_layout import (ZERO_PARAMETERS, derivative_table, parameter_slots, parameter_vector,
                                  volatility_layout)

from .reduced import rk4_moments_step
from .settings import HJBSettings

__all__ = ["derivatives", "HJB_AD_KIND", "ZERO_PARAMETERS"]

HJB_AD_KIND = "ad"


def _outputs(z, n: int, s: int, i0: int, kind: str, n_t: int, per_slice: int):
    """``[objective, E, V, x_0 .. x_N]`` of the reduced HJB from ``z = [lam, T, X, eta, gamma,
    eps, sigma (S or N), Q off-diagonal rates (S*S)]``: RK4 in ``theta`` on ``n_t`` steps."""
    lam, horizon, big_x, eta, gamma, eps = (z[j] for j in range(6))
    width = n if kind == "path" else s
    sig = z[6:6 + width]
    h = horizon / n_t
    if kind == "path":
        s2_steps = jnp.repeat((sig**2)[::-1], per_slice)[:, None]
    else:
        s2_steps = jnp.broadcast_to(sig**2, (n_t, s))
    c_steps = lam * s2_steps / eta
    if kind == "regimes":
        rates = z[6 + width:].reshape(s, s) * (1.0 - jnp.eye(s))
        generator = rates - jnp.diag(jnp.sum(rates, axis=1))
    else:
        generator = jnp.zeros((1, 1))

    def step(y, cs):
        c, s2 = cs
        new = rk4_moments_step(y, c, s2, generator, h)
        return new, new[0, i0]

    width_y = 1 if kind == "path" else s
    final, q_path = lax.scan(step, jnp.zeros((3, width_y)), (c_steps, s2_steps))
    q_end, n_end, m_end = final[0, i0], final[1, i0], final[2, i0]
    theta = h * jnp.arange(1, n_t + 1)
    d = jnp.concatenate([jnp.zeros(1), 1.0 / q_path - 1.0 / theta])  # d = a - 1/theta, 0 at theta = 0
    cum = jnp.concatenate([jnp.zeros(1), jnp.cumsum(0.5 * h * (d[1:] + d[:-1]))])
    theta_all = jnp.concatenate([jnp.zeros(1), theta])
    x_theta = big_x * (theta_all / horizon) * jnp.exp(-(cum[-1] - cum))
    holdings = x_theta[::-1][::per_slice].at[-1].set(0.0)
    size2 = big_x * big_x
    expected = 0.5 * gamma * size2 + eps * jnp.abs(big_x) + eta * size2 * n_end / q_end**2
    variance = size2 * m_end / q_end**2
    objective = eta * size2 / q_end + 0.5 * gamma * size2 + eps * jnp.abs(big_x)
    return jnp.concatenate([jnp.stack([objective, expected, variance]), holdings])


_jacobian = jax.jit(jax.jacfwd(_outputs), static_argnames=("n", "s", "i0", "kind", "n_t", "per_slice"))




def derivatives(problem: ExecutionProblem, names: list[str], result: Any, settings: Any = None,
                **overrides: Any) -> dict[str, Any] | None:
    """AD derivatives of ``hjb``'s reduced-HJB answer ``result`` (same layout as
    :func:`hjb.dp.sensitivity.derivatives`: ``names``, ``objective``/``expected_cost``/``variance``
    (P,), ``holdings`` (P, N+1), ``kind``), with the solve's ``settings``/``overrides``. None
    for the full HJB, mean-reverting volatility or a Richardson-extrapolated value."""
    diag = result.diagnostics
    layout = volatility_layout(problem)
    if (diag.get("formulation") != "reduced" or diag.get("extrapolated") or layout is None or problem.is_basket
            or problem.has_transient or problem.time_varying_keys()):
        return None
    kind, sigma, rates, i0 = layout
    n_t, per_slice = diag.get("time_steps"), diag.get("steps_per_slice")  # the solve's own grid
    if n_t is None or per_slice is None:
        n_t, per_slice = merge_settings(HJBSettings, settings, overrides).steps_for(problem.slices)
    n, s = problem.slices, (1 if kind != "regimes" else sigma.size)
    z = parameter_vector(problem, sigma, rates)
    slots = parameter_slots(names, kind, s, i0)
    if not slots:
        return None
    jac = np.asarray(_jacobian(jnp.asarray(z), n=n, s=s, i0=i0, kind=kind, n_t=n_t, per_slice=per_slice))
    return derivative_table(jac, slots, HJB_AD_KIND)
