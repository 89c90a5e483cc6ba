"""Instantaneous market impact: the one home of the temporary-impact law (conventions page,
"Prices and costs").

Temporary impact per share ``h(v) = epsilon sign(v) + eta |v|^beta sign(v)`` at trade rate
``v = n / tau`` (shares per time unit); permanent impact ``g(v) = gamma v``. A slice trading ``n``
shares over ``tau`` pays ``tau eta |n / tau|^(1 + beta) + epsilon |n|`` (currency) and moves the
price by ``-gamma n``. :class:`PowerLawImpact` answers every method's question about the law:
the cost of a trade and its first two derivatives in the scaled form ``z^(1+beta)`` (dp stages,
Newton polish, HJB controls), the inverse of the marginal cost (the HJB's optimal rate), the
per-share price effect (simulator), the cost unit used to scale problems, and its CVXPY form.
Every function takes an array module ``xp`` (``numpy`` or ``jax.numpy``) so that numpy and JAX
code evaluate the same arithmetic; exponents 1, 1/2 and 2 are specialised (a generic power in an
inner loop costs most of a JAX kernel's speed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["PowerLawImpact", "impact_model", "equivalent_eta"]


@dataclass(frozen=True)
class PowerLawImpact:
    """``h(v) = sign(v) (epsilon + eta |v|^beta)``; permanent ``gamma``.

    Attributes:
        eta: currency/share per (shares/time)^beta (> 0, or 0 for no temporary impact).
        beta: impact exponent (> 0); 1 is linear, 1/2 the square-root law.
        epsilon: half spread, currency/share.
        gamma: permanent impact, currency/share per share.
    """

    eta: float
    beta: float = 1.0
    epsilon: float = 0.0
    gamma: float = 0.0

    @property
    def linear(self) -> bool:
        return self.beta == 1.0

    # ------------------------------------------------------------------ shape z^(1+beta), z >= 0
    def power(self, xp: Any, z):
        """``z^(1+beta)`` for ``z >= 0``."""
        b = self.beta
        if b == 1.0:
            return z * z
        if b == 0.5:
            return z * xp.sqrt(z)
        if b == 2.0:
            return z * z * z
        return xp.power(z, 1.0 + b)

    def power_slope(self, xp: Any, z):
        """``d/dz z^(1+beta) = (1+beta) z^beta`` for ``z >= 0``."""
        b = self.beta
        if b == 1.0:
            return 2.0 * z
        if b == 0.5:
            return 1.5 * xp.sqrt(z)
        if b == 2.0:
            return 3.0 * z * z
        return (1.0 + b) * xp.power(z, b)

    def power_curvature(self, xp: Any, z):
        """``(1+beta) beta z^(beta-1)`` for ``z > 0`` (infinite at 0 when ``beta < 1``: floored at 1e-300)."""
        b = self.beta
        if b == 1.0:
            return 2.0 + 0.0 * z
        if b == 2.0:
            return 6.0 * z
        return (1.0 + b) * b * xp.power(xp.maximum(z, 1e-300), b - 1.0)

    def power_inverse(self, xp: Any, z):
        """``z^(1/beta)`` for ``z >= 0``: the inverse of ``z -> z^beta`` (rate from marginal cost)."""
        b = self.beta
        if b == 1.0:
            return z
        if b == 0.5:
            return z * z
        if b == 2.0:
            return xp.sqrt(z)
        return xp.power(z, 1.0 / b)

    # ------------------------------------------------------------------ currency amounts
    def temporary_cost(self, xp: Any, n, tau: float):
        """``tau eta |n / tau|^(1+beta)``: temporary cost of trading ``n`` shares in one slice."""
        return tau * self.eta * self.power(xp, xp.abs(n) / tau)

    def spread_cost(self, xp: Any, n):
        """``epsilon |n|``."""
        return self.epsilon * xp.abs(n)

    def price_concession(self, xp: Any, n, tau: float):
        """``h(n / tau)``: how far below the pre-trade price a sale of ``n`` executes (per share)."""
        speed = xp.abs(n) / tau
        per_share = speed if self.beta == 1.0 else self.power(xp, speed) / xp.where(speed > 0, speed, 1.0)
        return xp.sign(n) * (self.epsilon + self.eta * per_share)

    def rate_from_marginal(self, xp: Any, marginal):
        """The rate ``v >= 0`` whose marginal temporary cost ``(1+beta) eta v^beta`` equals ``marginal``
        (0 where ``marginal <= 0``): the first-order condition the HJB's control solves."""
        return self.power_inverse(xp, xp.maximum(marginal, 0.0) / ((1.0 + self.beta) * self.eta))

    def cost_unit(self, order: float, horizon: float) -> float:
        """``T eta (|X| / T)^(1+beta)``: the temporary cost of TWAP in continuous time (currency),
        the unit in which qp, dp and hjb scale costs. Falls back to ``epsilon |X|``, then
        ``gamma X^2``, then 1 when the law has no temporary impact."""
        big_x = abs(float(order))
        unit = horizon * self.eta * (big_x / horizon) ** (1.0 + self.beta) if self.eta > 0 else 0.0
        for candidate in (unit, self.epsilon * big_x, self.gamma * big_x**2):
            if np.isfinite(candidate) and candidate > 0:
                return float(candidate)
        return 1.0

    def cvxpy_temporary(self, trades, coefficient):
        """CVXPY expression of ``coefficient * sum |trades|^(1+beta)`` (convex for ``beta >= 0``)."""
        import cvxpy as cp  # heavy: loaded only by the qp method

        if self.beta == 1.0:
            return cp.sum(cp.multiply(coefficient, cp.square(trades)))
        return cp.sum(cp.multiply(coefficient, cp.power(cp.abs(trades), 1.0 + self.beta)))


def impact_model(asset: Any) -> PowerLawImpact:
    """The impact law of one asset of a spec (``temporary_impact``, ``impact_exponent``,
    ``spread``, ``permanent_impact``; per-slice ``eta_k`` / ``epsilon_k``: their mean level)."""
    return PowerLawImpact(eta=float(asset.impact_level), beta=float(asset.impact_exponent),
                          epsilon=float(asset.spread_level), gamma=float(asset.permanent_impact))


def equivalent_eta(eta: float, beta: float, order: float, horizon: float) -> float:
    """The ``eta`` of exponent ``beta`` with the same per-share impact as linear ``eta`` at the
    TWAP rate ``|X| / T``: ``eta (|X|/T)^(1 - beta)``."""
    return float(eta * (abs(order) / horizon) ** (1.0 - beta))
