"""optexec's dynamic layer: HJB finite differences and backward induction under stochastic
volatility. Stands on the ground floor of ``solvers`` (spec, costs, result)."""
