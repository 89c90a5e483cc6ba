"""Method ``dp``: backward induction over the spec's ``N`` slices (exact in time).

Entry point :func:`solve` (``INFO`` declares the method's facts, :class:`DPSettings` its
discretization). Volatility becomes a Markov chain (:mod:`.chain`); linear impact without caps
or drift uses the exact recursion ``V = a x^2``, a time-varying market (per-slice coefficients,
closures, terminal penalty) its linear-quadratic form (:mod:`.time_varying`), transient impact the
``(x, D)`` recursion (:mod:`.transient`) or the ``(x, E)`` grid (:mod:`.transient_grid`), everything
else a holdings grid (:mod:`.stage`). :func:`derivatives` differentiates the exact recursion (JAX AD,
:mod:`.sensitivity`).
"""

from .chain import VolatilityChain, mean_reverting_chain, volatility_chain
from .method import INFO, METHOD, solve
from .policy import GridDPPolicy, LinearDPPolicy
from .sensitivity import derivatives
from .settings import DPSettings
from .transient import TransientDPPolicy
from .transient_grid import TransientGridPolicy

__all__ = [
    "INFO", "METHOD", "solve", "DPSettings", "VolatilityChain", "volatility_chain", "mean_reverting_chain",
    "GridDPPolicy", "LinearDPPolicy", "TransientDPPolicy", "TransientGridPolicy", "derivatives",
]
