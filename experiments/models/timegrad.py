"""TimeGrad benchmark on the shared protocol of :mod:`experiments.common`.

``run(dataset, config, seed)`` is what ``python -m experiments.run --model timegrad`` calls. ``train`` and ``sample``
are also used by ``experiments.speed``.

Config keys (see ``experiments/presets/timegrad/*.json``): ``epochs``, ``batch_size``, ``num_batches_per_epoch``,
``lr``, ``lr_schedule``, ``weight_decay``, ``context_length``, ``hidden_size``, ``num_layers``, ``cell_type``,
``dropout_rate``, ``scaling``, ``increments``, ``conditioning_length``, ``cond_upsampler_dim``, ``residual_layers``,
``residual_channels``, ``num_diffusion_steps``, ``num_samples`` (100), ``sampler``/``sampling_steps``/``eta``,
``sampler_tradeoff`` (bool: also score ddpm and ddim-50/20/10 with the same model), ``threads`` (default 1),
``trainer_kwargs`` (passed to Lightning), ``difference_lag`` (an integer or ``"season"``), ``prediction``
(``"epsilon"``, ``"x0"``, ``"v"``), ``ema_decay``, ``univariate`` (bool, default false: on a multivariate dataset,
train one global model over the D columns as separate series, as DeepAR does, instead of one joint model of the
D-dimensional series), ``cache_data`` (bool, default false: transform the training series once instead of once
per drawn window; the same batches, much less time on long series) and ``weights`` (``"last"``, the default, or
``"best"``: the epoch of the lowest training loss, GluonTS's rule, under which every preset before 2026-11-30 was
measured and which those presets therefore name; see ``tsdiff.models.base.estimator.WEIGHTS``).
"""
from __future__ import annotations

import inspect
import tempfile
import time

import numpy as np
import torch

from experiments.common import (SAMPLING_KEYS, ForecastTask, config_errors, load_forecast_task, sampling_options,
                                score_forecasts)
from tsdiff.diffusion import SamplingOptions

# What the runner sets itself from the task and the other config keys; every other estimator argument is a config key.
_SET_BY_RUNNER = ("self", "freq", "prediction_length", "target_dim", "num_parallel_samples", "sampler",
                  "sampling_steps", "eta", "seed", "trainer_kwargs", "train_sampler", "validation_sampler",
                  "time_features", "num_feat_dynamic_real", "prediction_batch_size")


def _estimator_keys() -> tuple:
    from tsdiff.models.timegrad import TimeGradEstimator

    return tuple(k for k in inspect.signature(TimeGradEstimator.__init__).parameters if k not in _SET_BY_RUNNER)


MODEL_KEYS = _estimator_keys()
CONFIG_KEYS = MODEL_KEYS + SAMPLING_KEYS + ("epochs", "num_samples", "sampler_tradeoff", "threads", "trainer_kwargs",
                                            "prediction_length", "progress", "split", "univariate", "cache_data")
TRADEOFF = (("ddpm", None), ("ddim", 50), ("ddim", 20), ("ddim", 10))


def _trainer_kwargs(config: dict, device: str, workdir: str) -> dict:
    from tsdiff.models.base import trainer_kwargs

    return trainer_kwargs(int(config.get("epochs", 10)), device="cuda" if device.startswith("cuda") else device,
                          progress=bool(config.get("progress", False)), workdir=workdir,
                          **config.get("trainer_kwargs", {}))


def _joint(task: ForecastTask, config: dict) -> bool:
    """Whether the model is one joint model of the D-dimensional series (else a global model over (1, T) series)."""
    return task.is_multivariate and not config.get("univariate", False)


def _training_entries(task: ForecastTask, config: dict) -> list[dict]:
    """Joint model: the one (D, T) entry; otherwise every univariate series (a column, or a series of the
    univariate set) as a (1, T) entry."""
    if _joint(task, config):
        return list(task.multivariate.train)
    return [{**e, "target": np.asarray(e["target"])[None, :]} for e in task.dataset.train]


