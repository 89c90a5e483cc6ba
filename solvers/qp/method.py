"""``solve(problem, settings=None, **overrides)``: the ``qp`` method, certified.

Pipeline: scale the spec (:mod:`.scaling`); for linear impact try the structured banded solve
(:mod:`.structured`) and keep it when no constraint binds; otherwise solve the compiled DPP
problem (:mod:`.formulation`) with the chosen CVXPY back end (convex-concave iteration when the
objective has a concave part), polish by Newton on the active set (:mod:`.polish`) and certify
with the independent KKT residual of the unscaled problem (:mod:`.kkt`): ``optimal`` only when
that residual is within ``settings.tolerance``. Costs come from :meth:`Result.from_schedule`.
"""

from __future__ import annotations

import functools
import time
import warnings
from typing import Any

import cvxpy as cp
import numpy as np

from ..errors import MethodNotApplicable, SolverError, SpecError
from ..methods import MethodAccuracy, MethodInfo
from ..result import Result, check_result
from ..settings import merge_settings
from ..spec import ExecutionProblem
from . import structured
from .interior import solve_interior
from .convex_concave import check_bounded, convex_concave, convexity_certificate, convexity_thresholds
from .formulation import CompiledProblem, compiled_problem
from .kkt import kkt_residual
from .polish import polish as newton_polish
from .scaling import ScaledProblem, scale_problem
from .settings import QPSettings
from .sizing import DENSE_KERNEL_SLICES, dense_kernel, dense_kernel_bytes
from .sizing import estimate as estimate_resources
from .time_varying import solve_time_varying
from .transient import require_convex_kernels, solve_direct

__all__ = ["INFO", "solve", "BACKENDS", "tolerance_options"]

METHOD = "qp"
#: back ends offered by name (those installed are usable); Clarabel is the default
BACKENDS = ("CLARABEL", "PIQP", "OSQP", "SCS", "ECOS", "HIGHS")
_OK = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)
_QP_ONLY = ("PIQP", "OSQP", "HIGHS", "DAQP", "PROXQP", "QPALM", "CPLEX", "GUROBI", "XPRESS")


@functools.lru_cache(maxsize=1)
def _installed() -> tuple[str, ...]:
    """``cp.installed_solvers()`` tries to import every solver CVXPY knows (20 ms): ask once."""
    return tuple(cp.installed_solvers())


def tolerance_options(solver: str, tolerance: float) -> dict[str, Any]:
    """The keyword arguments that set ``solver``'s tolerances to ``tolerance`` (a back end's
    defaults are not accuracy)."""
    t = max(tolerance, 1e-12)
    if solver == "CLARABEL":
        return {"tol_gap_abs": t, "tol_gap_rel": t, "tol_feas": t, "max_iter": 200}
    if solver == "PIQP":
        return {"eps_abs": t, "eps_rel": t, "max_iter": 500}
    if solver == "OSQP":
        return {"eps_abs": t, "eps_rel": t, "max_iter": 200000, "polish": True}
    if solver == "SCS":
        return {"eps_abs": t, "eps_rel": t, "max_iters": 200000}
    if solver == "ECOS":
        return {"abstol": t, "reltol": t, "feastol": t}
    return {}


class _recorded(warnings.catch_warnings):
    """Record the warnings CVXPY and its back ends emit ("Solution may be inaccurate", power
    approximations) into ``sink`` instead of printing them; the KKT certificate decides the status."""

    def __init__(self, sink: list[str]):
        super().__init__(record=True)
        self.sink = sink

    def __enter__(self):
        self.log = super().__enter__()
        warnings.simplefilter("always")
        return self.log

    def __exit__(self, *exc):
        for w in self.log:
            text = f"{w.category.__name__}: {w.message}"
            if text not in self.sink:
                self.sink.append(text)
        return super().__exit__(*exc)


