"""Monte Carlo simulator: paths per second for a static schedule and a feedback policy at
N = 390 (a trading day in minutes), against a plain Python-loop simulator run in the same
process on the *same* normal draws (so the per-path costs must agree to rounding).

Records, per case: paths, best wall time, paths per second, the ratio against the Python
loop, the largest per-path cost difference against the loop (currency), and the simulated
mean cost's z-score against the analytic E of solvers.costs (a static schedule, or the
feedback form of the same schedule, which trades identically under constant volatility).
The full run adds a million-path static run with its traced peak memory (blocks keep it
bounded: the unchunked normals alone would be 3.1 GB).
"""

from __future__ import annotations

import math
import os
import tracemalloc
from pathlib import Path

import numpy as np

from solvers import load_example, schedule_cost, solve
from solvers.policy import ProportionalPolicy
from solvers.schedules import linear_ramp
from solvers.simulation import block_generator, simulate

from .common import best_time

N = 390


def _loop_costs(problem, holdings, normals, feedback: bool) -> np.ndarray:
    """The plain Python-loop simulator: one path at a time, one slice at a time, scalar math
    (the conventions page's dynamics, single asset, constant volatility, linear impact)."""
    a = problem.asset
    tau, n = problem.tau, problem.slices
    sig = a.volatility * math.sqrt(tau)
    gamma, eta, eps = a.permanent_impact, a.temporary_impact, a.spread
    plan = [float(holdings[k - 1] - holdings[k]) for k in range(1, n + 1)]
    frac = [plan[k] / float(holdings[k]) if holdings[k] != 0 else 1.0 for k in range(n)]
    out = np.empty(len(normals))
    for p, xi in enumerate(normals.tolist()):
        d, cost, x = 0.0, 0.0, float(a.holdings)
        for k in range(n):
            trade = x if k == n - 1 else (x * frac[k] if feedback else plan[k])
            v = trade / tau
            h = (eps if v > 0 else -eps if v < 0 else 0.0) + eta * v
            cost -= trade * (d - h)
            d += sig * xi[k][0] - gamma * trade
            x -= trade
        out[p] = cost
    return out


def run(quick: bool, out_dir: Path) -> dict:
    base = load_example("almgren-chriss-2001").replace(slices=N)
    res = solve(base)
    holdings = res.holdings
    cost = schedule_cost(base, holdings)
    loop_paths = 100 if quick else 2000
    # the engine's first block of normals (seed 0): the loop sees exactly the same draws
    block = int(min(65536, max(256, 2**21 // N)))
    block += block % 2
    normals = block_generator(0, 0).standard_normal((block, N, 1))[:loop_paths]

    records = []
    notes = [f"AC 2001 example at N = {N} (tau = {base.tau:g} day), closed-form schedule; "
             "feedback = the same schedule in closed-loop form (ProportionalPolicy)",
             f"load average at start {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores: absolute rates move with "
             "the machine's load, the ratios against the Python loop (same process, same draws) less so"]
    cases = (("static", holdings, 20_000 if quick else 200_000),
             ("feedback", ProportionalPolicy(base, holdings), 5_000 if quick else 50_000))
    for name, strategy, paths in cases:
        feedback = name == "feedback"
        t_loop = best_time(lambda: _loop_costs(base, holdings, normals, feedback), repeat=1 if quick else 3)["best"]
        loop = _loop_costs(base, holdings, normals, feedback)
        t_vec = best_time(lambda: simulate(base, strategy, paths=paths, seed=0, progress=False), repeat=1 if quick else 3)["best"]
        sim = simulate(base, strategy, paths=paths, seed=0, progress=False)
        loop_rate = loop_paths / t_loop
        rate = paths / t_vec
        records.append({
            "case": f"{name} N={N}",
            "paths": paths,
            "seconds": t_vec,
            "paths_per_second": rate,
            "loop_paths_per_second": loop_rate,
            "speedup_vs_python_loop": rate / loop_rate,
            "max_cost_diff_vs_loop": float(np.max(np.abs(sim.cost[:loop_paths] - loop))),
            "mean_cost_z_vs_analytic": (sim.mean.value - cost.expected_cost) / sim.mean.se,
        })
    # stochastic volatility: regimes, static and feedback, the vectorized engine only
    reg = load_example("volatility-regimes").replace(slices=N)
    ramp = linear_ramp(reg, 0.5)
    for name, strategy, paths in (("static regimes", ramp, 4_000 if quick else 100_000),
                                  ("feedback regimes", ProportionalPolicy(reg, ramp), 2_000 if quick else 50_000)):
        t_vec = best_time(lambda: simulate(reg, strategy, paths=paths, seed=0, progress=False), repeat=1 if quick else 3)["best"]
        sim = simulate(reg, strategy, paths=paths, seed=0, progress=False)
        records.append({"case": f"{name} N={N}", "paths": paths, "seconds": t_vec, "paths_per_second": paths / t_vec,
                        "mean_cost_z_vs_analytic": (sim.mean.value - schedule_cost(reg, ramp).expected_cost) / sim.mean.se
                        if name.startswith("static") else float("nan")})
    if not quick:
        tracemalloc.start()
        sim = simulate(base, holdings, paths=1_000_000, seed=1, progress=False)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        records.append({"case": f"static N={N}, 1e6 paths", "paths": 1_000_000, "seconds": sim.seconds,
                        "paths_per_second": sim.paths_per_second, "peak_traced_MB": peak / 1e6,
                        "mean_cost_z_vs_analytic": (sim.mean.value - cost.expected_cost) / sim.mean.se})
        notes.append("the 1e6-path run is timed under tracemalloc, which slows allocation a little")
    return {"suite": "simulate", "records": records, "plots": [], "notes": notes}
