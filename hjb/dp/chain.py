"""Volatility as a finite Markov chain on the slice length ``tau`` (backward induction's view).

A :class:`VolatilityChain` holds ``levels`` (``(N, S)``, volatility of state ``i`` in slice ``k``),
``transition`` ``P`` (``(S, S)``) and ``initial_state``. Constant and path: one state; regimes:
``P = expm(Q tau)``; mean-reverting: moment-matched discrete Gaussian rows on the nodes of
:func:`hjb.volatility_grid.covering_grid`, so the chain's ``E[sigma_k]`` and ``E[sigma_k^2]`` equal the
model's. With closures the chain runs on calendar time: per-step ``transitions`` over
``u_{k+1} - u_k`` (``tau + d`` after a closure). Entry point :func:`volatility_chain`. Details:
``solvers/docs/theory-dp.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from solvers.errors import SpecError
from solvers.spec import ExecutionProblem
from solvers.volatility import ConstantVolatility, MeanRevertingVolatility, RegimeVolatility, VolatilityPath

from ..volatility_grid import covering_grid

__all__ = ["VolatilityChain", "volatility_chain", "mean_reverting_chain", "moment_matched_row"]


@dataclass(frozen=True)
class VolatilityChain:
    """A finite Markov chain for ``sigma_k`` (see the module docstring).

    Attributes:
        levels: ``(N, S)`` volatility of state ``i`` in slice ``k`` (row ``k-1``).
        transition: ``(S, S)`` transition matrix between consecutive slices.
        initial_state: state index of slice 1.
        method: how the chain was built (``constant``, ``path``, ``regimes``,
            ``deterministic-mean``, ``moment-matched``).
        diagnostics: construction details (grid, worst moment mismatch, fallback rows).
        transitions: ``(N-1, S, S)`` per-step matrices (row ``k-1``: slice ``k`` to ``k+1``) when
            closures make the steps unequal; None: ``transition`` for every step.
    """

    levels: np.ndarray
    transition: np.ndarray
    initial_state: int
    method: str
    diagnostics: dict[str, Any] = field(default_factory=dict)
    transitions: np.ndarray | None = None

    def step(self, k: int) -> np.ndarray:
        """The ``(S, S)`` transition from slice ``k`` to slice ``k+1`` (``k = 1..N-1``)."""
        return self.transition if self.transitions is None else self.transitions[k - 1]

    def step_matrices(self) -> np.ndarray:
        """All ``N-1`` transitions, ``(N-1, S, S)`` (a broadcast view without closures)."""
        if self.transitions is not None:
            return self.transitions
        return np.broadcast_to(self.transition, (max(self.slices - 1, 0),) + self.transition.shape)

    @property
    def n_states(self) -> int:
        return int(self.transition.shape[0])

    @property
    def slices(self) -> int:
        return int(self.levels.shape[0])

    @property
    def nodes(self) -> np.ndarray:
        """The state levels of slice 1 (for a time-homogeneous chain: of every slice)."""
        return self.levels[0]

    def distributions(self) -> np.ndarray:
        """Probability of each state in each slice, shape ``(N, S)`` (row ``k-1``: slice ``k``)."""
        out = np.zeros((self.slices, self.n_states))
        dist = np.zeros(self.n_states)
        dist[self.initial_state] = 1.0
        for k in range(self.slices):
            out[k] = dist
            if k + 1 < self.slices:
                dist = dist @ self.step(k + 1)
        return out

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """``(E[sigma_k], E[sigma_k^2])`` of the chain for slices ``k = 1..N``."""
        dist = self.distributions()
        return np.sum(dist * self.levels, axis=1), np.sum(dist * self.levels**2, axis=1)

    def slice_variance(self) -> np.ndarray:
        """``E[sigma_k^2]`` of the chain (compare ``ExecutionProblem.slice_variance()``)."""
        return self.moments()[1]

    def locate(self, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For volatilities off the nodes (a simulated continuous ``sigma``): the node below,
        ``j``, and the weight ``w`` in [0, 1] of node ``j + 1`` in linear interpolation
        (clamped at the end nodes). Levels of slice 1 are used (homogeneous chains)."""
        nodes = self.nodes
        sigma = np.asarray(sigma, dtype=np.float64)
        if self.n_states == 1:
            return np.zeros(sigma.shape, dtype=np.int64), np.zeros(sigma.shape)
        j = np.clip(np.searchsorted(nodes, sigma, side="right") - 1, 0, self.n_states - 2)
        w = np.clip((sigma - nodes[j]) / (nodes[j + 1] - nodes[j]), 0.0, 1.0)
        return j, w

    def position(self, shape: tuple[int, ...], sigma: Any, regime: Any) -> tuple[np.ndarray, np.ndarray]:
        """Where a policy stands on the chain, as ``(j, w)`` of shape ``shape``: one state, ``(0, 0)``;
        regimes, the ``regime`` index (needed) and ``w = 0``; otherwise :meth:`locate` of ``sigma``."""
        if self.n_states == 1:
            return np.zeros(shape, dtype=np.int64), np.zeros(shape)
        if self.method == "regimes":
            if regime is None:
                raise ValueError("a regime model's policy needs the regime index")
            return np.broadcast_to(np.asarray(regime, dtype=np.int64), shape), np.zeros(shape)
        return self.locate(np.broadcast_to(np.asarray(sigma, dtype=np.float64), shape))

    @staticmethod
    def blend(table: np.ndarray, j: np.ndarray, w: np.ndarray) -> np.ndarray:
        """``(1 - w) table[j] + w table[j + 1]`` along the first axis of ``table`` (per-state rows;
        ``j + 1`` clamped to the last state): a policy coefficient between two chain nodes."""
        upper = table[np.minimum(j + 1, table.shape[0] - 1)]
        wb = np.reshape(w, np.shape(w) + (1,) * (table.ndim - 1))
        return (1.0 - wb) * table[j] + wb * upper


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise SpecError(name, value, f"must be an integer >= {minimum}")
    return int(value)


