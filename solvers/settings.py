"""Method settings: *how finely* a method solves, kept apart from the problem (*what* is solved).

Every method has one frozen dataclass deriving from :class:`MethodSettings` (``QPSettings``,
``DPSettings``, ``HJBSettings``, ``ClosedFormSettings``), with named presets
(:meth:`MethodSettings.with_accuracy`). :func:`merge_settings` is the one merge of a settings
object and keyword overrides: an unknown key, a preset that does not exist or a value of the
wrong kind is a :class:`~solvers.errors.SpecError` naming ``settings.<key>``, the value and the
method, never a ``TypeError``. The field checks below are shared so that messages read alike.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from .errors import SpecError

__all__ = [
    "MethodSettings", "merge_settings", "check_integer", "check_number", "check_choice", "check_flag",
]

S = TypeVar("S", bound="MethodSettings")


@dataclass(frozen=True)
class MethodSettings:
    """Base of every method's settings.

    Subclasses set ``method`` (the registry name) and ``presets`` (name -> field changes from
    the defaults; ``"default"`` always means the defaults), and validate their fields in
    ``__post_init__`` with the ``check_*`` helpers of this module.
    """

    method: ClassVar[str] = ""
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    @classmethod
    def preset_names(cls) -> list[str]:
        """``"default"`` and the class's named presets."""
        return ["default", *[name for name in cls.presets if name != "default"]]

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def with_accuracy(cls: type[S], level: str = "default", **changes: Any) -> S:
        """A preset (``"default"`` or one of ``presets``), with some fields changed."""
        if level == "default":
            base: dict[str, Any] = {}
        elif isinstance(level, str) and level in cls.presets:
            base = dict(cls.presets[level])
        else:
            raise SpecError("settings.accuracy", level,
                            f"method {cls.method} has the presets {cls.preset_names()}")
        base.update(changes)
        return _construct(cls, base)

    def replace(self: S, **changes: Any) -> S:
        """A copy with some fields changed (validated again)."""
        return merge_settings(type(self), self, changes)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _construct(cls: type[S], fields: Mapping[str, Any], base: S | None = None) -> S:
    allowed = cls.field_names()
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        key = unknown[0]
        raise SpecError(f"settings.{key}", fields[key],
                        f"unknown setting of method {cls.method} (its settings: accuracy, {', '.join(allowed)})")
    try:
        return dataclasses.replace(base, **fields) if base is not None else cls(**fields)
    except SpecError:
        raise
    except (TypeError, ValueError) as err:  # a value the field's own check could not even compare
        raise SpecError("settings", dict(fields), f"not valid settings of method {cls.method}: {err}") from None


def merge_settings(cls: type[S], settings: S | None = None, overrides: Mapping[str, Any] | None = None) -> S:
    """The settings a method runs with: ``settings`` (or the defaults, or the preset named by
    ``overrides["accuracy"]``) with the other ``overrides`` applied, all validated."""
    changes = dict(overrides or {})
    accuracy = changes.pop("accuracy", None)
    if settings is not None and not isinstance(settings, cls):
        raise SpecError("settings", type(settings).__name__,
                        f"method {cls.method} takes a {cls.__name__} (or keyword settings)")
    if accuracy is not None and settings is not None:
        raise SpecError("settings.accuracy", accuracy, "give a preset or a settings object, not both")
    if accuracy is not None:
        return cls.with_accuracy(accuracy, **changes)
    if settings is None:
        return _construct(cls, changes)
    return _construct(cls, changes, base=settings) if changes else settings


# ---------------------------------------------------------------------------- field checks
def check_integer(key: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    """An integer in ``[minimum, maximum]`` (bools refused); returns it as ``int``."""
    if isinstance(value, bool) or not isinstance(value, int) and not _is_numpy_integer(value):
        raise SpecError(f"settings.{key}", value, "must be an integer")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise SpecError(f"settings.{key}", value, f"must be {bound}")
    return int(value)


def check_number(key: str, value: Any, *, low: float | None = None, high: float | None = None,
                 low_open: bool = True, high_open: bool = True) -> float:
    """A finite real number inside the given (by default open) bounds; returns it as ``float``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not _is_numpy_number(value):
        raise SpecError(f"settings.{key}", value, "must be a number")
    v = float(value)
    if not math.isfinite(v):
        raise SpecError(f"settings.{key}", value, "must be finite")
    bad_low = low is not None and (v <= low if low_open else v < low)
    bad_high = high is not None and (v >= high if high_open else v > high)
    if bad_low or bad_high:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
        raise SpecError(f"settings.{key}", value, f"must be {' and '.join(s for s in (lo, hi) if s)}")
    return v


def check_choice(key: str, value: Any, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise SpecError(f"settings.{key}", value, f"must be one of {list(choices)}")
    return value


def check_flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"settings.{key}", value, "must be true or false")
    return value


def _is_numpy_integer(value: Any) -> bool:
    return type(value).__module__ == "numpy" and hasattr(value, "dtype") and value.dtype.kind in "iu"


def _is_numpy_number(value: Any) -> bool:
    return type(value).__module__ == "numpy" and hasattr(value, "dtype") and value.dtype.kind in "iuf"
