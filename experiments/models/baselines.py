"""Baselines on the shared protocol (:mod:`experiments.common`): GluonTS seasonal naive, a Gaussian random walk and
gluonts.torch DeepAR.

Both forecast every univariate test entry of the task (``task.test_inputs()``: the series up to each window) and
stack the per-entry samples (S, H) into (W, S, H, D) (or (N, S, H) for m4_hourly), so ``crps_sum`` is computed on
exactly the same windows and targets as for the multivariate models.
"""
from __future__ import annotations

import tempfile
import time
import warnings

import numpy as np

from experiments.common import ConfigError, config_errors, load_forecast_task, score_forecasts
from tsdiff.models.base import trainer_kwargs
from tsdiff.quiet import quiet_lightning

DEEPAR_DEFAULTS = {
    "epochs": 100,                 # GluonTS DeepAR defaults ("paper" presets)
    "num_batches_per_epoch": 50,
    "batch_size": 32,
    "context_length": None,        # None: prediction_length
    "num_layers": 2,
    "hidden_size": 40,
    "dropout_rate": 0.1,
    "lr": 1e-3,
    "num_samples": 100,
    "use_feat_static_cat": False,  # embed the series index (cardinality = number of series)
    "prediction_length": None,     # None: the dataset's
    "num_test_windows": None,      # None: the dataset's
    "split": "test",               # "valid": windows cut from the training data (experiments.common)
}
SEASONAL_NAIVE_DEFAULTS = {"season_length": None, "prediction_length": None, "num_test_windows": None,
                           "split": "test"}

RANDOM_WALK_DEFAULTS = {"window": 60, "num_samples": 100, "prediction_length": None, "num_test_windows": None,
                        "split": "test"}

CONFIG_KEYS = {"deepar": tuple(DEEPAR_DEFAULTS), "seasonal_naive": tuple(SEASONAL_NAIVE_DEFAULTS),
               "random_walk": tuple(RANDOM_WALK_DEFAULTS)}


def _config(defaults: dict, config: dict, model: str) -> dict:
    unknown = set(config) - set(defaults)
    if unknown:
        raise ConfigError(f"{model}: unknown config keys {sorted(unknown)}; known: {sorted(defaults)}")
    return {**defaults, **config}


def _forecast_samples(predictor, task) -> tuple[list[np.ndarray], float]:
    """Per-entry samples (S, H) for ``task.test_inputs()`` and the seconds it took."""
    started = time.time()
    with warnings.catch_warnings(), quiet_lightning():  # pandas deprecations of GluonTS's "B"/"H" frequencies, ...
        warnings.simplefilter("ignore", FutureWarning)
        samples = [np.asarray(f.samples) for f in predictor.predict(task.test_inputs())]
    return samples, time.time() - started


