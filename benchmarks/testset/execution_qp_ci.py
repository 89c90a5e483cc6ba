"""The CI subset of the execution test set (small specs, every constraint family):
``qpbenchmark benchmarks/testset/execution_qp_ci.py run``."""

from __future__ import annotations

from benchmarks.testset.execution_qp import ExecutionQp
from benchmarks.testset.problems import CI_SPECS

__all__ = ["ExecutionQpCi"]


class ExecutionQpCi(ExecutionQp):
    """:class:`ExecutionQp` restricted to :data:`CI_SPECS`."""

    specs = CI_SPECS

    @property
    def title(self) -> str:
        return "optexec execution test set (CI subset)"
