"""Run the execution test set with qpbenchmark and check every claimed success against the
certified optimum.

:class:`CertifiedResults` adds to qpbenchmark's results CSV the columns ``holdings_error``
(``max |x - x*| / |X|``) and ``objective_gap`` (``|f - f*| / |f*|``, currency); a solver that
reports a solution whose residuals pass qpbenchmark's tolerances but whose holdings or
objective miss :data:`CERTIFIED_TOLERANCES` counts as a failure (and as incorrect).
:func:`run_testset` writes ``testset.csv``, the qpbenchmark report ``testset.md`` and
``testset_summary.json`` (success rates, shifted geometric means, false successes, skipped
solvers, the power-law set through CVXPY).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas
import qpbenchmark
import qpsolvers

from benchmarks.testset.problems import certified, conic_specs
from solvers.testset import conic_problem

__all__ = ["CertifiedResults", "CERTIFIED_TOLERANCES", "CONIC_TOLERANCES", "OPEN_SOURCE_SOLVERS", "run_testset", "run_conic",
           "skipped_solvers", "summarize"]

#: relative objective gap and holdings error a success must meet, per settings
CERTIFIED_TOLERANCES = {"default": {"objective": 1e-6, "holdings": 1e-4},
                        "high_accuracy": {"objective": 1e-9, "holdings": 1e-7}}
#: open-source QP solvers qpsolvers can call (those not installed are listed as skipped)
OPEN_SOURCE_SOLVERS = ("clarabel", "cvxopt", "daqp", "ecos", "highs", "hpipm", "jaxopt_osqp", "kvxopt", "osqp",
                       "piqp", "proxqp", "qpalm", "qpax", "qpoases", "qpswift", "quadprog", "scs", "sip")
#: what a power-law success must meet (interior points on power cones stop near sqrt(gap) in holdings)
CONIC_TOLERANCES = {"objective": 1e-9, "holdings": 1e-6}
#: the conic solvers of the power-law set and their high-accuracy options
CONIC_SOLVERS = {"CLARABEL": {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10},
                 "SCS": {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 400_000, "time_limit_secs": 5.0},
                 "ECOS": {"abstol": 1e-10, "reltol": 1e-10, "feastol": 1e-10}}


def _errors(problem: Any, x: np.ndarray | None) -> tuple[float, float]:
    if x is None or not np.all(np.isfinite(x)):
        return np.nan, np.nan
    qp = problem.exported
    hold = qp.holdings(x).reshape(qp.shape)
    ref = np.asarray(problem.optimum_holdings).reshape(qp.shape)
    err = float(np.max(np.abs(hold - ref) / np.abs(ref[0])[None, :]))
    gap = abs(qp.objective(x) - problem.optimum_objective) / abs(problem.optimum_objective)
    return err, float(gap)


class CertifiedResults(qpbenchmark.Results):
    """qpbenchmark results plus the certified check (module docstring)."""

    def update(self, problem, solver: str, settings: str, solution: qpsolvers.Solution, runtime: float) -> None:
        super().update(problem, solver, settings, solution, runtime)
        err, gap = _errors(problem, solution.x if solution.found else None)
        mask = (self.df["problem"] == problem.name) & (self.df["solver"] == solver) & (self.df["settings"] == settings)
        self.df.loc[mask, "holdings_error"] = err
        self.df.loc[mask, "objective_gap"] = gap

    def _certified(self) -> pandas.Series:
        ok = pandas.Series(True, index=self.df.index)
        for settings, tol in CERTIFIED_TOLERANCES.items():
            rows = self.df["settings"] == settings
            good = (self.df["holdings_error"] <= tol["holdings"]) & (self.df["objective_gap"] <= tol["objective"])
            ok[rows] = good[rows]
        return ok

    def _with_certified_found(self, build, *args):
        saved = self.df
        self.df = saved.assign(found=saved["found"] & self._certified())
        try:
            table = build(*args)
        finally:
            self.df = saved
        return table

    def build_success_rate_df(self, primal, dual, gap):
        """qpbenchmark's success rate, a claimed success off the certified optimum counting as failure."""
        return self._with_certified_found(super().build_success_rate_df, primal, dual, gap)

    def build_correct_rate_df(self, primal, dual, gap):
        """Correct = the solver's claim (found or not) agrees with validity, certified check included."""
        df = self.df.fillna(value=np.nan)
        valid = self._valid(df, primal, dual, gap)
        out = {}
        for settings in sorted(set(df["settings"])):
            out[settings] = {s: 100.0 * float((df["found"] == valid)[(df["settings"] == settings)
                                                                       & (df["solver"] == s)].mean())
                             for s in sorted(set(df["solver"]))}
        return pandas.DataFrame(out).sort_index()

    def _valid(self, df, primal, dual, gap) -> pandas.Series:
        valid = pandas.Series(False, index=df.index)
        for settings in set(df["settings"]):
            rows = df["settings"] == settings
            v = (df["found"] & (df["primal_residual"] < primal[settings]) & (df["dual_residual"] < dual[settings])
                 & (df["duality_gap"] < gap[settings]))
            valid[rows] = v[rows]
        return valid & self._certified()


