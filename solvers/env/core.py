"""Batched episode dynamics of the execution environment (numpy; no gymnasium here).

An episode is one simulated path (the simulator's model: prices, volatility, volume, fills).
Observation at ``t_{k-1}``: ``[time left (T - t_{k-1}) / T, holdings x_{k-1} / X, sigma_k / sigma_ref,
transient deviation D_k (currency / share; 0 without transient impact), volume state z_{k-1} / s
(0 without random volume)]``. Action: the fraction of the holdings to order in slice ``k``
(clipped to ``[0, 1]`` and the slice's cap; the last slice orders everything, unless the spec has a
terminal penalty: then the remainder pays ``alpha x_N^2``). Reward of slice ``k``: ``-(cost_k +
lambda (tau sigma_k^2 + d sigma_c^2) x_k^2) / scale`` (``d``: a closure after slice ``k``),
``scale`` = 1 bp of the order's notional ``1e-4 |X| S_0``, so the expected return is minus the
objective in those units. Per-slice impact, closures and transient impact follow the simulator.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..impact import impact_model
from ..market import SliceState, market_model
from ..simulation import simulate_volatility
from ..spec import ExecutionProblem
from ..transient import transient_model
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
        a = problem.asset
        eta, eps = a.eta_slices(self.n), a.spread_slices(self.n)
        self.laws = ([dataclasses.replace(self.law, eta=float(eta[k]), epsilon=float(eps[k])) for k in range(self.n)]
                     if a.varying_keys else [self.law] * self.n)
        self.kernel = transient_model(a)  # None without transient impact
        self.times = problem.trade_times
        self.alpha = float(problem.terminal_penalties()[0]) if problem.has_terminal_penalty else None
        self.closures = {c.after_slice: (j, c) for j, c in enumerate(problem.closures)}

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
        # drawn last, so that a spec without closures or a kernel keeps its episodes
        self.xc = rng.standard_normal((episodes, len(self.closures))) if self.closures else None
        kr = self.kernel
        self.volume = None if kr is None else np.full(episodes, float(kr.volume(kr.initial_deviation)))
        self.history = None if kr is None or kr.exponential else np.zeros((self.n, episodes))
        return self.observation()

    def _displacement(self, at: float, k: int) -> np.ndarray:
        """The volume displacement ``E`` (shares) met at calendar time ``at`` after ``k - 1`` trades."""
        kr = self.kernel
        if kr.exponential:
            return self.volume
        s = self.times
        return (float(kr.volume(kr.initial_deviation)) * kr.decay(np, at - s[0])
                + kr.decay(np, at - s[: k - 1]) @ self.history[: k - 1])

    def state(self) -> SliceState:
        """The realized state before slice ``k`` (what the policies of :mod:`solvers.execution` see)."""
        k = min(self.k, self.n)
        deviation = (np.zeros(self.episodes) if self.kernel is None or self.k > self.n else
                     self.kernel.book(np, self._displacement(self.times[k - 1], k)))
        return SliceState(k, self.x.copy(), self.sigma[:, k - 1], None if self.regime is None else self.regime[:, k - 1],
                          self.market.volume_state(k, self.draws, self.episodes), deviation)

    def observation(self) -> np.ndarray:
        s = self.state()
        vol = self.market.volume.volatility
        left = (self.n - self.k + 1) / self.n if self.k <= self.n else 0.0
        return np.stack([np.full(self.episodes, left), self.x / self.big_x, s.sigma / self.sigma_ref, s.deviation,
                         s.volume_state / vol if vol > 0 else s.volume_state], axis=1)

    def step(self, fraction: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        """Order ``fraction`` of the holdings in slice ``k``; returns ``(observation, reward, done)``."""
        k, tau, n, kr = self.k, self.tau, self.n, self.kernel
        sig = self.sigma[:, k - 1]
        if k == n and self.alpha is None:
            ordered = self.x.copy()
        else:
            a = np.clip(np.nan_to_num(np.asarray(fraction, dtype=np.float64).reshape(self.episodes)), 0.0, 1.0)
            ordered = np.sign(self.big_x) * np.minimum(np.abs(a * self.x), self.caps[k - 1])
        trade = self.market.execute(k, ordered, self.draws) if self.market.active else ordered
        law = self.laws[k - 1]
        cost = -trade * (self.d - law.price_concession(np, trade, tau))
        if kr is not None:  # the trade walks the book from the displacement it meets
            volume = self._displacement(self.times[k - 1], k)
            cost = cost + kr.step_cost(np, volume, trade)
            if kr.exponential:  # on to the next trade (after slice N: to t_N)
                gap = (self.times[k] if k < n else self.times[n - 1] + tau) - self.times[k - 1]
                self.volume = math.exp(-kr.rho * gap) * (volume + trade)
            else:
                self.history[k - 1] = trade
        a0 = self.problem.asset
        self.d = self.d + sig * math.sqrt(tau) * self.xi[:, k - 1] + a0.drift * tau - a0.permanent_impact * trade
        self.x = self.x - trade
        if k == n and not self.market.active and self.alpha is None:
            self.x = np.zeros(self.episodes)
        weight = tau * sig**2
        if k in self.closures:  # closed after slice k: x_k held through the move (the simulator's rule)
            j, c = self.closures[k]
            sc = c.volatility if c.volatility is not None else self.sigma[:, k]
            self.d = self.d + sc * math.sqrt(c.duration) * self.xc[:, j] + a0.drift * c.duration
            weight = weight + c.duration * sc**2
        cost = cost + self.problem.risk_aversion * weight * self.x**2
        if k == n and self.alpha is not None:  # the remainder x_N: liquidated at S_N for alpha x_N^2
            cost = cost + self.alpha * self.x**2 - self.x * self.d
        elif k == n:  # the unfilled remainder: one block at S_N, at its temporary and transient cost
            cost = cost - self.x * (self.d - law.price_concession(np, self.x, tau))
            if kr is not None:
                cost = cost + kr.step_cost(np, self._displacement(self.times[n - 1] + tau, n + 1), self.x)
        self.k += 1
        return self.observation(), -cost / self.scale, self.k > self.n
