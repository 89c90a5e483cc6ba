# %% [markdown]
# # Caps, participation limits and hedged baskets
#
# **Question.** Real orders come with limits: at most so many shares per slice, at most 10% of
# the market's volume, and for a basket a bound on how unhedged the program may get while it
# trades. Which limits bind, what does each binding limit cost (its shadow price), and how does
# a correlated basket trade when its two legs must stay hedged?

# %%
import numpy as np
import matplotlib.pyplot as plt

from solvers import load_example, solve

capped = load_example("capped-participation")
free = capped.replace_asset(0, max_slice_trade=None, participation=None, market_volume=None)
r_cap = solve(capped, "qp")
r_free = solve(free, "closed-form")
caps = capped.asset.slice_caps(capped.slices)
duals = np.asarray(r_cap.diagnostics["cap_duals"])
print(f"unconstrained objective {r_free.objective:,.0f}; with caps {r_cap.objective:,.0f} "
      f"(+{r_cap.objective / r_free.objective - 1:.1%}); binding caps: {r_cap.diagnostics['binding_caps']}")

# %%
fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
ax1.stairs(r_free.trades, r_free.times, label="unconstrained optimum")
ax1.stairs(r_cap.trades, r_cap.times, label="with caps", lw=2)
ax1.stairs(caps, capped.times, ls="--", color="k", label="cap: min(max_slice_trade, 10% of volume)")
ax1.set_ylabel("shares traded in the slice"); ax1.legend(fontsize=8)
ax2.bar(capped.times[1:] - capped.tau / 2, duals, width=0.8 * capped.tau)
ax2.set_ylabel("shadow cost ($ per share of cap)"); ax2.set_xlabel("time (days)")
plt.show()

# %% [markdown]
# ## A shadow price is a derivative
# The dual of a binding cap is the marginal saving of one more share of room in that slice.
# Re-solving with the first cap moved by 100 shares either way confirms it by a central difference.

# %%
delta = 100.0


def objective_with_first_cap(cap0):
    new_caps = caps.copy()
    new_caps[0] = cap0
    spec = capped.replace_asset(0, max_slice_trade=tuple(new_caps), participation=None, market_volume=None)
    return solve(spec, "qp").objective


saving = (objective_with_first_cap(caps[0] - delta) - objective_with_first_cap(caps[0] + delta)) / (2 * delta)
print(f"dual of the first cap {duals[0]:.4f} $/share; finite difference {saving:.4f} $/share")

# %% [markdown]
# ## A hedged basket
# Sell 1e6 shares of AAA and buy 5e5 of BBB (correlation 0.6). Unconstrained, the two legs run
# on their own clocks, so the dollar imbalance of a slice, `sum_i S0_i n_ik`, can be large. A
# band on it keeps the program hedged while it trades; the convex solver handles it directly.

# %%
basket = load_example("two-asset-basket")
r_cf = solve(basket, "closed-form")
r_qp = solve(basket, "qp")
print(f"closed form vs qp: max holdings gap {np.max(np.abs(r_cf.holdings - r_qp.holdings)):.2e} shares, "
      f"objective gap {abs(r_cf.objective - r_qp.objective) / r_cf.objective:.1e} relative")
prices = np.array([a.price for a in basket.assets])
imbalance_free = r_cf.trades @ prices
net = abs(prices @ basket.initial_holdings)
band = 1.5 * net / basket.slices
r_band = solve(basket.replace(imbalance_band=band), "qp")
print(f"band {band:,.0f} $ per slice: objective {r_band.objective:,.0f} vs {r_cf.objective:,.0f} unconstrained")

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
for i, a in enumerate(basket.assets):
    ax1.plot(r_cf.times, r_cf.holdings[:, i], "o-", ms=3, label=f"{a.name} unconstrained")
    ax1.plot(r_band.times, r_band.holdings[:, i], "s--", ms=3, label=f"{a.name} with band")
ax1.set_xlabel("time"); ax1.set_ylabel("shares held"); ax1.legend(fontsize=8)
ax2.stairs(imbalance_free, basket.times, label="unconstrained")
ax2.stairs(r_band.trades @ prices, basket.times, label="with band", lw=2)
ax2.axhline(band, color="k", ls="--"); ax2.axhline(-band, color="k", ls="--")
ax2.set_xlabel("time"); ax2.set_ylabel("dollar imbalance of the slice"); ax2.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## What the plots show
# - The caps bind early, where the unconstrained optimum would sell fastest; the sale spills into
#   later slices and the objective rises. Each binding cap has a positive shadow cost, largest
#   for the first slice, and the dual matches a finite difference of the optimal objective.
# - For the basket the convex solver reproduces the eigen-decomposition closed form; the
#   imbalance band keeps each slice's net dollar trade inside the band at a small extra cost.
