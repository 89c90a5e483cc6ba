"""Execution under fills: the time of one receding-horizon re-solve (all paths at once) on its
closed-form path and on its dp path, against one ``solve(problem, "qp")`` per path (the naive
re-solve, timed on a few paths and extrapolated to all), and the policy table against the
backward induction under fills on a bundled example with a fill model.

Records: per re-solve path, milliseconds per re-solve for all paths and the naive estimate;
per policy, objective and its gap to dp under fills with 95% intervals and the unfilled
shortfall at the end.
"""

from __future__ import annotations

import time
from pathlib import Path

from solvers import load_example, solve
from solvers.execution import RecedingHorizon, execution_table
from solvers.execution.receding import remaining_problem
from solvers.simulation import simulate

FILLS = dict(volume_volatility=0.4, volume_autocorrelation=0.5, fill_participation=0.1, fill_rate=0.9)


def _naive_qp_seconds(problem, k: int, trials: int = 5) -> float:
    """Seconds of one qp solve of the remaining problem (what a per-path re-solve costs)."""
    sub = remaining_problem(problem, k, problem.asset.holdings * 0.8, problem.asset.volatility)
    solve(sub, "qp")  # warm: imports and the first canonicalization are not a per-path cost
    start = time.perf_counter()
    for _ in range(trials):
        solve(sub, "qp")
    return (time.perf_counter() - start) / trials


def run(quick: bool, out_dir: Path) -> dict:
    paths = 4000 if quick else 20_000
    records, notes = [], []
    for name, problem in (("almgren-chriss-2001", load_example("almgren-chriss-2001")),
                          ("capped-participation+fills", load_example("capped-participation").replace_asset(**FILLS))):
        rh = RecedingHorizon(problem)
        simulate(problem, rh, paths=paths, seed=0)
        per = sum(rh.seconds) / len(rh.seconds)
        naive = _naive_qp_seconds(problem, 2)
        records.append({"case": f"re-solve {name}", "path": rh.path, "paths": paths, "resolves": len(rh.seconds),
                        "ms_per_resolve_all_paths": 1e3 * per, "naive_qp_ms_per_path": 1e3 * naive,
                        "naive_seconds_all_paths_all_slices": naive * paths * (problem.slices - 1),
                        "speedup": naive * paths * (problem.slices - 1) / max(sum(rh.seconds), 1e-12)})
    problem = load_example("capped-participation").replace_asset(**FILLS)
    report = execution_table(problem, paths=paths, seed=1, dp_settings={"x_points": 101})
    for row in report.rows:
        s = row.simulation.objective
        rec = {"case": "policy table capped-participation+fills", "policy": row.name, "paths": paths,
               "objective": s.value, "objective_ci_low": s.ci()[0], "objective_ci_high": s.ci()[1],
               "shortfall_at_end": row.shortfall.value, "mean_cost": row.simulation.mean.value,
               "std_cost": row.simulation.std.value}
        if row.gap is not None:
            rec.update(gap=row.gap.value, gap_ci_low=row.gap.ci()[0], gap_ci_high=row.gap.ci()[1])
        records.append(rec)
    notes.append(f"dp under fills: value function {report.benchmark_objective:.10g}; "
                 f"simulated {report.row('dp-under-fills').simulation.objective.value:.10g}")
    notes += report.notes
    return {"suite": "execution", "records": records, "plots": [], "notes": notes}
