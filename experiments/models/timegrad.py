"""TimeGrad benchmark on the shared protocol of :mod:`experiments.common`.

``run(dataset, config, seed)`` is what ``python -m experiments.run --model timegrad`` calls. ``train`` and ``sample``
are also used by ``experiments.speed``.

Config keys (see ``experiments/presets/timegrad/*.json``): ``epochs``, ``batch_size``, ``num_batches_per_epoch``,
``lr``, ``lr_schedule``, ``weight_decay``, ``context_length``, ``hidden_size``, ``num_layers``, ``cell_type``,
``dropout_rate``, ``scaling``, ``increments``, ``conditioning_length``, ``cond_upsampler_dim``, ``residual_layers``,
``residual_channels``, ``num_diffusion_steps``, ``num_samples`` (100), ``sampler``/``sampling_steps``/``eta``,
``sampler_tradeoff`` (bool: also score ddpm and ddim-50/20/10 with the same model), ``threads`` (default 1),
``trainer_kwargs`` (passed to Lightning).
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
                                            "prediction_length", "progress", "split")
TRADEOFF = (("ddpm", None), ("ddim", 50), ("ddim", 20), ("ddim", 10))


def _trainer_kwargs(config: dict, device: str, workdir: str) -> dict:
    from tsdiff.models.base import trainer_kwargs

    return trainer_kwargs(int(config.get("epochs", 10)), device="cuda" if device.startswith("cuda") else device,
                          progress=bool(config.get("progress", False)), workdir=workdir,
                          **config.get("trainer_kwargs", {}))


def _training_entries(task: ForecastTask) -> list[dict]:
    """Multivariate tasks: the one (D, T) entry; the univariate set: every series as a (1, T) entry."""
    if task.is_multivariate:
        return list(task.multivariate.train)
    return [{**e, "target": np.asarray(e["target"])[None, :]} for e in task.dataset.train]


def _inputs(task: ForecastTask) -> list[dict]:
    """What to forecast from: one (D, T_w) entry per window, or each series' (1, T_n) history."""
    if task.is_multivariate:
        return task.window_inputs()
    return [{**e, "target": e["target"][None, :]} for e in task.test_inputs()]


def train(task: ForecastTask, config: dict, seed: int, device: str, workdir: str):
    """A ``TimeGradEstimator`` built from ``config`` and trained on the task; returns its predictor."""
    from tsdiff.models.timegrad import TimeGradEstimator

    with config_errors("timegrad"):  # the estimator checks every hyperparameter when built
        estimator = TimeGradEstimator(
            freq=task.freq, prediction_length=task.prediction_length, target_dim=task.target_dim,
            num_parallel_samples=int(config.get("num_samples", 100)), sampler=config.get("sampler", "ddpm"),
            sampling_steps=config.get("sampling_steps"), eta=config.get("eta", 0.0), seed=seed,
            trainer_kwargs=_trainer_kwargs(config, device, workdir),
            **{k: config[k] for k in MODEL_KEYS if k in config})
    predictor = estimator.train(_training_entries(task))
    predictor.to("cpu" if device == "cpu" else device)
    return predictor


def sample(predictor, task: ForecastTask, num_samples: int, seed: int,
           sampling: SamplingOptions | None = None) -> list[np.ndarray]:
    """Forecast samples per test window (S, H, D), or per series (S, H) for the univariate set."""
    forecasts = predictor.predict(_inputs(task), num_samples=num_samples, seed=seed, sampling=sampling)
    out = [np.asarray(f.samples) for f in forecasts]
    return out if task.is_multivariate else [s[..., 0] for s in out]


def _timed_scores(predictor, task, num_samples, seed, sampling=None) -> dict:
    started = time.perf_counter()
    samples = sample(predictor, task, num_samples, seed, sampling)
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
    result = _timed_scores(predictor, task, num_samples, seed, main)
    result.update(train_seconds=train_seconds, num_samples=num_samples, device=str(predictor.device),
                  threads=torch.get_num_threads(), sampling=main.to_dict())
    if config.get("sampler_tradeoff"):
        T = predictor.prediction_net.diffusion.num_diffusion_steps
        rows = []
        for sampler, steps in TRADEOFF:
            same = (sampler, steps or T) == (main.sampler, main.sampling_steps)
            scores = result if same else _timed_scores(predictor, task, num_samples, seed,
                                                       SamplingOptions(sampler, steps))
            rows.append(dict(sampler=sampler, steps=steps or T, crps=scores["crps"],
                             crps_sum=scores.get("crps_sum"), sample_seconds=scores["sample_seconds"]))
        result["sampler_tradeoff"] = rows
    return result
