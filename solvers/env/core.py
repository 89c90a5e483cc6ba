"""Batched episode dynamics of the execution environment (numpy; no gymnasium here).

An episode is one simulated path (the simulator's model: prices, volatility, volume, fills).
Observation at ``t_{k-1}``: ``[time left (T - t_{k-1}) / T, holdings x_{k-1} / X, sigma_k / sigma_ref,
transient deviation D_k (0: no spec has transient impact in the simulator yet), volume state
z_{k-1} / s (0 without random volume)]``. Action: the fraction of the holdings to order in slice
``k`` (clipped to ``[0, 1]`` and the slice's cap; the last slice orders everything). Reward of
slice ``k``: ``-(cost_k + lambda tau sigma_k^2 x_k^2) / scale``, ``scale`` = 1 bp of the order's
notional ``1e-4 |X| S_0``, so the expected return is minus the objective in those units.
"""

from __future__ import annotations

import math

import numpy as np

from ..impact import impact_model
from ..market import SliceState, market_model
from ..simulation import simulate_volatility
from ..spec import ExecutionProblem
from ..volatility import RegimeVolatility

__all__ = ["ExecutionDynamics", "OBSERVATION_NAMES", "reward_scale"]

#: the observation's components, in order
OBSERVATION_NAMES = ("time_left", "holdings", "volatility", "transient_deviation", "volume_state")


def reward_scale(problem: ExecutionProblem) -> float:
    """1 bp of the order's notional, ``1e-4 |X| S_0`` (currency per reward unit)."""
    a = problem.asset
    return 1e-4 * abs(a.holdings) * a.price


class ExecutionDynamics:
    """``episodes`` episodes stepped together (see the module docstring)."""

    def __init__(self, problem: ExecutionProblem, vol_substeps: int = 4) -> None:
        if problem.is_basket:
            raise ValueError("the execution environment is for a single asset")
        self.problem = problem
        self.market = market_model(problem)
        self.law = impact_model(problem.asset)
        self.scale = reward_scale(problem)
        self.sigma_ref = problem.asset.volatility or 1.0
        self.vol_substeps = vol_substeps
        self.n, self.tau = problem.slices, problem.tau
        self.big_x = problem.asset.holdings
        caps = problem.asset.slice_caps(self.n)
        self.caps = np.full(self.n, np.inf) if caps is None else caps
        self.regimes = isinstance(problem.volatility_model, RegimeVolatility)

    def reset(self, rng: np.random.Generator, episodes: int) -> np.ndarray:
        """Draw ``episodes`` whole paths and return the first observations ``(episodes, 5)``."""
        p = self.problem
        if p.volatility_model.stochastic:
            self.sigma, self.regime = simulate_volatility(p, episodes, rng, self.vol_substeps)
        else:
            self.sigma = np.broadcast_to(np.sqrt(p.slice_variance()), (episodes, self.n)).copy()
            self.regime = None
        self.xi = rng.standard_normal((episodes, self.n))
        self.draws = self.market.draw(rng, episodes)
        self.k = 1
        self.x = np.full(episodes, float(self.big_x))
        self.d = np.zeros(episodes)
        self.episodes = episodes
        return self.observation()

    def state(self) -> SliceState:
        """The realized state before slice ``k`` (what the policies of :mod:`solvers.execution` see)."""
        k = min(self.k, self.n)
        zeros = np.zeros(self.episodes)
        return SliceState(k, self.x.copy(), self.sigma[:, k - 1], None if self.regime is None else self.regime[:, k - 1],
                          self.market.volume_state(k, self.draws, self.episodes), zeros)

    def observation(self) -> np.ndarray:
        s = self.state()
        vol = self.market.volume.volatility
        left = (self.n - self.k + 1) / self.n if self.k <= self.n else 0.0
        return np.stack([np.full(self.episodes, left), self.x / self.big_x, s.sigma / self.sigma_ref, s.deviation,
                         s.volume_state / vol if vol > 0 else s.volume_state], axis=1)

    def step(self, fraction: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        """Order ``fraction`` of the holdings in slice ``k``; returns ``(observation, reward, done)``."""
        k, tau = self.k, self.tau
        sig = self.sigma[:, k - 1]
        if k == self.n:
            ordered = self.x.copy()
        else:
            a = np.clip(np.nan_to_num(np.asarray(fraction, dtype=np.float64).reshape(self.episodes)), 0.0, 1.0)
            ordered = np.sign(self.big_x) * np.minimum(np.abs(a * self.x), self.caps[k - 1])
        trade = self.market.execute(k, ordered, self.draws) if self.market.active else ordered
        cost = -trade * (self.d - self.law.price_concession(np, trade, tau))
        a0 = self.problem.asset
        self.d = self.d + sig * math.sqrt(tau) * self.xi[:, k - 1] + a0.drift * tau - a0.permanent_impact * trade
        self.x = self.x - trade
        if k == self.n and not self.market.active:
            self.x = np.zeros(self.episodes)
        cost = cost + self.problem.risk_aversion * tau * sig**2 * self.x**2
        if k == self.n:  # the unfilled remainder: one block at S_N
            cost = cost - self.x * (self.d - self.law.price_concession(np, self.x, tau))
        self.k += 1
        return self.observation(), -cost / self.scale, self.k > self.n
