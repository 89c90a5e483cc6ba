"""The full HJB's cyclic-reduction s-step against the dense inverse it replaces on the CPU."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from hjb.pde.s_step import REDUCTION_TAIL, implicit_s_matrix, reduction_coefficients, reduction_solve


def random_generator(ns: int, rng: np.random.Generator):
    """A volatility generator's tridiagonal rows: nonnegative off-diagonals, zero row sums
    (upwind drift + central diffusion have this form), so I - dt L is an M-matrix."""
    lower = np.concatenate([[0.0], rng.uniform(0.0, 50.0, ns - 1)])
    upper = np.concatenate([rng.uniform(0.0, 50.0, ns - 1), [0.0]])
    diagonal = -(lower + upper)
    return lower, diagonal, upper


@pytest.mark.parametrize("ns", [9, 16, 17, 33, 64, 65, 128])
def test_reduction_equals_dense_inverse(ns):
    rng = np.random.default_rng(ns)
    lower, diagonal, upper = random_generator(ns, rng)
    h = 0.01
    d = rng.normal(size=(ns, 7))
    want = implicit_s_matrix(lower, diagonal, upper, h) @ d
    coef = reduction_coefficients(lower, diagonal, upper, h)
    got = np.asarray(reduction_solve(jnp.asarray(coef), jnp.asarray(d)))
    # an M-matrix with unit row sums: no growth, so rounding-level agreement is expected
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13 * np.abs(want).max())
    if ns <= REDUCTION_TAIL:
        # below the tail the reduction is the dense inverse itself
        np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-15 * np.abs(want).max())
