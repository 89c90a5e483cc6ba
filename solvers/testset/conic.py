"""A static execution problem with power-law impact as a CVXPY (conic) problem.

``conic_problem(problem, units, linearization=None)`` builds, on holdings variables ``Y``
(``N+1`` by ``m``, shares in ``raw`` units, fractions of the order in ``scaled``), the
objective of the conventions page: ``tau eta |n/tau|^(1+beta)`` (power cones), spread
``epsilon |n|``, risk ``lambda tau x'C x``, drift ``-tau mu x`` and the permanent part
``1/2 X'Gamma X - 1/2 sum n'Gamma n``, with the constraints of the QP export. The permanent
part is concave: with ``Gamma = 0`` the problem is exact; otherwise it is replaced by its
tangent at ``linearization`` (the certified holdings), ``-1/2 nbar'Gamma nbar - nbar'Gamma (n -
nbar)``, a convex majorant equal to the objective at ``nbar`` whose unique minimizer is
``nbar`` when ``nbar`` is a KKT point (the last step of the convex-concave procedure).
``E + lambda V = objective_scale * (problem.value + objective_offset)`` at that point.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..costs import cost_unit
from ..errors import MethodNotApplicable, SpecError
from ..spec import ExecutionProblem
from .qp_export import UNITS

__all__ = ["ConicExport", "conic_problem"]


@dataclass
class ConicExport:
    """A CVXPY problem, its holdings variable and the objective's map back to currency."""

    problem: object            # cvxpy.Problem
    holdings_variable: object  # cvxpy.Variable (N+1, m)
    holdings_unit: np.ndarray  # (m,) shares per unit of the variable
    objective_scale: float
    objective_offset: float
    exact: bool                # False: the tangent majorant of the permanent part

    def holdings(self) -> np.ndarray:
        """The solved holdings in shares, ``(N+1,)`` or ``(N+1, m)``."""
        x = np.asarray(self.holdings_variable.value, dtype=np.float64) * self.holdings_unit[None, :]
        return x[:, 0] if x.shape[1] == 1 else x

    def objective(self) -> float:
        """``objective_scale * (value + objective_offset)`` (currency) at the solved point."""
        return self.objective_scale * (float(self.problem.value) + self.objective_offset)


def conic_problem(problem: ExecutionProblem, units: str = "scaled", linearization: np.ndarray | None = None
                  ) -> ConicExport:
    """The CVXPY problem of ``problem`` (module docstring).

    Raises:
        SpecError: ``units`` unknown, or ``linearization`` of the wrong shape.
        MethodNotApplicable: permanent impact without a ``linearization`` point, or ``lambda < 0``.
    """
    import cvxpy as cp

    if units not in UNITS:
        raise SpecError("units", units, f"must be one of {', '.join(UNITS)}")
    if problem.risk_aversion < 0:
        raise MethodNotApplicable("export", f"risk_aversion = {problem.risk_aversion:g} < 0 is not convex")
    n, m, tau, lam = problem.slices, problem.n_assets, problem.tau, problem.risk_aversion
    big_x = problem.initial_holdings
    gamma = problem.permanent_impact_matrix_array
    concave = bool(np.any(gamma != 0))
    if concave and linearization is None:
        raise MethodNotApplicable("export", "permanent impact makes the objective convex-concave: pass the certified "
                                            "holdings as linearization (the tangent majorant has the same minimizer)")
    scaled = units == "scaled"
    k_unit = cost_unit(problem) if scaled else 1.0
    unit = big_x if scaled else np.ones(m)
    y = cp.Variable((n + 1, m), name="holdings")
    d = y[:-1] - y[1:]                 # trades in the variable's unit: n = d * unit (coefficients carry the units)
    held = y[1:]
    terms = []
    eta = np.array([a.temporary_impact for a in problem.assets])
    beta = np.array([a.impact_exponent for a in problem.assets])
    if problem.temporary_impact_matrix is not None:
        h_fac = np.linalg.cholesky(np.diag(unit) @ problem.temporary_impact_matrix_array @ np.diag(unit) / (tau * k_unit))
        terms.append(cp.sum_squares(d @ h_fac))
    else:
        for i in range(m):
            p = float(Fraction(1.0 + beta[i]).limit_denominator(1024))
            if p != 1.0 + beta[i]:
                raise SpecError(f"assets[{i}].impact_exponent", beta[i], "must be a rational with denominator <= 1024 "
                                "for an exact power cone")
            coef = eta[i] * tau ** (-beta[i]) * abs(unit[i]) ** p / k_unit
            col = d[:, i]
            terms.append(coef * (cp.sum_squares(col) if p == 2.0 else cp.sum(cp.power(cp.abs(col), p))))
    eps = np.array([a.spread for a in problem.assets])
    if np.any(eps > 0):
        terms.append(cp.sum(cp.abs(d) @ (eps * np.abs(unit) / k_unit)))
    if lam != 0:
        if m == 1:
            w = lam * tau * problem.slice_variance() * unit[0] ** 2 / k_unit
            terms.append(cp.sum_squares(cp.multiply(np.sqrt(w), held[:, 0])))
        else:
            cov = lam * tau * np.diag(unit) @ problem.covariance @ np.diag(unit) / k_unit
            w, v = np.linalg.eigh(0.5 * (cov + cov.T))
            terms.append(cp.sum_squares(held @ (v * np.sqrt(np.maximum(w, 0.0)))))
    mu = np.array([a.drift for a in problem.assets])
    if np.any(mu != 0):
        terms.append(cp.sum(held @ (-tau * mu * unit / k_unit)))
    offset = 0.5 * float(big_x @ gamma @ big_x)
    if concave:
        xbar = np.asarray(linearization, dtype=np.float64).reshape(n + 1, m)
        nbar = xbar[:-1] - xbar[1:]
        offset += 0.5 * float(np.einsum("ki,ij,kj->", nbar, gamma, nbar))
        terms.append(-cp.sum(cp.multiply(nbar @ gamma * unit[None, :] / k_unit, d)))
    cons = [y[0] == big_x / unit, y[n] == 0]
    sign = np.sign(big_x)
    for i, a in enumerate(problem.assets):
        caps = a.slice_caps(n)
        di = d[:, i] * sign[i]                       # shares / |unit| in the direction of the order
        if caps is not None:
            keep = np.flatnonzero(np.isfinite(caps))
            cons.append(di[keep] <= caps[keep] / abs(unit[i]))
            if not problem.no_reversal:
                cons.append(-di[keep] <= caps[keep] / abs(unit[i]))
        if problem.no_reversal:
            cons.append(di >= 0)
        lo, hi = a.min_holdings, a.max_holdings
        if n > 1 and (lo is not None or hi is not None):
            signed = held[: n - 1, i] * np.sign(unit[i])     # holdings / |unit|
            if lo is not None:
                cons.append(signed >= lo / abs(unit[i]))
            if hi is not None:
                cons.append(signed <= hi / abs(unit[i]))
    bands = problem.imbalance_bands()
    if bands is not None:
        prices = np.array([a.price for a in problem.assets])
        b_scale = float(np.sum(np.abs(prices * big_x))) if scaled else 1.0
        dollars = d @ (prices * unit / b_scale)
        cons += [dollars <= bands / b_scale, -dollars <= bands / b_scale]
    objective = cp.sum(cp.hstack(terms)) if len(terms) > 1 else terms[0]
    return ConicExport(problem=cp.Problem(cp.Minimize(objective), cons), holdings_variable=y,
                       holdings_unit=unit.astype(np.float64), objective_scale=k_unit,
                       objective_offset=offset / k_unit, exact=not concave)