class _Runner:
    """Solves a compiled problem, accumulating the solver's iterations and times."""

    def __init__(self, solver: str, options: dict[str, Any], verbose: bool):
        self.solver, self.options, self.verbose = solver, options, verbose
        self.iterations = 0
        self.compile_seconds = 0.0
        self.solver_seconds = 0.0
        self.solves = 0
        self.status = ""
        self.warnings: list[str] = []

    def __call__(self, compiled: CompiledProblem) -> np.ndarray:
        prob = compiled.problem
        try:
            with _recorded(self.warnings):
                prob.solve(solver=self.solver, verbose=self.verbose, **self.options)
        except cp.error.SolverError as err:
            raise SolverError(METHOD, "solver_error", f"{self.solver}: {err}") from None
        except cp.error.DCPError as err:  # pragma: no cover - formulation bug
            raise SolverError(METHOD, "not_dcp", str(err)) from None
        self.solves += 1
        compiled.solves += 1
        stats = prob.solver_stats
        self.iterations += int(stats.num_iters or 0) if stats is not None else 0
        self.solver_seconds += float(stats.solve_time or 0.0) if stats is not None else 0.0
        self.compile_seconds += float(prob.compilation_time or 0.0)
        self.status = prob.status
        if prob.status not in _OK or compiled.Y.value is None:
            raise SolverError(METHOD, str(prob.status),
                              f"{self.solver} returned {prob.status!r} (no schedule is returned for a failed solve)")
        return np.asarray(compiled.Y.value, dtype=np.float64)


