"""Feedback policies of the backward induction (``Result.policy`` of method ``dp``).

``trade(k, holdings, sigma, regime) -> n_k`` (shares) for slice ``k`` from ``x_{k-1}`` and the state at
``t_{k-1}``; the last slice finishes the order. :class:`LinearDPPolicy`: ``x_k = r_k(i) x_{k-1}``.
:class:`GridDPPolicy`: re-solves the slice's minimization at the actual ``x`` on the stored tables
(caps and no-reversal hold exactly). A mean-reverting chain interpolates between the two nodes
around the observed ``sigma``.
"""

from __future__ import annotations

import numpy as np

from solvers.spec import ExecutionProblem

from .chain import VolatilityChain
from .stage import StageCoefficients, interpolate, minimize_stage, prepare_tables

__all__ = ["LinearDPPolicy", "GridDPPolicy"]


class _ChainState:
    """Map ``(k, sigma, regime)`` to chain nodes ``(j, w)`` and the slice's risk weight."""

    time_model = "discrete"

    def __init__(self, problem: ExecutionProblem, chain: VolatilityChain, rho_unit: float, risk_aversion: float):
        self.problem = problem
        self.chain = chain
        self._rho_unit = rho_unit  # tau X^2 / c0: rho = rho_unit * sigma^2
        self._lam = risk_aversion
        self._regimes = chain.method == "regimes"

    def _state(self, k: int, holdings: np.ndarray, sigma, regime):
        shape = np.shape(holdings)
        levels = self.chain.levels[k - 1]
        j, w = self.chain.position(shape, sigma, regime)
        if self.chain.n_states == 1 or self._regimes:
            return j, w, levels[j]
        return j, w, np.broadcast_to(np.asarray(sigma, dtype=np.float64), shape)

    def _sign_scale(self):
        big_x = self.problem.asset.holdings
        return np.sign(big_x), abs(big_x)


class LinearDPPolicy(_ChainState):
    """Linear-impact policy from the exact recursion (see the module docstring).

    ``coeff_c`` is ``c = eta_tilde X^2 / (tau c0)``; ``expected_a[k]`` is ``(P a_{k})`` for
    ``k = 1..N-1`` (row ``k-1``), shape ``(N-1, S)``, in cost units.
    """

    def __init__(self, problem, chain, coeff_c: float, expected_a: np.ndarray, rho_unit: float, risk_aversion: float):
        super().__init__(problem, chain, rho_unit, risk_aversion)
        self.coeff_c = coeff_c
        self.expected_a = expected_a

    def ratio(self, k: int, j, w, sigma) -> np.ndarray:
        """``r_k = x_k / x_{k-1}`` for slice ``k`` at chain position ``(j, w)`` and volatility ``sigma``."""
        if k >= self.problem.slices:
            return np.zeros(np.shape(j))
        pa = self.expected_a[k - 1]
        cont = pa[j] if self.chain.n_states == 1 else (1 - w) * pa[j] + w * pa[np.minimum(j + 1, pa.size - 1)]
        d = self._lam * self._rho_unit * np.asarray(sigma) ** 2 + cont
        return self.coeff_c / (self.coeff_c + d)

    def trade(self, k: int, holdings: np.ndarray, sigma: np.ndarray, regime: np.ndarray | None = None) -> np.ndarray:
        holdings = np.asarray(holdings, dtype=np.float64)
        if k >= self.problem.slices:
            return holdings.copy()
        j, w, sig = self._state(k, holdings, sigma, regime)
        return holdings * (1.0 - self.ratio(k, j, w, sig))


class GridDPPolicy(_ChainState):
    """General-case policy on the value tables of the grid backward induction.

    Args:
        tables: ``(N, 2, S, M)`` node values and envelope slopes of ``W_k``, k = 0..N-1, in cost
            units, on the grid ``q = U_k u^p``, ``u = linspace(0, 1, M)`` (``power`` p = 1 or 2).
        extents: ``U_k`` (fractions of the order), k = 0..N-1.
        caps: per-slice caps on ``|n_k| / |X|`` (inf when uncapped), k = 1..N.
        coefficients: the stage coefficients; ``iterations`` and ``stage_minimizer``: the 1-D minimization.
    """

    def __init__(self, problem, chain, tables: np.ndarray, extents: np.ndarray, caps: np.ndarray,
                 coefficients: StageCoefficients, rho_unit: float, risk_aversion: float, iterations: int,
                 stage_minimizer: str = "bisection", power: int = 1):
        super().__init__(problem, chain, rho_unit, risk_aversion)
        self.tables = np.asarray(tables)
        self.extents = np.asarray(extents)
        self.caps = np.asarray(caps)
        self.coefficients = coefficients
        self.iterations = iterations
        self.stage_minimizer = stage_minimizer
        self.power = power
        self._expected: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}

    @property
    def points(self) -> int:
        return self.tables.shape[-1]

    def continuation_tables(self, k: int):
        """Expected, filtered tables of ``W_k`` (time ``t_k``) per current state."""
        if k not in self._expected:
            p = self.chain.transition
            values = p @ self.tables[k, 0]
            slopes = prepare_tables(np, values, p @ self.tables[k, 1], self.extents[k], self.points, self.power)
            self._expected[k] = (values, slopes)
        return self._expected[k]

    def next_fraction(self, k: int, q: np.ndarray, j, w, sigma) -> np.ndarray:
        """Optimal ``q_k`` from ``q_{k-1} = q`` (fractions of the order) for slice ``k < N``."""
        values, slopes = self.continuation_tables(k)
        m, ext, power = self.points, self.extents[k], self.power
        j = np.asarray(j)
        j1 = np.minimum(j + 1, self.chain.n_states - 1)
        w = np.asarray(w, dtype=np.float64)
        mixed = self.chain.n_states > 1 and bool(np.any(w > 0))  # off-node sigma (mean-reverting chain)

        def continuation(y, second=False):
            first = interpolate(np, values, slopes, ext, m, power, y, j, second)
            if not mixed:
                return first
            other = interpolate(np, values, slopes, ext, m, power, y, j1, second)
            return tuple((1 - w) * u + w * v for u, v in zip(first, other))

        q = np.maximum(q, 0.0)
        lo = np.maximum(0.0, q - self.caps[k - 1])
        hi = np.maximum(np.minimum(q, self.extents[k]), lo)  # infeasible state: trade the cap
        risk = self._lam * self._rho_unit * np.asarray(sigma, dtype=np.float64) ** 2
        y, _, _, _ = minimize_stage(np, self.coefficients, q, lo, hi, risk, continuation, self.iterations, self.stage_minimizer)
        return y

    def trade(self, k: int, holdings: np.ndarray, sigma: np.ndarray, regime: np.ndarray | None = None) -> np.ndarray:
        holdings = np.asarray(holdings, dtype=np.float64)
        if k >= self.problem.slices:
            return holdings.copy()
        sign, size = self._sign_scale()
        j, w, sig = self._state(k, holdings, sigma, regime)
        q = sign * holdings / size
        y = self.next_fraction(k, q, j, w, sig)
        return sign * size * (q - y)
