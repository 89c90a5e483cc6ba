"""Sensitivities: the cost of a gradient against the cost of a solve, per method.

Records, per (method, spec): the parameters differentiated, the time of one solve, the time
of the full set of derivatives (objective, E, V, holdings) and their ratio, how they were
computed, and the largest gap to Richardson central differences of the solve in the
objective (relative). Closed form and qp differentiate exactly (AD of the formula, one KKT
solve); dp's exact recursion and hjb's reduced HJB by JAX AD through the solve's own
recursion / RK4 (``ad``); dp on a moment-matched chain by central differences (4 solves per
parameter).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from solvers import load_example
from solvers.errors import MethodNotApplicable, SpecError
from solvers.sensitivities import central, sensitivities, solve_outputs

from .common import best_time

_DP_ALL = ["risk_aversion", "horizon", "assets[0].holdings", "assets[0].price", "assets[0].volatility",
           "assets[0].permanent_impact", "assets[0].temporary_impact", "assets[0].spread",
           "volatility_model.levels[1]", "volatility_model.generator[0][1]", "volatility_model.generator[1][0]"]
CASES = [("closed-form", "almgren-chriss-2001", None), ("qp", "almgren-chriss-2001", None),
         ("qp", "capped-participation", None), ("qp", "two-asset-basket", None),
         ("dp", "volatility-regimes", ["risk_aversion", "assets[0].temporary_impact", "volatility_model.levels[1]"]),
         ("dp", "volatility-regimes", _DP_ALL), ("dp", "almgren-chriss-2001", _DP_ALL[:8]),
         ("dp", "mean-reverting-volatility", ["risk_aversion", "assets[0].temporary_impact"]),
         ("hjb", "almgren-chriss-2001", ["risk_aversion", "assets[0].volatility"]),
         ("hjb", "volatility-regimes", _DP_ALL)]
#: quick mode (CASES indices): the AD cases, dp exact (regimes) and hjb reduced (constant volatility)
QUICK = (5, 8)


def run(quick: bool, out_dir: Path) -> dict:
    records = []
    cases = [CASES[i] for i in QUICK] if quick else CASES
    for method, name, wrt in cases:
        problem = load_example(name)
        t_first = best_time(lambda: sensitivities(problem, method, wrt=wrt), repeat=1)["best"]  # compiles, caches
        sens = sensitivities(problem, method, wrt=wrt)
        repeat = 1 if quick else 3  # warm already: quick mode times one run
        t_solve = best_time(lambda: solve_outputs(problem, method), repeat=repeat)["best"]
        t_grad = best_time(lambda: sensitivities(problem, method, wrt=wrt), repeat=repeat)["best"]
        gaps, no_fd = [], []
        for j, param in enumerate(sens.parameters[: (2 if quick else None)]):
            try:
                fd = central(problem, param, lambda q: solve_outputs(q, method), relative=1e-4)
            except (MethodNotApplicable, SpecError) as err:
                # the closed form at beta != 1; beta just below 1 without no-reversal is unbounded
                # below when gamma (1 + cos(pi/N)) > lambda tau sigma^2 (one-sided in beta)
                no_fd.append(f"{param}: {type(err).__name__}")
                continue
            gaps.append(abs(sens.objective[j] - fd.derivative[0]) / max(abs(fd.derivative[0]), 1e-12))
        records.append({
            "case": f"{method} / {name}", "parameters": len(sens.parameters), "solve_ms": 1e3 * t_solve,
            "gradient_ms": 1e3 * t_grad, "gradient_over_solve": t_grad / t_solve,
            "first_gradient_ms": 1e3 * t_first,
            "kind": ",".join(sorted(set(sens.kind.values()))), "max_rel_gap_vs_fd": float(np.max(gaps)),
            "no_central_difference": no_fd,
        })
    return {"suite": "sensitivities", "records": records, "plots": [],
            "notes": ["gradient_ms covers every parameter listed and includes the base solve; "
                      "first_gradient_ms is the first call (JAX compiles the Jacobian once per shape)",
                      "ad: JAX forward-mode AD through dp's exact recursion / hjb's reduced RK4 (compiled once, "
                      "warm run timed)",
                      "finite-difference: Richardson central differences, 4 solves per parameter"]}