def solve(problem: ExecutionProblem, settings: QPSettings | None = None, **overrides: Any) -> Result:
    """Optimal static schedule of ``E + lambda V`` by convex optimization (method ``qp``).

    Args:
        problem: any single-asset or basket spec with ``lambda >= 0``: linear or power-law
            impact, spread, permanent impact, caps, participation, no-reversal, holdings
            bounds, dollar-imbalance band, drift, deterministic volatility path, transient impact
            (``transient_exponent = 1``); with linear impact also per-slice ``eta_k`` / ``epsilon_k``,
            closures and a terminal penalty (any the Hessian rule accepts), with or without a
            kernel. A stochastic volatility model is solved as the static optimum on ``E[sigma_k^2]``.
        settings: a :class:`QPSettings` (None: the defaults).
        overrides: its fields by keyword (``backend="PIQP"``, ``tolerance=1e-10``, ...) or
            ``accuracy`` (a preset name).
    """
    start = time.perf_counter()
    cfg = merge_settings(QPSettings, settings, overrides)
    tolerance, polish, path = cfg.tolerance, cfg.polish, cfg.path
    for key, name in (("backend", cfg.backend), ("fallback_backend", cfg.fallback_backend)):
        if name is not None and name not in _installed():
            raise SpecError(f"settings.{key}", name,
                            f"is not an installed CVXPY solver (installed: {', '.join(_installed())})")
    if problem.time_varying_keys():
        return _solve_time_varying(problem, cfg, start)
    sp = scale_problem(problem, covariance=cfg.covariance)
    check_bounded(sp)
    for key, name in (("backend", cfg.backend), ("fallback_backend", cfg.fallback_backend)):
        if name in _QP_ONLY and not sp.linear:
            raise SpecError(f"settings.{key}", name, "is a QP solver: power-law impact (impact_exponent != 1) needs a "
                            "conic solver with power cones (CLARABEL, SCS)")
    diag: dict[str, Any] = {
        "solver": None, "path": None, "scaling": {"cost_unit": sp.K, "holdings_unit": sp.X.tolist(),
                                                  "dollar_unit": sp.band_scale},
    }
    if problem.volatility_model.stochastic:
        diag["volatility"] = (f"stochastic model {problem.volatility_model.kind!r}: static optimum on E[sigma_k^2] "
                              "(problem.slice_variance()), not a feedback policy")
    message = ""
    y = None
    if sp.transient:
        require_convex_kernels(sp.transient)
        if sp.N > DENSE_KERNEL_SLICES and (dense_kernel(problem) or path == "cvxpy"):
            raise MethodNotApplicable(METHOD, f"transient_kernel: a dense N x N kernel at N = {sp.N} > "
                                      f"{DENSE_KERNEL_SLICES} needs about {dense_kernel_bytes(problem) / 2**30:.1f} GiB; "
                                      "the O(N) path covers one asset with the exponential kernel and linear impact")
        diag["transient"] = {"assets": [t.asset for t in sp.transient], "kernels": [t.kernel.kind for t in sp.transient]}
    if sp.transient and path in ("auto", "structured") and sp.linear:
        t0 = time.perf_counter()
        try:
            y_s, name = solve_direct(sp)
            reason = structured.feasible(sp, y_s)
        except np.linalg.LinAlgError as err:
            y_s, name, reason = None, "", f"direct solve failed ({err})"
        if not reason and np.all(np.isfinite(y_s)):
            y = y_s
            diag.update(path="structured", solver=name, solver_status="solved", iterations=1, compile_seconds=0.0,
                        solver_seconds=time.perf_counter() - t0, cache_hit=None, convex_concave_iterations=0)
        elif path == "structured":
            raise MethodNotApplicable(METHOD, f"structured path: {reason} (use path='auto' or 'cvxpy')")
        else:
            diag["structured_fallback"] = reason
    elif sp.transient and path == "structured":
        raise MethodNotApplicable(METHOD, "structured path needs linear impact (all impact_exponent = 1)")
    elif path in ("auto", "structured"):
        if structured.applicable(sp):
            t0 = time.perf_counter()
            try:
                y_s = structured.solve_unconstrained(sp)
                reason = structured.feasible(sp, y_s)
            except np.linalg.LinAlgError as err:  # not positive definite in floating point
                y_s, reason = None, f"banded factorization failed ({err})"
            if not reason:
                y = y_s
                modes = sp.m > 1 and (sp.M is not None or bool(np.all(sp.W == sp.W[0])))
                diag.update(path="structured", solver="eigen-modes" if modes else "banded-cholesky", solver_status="solved", iterations=1,
                            compile_seconds=0.0, solver_seconds=time.perf_counter() - t0, cache_hit=None,
                            convex_concave_iterations=0)
            elif path == "structured":
                raise MethodNotApplicable(METHOD, f"structured path: {reason} (use path='auto' or 'cvxpy')")
            else:
                diag["structured_fallback"] = reason
        elif path == "structured":
            raise MethodNotApplicable(METHOD, "structured path needs linear impact (all impact_exponent = 1)")
    compiled = None
    if sp.transient and path == "interior":
        raise MethodNotApplicable(METHOD, "interior path: the barrier Newton does not model the transient kernel "
                                  "(use path='auto' or 'cvxpy')")
    if y is None and path in ("auto", "interior") and not sp.transient:
        t0 = time.perf_counter()
        out = solve_interior(sp, tol=cfg.convex_concave_tol, max_convex_concave=cfg.max_convex_concave)
        if out.y is not None:
            y = out.y
            diag.update(path="interior", solver="barrier-banded", solver_status=out.message, iterations=out.newton_iterations,
                        compile_seconds=0.0, solver_seconds=time.perf_counter() - t0, cache_hit=None,
                        convex_concave_iterations=out.convex_concave_iterations)
            if out.history:
                diag["convex_concave_objective"] = out.history[-5:]
        elif path == "interior":
            raise SolverError(METHOD, "solver_error", f"interior path: {out.message}")
        else:
            diag["interior_fallback"] = out.message
    if y is None:
        y, compiled = _solve_with_fallback(sp, cfg, diag)
    y_solver = y
    pol = None
    if polish and diag["path"] in ("cvxpy", "interior"):
        pol = newton_polish(sp, y)
        accepted = pol.success and sp.objective(pol.y) <= sp.objective(y) + 1e-7 * (abs(sp.objective(y)) + 1.0)
        diag["polish"] = {"applied": accepted, "converged": pol.success, "newton_iterations": pol.newton_iterations,
                          "active_set_rounds": pol.active_set_rounds, "message": pol.message}
        if accepted:
            y = pol.y
    holdings = sp.holdings(y)
    report = kkt_residual(problem, holdings)
    diag["kkt_residual"] = report.residual
    diag["kkt"] = report.as_dict()
    if diag["path"] in ("cvxpy", "interior"):
        diag["kkt_residual_solver"] = kkt_residual(problem, sp.holdings(y_solver)).residual
    caps = _cap_duals(sp, compiled, pol if (pol is not None and diag["polish"]["applied"]) else None, y)
    if caps is not None:
        diag["cap_duals"] = caps
        diag["binding_caps"] = int(np.count_nonzero(np.asarray(caps)))
    is_global, why, eig = convexity_certificate(sp)
    diag["global_optimum"] = is_global
    diag["global_optimum_reason"] = why
    if not sp.linear and sp.has_concave_part:
        diag["convexity"] = convexity_thresholds(problem)
        diag["hessian_lower_bound_min_eig"] = eig
    status = "optimal"
    if caps is not None and not np.all(np.isfinite(caps)):
        status = "inaccurate"
        message = "a cap dual is not finite (the KKT certificate cannot price the caps)"
    elif not report.residual <= tolerance:  # a NaN residual fails too
        status = "inaccurate"
        message = (f"KKT residual {report.residual:.3g} of the unscaled problem exceeds tolerance {tolerance:.3g}"
                   + ("" if polish else " (polish=False)")
                   + (f"; polish: {diag['polish']['message']}" if "polish" in diag else ""))
    elif not is_global:
        message = "local optimum (KKT point) of a non-convex objective; see diagnostics.global_optimum_reason"
    diag["solve_seconds"] = time.perf_counter() - start
    # every number qp reports must be finite for ``optimal`` (the result rule: costs, holdings, residuals)
    return check_result(Result.from_schedule(problem, holdings, method=METHOD, status=status,
                                             solve_seconds=diag["solve_seconds"], diagnostics=diag, message=message))