def _check_positive(name: str, value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise SpecError(name, value, "must be a number") from None
    if not math.isfinite(out) or out <= 0:
        raise SpecError(name, value, "must be a finite number > 0")
    return out


def volatility_chain(problem: ExecutionProblem, *, vol_states: int = 15, width: float = 4.0) -> VolatilityChain:
    """The chain of ``problem``'s volatility model on its slice length ``tau`` (with closures: on
    the calendar times ``problem.volatility_times``, one transition per step).

    Args:
        problem: a single-asset spec.
        vol_states: number of states ``S`` for a stochastic mean-reverting model (>= 3; the
            grid may lose nodes ``<= 0`` when the elasticity is positive). Ignored otherwise.
        width: the mean-reverting grid covers ``E[sigma(t)] +- width * sd(sigma(t))`` (> 0).
    """
    model = problem.volatility_model
    n = problem.slices
    sigma0 = problem.assets[0].volatility
    if isinstance(model, ConstantVolatility):
        return VolatilityChain(np.full((n, 1), sigma0), np.ones((1, 1)), 0, "constant")
    if isinstance(model, VolatilityPath):
        return VolatilityChain(np.asarray(model.path, dtype=np.float64)[:, None], np.ones((1, 1)), 0, "path")
    steps = problem.volatility_steps if problem.closures else None
    if isinstance(model, RegimeVolatility):
        levels = np.broadcast_to(np.asarray(model.levels, dtype=np.float64), (n, model.n_regimes)).copy()
        transition = model.transition_matrix(problem.tau)
        transitions = None
        if steps is not None:  # calendar steps: expm(Q (tau + d)) across a closure
            transitions = np.stack([transition if dt == problem.tau else model.transition_matrix(float(dt))
                                    for dt in steps])
        return VolatilityChain(levels, transition, model.initial_regime, "regimes",
                               {"generator": model.generator_array.tolist()}, transitions)
    if isinstance(model, MeanRevertingVolatility):
        return mean_reverting_chain(model, sigma0, problem.horizon, n, states=vol_states, width=width, steps=steps)
    raise SpecError("volatility_model.kind", getattr(model, "kind", model), "has no Markov-chain discretization")


def mean_reverting_chain(
    model: MeanRevertingVolatility, sigma0: float, horizon: float, slices: int, *,
    states: int = 15, width: float = 4.0, steps: np.ndarray | None = None,
) -> VolatilityChain:
    """Moment-matched chain of a mean-reverting model (see the module docstring).

    ``states`` (>= 3) and ``width`` (> 0) as in :func:`volatility_chain`. ``steps``: the calendar
    time between consecutive slices' volatility (N-1 numbers; default ``tau`` each, a closure
    lengthens one); each distinct step gets its matrix and the grid covers the calendar span.
    """
    states = _check_int("vol_states", states, 3)
    width = _check_positive("vol_width", width)
    tau = horizon / slices
    uniform = steps is None
    if uniform:
        times = tau * np.arange(slices, dtype=np.float64)
    else:
        steps = np.asarray(steps, dtype=np.float64)
        times = np.concatenate([[0.0], np.cumsum(steps)])
    span = horizon if uniform else float(times[-1]) + tau
    if model.vol_of_vol == 0.0:
        mean, _ = model.moments(sigma0, times)
        return VolatilityChain(mean[:, None], np.ones((1, 1)), 0, "deterministic-mean",
                               {"note": "vol_of_vol = 0: sigma(t) is the exact deterministic mean"})
    # the one volatility grid (hjb.volatility_grid): the band over [0, T] sampled at the slice starts too
    grid = covering_grid(model, sigma0, span, points=states, width=width, extra_times=times, drop_nonpositive=True)
    nodes, initial = grid.nodes, grid.start_index
    h = grid.spacing
    dropped = states - nodes.size
    fallback, clamped = set(), set()
    worst = 0.0

    def matrix(dt: float) -> np.ndarray:
        nonlocal worst
        cm1, cm2 = model.moments(nodes, dt)  # exact conditional moments after dt (affine in the start)
        rows = np.zeros((nodes.size, nodes.size))
        for i in range(nodes.size):
            row, status = moment_matched_row(nodes, cm1[i], cm2[i])
            rows[i] = row
            if status == "resolution":
                fallback.add(i)
            elif status == "clamped":
                clamped.add(i)
            else:
                mean = row @ nodes
                worst = max(worst, abs(mean - cm1[i]) / h, abs(row @ nodes**2 - cm2[i]) / h**2)
        return rows

    rows = matrix(tau)
    transitions = None
    if not uniform:
        cache = {tau: rows}
        for dt in map(float, steps):
            if dt not in cache:
                cache[dt] = matrix(dt)
        transitions = np.stack([cache[float(dt)] for dt in steps])
    levels = np.broadcast_to(nodes, (slices, nodes.size)).copy()
    diagnostics = {
        "states": int(nodes.size), "spacing": h, "range": [float(nodes[0]), float(nodes[-1])],
        "width_sd": width, "dropped_nonpositive_nodes": dropped,
        "max_row_moment_error": worst,  # matched rows, in units of h (mean) and h^2 (2nd moment)
        "resolution_fallback_rows": sorted(fallback), "clamped_rows": sorted(clamped),
    }
    if not uniform:
        diagnostics["calendar_steps"] = sorted({float(dt) for dt in steps})
    return VolatilityChain(levels, rows, initial, "moment-matched", diagnostics, transitions)


def moment_matched_row(nodes: np.ndarray, mean: float, second: float, *, tol: float = 1e-13,
                       max_iter: int = 200) -> tuple[np.ndarray, str]:
    """Probabilities on the uniform ``nodes`` with the given mean and second moment.

    Returns ``(row, status)``: ``"matched"`` (a discrete Gaussian ``exp(a z + b z^2)`` hitting both
    moments to ``tol`` in units of the spacing), ``"resolution"`` (the variance is below what the
    grid can represent around the mean: two-point row, exact mean) or ``"clamped"`` (the mean
    lies beyond an end node: all mass on that node).
    """
    nodes = np.asarray(nodes, dtype=np.float64)
    s = nodes.size
    h = nodes[1] - nodes[0]
    var = second - mean**2
    row = np.zeros(s)
    if mean <= nodes[0] or mean >= nodes[-1]:
        row[0 if mean <= nodes[0] else -1] = 1.0
        return row, "clamped"
    j = min(int(np.floor((mean - nodes[0]) / h)), s - 2)
    d = mean - nodes[j]
    min_var = d * (h - d)
    max_var = (mean - nodes[0]) * (nodes[-1] - mean)
    if var <= min_var * (1.0 + 1e-9) + 1e-15 * h * h or var >= max_var * (1.0 - 1e-9):
        if var >= max_var * (1.0 - 1e-9):  # wider than the grid: the end nodes, exact mean
            w = (mean - nodes[0]) / (nodes[-1] - nodes[0])
            row[0], row[-1] = 1.0 - w, w
        else:
            w = d / h
            row[j], row[j + 1] = 1.0 - w, w
        return row, "resolution"
    z = (nodes - mean) / h
    target = np.array([0.0, var / h**2])
    stats = np.stack([z, z * z])  # (2, S)
    theta = np.array([0.0, -0.5 / max(var / h**2, 0.25)])

    def dual(th):
        e = th @ stats
        top = e.max()
        w = np.exp(e - top)
        total = w.sum()
        return top + math.log(total) - th @ target, w / total

    f, p = dual(theta)
    for _ in range(max_iter):
        grad = stats @ p - target
        if np.max(np.abs(grad)) < tol * (1.0 + target[1]):
            break
        centred = stats - (stats @ p)[:, None]
        hess = (centred * p) @ centred.T
        try:
            step = -np.linalg.solve(hess + 1e-300 * np.eye(2), grad)
        except np.linalg.LinAlgError:
            break
        t = 1.0
        while t > 1e-12:
            f_new, p_new = dual(theta + t * step)
            if f_new <= f + 1e-4 * t * (grad @ step) + 1e-13 * (1.0 + abs(f)):
                break
            t *= 0.5
        theta, f, p = theta + t * step, f_new, p_new
    grad = stats @ p - target
    if np.max(np.abs(grad)) > 1e-10 * (1.0 + target[1]):  # not reachable to working accuracy: closest feasible row
        w = d / h
        row[j], row[j + 1] = 1.0 - w, w
        return row, "resolution"
    return p, "matched"