def run_seasonal_naive(dataset: str, config: dict, seed: int, device: str = "cpu", out_dir=None) -> dict:
    """GluonTS ``SeasonalNaivePredictor``: repeats the last season of each series.

    ``season_length`` None = ``gluonts.time_feature.get_seasonality(freq)`` (B: 5, H: 24, D: 1, 15min: 96,
    10min: 144). It is a point forecast: one sample per entry, so ``crps`` equals ``nd`` (GluonTS's quantile loss
    of a point forecast) and ``coverage_80`` counts exact hits only. ``seed`` and ``device`` are unused
    (deterministic, numpy only).
    """
    from gluonts.model.seasonal_naive import SeasonalNaivePredictor
    from gluonts.time_feature import get_seasonality

    cfg = _config(SEASONAL_NAIVE_DEFAULTS, config, "seasonal_naive")
    task = load_forecast_task(dataset, cfg["prediction_length"], cfg["num_test_windows"],
                              split=cfg["split"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "H" is deprecated in pandas >= 2.2
        season = cfg["season_length"] or get_seasonality(task.freq)
    predictor = SeasonalNaivePredictor(prediction_length=task.prediction_length, season_length=season)
    samples, seconds = _forecast_samples(predictor, task)
    metrics = score_forecasts(task, task.stack_entry_samples(samples))
    return {**metrics, "season_length": season, "train_seconds": 0.0, "sample_seconds": round(seconds, 3),
            "device": "cpu"}


def random_walk_samples(history: np.ndarray, prediction_length: int, num_samples: int, window: int,
                        rng: np.random.Generator) -> np.ndarray:
    """Sample paths (S, H) of a Gaussian random walk from the last observed value of ``history`` (T,).

    The step size is the root-mean-square of the last ``window`` one-step changes (NaNs skipped; no change
    measurable: a flat forecast).
    """
    values = history[~np.isnan(history)]
    if values.size == 0:
        raise ValueError("random_walk: a series has no observed value to start from")
    changes = np.diff(values[-(window + 1):])
    step = float(np.sqrt(np.mean(changes ** 2))) if changes.size else 0.0
    steps = rng.standard_normal((num_samples, prediction_length)) * step
    return values[-1] + np.cumsum(steps, axis=1)


def run_random_walk(dataset: str, config: dict, seed: int, device: str = "cpu", out_dir=None) -> dict:
    """Gaussian random walk per series: last value + cumulative N(0, σ²) steps, σ from the last ``window`` changes.

    The natural probabilistic baseline for exchange rates, whose daily changes are close to unpredictable. The
    series are sampled independently (no cross-series correlation). ``window`` 60 was chosen on exchange_rate_nips'
    validation windows (``--split valid``) among 30, 60, 120 and 250.
    """
    cfg = _config(RANDOM_WALK_DEFAULTS, config, "random_walk")
    if int(cfg["window"]) < 1:
        raise ConfigError(f"random_walk: window must be >= 1, got {cfg['window']}")
    task = load_forecast_task(dataset, cfg["prediction_length"], cfg["num_test_windows"], split=cfg["split"])
    rng = np.random.default_rng(seed)
    started = time.time()
    samples = [random_walk_samples(np.asarray(e["target"], dtype=float), task.prediction_length,
                                   int(cfg["num_samples"]), int(cfg["window"]), rng) for e in task.test_inputs()]
    seconds = time.time() - started
    metrics = score_forecasts(task, task.stack_entry_samples(samples))
    return {**metrics, "train_seconds": 0.0, "sample_seconds": round(seconds, 3), "device": "cpu"}


def _deepar_estimator(task, cfg: dict, device: str, workdir: str, num_series: int):
    """The gluonts.torch ``DeepAREstimator`` of ``cfg`` (pydantic checks its arguments here)."""
    from gluonts.torch.model.deepar import DeepAREstimator

    return DeepAREstimator(
        freq=task.freq,
        prediction_length=task.prediction_length,
        context_length=cfg["context_length"],
        num_layers=cfg["num_layers"],
        hidden_size=cfg["hidden_size"],
        dropout_rate=cfg["dropout_rate"],
        lr=cfg["lr"],
        batch_size=cfg["batch_size"],
        num_batches_per_epoch=cfg["num_batches_per_epoch"],
        num_parallel_samples=cfg["num_samples"],
        num_feat_static_cat=1 if cfg["use_feat_static_cat"] else 0,
        cardinality=[num_series] if cfg["use_feat_static_cat"] else None,
        trainer_kwargs=trainer_kwargs(cfg["epochs"], device="cuda" if device == "cuda" else "cpu", workdir=workdir),
    )


def run_deepar(dataset: str, config: dict, seed: int, device: str = "cpu", out_dir=None) -> dict:
    """gluonts.torch ``DeepAREstimator`` (Student-t output), one global model over the univariate train series.

    Config: see ``DEEPAR_DEFAULTS`` (``epochs`` x ``num_batches_per_epoch`` batches of ``batch_size`` windows).
    Trained on ``task.dataset.train``; forecasts every test entry with ``num_samples`` sample paths; the samples
    of the D series are stacked into (S, H, D) per window. Lightning writes its checkpoint to a temporary folder.
    The transformed train series (time features, computed over the full series) are cached: without the cache
    they are recomputed for every batch and long series (ETTm1, weather) train ~10x slower.
    """
    import lightning.pytorch as pl
    import torch

    cfg = _config(DEEPAR_DEFAULTS, config, "deepar")
    task = load_forecast_task(dataset, cfg["prediction_length"], cfg["num_test_windows"],
                              split=cfg["split"])
    pl.seed_everything(seed, verbose=False)
    num_series = len(task.dataset.train)
    with tempfile.TemporaryDirectory(prefix="deepar_") as tmp:
        with config_errors("deepar"):
            estimator = _deepar_estimator(task, cfg, device, tmp, num_series)
        started = time.time()
        with warnings.catch_warnings(), quiet_lightning():
            warnings.simplefilter("ignore", FutureWarning)
            predictor = estimator.train(task.dataset.train, cache_data=True)
        train_seconds = time.time() - started
        samples, sample_seconds = _forecast_samples(predictor, task)
    metrics = score_forecasts(task, task.stack_entry_samples(samples))
    return {**metrics, "train_seconds": round(train_seconds, 2), "sample_seconds": round(sample_seconds, 2),
            "device": device, "num_parameters": int(sum(p.numel() for p in predictor.network.parameters())),
            "torch_threads": torch.get_num_threads()}
