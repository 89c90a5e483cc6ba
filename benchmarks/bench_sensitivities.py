"""Sensitivities: the cost of a gradient against the cost of a solve, per method.

Records, per (method, spec): the parameters differentiated, the time of one solve, the time
of the full set of derivatives (objective, E, V, holdings) and their ratio, how they were
computed, and the largest gap to Richardson central differences of the solve in the
objective (relative). Closed form and qp differentiate exactly (AD of the formula, one KKT
solve); dp and hjb by central differences (4 solves per parameter).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from solvers import load_example
from solvers.errors import MethodNotApplicable
from solvers.sensitivities import central, sensitivities, solve_outputs

from .common import best_time

CASES = [("closed-form", "almgren-chriss-2001", None), ("qp", "almgren-chriss-2001", None),
         ("qp", "capped-participation", None), ("qp", "two-asset-basket", None),
         ("dp", "volatility-regimes", ["risk_aversion", "assets[0].temporary_impact", "volatility_model.levels[1]"]),
         ("hjb", "almgren-chriss-2001", ["risk_aversion", "assets[0].volatility"])]


def run(quick: bool, out_dir: Path) -> dict:
    records = []
    cases = [c for c in CASES if c[0] != "hjb" and c[1] != "capped-participation"] if quick else CASES
    for method, name, wrt in cases:
        problem = load_example(name)
        sens = sensitivities(problem, method, wrt=wrt)  # warm: compiles, caches
        repeat = 1 if quick else 3  # warm already: quick mode times one run
        t_solve = best_time(lambda: solve_outputs(problem, method), repeat=repeat)["best"]
        t_grad = best_time(lambda: sensitivities(problem, method, wrt=wrt), repeat=repeat)["best"]
        gaps = []
        for j, param in enumerate(sens.parameters[: (2 if quick else None)]):
            try:
                fd = central(problem, param, lambda q: solve_outputs(q, method), relative=1e-4)
            except MethodNotApplicable:  # the closed form at beta != 1 or drift != 0
                continue
            gaps.append(abs(sens.objective[j] - fd.derivative[0]) / max(abs(fd.derivative[0]), 1e-12))
        records.append({
            "case": f"{method} / {name}", "parameters": len(sens.parameters), "solve_ms": 1e3 * t_solve,
            "gradient_ms": 1e3 * t_grad, "gradient_over_solve": t_grad / t_solve,
            "kind": ",".join(sorted(set(sens.kind.values()))), "max_rel_gap_vs_fd": float(np.max(gaps)),
        })
    return {"suite": "sensitivities", "records": records, "plots": [],
            "notes": ["gradient_ms covers every parameter listed and includes the base solve",
                      "dp and hjb: Richardson central differences, 4 solves per parameter"]}
