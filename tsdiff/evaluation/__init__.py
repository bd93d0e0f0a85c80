"""Metrics: CRPS, CRPS-sum, energy CRPS, ND, NRMSE, coverage, evaluate(); backtest scores (MASE, scaled CRPS, MSIS)
and calibration reports (PIT histogram, coverage per nominal level, reliability plot).

Sample-based, vectorised, NaN-aware re-implementations of GluonTS's
evaluation metrics.  Convention: ``samples`` ``(S, *B)`` (sample axis first,
series axis last for multivariate data), ``target`` ``B``, optional ``mask``
``B`` (truthy = scored).  NaN/inf targets and masked points are ignored.
Numpy arrays, torch tensors and pandas objects are accepted.
"""

from .backtest import evaluate_backtest, seasonal_error
from .calibration import CalibrationReport, calibration, calibration_from_frame, pit_values
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
    "CalibrationReport",
    "DEFAULT_QUANTILES",
    "aggregate_sum",
    "align_target",
    "calibration",
    "calibration_from_frame",
    "check_levels",
    "coverage",
    "crps",
    "crps_sum",
    "energy_crps",
    "evaluate",
    "evaluate_backtest",
    "evaluate_gluonts",
    "forecast_samples",
    "interval_coverage",
    "mae",
    "mse",
    "nd",
    "nrmse",
    "pit_values",
    "quantile_indices",
    "quantile_losses",
    "rmse",
    "sample_quantiles",
    "seasonal_error",
]