def _solve_time_varying(problem: ExecutionProblem, cfg: QPSettings, start: float) -> Result:
    """Per-slice coefficients, closures or a terminal penalty: the compiled model of
    :mod:`.time_varying`, certified by the same independent KKT residual."""
    options = tolerance_options(cfg.backend, cfg.tolerance if cfg.backend_tolerance is None else cfg.backend_tolerance)
    options.update(cfg.backend_options or {})
    with _recorded([]):
        holdings, diag = solve_time_varying(problem, cfg.backend, options)
    report = kkt_residual(problem, holdings)
    diag.update(kkt_residual=report.residual, kkt=report.as_dict(), global_optimum=True,
                global_optimum_reason="convex (the Hessian rule of the spec)")
    if problem.volatility_model.stochastic:
        diag["volatility"] = (f"stochastic model {problem.volatility_model.kind!r}: static optimum on E[sigma_k^2] "
                              "(problem.slice_variance(), on calendar time across closures), not a feedback policy")
    status, message = "optimal", ""
    if not report.residual <= cfg.tolerance:
        status = "inaccurate"
        message = f"KKT residual {report.residual:.3g} of the unscaled problem exceeds tolerance {cfg.tolerance:.3g}"
    diag["solve_seconds"] = time.perf_counter() - start
    return Result.from_schedule(problem, holdings, method=METHOD, status=status, solve_seconds=diag["solve_seconds"],
                                diagnostics=diag, message=message)


