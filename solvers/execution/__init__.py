"""Execution as it happens: policies that see the realized state (holdings after partial
fills, volatility, last volume) and order each slice, compared on common random numbers.

Policies (one module each; ``order(state) -> shares``): :class:`StaticSchedule` (followed
blindly), :class:`CatchUp`, :class:`PercentOfVolume`, :class:`RecedingHorizon`; the exact
benchmark is the backward induction under fills (:func:`dp_under_fills`). :func:`execution_table`
simulates them all and states each objective and its gap to the benchmark with 95% intervals.
"""

from .base import ExecutionPolicy, clip_order
from .catch_up import CatchUp
from .pov import PercentOfVolume
from .receding import RecedingHorizon
from .static import StaticSchedule
from .table import ExecutionReport, PolicyRow, default_policies, dp_under_fills, execution_table

__all__ = [
    "ExecutionPolicy", "clip_order", "StaticSchedule", "CatchUp", "PercentOfVolume", "RecedingHorizon",
    "ExecutionReport", "PolicyRow", "default_policies", "dp_under_fills", "execution_table",
]
