"""Execution as a reinforcement-learning environment: ``import solvers.env`` registers
``optexec/Execution-v0`` with gymnasium (``gymnasium.make("optexec/Execution-v0", example=NAME)``,
``problem=...`` or ``spec=PATH``; ``gymnasium.make_vec`` for many episodes at once).

Modules: :mod:`.core` (the dynamics, numpy), :mod:`.environment` (the gymnasium classes),
:mod:`.agents` (closed-form, dp and hjb baselines). Reward units: 1 bp of the order's notional.
"""

import gymnasium

from .agents import PolicyAgent, baseline_agent, episode_returns
from .core import OBSERVATION_NAMES, ExecutionDynamics, reward_scale
from .environment import ExecutionEnv, VectorExecutionEnv, problem_of

ENV_ID = "optexec/Execution-v0"

__all__ = [
    "ENV_ID", "ExecutionEnv", "VectorExecutionEnv", "ExecutionDynamics", "OBSERVATION_NAMES", "reward_scale",
    "problem_of", "PolicyAgent", "baseline_agent", "episode_returns",
]

if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="solvers.env.environment:ExecutionEnv",
                       vector_entry_point="solvers.env.environment:VectorExecutionEnv")
