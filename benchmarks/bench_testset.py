"""The execution test set for QP and conic solvers (:mod:`benchmarks.testset`): every installed
open-source QP solver through qpbenchmark at its default and high-accuracy settings, each
claimed success checked against the certified optimum, plus the power-law set through CVXPY.
Quick mode runs the CI subset with a few solvers; the full run writes ``testset.md``, ``testset.csv`` and
``testset_summary.json`` under the results folder."""

from __future__ import annotations

from pathlib import Path

from benchmarks.testset.execution_qp import ExecutionQp
from benchmarks.testset.execution_qp_ci import ExecutionQpCi
from benchmarks.testset.run import run_testset

__all__ = ["run", "QUICK_SOLVERS", "QUICK_CONIC"]

#: quick mode (CI): the CI subset with these solvers, and one power-law spec
QUICK_SOLVERS = ["clarabel", "piqp"]  # the full run covers every installed solver
QUICK_CONIC = ["sqrt-n10"]


def run(quick: bool, out_dir: Path) -> dict:
    test_set = ExecutionQpCi() if quick else ExecutionQp()
    summary = run_testset(test_set, out_dir, conic=QUICK_CONIC if quick else True,
                          solvers=QUICK_SOLVERS if quick else None)
    records = []
    for solver, by_settings in sorted(summary["solvers"].items()):
        for settings, by_units in sorted(by_settings.items()):
            for units, r in sorted(by_units.items()):
                records.append({"solver": solver, "settings": settings, "units": units,
                                "success_%": r["success_rate"], "claimed_but_wrong": r["claimed_but_wrong"],
                                "runtime_shgeom_s": r["runtime_shgeom_s"]})
    for r in summary["conic"]:
        records.append({k: r.get(k) for k in ("problem", "solver", "status", "holdings_error", "success")})
    notes = [f"{len(summary['problems'])} problems; skipped solvers: "
             + (", ".join(sorted(summary["skipped"])) or "none")]
    return {"suite": "testset", "records": records, "notes": notes, "plots": []}