def forecast_inputs(task: ForecastTask, config: dict) -> list[dict]:
    """What to forecast from: one (D, T_w) entry per window, or each univariate history (1, T) of
    ``task.test_inputs()`` (window-major)."""
    if _joint(task, config):
        return task.window_inputs()
    return [{**e, "target": e["target"][None, :]} for e in task.test_inputs()]


def train(task: ForecastTask, config: dict, seed: int, device: str, workdir: str):
    """A ``TimeGradEstimator`` built from ``config`` and trained on the task; returns its predictor."""
    from tsdiff.models.timegrad import TimeGradEstimator

    with config_errors("timegrad"):  # the estimator checks every hyperparameter when built
        estimator = TimeGradEstimator(
            freq=task.freq, prediction_length=task.prediction_length, target_dim=task.target_dim if _joint(task, config) else 1,
            num_parallel_samples=int(config.get("num_samples", 100)), sampler=config.get("sampler", "ddpm"),
            sampling_steps=config.get("sampling_steps"), eta=config.get("eta", 0.0), seed=seed,
            trainer_kwargs=_trainer_kwargs(config, device, workdir),
            **{k: config[k] for k in MODEL_KEYS if k in config})
    predictor = estimator.train(_training_entries(task, config), cache_data=bool(config.get("cache_data", False)))
    predictor.to("cpu" if device == "cpu" else device)
    return predictor


def sample(predictor, task: ForecastTask, num_samples: int, seed: int, sampling: SamplingOptions | None = None,
           config: dict | None = None):
    """Forecast samples per test window (S, H, D), or per series (S, H) for the univariate set; a global univariate
    model of a multivariate task (``config["univariate"]``) returns them stacked to (W, S, H, D)."""
    config = config or {}
    forecasts = predictor.predict(forecast_inputs(task, config), num_samples=num_samples, seed=seed, sampling=sampling)
    out = [np.asarray(f.samples) for f in forecasts]
    if _joint(task, config):
        return out
    per_entry = [s[..., 0] for s in out]
    return task.stack_entry_samples(per_entry) if task.is_multivariate else per_entry


def _timed_scores(predictor, task, num_samples, seed, sampling=None, config=None) -> dict:
    started = time.perf_counter()
    samples = sample(predictor, task, num_samples, seed, sampling, config)
    seconds = time.perf_counter() - started
    return {**score_forecasts(task, samples), "sample_seconds": seconds}


def run(dataset: str, config: dict, seed: int, device: str = "cpu", out_dir=None) -> dict:
    """Train on ``dataset`` and score the rolling test windows: ``crps``, ``crps_sum``, ``nd``, ``nrmse``, ...,
    ``train_seconds``, ``sample_seconds`` (the whole test set), ``num_samples``, ``device``, and with
    ``config["sampler_tradeoff"]`` a ``sampler_tradeoff`` list of {sampler, steps, crps, crps_sum, sample_seconds}."""
    torch.set_num_threads(int(config.get("threads", 1)))
    task = load_forecast_task(dataset, prediction_length=config.get("prediction_length"),
                              split=config.get("split", "test"))
    num_samples = int(config.get("num_samples", 100))
    with tempfile.TemporaryDirectory(prefix="timegrad_") as workdir:
        started = time.perf_counter()
        predictor = train(task, config, seed, device, workdir)
        train_seconds = time.perf_counter() - started
    main = predictor.sampling_options(sampling_options(config))
    result = _timed_scores(predictor, task, num_samples, seed, main, config)
    result.update(train_seconds=train_seconds, num_samples=num_samples, device=str(predictor.device),
                  threads=torch.get_num_threads(), sampling=main.to_dict())
    if config.get("sampler_tradeoff"):
        T = predictor.prediction_net.diffusion.num_diffusion_steps
        rows = []
        for sampler, steps in TRADEOFF:
            same = (sampler, steps or T) == (main.sampler, main.sampling_steps)
            scores = result if same else _timed_scores(predictor, task, num_samples, seed,
                                                       SamplingOptions(sampler, steps), config)
            rows.append(dict(sampler=sampler, steps=steps or T, crps=scores["crps"],
                             crps_sum=scores.get("crps_sum"), sample_seconds=scores["sample_seconds"]))
        result["sampler_tradeoff"] = rows
    return result
