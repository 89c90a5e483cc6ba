"""An exact feedback policy for the simulator, validate and adaptivity tests (no tests here).

``RegimeRiccatiPolicy`` is an independent, exact solution of the dynamic problem (the conventions page)
for linear impact and a regime (or constant) volatility: the cost-to-go from holdings ``x``
at ``t_k`` with regime ``r`` for slice ``k+1`` is ``a_k(r) x^2`` with

    a_{N-1}(r) = eta_tilde / tau,
    B_k(r)     = lambda tau sigma(r)^2 + sum_r' P[r, r'] a_{k+1}(r'),
    a_k(r)     = (eta_tilde / tau) B_k(r) / (eta_tilde / tau + B_k(r)),

(minimize ``(eta_tilde/tau) (x - y)^2 + B y^2`` over the next holdings ``y``), and the value at
``t_0`` is ``a_0(r_0) X^2 + 1/2 gamma X^2 + epsilon |X|``. It is a few lines of algebra,
written here apart from the package so that the simulator is checked against something it
did not compute.
"""

from __future__ import annotations

import numpy as np

from solvers.volatility import ConstantVolatility, RegimeVolatility


class RegimeRiccatiPolicy:
    time_model = "discrete"

    def __init__(self, problem):
        a_asset = problem.asset
        assert a_asset.is_linear and not problem.has_drift
        tau, n = problem.tau, problem.slices
        model = problem.volatility_model
        if isinstance(model, RegimeVolatility):
            levels = np.asarray(model.levels)
            p = model.transition_matrix(tau)
            r0 = model.initial_regime
        else:
            assert isinstance(model, ConstantVolatility)
            levels = np.array([a_asset.volatility])
            p = np.ones((1, 1))
            r0 = 0
        c = problem.eta_tilde / tau
        lam = problem.risk_aversion
        a = np.empty((n, len(levels)))
        frac = np.ones((n, len(levels)))  # fraction of x traded in slice k+1 from t_k
        a[n - 1] = c
        for k in range(n - 2, -1, -1):
            b = lam * tau * levels**2 + p @ a[k + 1]
            a[k] = c * b / (c + b)
            frac[k] = b / (c + b)
        self.problem = problem
        self.levels = levels
        self.coef = a
        self.fraction = frac
        big_x = a_asset.holdings
        self.value = float(a[0, r0] * big_x**2 + 0.5 * a_asset.permanent_impact * big_x**2 + a_asset.spread * abs(big_x))

    def trade(self, k, holdings, sigma, regime=None):
        r = np.zeros(np.shape(holdings), dtype=int) if regime is None else regime
        return holdings * self.fraction[k - 1][r]



def expected_holdings(problem, policy):
    """E[x_k] under the Riccati policy (forward recursion on the regime law)."""
    model = problem.volatility_model
    n = problem.slices
    if isinstance(model, RegimeVolatility):
        p = model.transition_matrix(problem.tau)
        mass = np.zeros(model.n_regimes)
        mass[model.initial_regime] = problem.asset.holdings
    else:
        p = np.ones((1, 1))
        mass = np.array([problem.asset.holdings])
    out = [mass.sum()]
    for k in range(1, n + 1):
        mass = mass * (1.0 - policy.fraction[k - 1])
        out.append(mass.sum())
        mass = mass @ p
    out[-1] = 0.0
    return np.array(out)
