"""Benchmark entry points, one module per model.

Each module exposes ``run(dataset: str, config: dict, seed: int, device: str = "cpu", out_dir=None) -> dict``
returning the metrics (at least those in ``REQUIRED_METRICS`` of its kind) plus any extra entries, and
``CONFIG_KEYS``: every config key it reads (``--set`` accepts these even where a preset leaves them at their default).
"""
from __future__ import annotations

import importlib

MODELS = {
    "timegrad": "experiments.models.timegrad",
    "csdi": "experiments.models.csdi",
    "deepar": "experiments.models.baselines",
    "seasonal_naive": "experiments.models.baselines",
    "random_walk": "experiments.models.baselines",
}

FORECAST_DATASETS = ("exchange_rate_nips", "m4_hourly", "ETTh1", "ETTm1", "weather", "exchange_rate")
IMPUTATION_DATASETS = ("physionet_10", "physionet_50", "physionet_90", "pm25")
# What ``--split`` scores (experiments.common.load_forecast_task); "valid-late" needs the validation rows that only
# the long-horizon CSVs keep between their training and test rows (Informer's split).
# Windows "valid-late" scores: 4 test periods of 7 windows (exchange_rate's 760 validation days hold 3 periods of 30).
SPLITS = ("test", "valid", "valid-late")
LATE_VALIDATION_WINDOWS = {"ETTh1": 28, "ETTm1": 28, "weather": 28, "exchange_rate": 21}
LATE_VALIDATION_DATASETS = tuple(LATE_VALIDATION_WINDOWS)

# Which datasets each model can run on.
SUPPORTED = {
    "timegrad": FORECAST_DATASETS,
    "csdi": FORECAST_DATASETS + IMPUTATION_DATASETS,  # m4_hourly: each series a 1 × T grid
    "deepar": FORECAST_DATASETS,
    "seasonal_naive": FORECAST_DATASETS,
    "random_walk": FORECAST_DATASETS,
}


def config_keys(model: str) -> frozenset:
    """Every config key the runner of ``model`` reads."""
    module = importlib.import_module(MODELS[model])
    keys = getattr(module, "CONFIG_KEYS", {})
    return frozenset(keys[model] if isinstance(keys, dict) else keys)


def load_runner(model: str):
    """The ``run`` function of a model's benchmark module."""
    module = importlib.import_module(MODELS[model])
    if MODELS[model].endswith("baselines"):
        return getattr(module, f"run_{model}")
    return module.run