def skipped_solvers() -> dict[str, str]:
    """Open-source solvers qpsolvers knows that do not run on this set, with the reason."""
    out = {s: "not installed here (qpsolvers cannot import its Python package)"
           for s in OPEN_SOURCE_SOLVERS if s not in qpsolvers.available_solvers}
    for s in sorted(set(qpsolvers.available_solvers) - set(qpsolvers.sparse_solvers)):
        out[s] = "dense-only solver: the set's matrices are sparse (N up to 10,000, n^2 dense memory)"
    return out


def run_conic(names: list[str] | None = None) -> list[dict[str, Any]]:
    """The power-law set through CVXPY: each spec in both units with each conic solver."""
    import cvxpy as cp

    records = []
    for name in names or list(conic_specs()):
        opt = certified(name)
        spec = conic_specs()[name]
        for units in ("raw", "scaled"):
            for solver, options in CONIC_SOLVERS.items():
                rec = {"problem": f"{name}-{units}", "solver": solver.lower(), "status": "not installed"}
                if solver not in cp.installed_solvers():
                    records.append(rec)
                    continue
                export = conic_problem(spec, units, linearization=opt.holdings)
                start = time.perf_counter()
                try:
                    export.problem.solve(solver=solver, **options)
                    status = export.problem.status
                except cp.error.SolverError as err:
                    status = f"solver error: {str(err)[:80]}"
                runtime = time.perf_counter() - start
                err = gap = np.nan
                if status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) and export.holdings_variable.value is not None:
                    hold = export.holdings().reshape(spec.slices + 1, -1)
                    ref = opt.holdings.reshape(hold.shape)
                    err = float(np.max(np.abs(hold - ref) / np.abs(ref[0])[None, :]))
                    gap = abs(export.objective() - opt.objective) / abs(opt.objective)
                rec.update(status=status, runtime=runtime, holdings_error=err, objective_gap=gap,
                           success=bool(status == cp.OPTIMAL and err <= CONIC_TOLERANCES["holdings"]
                                        and gap <= CONIC_TOLERANCES["objective"]),
                           exact=export.exact)
                records.append(rec)
    return records


def summarize(results: CertifiedResults) -> dict[str, Any]:
    """Success rates, shifted geometric means and false successes per solver, settings and units."""
    ts = results.test_set
    tol = ts.tolerances
    df = results.df.fillna(value=np.nan).copy()
    df["units"] = np.where(df["problem"].str.endswith("-raw"), "raw", "scaled")
    primal = {k: v.primal for k, v in tol.items()}
    dual = {k: v.dual for k, v in tol.items()}
    gapt = {k: v.gap for k, v in tol.items()}
    qpb_valid = pandas.Series(False, index=df.index)
    for settings in set(df["settings"]):
        rows = df["settings"] == settings
        v = (df["found"] & (df["primal_residual"] < primal[settings]) & (df["dual_residual"] < dual[settings])
             & (df["duality_gap"] < gapt[settings]))
        qpb_valid[rows] = v[rows]
    certified_ok = results._certified().reindex(df.index).fillna(False).astype(bool)
    df["success"] = qpb_valid & certified_ok
    df["false_success"] = df["found"] & ~certified_ok
    out: dict[str, Any] = {}
    for (solver, settings, units), g in df.groupby(["solver", "settings", "units"]):
        limit = tol[settings].runtime
        times = np.where(g["success"], g["runtime"], limit)
        out.setdefault(solver, {}).setdefault(settings, {})[units] = {
            "problems": int(len(g)), "success_rate": float(100.0 * g["success"].mean()),
            "success_rate_qpbenchmark_only": float(100.0 * qpb_valid[g.index].mean()),
            "claimed_but_wrong": int(g["false_success"].sum()),
            "runtime_shgeom_s": float(np.exp(np.mean(np.log(times + 10.0))) - 10.0),
            "median_holdings_error": float(np.nanmedian(g["holdings_error"])) if g["found"].any() else None,
        }
    return out


