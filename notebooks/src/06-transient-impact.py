# %% [markdown]
# # Transient impact: a book that refills
#
# **Question.** When a sale pushes the price down and the book refills at resilience `rho`
# (Obizhaeva-Wang), how should a large order be split, how much does the optimum save against one
# block and against TWAP, and what does the price deviation `D` look like along the way?
#
# A trade of `n_k` shares at time `s_k` meets the deviation `D_k` left by earlier trades and pays
# `n_k D_k + kappa_T n_k^2 / 2`; between trades `D` decays as `exp(-rho t)` (the conventions page,
# "Transient impact"). The bundled example `liquidity-cascade` sells 100,000 shares in one hour
# into a book holding about 50,000 near the bid.

# %%
import numpy as np
import matplotlib.pyplot as plt

from solvers import load_example, solve
from solvers.costs import schedule_cost
from solvers.schedules import twap
from solvers.transient import ow_continuous_cost, transient_model

problem = load_example("liquidity-cascade")
asset = problem.asset
print(f"X = {asset.holdings:,.0f} shares, kappa_T = {asset.transient_impact}, rho = {asset.resilience}/hour, "
      f"N = {problem.slices}")

# %% [markdown]
# ## Optimal trades for several resilience rates
# The optimum trades a block at each end and a steady rate between: the first block uses the
# book's depth, the interior trades match its refill, and the last block pays no future decay.
# A slow book (small `rho`) makes the blocks large; a fast one brings the schedule towards TWAP.

# %%
rates = (1.0, 6.0, 30.0, 120.0)
fig, ax = plt.subplots(figsize=(7, 4))
rows = []
for rho in rates:
    p = problem.replace_asset(0, resilience=rho)
    opt = solve(p, "closed-form")
    block = np.r_[asset.holdings, np.zeros(p.slices)]
    block_cost = schedule_cost(p, block).transient
    twap_cost = schedule_cost(p, twap(p)).transient
    rows.append((rho, opt.objective, block_cost, twap_cost, ow_continuous_cost(asset.holdings, asset.transient_impact, rho, p.horizon)))
    ax.plot(p.trade_times * 60, opt.trades / 1e3, "o-", ms=3, label=f"rho = {rho:g}/hour")
ax.set_xlabel("trade time (minutes)"); ax.set_ylabel("shares sold (thousands)"); ax.set_yscale("log")
ax.legend(); plt.show()

# %% [markdown]
# ## Cost saved against one block and against TWAP
# One block pays `kappa_T X^2 / 2` whatever the resilience; TWAP ignores the book's depth. While
# `rho tau` is small the optimum's cost is close to the continuous limit `kappa_T X^2 / (rho T + 2)`;
# at `rho = 120`/hour (`rho tau = 4` on two-minute slices) the book refills fully between trades,
# the grid cannot follow it, and the optimum is TWAP.

# %%
print(f"{'rho':>6} {'optimum':>10} {'one block':>10} {'TWAP':>10} {'saved vs block':>15} {'saved vs TWAP':>14} {'continuous':>11}")
for rho, opt_c, block_c, twap_c, cont in rows:
    print(f"{rho:6g} {opt_c:10,.0f} {block_c:10,.0f} {twap_c:10,.0f} {1 - opt_c / block_c:15.1%} {1 - opt_c / twap_c:14.1%} {cont:11,.0f}")

# %% [markdown]
# ## The deviation path
# `D` jumps by `kappa_T n_k` at each trade and decays between trades. The optimum holds it at a
# constant level just before each interior trade: the trade refills exactly what decayed.

# %%
p = problem
opt = solve(p, "closed-form")
kern = transient_model(asset)
fig, ax = plt.subplots(figsize=(7, 4))
for label, trades in (("optimum", opt.trades), ("TWAP", np.diff(-twap(p)))):
    d_before = kern.deviations(np.asarray(trades), p.trade_times)
    t_fine, d_fine = [], []
    for k, s in enumerate(p.trade_times):
        end = p.trade_times[k + 1] if k + 1 < p.slices else p.horizon
        tt = np.linspace(s, end, 20)
        after = d_before[k] + asset.transient_impact * trades[k]
        t_fine += list(tt); d_fine += list(after * np.exp(-asset.resilience * (tt - s)))
    ax.plot(np.array(t_fine) * 60, d_fine, label=label)
ax.set_xlabel("time (minutes)"); ax.set_ylabel("price deviation D ($/share)"); ax.legend(); plt.show()

# %% [markdown]
# ## The same optimum from qp and dp, with a little temporary impact
# With `eta > 0` the block trades spread over a few slices; qp's O(N) structured path and dp's
# exact (x, D) recursion agree to rounding.

# %%
q = problem.replace_asset(0, temporary_impact=1e-7)
qp, dp = solve(q, "qp"), solve(q, "dp")
print(f"qp {qp.objective:,.2f}   dp {dp.objective:,.2f}   max trade difference {np.max(np.abs(qp.trades - dp.trades)):.2e} shares")
