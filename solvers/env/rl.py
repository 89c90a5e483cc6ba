"""A small policy-gradient agent for the execution environment (JAX + optax).

Policy: the logit of the fraction to order is ``w . phi(obs) + b`` plus Gaussian exploration
noise ``s e`` (``phi`` = time left, holdings, volatility, volume state, time left x volatility,
and the ``1 / (slices left)`` of TWAP's logit). REINFORCE with a per-slice mean baseline on the
vectorized dynamics; ``train`` returns the learning curve (mean return per batch, reward units).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..spec import ExecutionProblem
from .core import ExecutionDynamics

__all__ = ["LinearAgent", "features", "train"]


def features(obs: np.ndarray, slices: int) -> np.ndarray:
    """``phi(obs)``, shape ``(B, 6)``."""
    left = obs[:, 0]
    remaining = np.maximum(np.rint(left * slices), 1.0)
    twap_logit = -np.log(np.maximum(remaining - 1.0, 1e-3))  # logit of 1 / remaining
    return np.stack([left, obs[:, 1], obs[:, 2], obs[:, 4], left * obs[:, 2], twap_logit], axis=1)


@dataclass
class LinearAgent:
    """Deterministic (mean) policy of the trained agent: ``act(obs) -> fractions``."""

    weights: np.ndarray
    bias: float
    slices: int
    curve: list[float] = field(default_factory=list)

    def act(self, obs: np.ndarray) -> np.ndarray:
        z = features(np.atleast_2d(obs), self.slices) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))


def _loss(params, phi, noise, advantage):
    w, b, log_s = params["w"], params["b"], params["log_s"]
    mean = phi @ w + b  # (T, B)
    s = jnp.exp(log_s)
    taken = jax.lax.stop_gradient(mean) + noise  # the sampled logits
    logp = -0.5 * ((taken - mean) / s) ** 2 - log_s  # their log density, up to a constant
    return -jnp.mean(jnp.sum(logp * advantage, axis=0))


def train(problem: ExecutionProblem, *, iterations: int = 400, batch: int = 512, learning_rate: float = 0.01,
          seed: int = 0, exploration: float = 0.3) -> LinearAgent:
    """REINFORCE on ``iterations`` batches of ``batch`` episodes; returns the mean-policy agent
    with ``curve`` (mean episode return of each batch, reward units)."""
    n = problem.slices
    dyn = ExecutionDynamics(problem)
    rng = np.random.default_rng(seed)
    params = {"w": jnp.zeros(6), "b": jnp.asarray(0.0), "log_s": jnp.asarray(np.log(exploration))}
    params["w"] = params["w"].at[5].set(1.0)  # start at TWAP
    opt = optax.adam(learning_rate)
    state = opt.init(params)
    grad = jax.jit(jax.grad(_loss))
    curve = []
    for _ in range(iterations):
        obs = dyn.reset(rng, batch)
        phis, noises, rewards = [], [], []
        w, b, s = np.asarray(params["w"]), float(params["b"]), float(np.exp(params["log_s"]))
        done = False
        while not done:
            phi = features(obs, n)
            e = s * rng.standard_normal(batch)
            obs, r, done = dyn.step(1.0 / (1.0 + np.exp(-(phi @ w + b + e))))
            phis.append(phi)
            noises.append(e)
            rewards.append(r)
        rewards = np.asarray(rewards)  # (N, B)
        to_go = np.cumsum(rewards[::-1], axis=0)[::-1]
        adv = to_go - to_go.mean(axis=1, keepdims=True)
        adv = adv / (adv.std() + 1e-12)
        g = grad(params, jnp.asarray(np.asarray(phis)), jnp.asarray(np.asarray(noises)), jnp.asarray(adv))
        updates, state = opt.update(g, state, params)
        params = optax.apply_updates(params, updates)
        curve.append(float(rewards.sum(axis=0).mean()))
    return LinearAgent(np.asarray(params["w"]), float(params["b"]), n, curve)
