"""The implicit volatility step of the full HJB: ``(I - dt L_s)^-1`` applied to every holdings column.

``L_s`` does not change in time, so everything that does not depend on the right-hand side is
precomputed: the dense inverse (one GEMM per step, best on an accelerator) or the coefficients
of cyclic reduction of the tridiagonal M-matrix ``I - dt L_s`` (best on a CPU for large grids).
Entry points :func:`implicit_s_matrix`, :func:`reduction_coefficients`, :func:`reduction_solve`,
:func:`default_s_solve`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["S_SOLVES", "REDUCTION_TAIL", "implicit_s_matrix", "reduction_coefficients", "reduction_solve",
           "default_s_solve"]


def implicit_s_matrix(lower, diagonal, upper, h) -> np.ndarray:
    """``(I - dt L_s)^-1`` as a dense matrix: ``L_s`` does not change in time, so the implicit
    s-step can be one matrix product per time step (``s_solve="inverse"``: a plain GEMM on a
    GPU; the numpy baseline's s-step)."""
    lower, diagonal, upper = (np.asarray(v, dtype=np.float64) for v in (lower, diagonal, upper))
    m = np.diag(1.0 - h * diagonal) - np.diag(h * lower[1:], -1) - np.diag(h * upper[:-1], 1)
    return np.linalg.inv(m)


#: ``s_solve`` values of :func:`full_hjb_arrays`: the dense inverse (one GEMM per step) or cyclic
#: reduction of the tridiagonal ``I - dt L_s`` with precomputed coefficients.
S_SOLVES = ("inverse", "reduction")

#: cyclic reduction halves the system until it has at most this many rows, then applies the
#: dense inverse of what is left (one small GEMM instead of the last, overhead-bound levels).
#: Measured on the CPU, 64 volatility points x 256 holdings points, per step: dense 64 x 64
#: inverse ~80 us; reduction to 16 then a 16 x 16 inverse ~28 us; to 8: ~32 us; to 1: ~38 us.
REDUCTION_TAIL = 16


def _reduction_levels(ns: int, tail: int = REDUCTION_TAIL) -> tuple[list[tuple[int, int, int]], int]:
    """``([(n, m, ne) per level], rows left)``: a level takes ``n`` rows to the ``m = n // 2``
    odd ones and back-substitutes the ``ne = n - m`` even ones. Static: depends on ``ns`` only."""
    levels, n = [], ns
    while n > tail:
        levels.append((n, n // 2, n - n // 2))
        n //= 2
    return levels, n


def reduction_coefficients(lower, diagonal, upper, h, tail: int = REDUCTION_TAIL) -> np.ndarray:
    """Cyclic reduction of ``M = I - dt L_s`` (tridiagonal, rows ``a_i x_{i-1} + b_i x_i + c_i
    x_{i+1}``), everything that does not depend on the right-hand side, packed in one float64
    vector: per level ``alpha, gamma`` (odd row ``i`` becomes ``d_i + alpha d_{i-1} + gamma
    d_{i+1}``, ``alpha = -a_i / b_{i-1}``, ``gamma = -c_i / b_{i+1}``) and the even rows' ``a, c,
    b`` (back-substitution ``x_j = (d_j - a_j x_{j-1} - c_j x_{j+1}) / b_j``), then the dense
    inverse of the system left. ``M`` is an M-matrix with row sums 1 (``L_s`` has zero row
    sums and nonnegative off-diagonals), so every reduced system is one too (``alpha, gamma >=
    0``): no pivoting, no growth; measured against the dense inverse, 1e-15 relative."""
    lower, diagonal, upper = (np.asarray(v, dtype=np.float64) for v in (lower, diagonal, upper))
    ns = diagonal.size
    a = np.concatenate([[0.0], -h * lower[1:]])
    b = 1.0 - h * diagonal
    c = np.concatenate([-h * upper[:-1], [0.0]])
    levels, _ = _reduction_levels(ns, tail)
    parts = []
    for n, m, _ in levels:
        i = 2 * np.arange(m) + 1
        right = np.minimum(i + 1, n - 1)
        has_right = i + 1 < n
        alpha = -a[i] / b[i - 1]
        gamma = np.where(has_right, -c[i] / b[right], 0.0)
        parts += [alpha, gamma, a[0::2], c[0::2], b[0::2]]
        a, b, c = (alpha * a[i - 1],
                   b[i] + alpha * c[i - 1] + np.where(has_right, gamma * a[right], 0.0),
                   np.where(has_right, gamma * c[right], 0.0))
    last = np.diag(b) + np.diag(a[1:], -1) + np.diag(c[:-1], 1)
    parts.append(np.linalg.inv(last).reshape(-1))
    out = np.concatenate(parts)
    assert out.size == _reduction_size(ns, tail)
    return out


def _reduction_size(ns: int, tail: int = REDUCTION_TAIL) -> int:
    levels, rest = _reduction_levels(ns, tail)
    return sum(2 * m + 3 * ne for _, m, ne in levels) + rest * rest


def reduction_solve(coef, d, tail: int = REDUCTION_TAIL):
    """``(I - dt L_s)^-1 d`` for ``d`` (ns, ny) from :func:`reduction_coefficients`: per level
    one fused update of the odd rows (down) and one of the even rows (up), about 5 flops per
    grid point in all against ``2 ns`` for the dense product."""
    ns = d.shape[0]
    levels, rest = _reduction_levels(ns, tail)
    offset = 0

    def take(k):
        nonlocal offset
        offset += k
        return coef[offset - k:offset]

    zero = jnp.zeros_like(d[:1])
    saved = []
    for n, m, ne in levels:
        alpha, gamma, a_even, c_even, b_even = take(m), take(m), take(ne), take(ne), take(ne)
        saved.append((n, d, a_even, c_even, b_even))
        right = d[2::2] if n % 2 else jnp.concatenate([d[2::2], zero])  # d_{i+1}, 0 past the end
        d = d[1::2] + alpha[:, None] * d[0:2 * m:2] + gamma[:, None] * right
    x = take(rest * rest).reshape(rest, rest) @ d
    for n, d_level, a_even, c_even, b_even in reversed(saved):
        ne = b_even.shape[0]
        before = jnp.concatenate([zero, x])[:ne]  # x_{j-1} of even row j (0 for j = 0)
        after = jnp.concatenate([x, zero])[:ne]  # x_{j+1} (0 past the end)
        x_even = (d_level[0::2] - a_even[:, None] * before - c_even[:, None] * after) / b_even[:, None]
        pairs = jnp.stack([x_even[:x.shape[0]], x], axis=1).reshape(2 * x.shape[0], -1)  # even, odd, ...
        x = pairs if n % 2 == 0 else jnp.concatenate([pairs, x_even[-1:]])
    return x


def default_s_solve(ns: int, *, explicit: bool = False, generator: bool = False) -> str:
    """The implicit s-step :func:`full_hjb_arrays` uses by default: cyclic reduction on the CPU
    for a tridiagonal ``L_s`` larger than :data:`REDUCTION_TAIL` (measured here: 2.7x faster than
    the dense product at 64 points, where the dense product alone was ~40% of the run), the dense
    inverse otherwise: on an accelerator (one GEMM against ~2 log2(ns) small kernels), for a
    regime chain's dense generator, for small grids (the reduction would be the inverse anyway)."""
    if generator or explicit or ns <= REDUCTION_TAIL or jax.default_backend() != "cpu":
        return "inverse"
    return "reduction"
