"""The method registry: the one place that names the methods, and the one entry point.

Each method is a module (or package) that declares its facts once, as ``INFO``
(:class:`MethodInfo`), and a ``solve(problem, settings=None, **overrides) -> Result``.
:data:`METHODS` maps a method's name to that module's import path; the module is imported on
first use, so this floor never imports a higher one (``hjb``) or a heavy library before it is
asked for. ``validate``, ``adaptivity``, ``sweep`` and the CLI read :func:`method_info` and
nothing else. Adding a method is one module plus :func:`register_method` (or one line below).

:func:`solve` applies the result rule of every method (:func:`solvers.result.check_result`):
an answer is ``optimal`` only if it is finite, starts at ``X``, finishes as the spec requires,
and meets its own stated accuracy; with ``throw=True`` (default) anything else raises
:class:`~solvers.errors.SolverError`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .errors import SpecError
from .resources import ResourceEstimate, check_memory, vector_estimate
from .result import Result, check_result
from .settings import MethodSettings, merge_settings
from .spec import ExecutionProblem

__all__ = [
    "METHODS", "MethodAccuracy", "MethodInfo", "Variant", "method_names", "method_info", "get_method",
    "register_method", "registered", "solve", "estimate_resources", "require_resources",
]

#: name -> import path of the module that defines ``INFO`` and ``solve``
METHODS: dict[str, str] = {
    "closed-form": "solvers.closed_form",
    "qp": "solvers.qp",
    "dp": "hjb.dp",
    "hjb": "hjb.pde",
}


@dataclass(frozen=True)
class MethodAccuracy:
    """How closely a method's answer meets the exact optimum of its own time model.

    ``objective_rtol`` is relative to ``|objective|``, ``holdings_rtol`` to ``max |X_i|``; a result
    may state its own error instead (``diagnostics["objective_error"]`` in currency,
    ``["holdings_error"]`` in shares, ``["accuracy_note"]`` the reason). ``order`` is the declared
    convergence order of the discretization in ``order_in`` (a settings field, or ``"slices"``);
    None for an exact method.
    """

    objective_rtol: float
    holdings_rtol: float
    why: str
    order: float | None = None
    order_in: str | None = None


@dataclass(frozen=True)
class Variant:
    """One way ``validate`` runs a method: a label and settings overrides."""

    label: str
    settings: Mapping[str, Any]


@dataclass(frozen=True)
class MethodInfo:
    """The facts of one method, declared once in its module as ``INFO``.

    Attributes:
        name: the registry name (``closed-form``, ``qp``, ``dp``, ``hjb``).
        kind: ``static`` (returns a schedule) or ``dynamic`` (returns a feedback policy too).
        time_models: the time models it can solve (``discrete``, ``continuous``); with two, the
            settings have a ``time_model`` field choosing between them.
        accuracy: its declared accuracy and order.
        settings: its :class:`~solvers.settings.MethodSettings` class.
        summary: one line for ``--help`` and reports.
        variants: how ``validate`` runs it (empty: once with the default settings).
        batch_solve: optional vectorized solver ``(problems: {id: problem}, settings) -> {id:
            Result}`` for the points it can solve; the rest are solved one by one. Its results
            pass the same :func:`~solvers.result.check_result`.
        estimate: ``(problem, settings) -> ResourceEstimate``, the memory and time it will need
            (:mod:`solvers.resources`); None: sized as O(N m) vectors.
        derivatives: optional exact derivatives of its answer (automatic differentiation or an
            adjoint) ``(problem, names, result, settings, **overrides) -> dict | None`` for the
            spec parameters it covers; :func:`solvers.sensitivities` differences the rest.
    """

    name: str
    kind: str
    time_models: tuple[str, ...]
    accuracy: MethodAccuracy
    settings: type[MethodSettings]
    summary: str
    variants: tuple[Variant, ...] = ()
    batch_solve: Callable[[Mapping[int, ExecutionProblem], MethodSettings], dict[int, Result]] | None = None
    estimate: Callable[[ExecutionProblem, MethodSettings], ResourceEstimate] | None = None
    derivatives: Callable[..., dict[str, Any] | None] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("static", "dynamic"):
            raise ValueError(f"MethodInfo.kind = {self.kind!r}: must be 'static' or 'dynamic'")
        if not self.time_models or set(self.time_models) - {"discrete", "continuous"}:
            raise ValueError(f"MethodInfo.time_models = {self.time_models!r}: 'discrete' and/or 'continuous'")

    @property
    def run_variants(self) -> tuple[Variant, ...]:
        """The variants ``validate`` runs: the declared ones, else one with default settings."""
        return self.variants or (Variant(self.name, {}),)


def method_names() -> list[str]:
    """The registered method names, in registry order."""
    return list(METHODS)


def _module(name: str):
    if name not in METHODS:
        raise SpecError("method", name, f"unknown method (available: {', '.join(METHODS)})")
    return importlib.import_module(METHODS[name])


def method_info(name: str) -> MethodInfo:
    """The facts the method ``name`` declares (imports its module)."""
    info = getattr(_module(name), "INFO", None)
    if not isinstance(info, MethodInfo) or info.name != name:
        raise SpecError("method", name, f"module {METHODS[name]} declares no INFO = MethodInfo(name={name!r}, ...)")
    return info


def get_method(name: str) -> Callable[..., Result]:
    """The module-level ``solve`` of the method ``name``."""
    return _module(name).solve


def register_method(name: str, module: str) -> None:
    """Register (or replace) a method: ``module`` defines ``INFO`` and ``solve``."""
    if not isinstance(name, str) or not name or not isinstance(module, str) or not module:
        raise SpecError("method", name, "a method needs a name and a module import path")
    METHODS[name] = module


@contextmanager
def registered(name: str, module: str) -> Iterator[None]:
    """Register a method for the duration of a ``with`` block (tests, notebooks)."""
    before = METHODS.get(name)
    register_method(name, module)
    try:
        yield
    finally:
        if before is None:
            METHODS.pop(name, None)
        else:
            METHODS[name] = before


def estimate_resources(problem: ExecutionProblem, method: str, settings: MethodSettings | None = None,
                       **overrides: Any) -> ResourceEstimate:
    """The memory and time the method ``method`` will need for ``problem`` under its settings."""
    info = method_info(method)
    merged = merge_settings(info.settings, settings, overrides)
    return info.estimate(problem, merged) if info.estimate is not None else vector_estimate(problem, method)


def require_resources(problem: ExecutionProblem, method: str, settings: MethodSettings | None = None, *,
                      limit_bytes: float | None = None, **overrides: Any) -> ResourceEstimate:
    """Refuse, before any allocation, a problem the method cannot fit in memory (a
    :class:`~solvers.errors.SpecError` on ``slices`` with the estimate); return the estimate."""
    return check_memory(problem, method, estimate_resources(problem, method, settings, **overrides), limit_bytes)


def solve(problem: ExecutionProblem, method: str = "closed-form", settings: MethodSettings | None = None, *,
          throw: bool = True, **overrides: Any) -> Result:
    """Solve ``problem`` with the named method under the result rule.

    Args:
        problem: the spec.
        method: a name of :data:`METHODS`.
        settings: the method's settings object (None: its defaults).
        throw: raise :class:`~solvers.errors.SolverError` unless the answer is ``optimal``
            (else return the result with its status and message).
        overrides: settings fields (and ``accuracy``, a preset name); an unknown one is a
            :class:`~solvers.errors.SpecError` naming it and the method.

    The settings are merged once (:func:`~solvers.settings.merge_settings`), the memory the
    method will need is checked before it allocates (:func:`require_resources`), and the answer
    passes :func:`~solvers.result.check_result`.
    """
    info = method_info(method)
    merged = merge_settings(info.settings, settings, overrides)
    require_resources(problem, method, merged)
    result = check_result(get_method(method)(problem, merged))
    return result.raise_for_status() if throw else result
