"""Baseline agents of the execution environment: any policy of the project acting on
observations (:class:`PolicyAgent`), and the closed-form, dp and hjb optima (:func:`baseline_agent`).

An agent maps a batch of observations ``(B, 5)`` to the fractions of holdings to order ``(B,)``;
:func:`episode_returns` plays it on the vectorized dynamics (reward units: 1 bp of notional).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..execution import dp_under_fills
from ..market import SliceState, market_model
from ..methods import solve
from ..policy import ProportionalPolicy
from ..spec import ExecutionProblem
from ..volatility import RegimeVolatility
from .core import ExecutionDynamics

__all__ = ["PolicyAgent", "baseline_agent", "episode_returns"]


class PolicyAgent:
    """A policy (``order(state)`` or ``trade(k, x, sigma, regime)``) acting on observations.

    Attributes:
        objective: the policy's stated objective ``E[C + R]`` (currency) when known, else None.
    """

    def __init__(self, problem: ExecutionProblem, policy: Any, name: str = "policy", objective: float | None = None):
        self.problem, self.policy, self.name, self.objective = problem, policy, name, objective
        self.market = market_model(problem)
        model = problem.volatility_model
        self.levels = np.asarray(model.levels, dtype=np.float64) if isinstance(model, RegimeVolatility) else None
        self.sigma_ref = problem.asset.volatility or 1.0

    def state(self, obs: np.ndarray) -> SliceState:
        """The :class:`SliceState` an observation batch describes."""
        obs = np.atleast_2d(np.asarray(obs, dtype=np.float64))
        n = self.problem.slices
        k = int(n - round(float(obs[0, 0]) * n) + 1)
        sigma = obs[:, 2] * self.sigma_ref
        regime = None if self.levels is None else np.abs(sigma[:, None] - self.levels[None, :]).argmin(axis=1)
        vol = self.market.volume.volatility
        return SliceState(k, obs[:, 1] * self.problem.asset.holdings, sigma, regime,
                          obs[:, 4] * vol if vol > 0 else obs[:, 4], obs[:, 3])

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Fractions of the holdings to order, shape ``(B,)``."""
        s = self.state(obs)
        if s.k >= self.problem.slices and not self.problem.has_terminal_penalty:
            return np.ones(s.holdings.shape)
        if hasattr(self.policy, "order"):
            order = self.policy.order(s)
        elif getattr(self.policy, "uses_deviation", False):  # transient impact: the deviation D_k met
            order = self.policy.trade(s.k, s.holdings, s.sigma, s.regime, deviation=s.deviation)
        else:
            order = self.policy.trade(s.k, s.holdings, s.sigma, s.regime)
        safe = np.where(s.holdings != 0, s.holdings, 1.0)
        return np.where(s.holdings != 0, np.asarray(order) / safe, 0.0)


def baseline_agent(problem: ExecutionProblem, method: str, **settings: Any) -> PolicyAgent:
    """The optimum of ``method`` as an agent: ``closed-form`` (its schedule in feedback form),
    ``dp`` (the backward induction; under a fill model, the one under fills) or ``hjb``."""
    if method == "dp" and market_model(problem).active:
        sol = dp_under_fills(problem, **settings)
        return PolicyAgent(problem, sol.policy, "dp-under-fills", sol.objective)
    result = solve(problem, method, **settings)
    policy = result.policy if result.policy is not None else ProportionalPolicy(problem, result.holdings)
    return PolicyAgent(problem, policy, method, result.objective)


def episode_returns(problem: ExecutionProblem, agent: Any, episodes: int, seed: int = 0) -> np.ndarray:
    """Returns of ``episodes`` episodes of ``agent`` (``act(obs) -> fractions``), all at once."""
    dyn = ExecutionDynamics(problem)
    obs = dyn.reset(np.random.default_rng(seed), episodes)
    total = np.zeros(episodes)
    done = False
    while not done:
        obs, reward, done = dyn.step(agent.act(obs))
        total += reward
    return total
