"""Sensitivities of the optimal schedule and the cost of not knowing the parameters.

:func:`sensitivities` differentiates a method's optimum (objective, expected cost, variance,
holdings path) in the spec's numbers, named by spec paths (``risk_aversion``,
``assets[0].volatility``, ...); :mod:`.uncertainty` turns a parameter covariance into a
delta-method interval, a parametric-bootstrap check and the expected regret of solving at the
point estimate. JAX loads on the first derivative of the closed-form formula only.
"""

from .core import KINDS, Sensitivities, sensitivities
from .finite import Central, Outputs, central, solve_outputs
from .params import check_names, parameter_names, parameter_value, perturbed
from .plot import plot_sensitivities
from .static import Implicit, active_set, closed_form_jacobian, implicit
from .uncertainty import (ParameterCovariance, Propagation, calibration_covariance, load_covariance, normal_quantile,
                          propagate)

__all__ = ["sensitivities", "Sensitivities", "KINDS", "parameter_names", "parameter_value", "perturbed",
           "check_names", "central", "Central", "Outputs", "solve_outputs", "implicit", "Implicit", "active_set",
           "closed_form_jacobian", "ParameterCovariance", "Propagation", "calibration_covariance", "load_covariance",
           "propagate", "normal_quantile", "plot_sensitivities"]
