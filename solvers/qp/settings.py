"""Settings of method ``qp``: the CVXPY back end, its tolerance, the polish and the path."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import SpecError
from ..settings import MethodSettings, check_choice, check_flag, check_integer, check_number

__all__ = ["QPSettings"]


@dataclass(frozen=True)
class QPSettings(MethodSettings):
    """How ``qp`` solves (the problem is the spec).

    Attributes:
        backend: a CVXPY solver name (``CLARABEL``, ``PIQP``, ``OSQP``, ``SCS``, ...). QP-only
            back ends (PIQP, OSQP) need linear impact.
        tolerance: the relative KKT residual an ``optimal`` answer must meet; also the back
            end's tolerances. In (0, 1).
        polish: Newton polish on the active set (off shows the raw back end's answer).
        path: ``auto`` (structured banded solve when linear and no constraint binds, else CVXPY),
            ``cvxpy`` or ``structured`` (banded solve only; not applicable if a constraint binds).
        covariance: ``auto`` or ``dense`` risk form for baskets.
        max_convex_concave, convex_concave_tol: limits of the convex-concave iteration.
        backend_options: extra keyword arguments for the back end (override the tolerances).
        fallback_backend: a second back end tried once if ``backend`` fails (None: fail loudly).
        verbose: the back end's own log.
    """

    method: ClassVar[str] = "qp"
    presets: ClassVar[dict[str, dict[str, Any]]] = {"high": {"tolerance": 1e-11}}

    backend: str = "CLARABEL"
    tolerance: float = 1e-9
    polish: bool = True
    path: str = "auto"
    covariance: str = "auto"
    max_convex_concave: int = 200
    convex_concave_tol: float = 1e-7
    backend_options: dict[str, Any] | None = field(default=None, compare=False)
    fallback_backend: str | None = None
    verbose: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.backend, str) or not self.backend:
            raise SpecError("settings.backend", self.backend, "must be a CVXPY solver name")
        object.__setattr__(self, "backend", self.backend.upper())
        if self.fallback_backend is not None:
            if not isinstance(self.fallback_backend, str) or not self.fallback_backend:
                raise SpecError("settings.fallback_backend", self.fallback_backend, "must be a CVXPY solver name or None")
            object.__setattr__(self, "fallback_backend", self.fallback_backend.upper())
        check_number("tolerance", self.tolerance, low=0.0, high=1.0)
        check_flag("polish", self.polish)
        check_flag("verbose", self.verbose)
        check_choice("path", self.path, ("auto", "cvxpy", "structured"))
        check_choice("covariance", self.covariance, ("auto", "dense"))
        check_integer("max_convex_concave", self.max_convex_concave, 1, 100_000)
        check_number("convex_concave_tol", self.convex_concave_tol, low=0.0, high=1.0)
        if self.backend_options is not None and not isinstance(self.backend_options, dict):
            raise SpecError("settings.backend_options", self.backend_options, "must be a table of back-end options")
