"""Gymnasium environments ``optexec/Execution-v0``: :class:`ExecutionEnv` (one episode) and
:class:`VectorExecutionEnv` (many episodes stepped together, numpy-vectorized).

Build with ``example=NAME``, ``problem=ExecutionProblem`` or ``spec=PATH`` (one of them).
Observations, actions and rewards: :mod:`solvers.env.core`; ``info["reward_scale"]`` is the
currency of one reward unit (1 bp of the order's notional).
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from ..spec import ExecutionProblem, load_example, load_problem
from .core import OBSERVATION_NAMES, ExecutionDynamics

__all__ = ["ExecutionEnv", "VectorExecutionEnv", "problem_of"]


def problem_of(example: str | None = None, problem: ExecutionProblem | None = None, spec: str | None = None
               ) -> ExecutionProblem:
    """The problem named by exactly one of ``example``, ``problem`` or ``spec`` (a TOML path)."""
    given = [v is not None for v in (example, problem, spec)]
    if sum(given) != 1:
        raise ValueError("give exactly one of example=NAME, problem=ExecutionProblem or spec=PATH")
    if problem is not None:
        return problem
    return load_example(example) if example is not None else load_problem(spec)


def _spaces(problem: ExecutionProblem):
    # holdings stay in [0, 1] (orders never reverse); the other bounds are wide, finite guards
    low = np.array([0.0, 0.0, 0.0, -1e6, -1e3])
    high = np.array([1.0, 1.0, 1e6, 1e6, 1e3])
    return spaces.Box(low, high, dtype=np.float64), spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float64)


class ExecutionEnv(gymnasium.Env):
    """One execution episode of ``N`` steps (see the module docstring)."""

    metadata = {"render_modes": []}

    def __init__(self, example: str | None = None, problem: ExecutionProblem | None = None, spec: str | None = None,
                 vol_substeps: int = 4) -> None:
        self.problem = problem_of(example, problem, spec)
        self.dynamics = ExecutionDynamics(self.problem, vol_substeps)
        self.observation_space, self.action_space = _spaces(self.problem)
        self.observation_names = OBSERVATION_NAMES

    def _info(self) -> dict[str, Any]:
        return {"reward_scale": self.dynamics.scale, "slice": self.dynamics.k, "holdings": float(self.dynamics.x[0])}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        obs = self.dynamics.reset(self.np_random, 1)[0]
        return obs, self._info()

    def step(self, action):
        obs, reward, done = self.dynamics.step(np.asarray(action, dtype=np.float64).reshape(1))
        return obs[0], float(reward[0]), bool(done), False, self._info()


class VectorExecutionEnv(VectorEnv):
    """``num_envs`` episodes stepped together; all end after ``N`` steps and the next ``step``
    starts new ones (next-step autoreset)."""

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, example: str | None = None, problem: ExecutionProblem | None = None,
                 spec: str | None = None, vol_substeps: int = 4) -> None:
        self.problem = problem_of(example, problem, spec)
        self.num_envs = int(num_envs)
        self.dynamics = ExecutionDynamics(self.problem, vol_substeps)
        self.single_observation_space, self.single_action_space = _spaces(self.problem)
        self.observation_space = spaces.Box(np.tile(self.single_observation_space.low, (self.num_envs, 1)),
                                            np.tile(self.single_observation_space.high, (self.num_envs, 1)),
                                            dtype=np.float64)
        self.action_space = spaces.Box(0.0, 1.0, shape=(self.num_envs, 1), dtype=np.float64)
        self._done = False

    def _info(self) -> dict[str, Any]:
        return {"reward_scale": self.dynamics.scale, "slice": self.dynamics.k}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._np_random, self._np_random_seed = gymnasium.utils.seeding.np_random(seed)
        self._done = False
        return self.dynamics.reset(self.np_random, self.num_envs), self._info()

    def step(self, actions):
        if self._done:
            obs = self.dynamics.reset(self.np_random, self.num_envs)
            self._done = False
            zeros = np.zeros(self.num_envs, dtype=bool)
            return obs, np.zeros(self.num_envs), zeros, zeros, self._info()
        obs, reward, done = self.dynamics.step(np.asarray(actions, dtype=np.float64).reshape(self.num_envs))
        self._done = done
        flags = np.full(self.num_envs, done)
        return obs, reward, flags, np.zeros(self.num_envs, dtype=bool), self._info()
