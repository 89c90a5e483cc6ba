"""The cost of not knowing the parameters: delta method, parametric bootstrap, expected regret.

Given estimates ``p_hat`` with covariance ``S`` (from a :class:`~solvers.calibration.Calibration`
or a side file), the optimal objective ``J(p)`` has the delta-method standard error
``sqrt(g' S g)``, ``g = dJ/dp`` (likewise each ``x_k``); the parametric bootstrap draws
``p ~ N(p_hat, S)`` and solves at each draw. The regret of solving at ``p_hat`` when the truth
is ``p``: ``J_p(x(p_hat)) - J_p(x(p)) >= 0``, the point-estimate schedule priced under the true
parameters (exactly, for a static schedule; the same draws serve both schedules). Entry points:
:func:`calibration_covariance`, :func:`load_covariance`, :func:`propagate`.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from ..costs import schedule_cost
from ..errors import OptexecError, SpecError
from ..methods import method_info
from ..spec import ExecutionProblem
from .core import sensitivities
from .finite import solve_outputs
from .params import check_names, parameter_value, perturbed

__all__ = ["ParameterCovariance", "calibration_covariance", "load_covariance", "Propagation", "propagate",
           "normal_quantile"]


def normal_quantile(confidence: float) -> float:
    """The two-sided standard normal quantile ``z`` with ``P(|Z| <= z) = confidence``."""
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


@dataclass(frozen=True)
class ParameterCovariance:
    """Covariance ``S`` (P x P, units of the parameters squared) of the spec parameters ``names``."""

    names: list[str]
    covariance: np.ndarray
    source: str = ""


def calibration_covariance(calibration: Any, problem: ExecutionProblem | None = None) -> ParameterCovariance:
    """``S`` of the spec's calibrated parameters (asset 0): volatility and permanent impact from
    their own fits (independent), spread, temporary impact and the exponent jointly from the
    impact fit's covariance, mapped by the delta method from its coordinates
    (``epsilon = a sigma``, ``eta = b sigma / V^beta``; ``b`` or ``log b``). A parameter fixed by
    the user (standard error 0) is left out. With a transient fit, ``permanent_impact``,
    ``transient_impact`` and ``resilience`` come from its joint covariance."""
    vol, temp, perm = calibration.volatility.sigma, calibration.temporary, calibration.permanent.permanent_impact
    sigma = vol.value
    volume = temp.volume_scale
    cov3 = np.asarray(temp.covariance, dtype=np.float64)
    eta, beta = temp.temporary_impact.value, temp.impact_exponent.value
    if temp.beta_fixed:  # coordinates (a, b): eps = a sigma, eta = b sigma / V^beta
        jac = np.array([[sigma, 0.0, 0.0], [0.0, sigma / volume**beta, 0.0], [0.0, 0.0, 0.0]])
    else:  # coordinates (a, log b, beta)
        jac = np.array([[sigma, 0.0, 0.0], [0.0, eta, -eta * math.log(volume)], [0.0, 0.0, 1.0]])
    impact = jac @ cov3 @ jac.T
    names = ["assets[0].volatility", "assets[0].spread", "assets[0].temporary_impact", "assets[0].impact_exponent",
             "assets[0].permanent_impact"]
    trans = getattr(calibration, "transient", None)
    joint = trans is not None and trans.transient_impact.identified and trans.covariance is not None
    size = 7 if joint else 5
    cov = np.zeros((size, size))
    cov[0, 0] = vol.std_error**2
    cov[1:4, 1:4] = impact
    cov[4, 4] = perm.std_error**2
    if joint:  # permanent impact, kappa_T and rho from one regression: their joint covariance
        names += ["assets[0].transient_impact", "assets[0].resilience"]
        block = [4, 5, 6]
        cov[np.ix_(block, block)] = np.asarray(trans.covariance, dtype=np.float64)
    keep = [j for j in range(size) if cov[j, j] > 0]
    return ParameterCovariance([names[j] for j in keep], cov[np.ix_(keep, keep)], "calibration")


def load_covariance(path: str | Path) -> ParameterCovariance:
    """A user-given covariance: JSON or TOML with ``parameters = [spec paths]`` and
    ``covariance = [[...]]`` (or ``std_errors = [...]`` for independent parameters)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as err:
        raise SpecError("covariance", str(path), f"must be JSON or TOML ({err})") from None
    names = data.get("parameters")
    if not isinstance(names, list) or not names:
        raise SpecError("covariance.parameters", names, "must be a list of spec paths")
    if "covariance" in data:
        cov = np.asarray(data["covariance"], dtype=np.float64)
    elif "std_errors" in data:
        cov = np.diag(np.square(np.asarray(data["std_errors"], dtype=np.float64)))
    else:
        raise SpecError("covariance", str(path), "needs 'covariance' (a matrix) or 'std_errors' (a list)")
    if cov.shape != (len(names), len(names)) or not np.allclose(cov, cov.T):
        raise SpecError("covariance.covariance", cov.shape, f"must be a symmetric {len(names)} x {len(names)} matrix")
    if np.linalg.eigvalsh(cov).min() < -1e-12 * max(np.abs(cov).max(), 1e-300):
        raise SpecError("covariance.covariance", "not positive semi-definite", "a covariance must be PSD")
    return ParameterCovariance([str(n) for n in names], cov, str(path))


