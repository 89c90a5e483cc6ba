"""Validation: every method on one spec, one table of agreement (``optexec validate``).

Each registered method runs in its variants, each answer is priced by Monte Carlo on common
random numbers, and every pair is checked against a tolerance built from the methods'
declared accuracies and the predicted discrete-versus-continuous gap
(:func:`predicted_discretization_gap`; a pair whose prediction is untrusted at this N is
"not comparable", with the N that would make it comparable). A method that does not apply
is listed with its reason; one that fails fails the validation.
"""

from .cross_check import MC_SIGMAS, MethodRun, NotComparable, PairCheck
from .gap import GAP_FRACTION, MAX_KAPPA_TAU, GapPrediction, not_comparable_reason, predicted_discretization_gap
from .report import ValidationReport
from .run import run_method, validate

__all__ = [
    "validate", "ValidationReport", "MethodRun", "PairCheck", "MC_SIGMAS", "run_method", "GapPrediction",
    "predicted_discretization_gap", "not_comparable_reason", "NotComparable", "MAX_KAPPA_TAU", "GAP_FRACTION",
]
