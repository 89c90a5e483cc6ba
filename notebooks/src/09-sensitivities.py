# %% [markdown]
# # Sensitivities and the cost of not knowing the parameters
#
# **Question.** How does the optimal schedule move when a parameter moves, and what does it cost
# to trade on estimated parameters? `sensitivities` differentiates the optimum in every spec
# number (AD of the closed form, implicit differentiation of the KKT system for `qp`, AD through
# `dp`'s exact recursion and the reduced HJB's ODE, labelled finite differences where no exact
# derivative exists); `propagate` turns a calibration's covariance into
# an interval for the optimal cost, checks it by a parametric bootstrap, and prices the regret of
# solving at the point estimates.

# %%
import numpy as np
import matplotlib.pyplot as plt

from solvers import load_example
from solvers.calibration import calibrate_files, sample_paths
from solvers.cli.sensitivities import table
from solvers.sensitivities import calibration_covariance, propagate, sensitivities

problem = load_example("almgren-chriss-2001")
sens = sensitivities(problem)
print(table(sens))

# %% [markdown]
# The elasticity `d log objective / d log p` ranks what matters: impact and volatility dominate,
# and `d objective / d lambda` is the variance (the envelope theorem). The holdings' derivative
# paths show where a parameter moves the schedule: more volatility or risk aversion trades
# earlier, more temporary impact trades later.

# %%
fig, ax = plt.subplots(figsize=(7, 4))
for name in ("risk_aversion", "assets[0].volatility", "assets[0].temporary_impact"):
    j = sens.parameters.index(name)
    ax.plot(problem.times, sens.values[j] * sens.holdings[j], marker="o", label=name)
ax.set_xlabel("time (days)")
ax.set_ylabel("p dx_k / dp (shares)")
ax.legend()
plt.show()

# %% [markdown]
# **The bundled sample data.** Calibrate, then propagate the estimates' covariance (volatility,
# spread, temporary impact and its exponent, permanent impact) to the optimal cost. With the
# exponent free the cost is strongly nonlinear in the parameters: the bootstrap is the truth
# and the delta-method interval is only its first-order sketch. Fixing `beta = 1` (the closed
# form applies) makes the delta method accurate.

# %%
fills, bars = sample_paths()
for beta in (None, 1.0):
    cal = calibrate_files(fills, bars, beta=beta)
    spec, _ = cal.to_problem()
    method = "closed-form" if spec.all_linear else "qp"
    prop = propagate(spec, calibration_covariance(cal), method, draws=60 if beta is None else 300)
    print(f"beta {'free' if beta is None else 'fixed at 1'}:")
    print(prop.summary())
