"""``QPSettings``: how the ``qp`` method solves (back end, tolerances, path), apart from the spec.

Presets: ``"default"``; ``"high"`` (KKT certificate at 1e-11, what the back ends plus the Newton
polish reach on the bundled examples); ``"fast"`` (the back end stops at 1e-6 and the Newton
polish finishes the job; the certificate is still held at ``tolerance``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import SpecError
from ..settings import MethodSettings, check_choice, check_flag, check_integer, check_number

__all__ = ["QPSettings"]


@dataclass(frozen=True)
class QPSettings(MethodSettings):
    """Settings of the ``qp`` method.

    Attributes:
        backend: the CVXPY back end (``CLARABEL``, ``PIQP``, ``OSQP``, ``SCS``, ...); QP-only
            back ends (PIQP, OSQP) need linear impact.
        tolerance: the relative KKT residual of the unscaled problem an ``optimal`` answer must
            meet; also the back end's tolerances unless ``backend_tolerance`` is set.
        polish: Newton polish on the active set (off shows the back end's raw answer).
        path: ``"auto"`` (structured banded solve when linear and no constraint binds, else the
            O(N) barrier path, else CVXPY), ``"cvxpy"`` (always CVXPY), ``"structured"``
            (banded solve only), ``"interior"`` (barrier path only).
        covariance: ``"auto"`` or ``"dense"`` risk form for baskets.
        max_convex_concave: iterations of the convex-concave procedure (power law with
            permanent impact).
        convex_concave_tol: its stopping tolerance on the scaled trades.
        backend_options: extra keyword arguments for ``backend`` (override the tolerances; not
            passed to the fallback).
        verbose: let the back end print its log.
        fallback_backend: if the back end fails, retry once with this one and say so in
            ``diagnostics["fallback"]`` (None: fail loudly).
        backend_tolerance: the back end's own tolerances (None: ``tolerance``).
    """

    method: ClassVar[str] = "qp"
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "high": {"tolerance": 1e-11},
        "fast": {"backend_tolerance": 1e-6},
    }

    backend: str = "CLARABEL"
    tolerance: float = 1e-9
    polish: bool = True
    path: str = "auto"
    covariance: str = "auto"
    max_convex_concave: int = 200
    convex_concave_tol: float = 1e-7
    backend_options: Mapping[str, Any] | None = None
    verbose: bool = False
    fallback_backend: str | None = None
    backend_tolerance: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.backend, str) or not self.backend:
            raise SpecError("settings.backend", self.backend, "must be a CVXPY solver name")
        object.__setattr__(self, "backend", self.backend.upper())
        _check_fraction("tolerance", self.tolerance)
        check_flag("polish", self.polish)
        check_choice("path", self.path, ("auto", "cvxpy", "structured", "interior"))
        check_choice("covariance", self.covariance, ("auto", "dense"))
        check_integer("max_convex_concave", self.max_convex_concave, 1)
        check_number("convex_concave_tol", self.convex_concave_tol, low=0.0)
        if self.backend_options is not None and not isinstance(self.backend_options, Mapping):
            raise SpecError("settings.backend_options", self.backend_options, "must be a table of back-end options")
        check_flag("verbose", self.verbose)
        if self.fallback_backend is not None:
            if not isinstance(self.fallback_backend, str) or not self.fallback_backend:
                raise SpecError("settings.fallback_backend", self.fallback_backend, "must be a CVXPY solver name or None")
            object.__setattr__(self, "fallback_backend", self.fallback_backend.upper())
        if self.backend_tolerance is not None:
            _check_fraction("backend_tolerance", self.backend_tolerance)


def _check_fraction(key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise SpecError(f"settings.{key}", value, "must be a number in (0, 1)")
