"""Execution problems exported for QP and conic solver benchmarks, with certified optima.

:func:`export_qp` (linear impact: a QP in qpsolvers' convention, raw or scaled units),
:func:`conic_problem` (power-law impact: a CVXPY problem), :func:`certified_optimum` (the
optimum from the closed form or qp's certified answer, with an independent KKT residual and
duality gap), :func:`save_npz` / :func:`load_npz` (the ``optexec export`` file format).
"""

from .certificate import Certificate, CertifiedOptimum, certified_optimum, kkt_certificate, power_law_certificate, refine
from .conic import ConicExport, conic_problem
from .npz import load_npz, save_npz
from .qp_export import UNITS, ExportedQP, export_qp, representable

__all__ = ["ExportedQP", "export_qp", "representable", "UNITS", "ConicExport", "conic_problem", "Certificate",
           "CertifiedOptimum", "kkt_certificate", "power_law_certificate", "certified_optimum", "refine", "save_npz",
           "load_npz"]