def run_testset(test_set: qpbenchmark.TestSet, out_dir: Path, *, stem: str = "testset", rerun: bool = True,
                conic: bool | list[str] = True, solvers: list[str] | None = None,
                author: str = "optexec") -> dict[str, Any]:
    """Run ``test_set`` with ``solvers`` (default: every installed one) at its settings, and the
    power-law set (``conic``: all, a list of names, or none); write the CSV, the report and the
    summary JSON under ``out_dir``; return the summary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / f"{stem}.csv"
    if rerun and csv.exists():
        csv.unlink()
    results = CertifiedResults(csv, test_set)
    start = time.perf_counter()
    for solver in (sorted(set(solvers) & test_set.solvers) if solvers else [None]):
        qpbenchmark.run(test_set, results, only_solver=solver, rerun=rerun)
    results.write()
    qpbenchmark.Report(author, results).write(str(out_dir / f"{stem}.md"))
    problems = {p.name: {"variables": p.exported.n, "inequalities": 0 if p.G is None else int(p.G.shape[0]),
                         "equalities": 0 if p.A is None else int(p.A.shape[0]), "units": p.exported.units}
                for p in test_set}
    optima = {}
    for p in test_set:
        opt = certified(p.spec_name)
        optima[p.spec_name] = opt.as_dict()
    summary = {
        "test_set": test_set.title, "seconds": time.perf_counter() - start,
        "tolerances": {k: vars(v) for k, v in test_set.tolerances.items()},
        "certified_tolerances": CERTIFIED_TOLERANCES,
        "solvers": summarize(results), "skipped": skipped_solvers(),
        "problems": problems, "optima": optima,
        "conic": (run_conic(conic if isinstance(conic, list) else None) if conic else []),
    }
    (out_dir / f"{stem}_summary.json").write_text(json.dumps(summary, indent=1, default=float) + "\n", encoding="utf-8")
    with (out_dir / f"{stem}.md").open("a", encoding="utf-8") as fh:
        fh.write(_certified_section(summary))
    return summary


def _certified_section(summary: dict[str, Any]) -> str:
    lines = ["", "## Certified check (optexec)", "",
             "A success also needs the holdings within `holdings` (max |x - x*| / |X|) and the objective within "
             "`objective` (relative) of the certified optimum: " + ", ".join(
                 f"{k}: {v}" for k, v in summary["certified_tolerances"].items()) + ".", "",
             "| solver | settings | units | success % | qpbenchmark-only success % | claimed but wrong | "
             "runtime shgeom (s) | median holdings error |", "|---|---|---|---|---|---|---|---|"]
    for solver, by_settings in sorted(summary["solvers"].items()):
        for settings, by_units in sorted(by_settings.items()):
            for units, r in sorted(by_units.items()):
                med = r["median_holdings_error"]
                lines.append(f"| {solver} | {settings} | {units} | {r['success_rate']:.0f} | "
                             f"{r['success_rate_qpbenchmark_only']:.0f} | {r['claimed_but_wrong']} | "
                             f"{r['runtime_shgeom_s']:.3g} | {'-' if med is None else f'{med:.1e}'} |")
    lines += ["", "Skipped solvers: " + (", ".join(f"{k} ({v})" for k, v in sorted(summary["skipped"].items()))
                                         or "none"), ""]
    if summary["conic"]:
        lines += ["### Power-law impact through CVXPY", "", "| problem | solver | status | holdings error | "
                  "objective gap | runtime (s) | success |", "|---|---|---|---|---|---|---|"]
        for r in summary["conic"]:
            lines.append(f"| {r['problem']} | {r['solver']} | {r['status']} | {r.get('holdings_error', float('nan')):.1e} | "
                         f"{r.get('objective_gap', float('nan')):.1e} | {r.get('runtime', float('nan')):.3g} | "
                         f"{r.get('success', False)} |")
        lines.append("")
    return "\n".join(lines) + "\n"
