"""The execution environment ``optexec/Execution-v0``: gymnasium's checker, seeding, the
vectorized form, and the dp baseline's mean return = minus its objective (reward units)."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import solvers.env as env_mod
from solvers import load_example
from solvers.spec import example_path


@pytest.mark.parametrize("how", ["example", "problem", "spec"])
def test_check_env_passes(how):
    kwargs = {"example": dict(example="volatility-regimes"),
              "problem": dict(problem=load_example("capped-participation").replace_asset(
                  volume_volatility=0.3, volume_autocorrelation=0.5, fill_participation=0.1, fill_rate=0.9)),
              "spec": dict(spec=str(example_path("square-root-impact")))}[how]
    env = gymnasium.make(env_mod.ENV_ID, **kwargs)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert obs.shape == (5,) and info["reward_scale"] > 0


def test_same_seed_same_episode():
    def episode(seed):
        env = gymnasium.make(env_mod.ENV_ID, example="volatility-regimes")
        obs, _ = env.reset(seed=seed)
        out, done = [obs], False
        while not done:
            obs, reward, done, _, _ = env.step(np.array([0.2]))
            out.append(np.append(obs, reward))
        return np.concatenate(out)

    np.testing.assert_array_equal(episode(3), episode(3))
    assert not np.array_equal(episode(3), episode(4))


def test_vector_env_runs_many_episodes():
    venv = gymnasium.make_vec(env_mod.ENV_ID, num_envs=64, vectorization_mode="vector_entry_point",
                              example="almgren-chriss-2001")
    obs, info = venv.reset(seed=1)
    assert obs.shape == (64, 5)
    total = np.zeros(64)
    for _ in range(5):
        obs, reward, terminated, truncated, info = venv.step(np.full((64, 1), 0.3))
        total += reward
    assert terminated.all() and np.all(obs[:, 1] == 0.0)
    obs, reward, terminated, _, _ = venv.step(np.zeros((64, 1)))  # next-step autoreset
    assert not terminated.any() and np.all(obs[:, 1] == 1.0)


@pytest.mark.parametrize("name", ["almgren-chriss-2001", "volatility-regimes", "square-root-impact"])
def test_dp_baseline_return_is_minus_its_objective(name):
    problem = load_example(name)
    agent = env_mod.baseline_agent(problem, "dp")
    returns = env_mod.episode_returns(problem, agent, 20_000, seed=0)
    target = -agent.objective / env_mod.reward_scale(problem)
    se = returns.std(ddof=1) / np.sqrt(returns.size)
    assert abs(returns.mean() - target) < 4 * se, (returns.mean(), target, se)


def test_closed_form_agent_on_the_env_matches_the_simulator():
    problem = load_example("almgren-chriss-2001")
    agent = env_mod.baseline_agent(problem, "closed-form")
    returns = env_mod.episode_returns(problem, agent, 4000, seed=2)
    target = -agent.objective / env_mod.reward_scale(problem)
    assert abs(returns.mean() - target) < 4 * returns.std(ddof=1) / np.sqrt(returns.size)
