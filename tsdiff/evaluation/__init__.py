"""Metrics: CRPS, CRPS-sum, energy CRPS, ND, NRMSE, coverage, evaluate().

Sample-based, vectorised, NaN-aware re-implementations of GluonTS's
evaluation metrics.  Convention: ``samples`` ``(S, *B)`` (sample axis first,
series axis last for multivariate data), ``target`` ``B``, optional ``mask``
``B`` (truthy = scored).  NaN/inf targets and masked points are ignored.
Numpy arrays, torch tensors and pandas objects are accepted.
"""

from .evaluator import align_target, evaluate, evaluate_gluonts, forecast_samples
from .metrics import (
    aggregate_sum,
    coverage,
    crps,
    crps_sum,
    energy_crps,
    interval_coverage,
    mae,
    mse,
    nd,
    nrmse,
    quantile_losses,
    rmse,
)
from .quantiles import DEFAULT_QUANTILES, check_levels, quantile_indices, sample_quantiles

__all__ = [
    "DEFAULT_QUANTILES",
    "aggregate_sum",
    "align_target",
    "check_levels",
    "coverage",
    "crps",
    "crps_sum",
    "energy_crps",
    "evaluate",
    "evaluate_gluonts",
    "forecast_samples",
    "interval_coverage",
    "mae",
    "mse",
    "nd",
    "nrmse",
    "quantile_indices",
    "quantile_losses",
    "rmse",
    "sample_quantiles",
]
