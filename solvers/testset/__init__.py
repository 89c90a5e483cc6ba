"""Execution problems exported for QP and conic solver benchmarks, with certified optima.

:func:`export_qp` (linear impact: a QP in qpsolvers' convention, raw or scaled units),
:func:`conic_problem` (power-law impact: a CVXPY problem), :func:`certified_optimum` (the
optimum from the closed form or qp's certified answer, with an independent KKT residual and
duality gap), :func:`save_npz` / :func:`load_npz` (the ``optexec export`` file format).
"""
