"""The execution environment ``optexec/Execution-v0``: gymnasium's checker, seeding, the
vectorized form, and the dp baseline's mean return = minus its objective (reward units)."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import solvers.env as env_mod
from solvers import VolatilityPath, load_example
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


def _returns_minus_objective(problem, agent, episodes, seed):
    """The mean return is minus the agent's stated objective (bp units) within 4 SE."""
    returns = env_mod.episode_returns(problem, agent, episodes, seed=seed)
    target = -agent.objective / env_mod.reward_scale(problem)
    se = returns.std(ddof=1) / np.sqrt(returns.size)
    assert abs(returns.mean() - target) < 4 * se + 1e-9 * abs(target), (returns.mean(), target, se)


def _spec(case):
    if case == "transient":  # dp's (x, D) feedback reads the deviation the environment carries
        return load_example("liquidity-cascade").replace_asset(0, temporary_impact=1e-7).replace(risk_aversion=1e-6)
    if case == "soft-finish":  # the agent chooses slice N too; the remainder pays alpha x_N^2
        return load_example("almgren-chriss-2001").replace(terminal_penalty=1e-6)
    if case == "regimes-closure":  # the night's move uses each path's sigma_{k+1}
        return load_example("volatility-regimes").replace(closures=[{"after_slice": 10, "duration": 0.5}])
    return load_example(case)


@pytest.mark.parametrize("case", ["transient", "intraday-u-shape", "overnight-gap", "soft-finish", "regimes-closure"])
def test_dp_baseline_return_is_minus_its_objective_on_the_new_models(case):
    """Per-slice impact, closures, a soft finish and transient impact follow the simulator's
    rules in the environment: dp's policy returns minus its stated objective within 4 SE."""
    problem = _spec(case)
    _returns_minus_objective(problem, env_mod.baseline_agent(problem, "dp"), 20_000, seed=1)


def test_power_law_kernel_schedule_in_the_environment_costs_what_costs_py_says():
    """A static schedule under a power-law kernel (the displacement from the whole history):
    the mean return is minus its exact cost from costs.py within 4 SE."""
    problem = load_example("liquidity-cascade").replace_asset(
        0, temporary_impact=1e-7, transient_kernel="power_law", resilience=0.0, kernel_exponent=0.4,
        kernel_timescale=0.05).replace(risk_aversion=1e-6)
    _returns_minus_objective(problem, env_mod.baseline_agent(problem, "qp"), 4000, seed=3)


def test_per_slice_impact_prices_each_slice_with_its_own_eta():
    """Without price noise (volatility 1e-13 of the profile) an episode's cost is deterministic: the dp policy on
    the intraday profile returns minus its objective to 1e-9 (the mean eta instead of eta_k moves
    it by percents)."""
    base = load_example("intraday-u-shape")
    quiet = VolatilityPath(path=tuple(1e-13 * v for v in base.volatility_model.path))
    problem = base.replace(volatility_model=quiet, assets=(base.asset.replace(volatility=quiet.path[0]),))
    agent = env_mod.baseline_agent(problem, "dp")
    returns = env_mod.episode_returns(problem, agent, 8, seed=4)
    target = -agent.objective / env_mod.reward_scale(problem)
    assert np.max(np.abs(returns / target - 1)) <= 1e-9, (returns, target)
