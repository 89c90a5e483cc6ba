# %% [markdown]
# # The Almgren-Chriss trade-off
#
# **Question.** A trader must sell a large block within a horizon. Trading fast pays market
# impact; trading slowly leaves the position exposed to price moves. Which schedule balances
# the two best, how does the answer depend on risk aversion, volatility, impact and the
# horizon, and what does the efficient frontier of expected cost against risk look like?
#
# We use the closed form of Almgren & Chriss (2001) on their own example (sell 1e6 shares over
# 5 days, the conventions page) and price every schedule with `solvers.costs`, the one place where the
# expected cost `E` and the variance `V` of a schedule are defined.

# %%
import numpy as np
import matplotlib.pyplot as plt

from solvers import (load_example, solve, schedule_cost, efficient_frontier, mean_var_optimum,
                     cost_vs_horizon, discrete_kappa, half_life, twap)
from solvers import closed_form

problem = load_example("almgren-chriss-2001")
result = solve(problem, "closed-form")
print(result.summary())

# %% [markdown]
# The published figures are reproduced: `kappa = 0.60708` per day, `E = 911,227`,
# `V = 3.64129e11`. The naive TWAP schedule costs less in expectation but carries three times
# the variance:

# %%
naive = schedule_cost(problem, twap(problem))
print(f"TWAP:    E = {naive.expected_cost:12,.0f}   sqrt(V) = {naive.std:12,.0f}")
print(f"optimal: E = {result.expected_cost:12,.0f}   sqrt(V) = {result.std:12,.0f}")
print(f"the optimum: {1 - result.std / naive.std:.0%} less standard deviation for "
      f"{result.expected_cost / naive.expected_cost - 1:.0%} more expected cost")

# %% [markdown]
# ## Trajectories for several risk aversions
# `lambda = 0` is the straight line; larger `lambda` front-loads the sale. Finer slices
# (N = 50) show the shape `x(t) = X sinh(kappa (T - t)) / sinh(kappa T)`.

# %%
fine = problem.replace(slices=50)
fig, ax = plt.subplots(figsize=(7, 4))
for lam in [0.0, 1e-7, 1e-6, 1e-5]:
    r = solve(fine.replace(risk_aversion=lam), "closed-form")
    ax.plot(r.times, r.holdings, label=f"lambda = {lam:g}, half-life = {half_life(r.problem):.3g} days")
ax.set_xlabel("time (days)"); ax.set_ylabel("shares held"); ax.legend(); ax.set_title("optimal holdings")
plt.show()

# %% [markdown]
# ## The efficient frontier
# One vectorized call prices the optimal schedule for 200 values of `lambda`. Along the
# frontier the slope `dE/dV` equals `-lambda`: the chosen point is where a line of slope
# `-lambda` touches the curve.

# %%
lams = np.geomspace(1e-9, 1e-3, 200)
frontier = efficient_frontier(problem, lams)
i = np.argmin(np.abs(lams - problem.risk_aversion))
slope = frontier.slope()
print(f"dE/dV at lambda = {lams[i]:.3g}: {slope[i]:.4g}")
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(frontier.std, frontier.expected_cost, label="efficient frontier")
ax.plot(result.std, result.expected_cost, "o", label="lambda = 1e-6")
ax.plot(naive.std, naive.expected_cost, "s", label="TWAP (lambda = 0)")
ax.set_xlabel("sqrt(V)"); ax.set_ylabel("E"); ax.legend(); plt.show()

# %% [markdown]
# ## The U-shaped cost curve over the horizon
# With the slice length fixed at one day, TWAP's `E + lambda V` falls as the horizon grows
# (impact ~ 1/T) and then rises (risk ~ T): it has an interior minimum. The optimal schedule
# never gets worse with more time.

# %%
curve = cost_vs_horizon(problem, range(1, 21))
print(f"TWAP is cheapest at T = {curve.best_horizon:g} days")
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(curve.horizons, curve.twap_objective, "o-", label="TWAP")
ax.plot(curve.horizons, curve.optimal_objective, "s-", label="optimal")
ax.axvline(curve.best_horizon, ls="--", color="gray")
ax.set_xlabel("horizon (days)"); ax.set_ylabel("E + lambda V"); ax.legend(); plt.show()

# %% [markdown]
# ## Volatility and impact
# The urgency `kappa` grows like `sigma sqrt(lambda / eta)`: more volatile stocks and cheaper
# impact both call for faster trading.

# %%
sigmas = np.linspace(0.2, 2.0, 10)
etas = [1e-6, 2.5e-6, 1e-5]
fig, ax = plt.subplots(figsize=(7, 4))
for eta in etas:
    hl = [half_life(problem.replace_asset(0, volatility=s, temporary_impact=eta)) for s in sigmas]
    ax.plot(sigmas, hl, "o-", label=f"eta = {eta:g}")
ax.set_xlabel("sigma ($/share/day^0.5)"); ax.set_ylabel("half-life 1/kappa (days)"); ax.legend(); plt.show()

# %% [markdown]
# ## Mean-VaR
# Minimizing `E + z sqrt(V)` (the value at risk at confidence `Phi(z)`) picks a point on the same
# frontier, where `2 lambda sqrt(V) = z`.

# %%
for confidence in (0.90, 0.95, 0.99):
    mv = mean_var_optimum(problem, confidence)
    print(f"confidence {confidence:.2f}: lambda* = {mv.risk_aversion:.3g}, E = {mv.result.expected_cost:,.0f}, "
          f"VaR objective = {mv.value_at_risk_objective:,.0f}")

# %% [markdown]
# ## Discrete against continuous time
# The discrete solution approaches the continuous one (`E + lambda V = 1,696,984.9`) at first
# order in `tau`: halving the slice length halves the gap.

# %%
cont = solve(problem, "closed-form", time_model="continuous").objective
for n in (5, 20, 80, 320):
    gap = solve(problem.replace(slices=n), "closed-form").objective - cont
    print(f"N = {n:4d}: discrete - continuous = {gap:12,.1f}")

# %% [markdown]
# ## What the plots show
# - Risk aversion turns the straight TWAP line into a front-loaded sinh profile whose half-life
#   `1/kappa` is the natural time scale of the trade (1.65 days in the AC example).
# - The frontier is convex; the optimum at `lambda = 1e-6` buys a 42% lower standard deviation
#   than TWAP for 38% more expected cost (printed above).
# - For a uniform schedule there is a best horizon (3 days here); an optimal trader is never
#   hurt by more time.
# - Volatility shortens, impact lengthens the half-life; mean-VaR picks a point on the same
#   frontier; discrete and continuous answers differ by `O(tau)`.
