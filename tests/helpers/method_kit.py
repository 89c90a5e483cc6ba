"""Building blocks of the test-only methods (each a module with ``INFO`` and ``solve``, so that
registering one is one call: ``solvers.methods.registered(name, "tests.helpers.<module>")``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from solvers.methods import METHODS, MethodAccuracy, MethodInfo
from solvers.methods import solve as solve_with
from solvers.result import Result
from solvers.settings import MethodSettings, merge_settings

EXACT = MethodAccuracy(1e-12, 1e-10, "exact (test fixture)")


def settings_class(method: str, **fields: Any) -> type[MethodSettings]:
    """A frozen settings dataclass of ``method`` with the given fields and defaults."""
    cls = dataclasses.make_dataclass(
        f"{method.title().replace('-', '')}Settings",
        [(name, Any, dataclasses.field(default=value)) for name, value in fields.items()],
        bases=(MethodSettings,), frozen=True, namespace={"method": method, "__annotations__": {}},
    )
    cls.__annotations__["method"] = ClassVar[str]
    return cls


def method_info(name: str, settings: type[MethodSettings], kind: str = "static",
                accuracy: MethodAccuracy = EXACT, time_models: tuple[str, ...] = ("discrete",)) -> MethodInfo:
    return MethodInfo(name=name, kind=kind, time_models=time_models, accuracy=accuracy, settings=settings,
                      summary=f"{name} (test fixture)")


@contextmanager
def without_methods(*names: str) -> Iterator[None]:
    """Unregister ``names`` for a ``with`` block; the registry comes back in its own order."""
    before = dict(METHODS)
    for name in names:
        METHODS.pop(name, None)
    try:
        yield
    finally:
        METHODS.clear()
        METHODS.update(before)


def wrong_parameter_solve(name: str, settings: type[MethodSettings], key: str, factor: float):
    """``solve`` of a test method that runs the closed form on a spec whose first asset's ``key``
    is scaled by ``factor`` and reports the answer on the true spec, declared as accurate as the
    closed form: ``validate`` must catch it."""
    def solve(problem, settings_obj=None, **overrides) -> Result:
        merge_settings(settings, settings_obj, overrides)
        wrong = problem.replace_asset(0, **{key: factor * getattr(problem.asset, key)})
        return Result.from_schedule(problem, solve_with(wrong, "closed-form").holdings, method=name)

    return solve