@dataclass(frozen=True)
class Propagation:
    """What the parameter uncertainty does to the optimum (currency; holdings in shares).

    ``objective``/``objective_se``/``interval``: the point-estimate optimum, its delta-method
    standard error and interval at ``confidence``; ``holdings_se``: per ``x_k``. Bootstrap:
    ``bootstrap_objectives`` (the optimal objective at each valid draw), ``coverage`` (the share
    of them inside the interval), ``rejected`` (draws outside the valid specs). Regret:
    ``regret_mean``, ``regret_se`` (Monte Carlo), ``regret_relative`` (mean / objective)."""

    method: str
    names: list[str]
    confidence: float
    objective: float
    objective_se: float
    interval: tuple[float, float]
    holdings: np.ndarray
    holdings_se: np.ndarray
    gradient: np.ndarray
    draws: int = 0
    rejected: int = 0
    bootstrap_objectives: np.ndarray = field(default_factory=lambda: np.zeros(0))
    coverage: float = math.nan
    bootstrap_interval: tuple[float, float] = (math.nan, math.nan)
    regret: np.ndarray = field(default_factory=lambda: np.zeros(0))
    regret_mean: float = math.nan
    regret_se: float = math.nan

    @property
    def regret_relative(self) -> float:
        return self.regret_mean / self.objective if self.objective else math.nan

    def summary(self) -> str:
        pct = 100 * self.confidence
        lines = [f"optimal objective ({self.method}) = {self.objective:.6g} +/- {self.objective_se:.3g} "
                 f"[{pct:g}% delta-method interval {self.interval[0]:.6g} .. {self.interval[1]:.6g}]"]
        if self.draws:
            lines.append(f"  parametric bootstrap ({self.draws - self.rejected} draws, {self.rejected} rejected as "
                         f"invalid specs): {pct:g}% range {self.bootstrap_interval[0]:.6g} .. "
                         f"{self.bootstrap_interval[1]:.6g}; the delta interval covers {100 * self.coverage:.1f}%")
        if self.regret.size:
            lines.append(f"  expected regret of solving at the point estimate = {self.regret_mean:.4g} +/- "
                         f"{self.regret_se:.2g} ({100 * self.regret_relative:.3g}% of the objective)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "parameters": self.names, "confidence": self.confidence,
                "objective": self.objective, "objective_se": self.objective_se, "interval": list(self.interval),
                "holdings": self.holdings.tolist(), "holdings_se": self.holdings_se.tolist(),
                "gradient": dict(zip(self.names, self.gradient.tolist())), "draws": self.draws,
                "rejected": self.rejected, "coverage": self.coverage, "bootstrap_interval": list(self.bootstrap_interval),
                "regret_mean": self.regret_mean, "regret_se": self.regret_se, "regret_relative": self.regret_relative}


def _at(problem: ExecutionProblem, names: list[str], values: np.ndarray) -> ExecutionProblem:
    for name, value in zip(names, values):
        problem = perturbed(problem, name, float(value))
    return problem


def propagate(problem: ExecutionProblem, covariance: ParameterCovariance, method: str = "closed-form", *,
              confidence: float = 0.95, draws: int = 400, regret: bool = True, seed: int = 0,
              settings: Any = None) -> Propagation:
    """Delta-method interval of the optimal objective and holdings, its parametric-bootstrap
    check over ``draws`` draws of ``N(p_hat, S)`` (0: none), and the expected regret of the
    point-estimate schedule over the same draws (static methods)."""
    names = check_names(problem, covariance.names)
    cov = np.asarray(covariance.covariance, dtype=np.float64)
    sens = sensitivities(problem, method, wrt=names, settings=settings)
    g = sens.objective
    se = math.sqrt(max(float(g @ cov @ g), 0.0))
    z = normal_quantile(confidence)
    obj = sens.base.objective
    jac = sens.holdings.reshape(len(names), -1)
    hold_se = np.sqrt(np.maximum(np.einsum("pk,pq,qk->k", jac, cov, jac), 0.0)).reshape(sens.base.holdings.shape)
    out = dict(method=method, names=names, confidence=confidence, objective=obj, objective_se=se,
               interval=(obj - z * se, obj + z * se), holdings=sens.base.holdings, holdings_se=hold_se, gradient=g)
    if draws <= 0:
        return Propagation(**out)
    rng = np.random.default_rng(seed)
    center = np.array([parameter_value(problem, n) for n in names])
    w, v = np.linalg.eigh(cov)
    root = v * np.sqrt(np.maximum(w, 0.0))
    static = method_info(method).kind == "static"
    objectives, regrets, rejected = [], [], 0
    point = sens.base.holdings
    for _ in range(draws):
        theta = center + root @ rng.standard_normal(len(names))
        try:
            truth = _at(problem, names, theta)
            best = solve_outputs(truth, method, settings)
        except OptexecError:
            rejected += 1
            continue
        objectives.append(best.objective)
        if regret and static:
            regrets.append(float(schedule_cost(truth, point).objective) - best.objective)
    objs = np.array(objectives)
    if objs.size:
        lo, hi = out["interval"]
        out.update(coverage=float(np.mean((objs >= lo) & (objs <= hi))),
                   bootstrap_interval=(float(np.quantile(objs, 0.5 - confidence / 2)),
                                       float(np.quantile(objs, 0.5 + confidence / 2))))
    reg = np.array(regrets)
    if reg.size:
        out.update(regret=reg, regret_mean=float(reg.mean()),
                   regret_se=float(reg.std(ddof=1) / math.sqrt(reg.size)) if reg.size > 1 else math.nan)
    return Propagation(**out, draws=draws, rejected=rejected, bootstrap_objectives=objs)
