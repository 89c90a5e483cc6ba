"""The grid recursion of method ``dp``: the value on ``M`` holdings points per volatility state,
one vectorized 1-D minimization per slice (:mod:`hjb.dp.stage`), as a ``jax.lax.scan`` over
slices (float64) or a plain numpy loop of the same step. The policy's expected cost and risk
are carried as two more tables, their slopes by the chain rule through ``dy*/dq``.
Entry points :func:`grid_backward` and :func:`frozen_path` (the policy's path with the state held
fixed, one compiled forward scan); units: fractions of the order and cost units ``c0``.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..jax_runtime import compiled
from .stage import (StageCoefficients, grid_nodes, impact, impact_curvature, impact_slope, interpolate,
                    minimize_stage, prepare_tables)

__all__ = ["GridTables", "grid_backward", "grid_step", "grid_init", "scan_length", "frozen_path"]


@dataclass
class GridTables:
    """Output of :func:`grid_backward`: value tables ``(N, 2, S, M)`` (values, slopes) for
    ``k = 0..N-1``, expected cost and risk tables ``(2, S, M)`` at ``t_0`` and the largest final
    bisection bracket width."""

    tables: np.ndarray
    cost0: np.ndarray
    risk0: np.ndarray
    max_width: float
    compile_seconds: float
    run_seconds: float


def grid_step(xp, c: StageCoefficients, transition, points: int, iterations: int, stage_minimizer: str, power: int,
               carry, inp):
    """One backward step ``W_{k-1}`` from ``W_k`` (values, slopes) with the policy's cost and risk tables."""
    wv, ws, kv, qv = carry
    u0, u1, cap, risk, rho = inp
    states = wv.shape[0]
    cv = transition @ wv
    cs = prepare_tables(xp, cv, transition @ ws, u1, points, power)
    kh = transition @ kv[0]
    qh = transition @ qv[0]
    ks = prepare_tables(xp, kh, transition @ kv[1], u1, points, power)
    qs = prepare_tables(xp, qh, transition @ qv[1], u1, points, power)
    q = xp.broadcast_to(grid_nodes(xp, u0, points, power), (states, points))
    lo = xp.maximum(0.0, q - cap)
    hi = xp.minimum(q, u1)
    lo = xp.minimum(lo, hi)
    state = xp.arange(states)[:, None]

    def continuation(y, second=False):
        return interpolate(xp, cv, cs, u1, points, power, y, state, second)

    y, value, gy, width = minimize_stage(xp, c, q, lo, hi, risk[:, None], continuation, iterations, stage_minimizer)
    n = q - y
    moves = ((y == lo) & (q - cap > 0)) | ((y == hi) & (q < u1))
    interior = (y > lo) & (y < hi)
    slope = impact_slope(xp, c, n) + xp.where(moves, gy, 0.0)
    # expected cost K and risk Q of the policy: values and slopes by the chain rule, with
    # dy*/dq = f''(n) / (f''(n) + 2 lam rho + C''(y)) inside, 1 on a moving bound, 0 on a fixed one
    ccurv = continuation(y, True)[2]
    fcurv = impact_curvature(xp, c, n)
    denom = fcurv + 2.0 * risk[:, None] + ccurv
    dy = xp.where(interior, fcurv / xp.where(denom > 0, denom, 1.0), xp.where(moves, 1.0, 0.0))
    kval_c, kder_c = interpolate(xp, kh, ks, u1, points, power, y, state)
    qval_c, qder_c = interpolate(xp, qh, qs, u1, points, power, y, state)
    fslope = impact_slope(xp, c, n)
    kval = impact(xp, c, n) + c.D * y + kval_c
    kder = fslope * (1.0 - dy) + (c.D + kder_c) * dy
    qval = rho[:, None] * y * y + qval_c
    qder = (2.0 * rho[:, None] * y + qder_c) * dy
    return (value, slope, (kval, kder), (qval, qder)), (value, slope, xp.max(width))