def _solve_with_fallback(sp: ScaledProblem, cfg: QPSettings, diag: dict) -> tuple[np.ndarray, CompiledProblem]:
    """The CVXPY solve with ``cfg.backend``; on failure, once more with ``cfg.fallback_backend``
    if one is set (and recorded in ``diag["fallback"]``), else the failure is raised."""
    try:
        return _solve_cvxpy(sp, cfg.backend, cfg, diag)
    except SolverError as err:
        if cfg.fallback_backend is None or cfg.fallback_backend == cfg.backend:
            raise
        diag["fallback"] = {"failed_backend": cfg.backend, "error": str(err), "backend": cfg.fallback_backend}
        return _solve_cvxpy(sp, cfg.fallback_backend, cfg, diag)


def _solve_cvxpy(sp: ScaledProblem, solver: str, cfg: QPSettings, diag: dict) -> tuple[np.ndarray, CompiledProblem]:
    options = tolerance_options(solver, cfg.tolerance if cfg.backend_tolerance is None else cfg.backend_tolerance)
    if solver == cfg.backend:  # back-end options are spelled per back end: the fallback gets only tolerances
        options.update(cfg.backend_options or {})
    max_cc, cc_tol = cfg.max_convex_concave, cfg.convex_concave_tol
    runner = _Runner(solver, options, cfg.verbose)
    t0 = time.perf_counter()
    with _recorded(runner.warnings):
        compiled, hit = compiled_problem(sp)
    build = 0.0 if hit else compiled.build_seconds
    if sp.has_concave_part:
        y, iters, history = convex_concave(compiled, sp, runner, tol=cc_tol, max_iter=max_cc)
        diag["convex_concave_objective"] = history[-5:]
        if iters >= max_cc:
            diag["convex_concave_note"] = f"stopped at max_convex_concave = {max_cc}; polish finishes the job"
    else:
        compiled.set_values(sp)
        y = runner(compiled)
        iters = 0
    diag.update(
        path="cvxpy", solver=solver, solver_status=runner.status, iterations=runner.iterations,
        solver_calls=runner.solves, convex_concave_iterations=iters, cache_hit=hit,
        build_seconds=build, compile_seconds=runner.compile_seconds, solver_seconds=runner.solver_seconds,
        cvxpy_seconds=time.perf_counter() - t0, exponents_used=compiled.info.get("exponents_used"),
        solver_warnings=list(runner.warnings),
    )
    return y, compiled


def _cap_duals(sp: ScaledProblem, compiled: CompiledProblem | None, pol, y: np.ndarray):
    """``-d objective / d cap`` (currency per share, >= 0) per slice and asset; None if uncapped."""
    capped = sp.capped_assets
    if not capped:
        return None
    n, m = sp.N, sp.m
    out = np.zeros((n, m))
    unit = sp.per_share()
    if pol is not None:
        for (kind, k, i), mu in zip(pol.rows, pol.multipliers):
            if kind in ("cap_up", "cap_down"):
                out[k, i] = abs(mu) * unit[i]
    elif compiled is not None and compiled.cap_up is not None and compiled.cap_up.dual_value is not None:
        dual = np.asarray(compiled.cap_up.dual_value, dtype=np.float64).reshape(n, len(capped))
        if compiled.cap_down is not None and compiled.cap_down.dual_value is not None:
            dual = dual + np.asarray(compiled.cap_down.dual_value, dtype=np.float64).reshape(n, len(capped))
        for j, i in enumerate(capped):
            out[:, i] = np.abs(dual[:, j]) * unit[i]
    return out[:, 0] if m == 1 else out


INFO = MethodInfo(
    name=METHOD, kind="static", time_models=("discrete",),
    accuracy=MethodAccuracy(1e-7, 1e-4, "convex solver at ~1e-8 on the scaled problem; holdings move with the "
                                        "square root of the objective's error"),
    settings=QPSettings,
    estimate=estimate_resources,
    summary="static optimum of E + lambda V by convex optimization (CVXPY), Newton-polished and KKT-certified",
)
