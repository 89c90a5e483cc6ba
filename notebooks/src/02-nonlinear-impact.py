# %% [markdown]
# # Nonlinear impact: the square-root law against linear
#
# **Question.** Empirical impact grows like the square root of the trading rate, not linearly.
# How does a power-law temporary impact `h(v) = eta |v|^beta` bend the optimal schedule, why
# does the answer now depend on the order size, and do the independent solvers agree on it?
#
# No closed form covers `beta != 1`; the convex solver (`qp`, CVXPY with a power cone, a
# convex-concave loop for the `-1/2 gamma sum n^2` term and a Newton polish certified by an
# independent KKT residual) and backward induction (`dp`, a grid in holdings) both do.

# %%
import numpy as np
import matplotlib.pyplot as plt

from solvers import load_example, solve

sqrt_problem = load_example("square-root-impact")           # beta = 0.5, N = 10
linear_problem = load_example("almgren-chriss-2001").replace(slices=10)
r_sqrt = solve(sqrt_problem, "qp")
r_lin = solve(linear_problem, "closed-form")
d = r_sqrt.diagnostics
print(f"qp status {r_sqrt.status}, objective {r_sqrt.objective:,.1f}, KKT residual {d['kkt_residual']:.1e}, "
      f"convex-concave iterations {d['convex_concave_iterations']}")
print("global optimum:", d["global_optimum"], "-", d["global_optimum_reason"])

# %%
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(r_lin.times, r_lin.holdings, "o-", label="linear impact (closed form)")
ax.plot(r_sqrt.times, r_sqrt.holdings, "s-", label="square-root impact (qp)")
ax.set_xlabel("time (days)"); ax.set_ylabel("shares held"); ax.legend(); plt.show()

# %% [markdown]
# ## How the exponent bends the schedule
# For each `beta` we pick `eta` so that the impact per share at the TWAP rate `X / T` is the same
# as in the linear model; only the curvature of the impact differs. Concave impact (`beta < 1`)
# makes a fast slice relatively cheap, so the schedule front-loads more. For `beta < 1` the spec
# also says `no_reversal = true` (a sell program never buys): with concave impact the
# `-1/2 gamma sum n^2` of the permanent impact pays for trades that alternate in sign without
# bound once `gamma (1 + cos(pi/N)) > lambda tau sigma^2`, as here, so only the one-way problem
# has an optimum (the bundled square-root example says so too).

# %%
x0, horizon = 1e6, linear_problem.horizon
v_twap = x0 / horizon
fig, ax = plt.subplots(figsize=(7, 4))
for beta in (0.5, 0.75, 1.0, 1.5):
    eta = 2.5e-6 * v_twap ** (1 - beta)
    p = linear_problem.replace(no_reversal=beta < 1).replace_asset(0, impact_exponent=beta, temporary_impact=eta)
    r = solve(p, "qp")
    ax.plot(r.times, r.holdings / x0, "o-", ms=3, label=f"beta = {beta} (objective {r.objective:,.0f})")
ax.set_xlabel("time (days)"); ax.set_ylabel("fraction held"); ax.legend(); plt.show()

# %% [markdown]
# ## Order size matters once impact is nonlinear
# With linear impact, impact cost and risk both scale like `X^2`: the normalized schedule is the
# same for every order size. With `beta = 1/2`, impact scales like `X^1.5` and risk like `X^2`,
# so large orders are driven by risk (trade fast) and small ones by impact (trade evenly). The
# crossover is near the size where the two are equal for TWAP,
# `eta X^1.5 T^-0.5 = lambda sigma^2 X^2 T / 3`, i.e. `X* = (3 eta / (lambda sigma^2 T^1.5))^2`.

# %%
a = sqrt_problem.asset
x_star = (3 * a.temporary_impact / (sqrt_problem.risk_aversion * a.volatility**2 * horizon**1.5)) ** 2
sizes = np.geomspace(x_star / 100, x_star * 100, 9)
first_slice = []
for size in sizes:
    p = sqrt_problem.replace_asset(0, holdings=float(size))
    r = solve(p, "qp")
    first_slice.append(r.trades[0] / size)
lin_first = solve(linear_problem, "closed-form").trades[0] / x0
fig, ax = plt.subplots(figsize=(7, 4))
ax.semilogx(sizes, first_slice, "o-", label="square-root impact")
ax.axhline(lin_first, color="gray", ls=":", label="linear impact (any size)")
ax.axhline(1 / sqrt_problem.slices, color="k", lw=0.5, label="TWAP")
ax.axvline(x_star, color="C3", ls="--", label=f"X* = {x_star:,.0f} shares")
ax.set_xlabel("order size X (shares)"); ax.set_ylabel("fraction sold in the first slice"); ax.legend(); plt.show()

# %% [markdown]
# ## Two independent solvers, one answer
# Backward induction on a holdings grid solves the same discrete problem by a completely
# different route; its error shrinks as the grid refines.

# %%
for points in (51, 101, 201):
    r_dp = solve(sqrt_problem, "dp", x_points=points)
    gap = abs(r_dp.objective - r_sqrt.objective) / r_sqrt.objective
    print(f"dp with {points:3d} holdings points: objective {r_dp.objective:,.1f}, relative gap to qp {gap:.1e}")

# %% [markdown]
# ## What the plots show
# - Square-root impact front-loads the sale more than linear impact with the same impact at the
#   TWAP rate: a fast slice costs relatively less when impact is concave.
# - The schedule now depends on the order size: well below `X*` it approaches TWAP, well above
#   it trades much faster; with linear impact the fraction is the same at every size.
# - The convex solver and backward induction agree, and the gap closes as the dp grid refines.