def grid_init(xp, c: StageCoefficients, u_last, states: int, points: int, power: int):
    """``W_{N-1}``: the last slice sells what is left."""
    q = xp.broadcast_to(grid_nodes(xp, u_last, points, power), (states, points))
    val = impact(xp, c, q)
    slope = impact_slope(xp, c, q)
    zero = xp.zeros_like(q)
    return val, slope, (val, slope), (zero, zero)


def scan_length(steps: int) -> int:
    """Scan length for ``steps`` slices: the next power of two (>= 8) up to 256, then the next
    multiple of 256, so that nearby ``N`` share one compiled program (padding steps are no-ops)."""
    if steps <= 256:
        return max(8, 1 << max(steps - 1, 0).bit_length())
    return -(-steps // 256) * 256


@functools.lru_cache(maxsize=None)
def _jax_program(beta: float, points: int, iterations: int, stage_minimizer: str, power: int):
    """The jitted backward scan for these static constants (one object per constants, so that
    :func:`hjb.jax_runtime.compiled` caches its compiled programs by argument shapes)."""
    def program(coef, transition, extents, caps, risk, rho, active, u_last):
        c = StageCoefficients(A=coef[0], G=coef[1], E=coef[2], D=coef[3], beta=beta, c0=1.0)
        states = transition.shape[0]
        init = grid_init(jnp, c, u_last, states, points, power)

        def step(carry, inp):
            ext, cap, risk_k, rho_k, on = inp
            new, (v, sl, w) = grid_step(jnp, c, transition, points, iterations, stage_minimizer, power, carry,
                                         (ext[0], ext[1], cap, risk_k, rho_k))
            kept = jax.tree_util.tree_map(lambda a, b: jnp.where(on, a, b), new, carry)
            return kept, (v, sl, jnp.where(on, w, 0.0))

        final, (vals, slopes, widths) = jax.lax.scan(step, init, (extents, caps, risk, rho, active), reverse=True)
        return final, vals, slopes, jnp.max(widths, initial=0.0), init

    return jax.jit(program)


def grid_backward(c: StageCoefficients, transition: np.ndarray, extents: np.ndarray, caps: np.ndarray,
                  risk: np.ndarray, rho: np.ndarray, *, points: int, iterations: int,
                  stage_minimizer: str = "bisection", power: int = 1, engine: str = "jax") -> GridTables:
    """Run the grid backward induction (see the module docstring of :mod:`hjb.dp.stage`).

    Args:
        c: stage coefficients; transition: ``(S, S)``; extents: ``U_k``, k = 0..N-1;
        caps: per-slice caps (fractions of the order, inf if none), k = 1..N;
        risk: ``lam rho`` and rho: ``rho`` per slice and state, ``(N, S)``.
        engine: ``jax`` (one compiled ``lax.scan``) or ``numpy`` (a Python loop of the same step).
    """
    n = extents.shape[0]
    s = transition.shape[0]
    if engine == "numpy":
        start = time.perf_counter()
        carry = grid_init(np, c, extents[-1], s, points, power)
        tables = np.zeros((n, 2, s, points))
        tables[n - 1] = carry[0], carry[1]
        width = 0.0
        for k in range(n - 2, -1, -1):
            inp = (extents[k], extents[k + 1], caps[k], risk[k], rho[k])
            carry, (v, sl, w) = grid_step(np, c, transition, points, iterations, stage_minimizer, power, carry, inp)
            tables[k] = v, sl
            width = max(width, float(w))
        return GridTables(tables, np.asarray(carry[2][0]), np.asarray(carry[3][0]), width, 0.0, time.perf_counter() - start)
    steps = n - 1
    length = scan_length(steps)
    pad = length - steps

    def padded(arr, fill):
        arr = np.asarray(arr, dtype=np.float64)
        block = np.broadcast_to(fill, (pad,) + arr.shape[1:])
        return jnp.asarray(np.concatenate([block, arr], axis=0))

    # step k (k = 0..N-2) builds W_k from W_{k+1}: extents (U_k, U_{k+1}), slice k+1's cap and risk
    ext = np.stack([extents[:-1], extents[1:]], axis=1) if steps else np.zeros((0, 2))
    args = (jnp.asarray([c.A, c.G, c.E, c.D]), jnp.asarray(transition), padded(ext, ext[0] if steps else 1.0),
            padded(caps[:-1], np.inf), padded(risk[:-1], 0.0), padded(rho[:-1], 0.0),
            jnp.asarray(np.concatenate([np.zeros(pad, dtype=bool), np.ones(steps, dtype=bool)])),
            jnp.asarray(float(extents[-1])))
    program = _jax_program(c.beta, points, iterations, stage_minimizer, power)
    (final, vals, slopes, width, init), compile_seconds, run_seconds = compiled(program, *args)
    tables = np.zeros((n, 2, s, points))
    if n > 1:
        tables[: n - 1, 0] = np.asarray(vals)[pad:]
        tables[: n - 1, 1] = np.asarray(slopes)[pad:]
    tables[n - 1] = np.asarray(init[0]), np.asarray(init[1])
    return GridTables(tables, np.asarray(final[2][0]), np.asarray(final[3][0]), float(width), compile_seconds, run_seconds)


@functools.lru_cache(maxsize=None)
def _jax_frozen_program(beta: float, points: int, iterations: int, stage_minimizer: str, power: int):
    """The jitted forward scan of :func:`frozen_path` for these static constants."""
    def program(coef, values, slopes, extents, caps, risk):
        c = StageCoefficients(A=coef[0], G=coef[1], E=coef[2], D=coef[3], beta=beta, c0=1.0)
        row = jnp.zeros(1, dtype=jnp.int32)

        def step(q, inp):
            v, sl, ext, cap, r = inp

            def continuation(y, second=False):
                return interpolate(jnp, v[None, :], sl[None, :], ext, points, power, y, row, second)

            q = jnp.maximum(q, 0.0)
            lo = jnp.maximum(0.0, q - cap)
            hi = jnp.maximum(jnp.minimum(q, ext), lo)
            y = minimize_stage(jnp, c, q, lo, hi, r, continuation, iterations, stage_minimizer)[0]
            return y, y[0]

        return jax.lax.scan(step, jnp.ones(1), (values, slopes, extents, caps, risk))[1]

    return jax.jit(program)


def frozen_path(c: StageCoefficients, tables: np.ndarray, transition: np.ndarray, extents: np.ndarray,
                caps: np.ndarray, risk: np.ndarray, state: int, *, points: int, iterations: int,
                stage_minimizer: str = "bisection", power: int = 1) -> np.ndarray:
    """``q_k`` for ``k = 1..N-1`` (fractions of the order) of the grid policy from ``q_0 = 1`` with the
    volatility held in chain state ``state``: the minimization of
    :meth:`hjb.dp.policy.GridDPPolicy.next_fraction` at each slice, as one compiled forward scan.

    Args:
        tables: ``(N, 2, S, M)`` from :func:`grid_backward`; extents: ``U_k``, k = 0..N-1;
        caps: per-slice caps, k = 1..N; risk: ``lam rho`` of slice ``k`` in that state, k = 1..N-1.
    """
    n = extents.shape[0]
    steps = n - 1
    if steps == 0:
        return np.zeros(0)
    row = np.asarray(transition)[state]
    values = np.einsum("s,ksm->km", row, tables[1:, 0])
    slopes = prepare_tables(np, values, np.einsum("s,ksm->km", row, tables[1:, 1]), extents[1:, None], points, power)
    length = scan_length(steps)
    pad = length - steps

    def padded(arr):  # padding steps come after the path (their outputs are dropped)
        arr = np.asarray(arr, dtype=np.float64)
        return jnp.asarray(np.concatenate([arr, np.broadcast_to(arr[-1:], (pad,) + arr.shape[1:])], axis=0))

    args = (jnp.asarray([c.A, c.G, c.E, c.D]), padded(values), padded(slopes), padded(extents[1:]),
            padded(caps[:-1]), padded(risk))
    program = _jax_frozen_program(c.beta, points, iterations, stage_minimizer, power)
    out, _, _ = compiled(program, *args)
    return np.asarray(out)[:steps]
