"""Exceptions shared by every layer of optexec.

Each error says *what* was wrong in words a user can act on: the offending field, its
value and the rule it broke (``SpecError``), why a method cannot represent a problem
(``MethodNotApplicable``), or the status a numerical solver returned (``SolverError``).
"""

from __future__ import annotations

from typing import Any


class OptexecError(Exception):
    """Base class of every error raised on purpose by optexec."""


class SpecError(OptexecError, ValueError):
    """A problem specification breaks a rule.

    The message always has the form ``"<field> = <value>: <rule>"`` so that a user (or a
    test) can see which number to change and why.
    """

    def __init__(self, field: str, value: Any, rule: str) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        super().__init__(f"{field} = {_short(value)}: {rule}")


class InfeasibleSpecError(SpecError):
    """The constraints of a spec cannot complete the order (detected before solving)."""


class MethodNotApplicable(OptexecError):
    """A method cannot represent this problem (for example the closed form with caps).

    ``validate`` lists such a method as "not applicable" with this message as the reason.
    """

    def __init__(self, method: str, reason: str) -> None:
        self.method = method
        self.reason = reason
        super().__init__(f"{method} does not apply: {reason}")


class SolverError(OptexecError, RuntimeError):
    """A numerical solver failed or returned an answer that does not meet its tolerance."""

    def __init__(self, method: str, status: str, message: str) -> None:
        self.method = method
        self.status = status
        super().__init__(f"{method} failed with status {status!r}: {message}")


def _short(value: Any) -> str:
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()  # numpy scalar: print 0.5, not np.float64(0.5)
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
