"""Transient impact: qp's O(N) structured path against CVXPY's dense quadratic form of the
exponential kernel, CVXPY alone for the power-law kernel (against qp's dense direct solve), and
dp's exact (x, D) recursion (and its (x, E) grid against it) and hjb's continuous (x, D) Riccati solve, all on ``liquidity-cascade``
with a little temporary impact (``hjb_discrete_gap_rel``: continuous against discrete, O(tau)); and
hjb's coupled system under mean-reverting volatility (its time against the resource estimate's).

Speed figures are ratios measured in the same run (``cvxpy_over_structured``, ``dp_over_structured``),
never promises; ``objective_rel_diff`` is each solve's objective against the structured one.
CVXPY's model holds the dense N x N kernel factor as a constant (O(N^2) memory, ~3 GB at
N = 4,000); it runs up to ``CVXPY_MAX_SLICES``.
"""

from __future__ import annotations

from pathlib import Path

from solvers import load_example
from solvers.methods import estimate_resources, solve

from .common import timed

#: the largest N at which the CVXPY path is run (a dense kernel: O(N^2) memory, seconds at N = 2,000)
CVXPY_MAX_SLICES = 2000


def _problem(slices: int, kernel: str = "exponential"):
    p = load_example("liquidity-cascade").replace(slices=slices)
    if kernel == "exponential":
        return p.replace_asset(0, temporary_impact=1e-7)
    return p.replace_asset(0, temporary_impact=1e-7, transient_kernel="power_law", resilience=0.0,
                           kernel_exponent=0.4, kernel_timescale=0.05)


def _record(slices: int, kernel: str, repeat: int, cvxpy_max: int) -> dict:
    p = _problem(slices, kernel)
    fast_path = "structured" if kernel == "exponential" else "auto"
    t_fast, fast = timed(lambda: solve(p, "qp", path=fast_path), repeat=repeat)
    rec = {"case": f"{kernel} N={slices}", "N": slices, "kernel": kernel,
           "qp_path": fast.diagnostics["path"], "qp_ms": 1e3 * t_fast}
    if slices <= cvxpy_max:
        t_cvx, cvx = timed(lambda: solve(p, "qp", path="cvxpy"), repeat=repeat)
        rec.update(cvxpy_ms=1e3 * t_cvx, cvxpy_over_structured=t_cvx / t_fast,
                   cvxpy_objective_rel_diff=abs(cvx.objective / fast.objective - 1))
    else:
        rec["cvxpy_ms"] = (f"not run: N > {CVXPY_MAX_SLICES}" if slices > CVXPY_MAX_SLICES
                           else "not run in quick mode")
    if kernel == "exponential":
        t_dp, dp = timed(lambda: solve(p, "dp"), repeat=repeat)
        rec.update(dp_ms=1e3 * t_dp, dp_over_structured=t_dp / t_fast,
                   dp_objective_rel_diff=abs(dp.objective / fast.objective - 1))
        t_hjb, hjb = timed(lambda: solve(p, "hjb"), repeat=repeat)
        rec.update(hjb_ms=1e3 * t_hjb, hjb_over_structured=t_hjb / t_fast,
                   hjb_discrete_gap_rel=hjb.objective / fast.objective - 1)
    return rec


def _stochastic_record(vol_points: int, time_steps: int, repeat: int) -> dict:
    """hjb's coupled (x, D) Riccati system on the mean-reverting example (Strang splitting on the
    ``s`` grid), against the resource estimate's seconds."""
    p = load_example("mean-reverting-volatility").replace_asset(0, transient_impact=1e-6, resilience=5.0)
    settings = {"vol_points": vol_points, "time_steps": time_steps}
    t_hjb, hjb = timed(lambda: solve(p, "hjb", **settings), repeat=repeat)
    guess = estimate_resources(p, "hjb", **settings)
    d = hjb.diagnostics
    return {"case": f"mean-reverting vol_points={vol_points} time_steps={time_steps}", "N": p.slices, "kernel": "exponential",
            "hjb_ms": 1e3 * t_hjb, "hjb_scheme": d["scheme"], "hjb_time_steps": d["time_steps"],
            "hjb_error_estimate_rel": d["error_estimate"] / abs(hjb.objective),
            "hjb_estimated_ms": 1e3 * guess.seconds, "hjb_estimate_over_measured": guess.seconds / t_hjb}


def _grid_record(slices: int, accuracy: str) -> dict:
    """dp's (x, E) grid (what solves delta < 1, caps and no-reversal) against its exact (x, D)
    recursion on the same delta = 1 spec: time ratio, the grid's true and stated errors."""
    p = _problem(slices)
    t_exact, exact = timed(lambda: solve(p, "dp"))
    t_grid, grid = timed(lambda: solve(p, "dp", recursion="grid", accuracy=accuracy))
    return {"case": f"dp grid vs exact N={slices} ({accuracy})", "N": slices, "accuracy": accuracy,
            "x_points": grid.diagnostics["x_points"], "e_points": grid.diagnostics["e_points"],
            "exact_ms": 1e3 * t_exact, "grid_ms": 1e3 * t_grid, "grid_over_exact": t_grid / t_exact,
            "grid_objective_rel_error": abs(grid.objective / exact.objective - 1),
            "grid_stated_rel_error": grid.diagnostics["objective_error"] / abs(exact.objective)}


def run(quick: bool, out_dir: Path) -> dict:
    notes = ["liquidity-cascade with eta = 1e-7; exponential rho = 6/hour; power law nu = 0.4, t0 = 0.05 hour.",
             "qp_ms: path='structured' (exponential, O(N) banded) or 'auto' (power law: dense direct solve).",
             "Quick mode runs CVXPY only up to N = 60 (N = 390 takes seconds).",
             "mean-reverting: the example with transient_impact = 1e-6, resilience = 5; hjb at vol_points "
             "32 with 400 time steps (quick), or 64, 128 (default), 256 with the default 2000; "
             "hjb_estimated_ms is the resource estimate's."]
    solve(_problem(10), "qp", path="cvxpy")                    # warm-up: CVXPY import and first canonicalization
    solve(_problem(10), "dp")
    solve(_problem(10), "hjb")
    if quick:
        cases = [(60, "exponential"), (390, "exponential"), (2000, "exponential"), (30, "power_law")]
        repeat, cvxpy_max = 1, 60
    else:
        cases = [(390, "exponential"), (2000, "exponential"), (390, "power_law"), (2000, "power_law")]
        repeat, cvxpy_max = 3, CVXPY_MAX_SLICES
    records = [_record(n, kernel, repeat, cvxpy_max) for n, kernel in cases]
    records += [_grid_record(n, accuracy) for n, accuracy in ([(20, "low")] if quick else [(60, "low"), (60, "medium")])]
    grids = ((32, 400),) if quick else ((64, 2000), (128, 2000), (256, 2000))  # 2000: the default time_steps
    records += [_stochastic_record(m, n, repeat) for m, n in grids]
    return {"suite": "transient", "records": records, "plots": [], "notes": notes}
