"""CSDI benchmarks: PhysioNet 10/50/90 % and PM2.5 imputation; forecasting on the multivariate sets and on m4_hourly
(each series a 1 × T grid).

``run(dataset, config, seed, device, out_dir)`` trains, samples and scores; with ``speed_loop_samples`` > 0 (default
3) it also times the batched sampler against the same sampler run one sample at a time (batch 1, timed on a few
samples and extrapolated; the result says so), and against DDIM with ``ddim_steps``. With ``split="valid"`` the
imputation benchmarks score the validation stays (PhysioNet) or windows of the validation month every
``eval_stride`` hours (PM2.5). Presets: ``experiments/presets/csdi/<dataset>.json``. Forecasting takes ``weights``
(``"last"``, the default, or ``"best"``: the epoch of the lowest training loss, the rule the `quick`/`paper` presets
were measured under; ``tsdiff.models.base.estimator.WEIGHTS``); imputation always keeps the last weights.

Imputation takes ``train_cache`` (a directory): the trained imputer is stored there under a key made of the training
data, every entry that shapes training (all but :data:`EVALUATION_KEYS`), the seed and the device, and a later run
with the same key loads it instead of training. PhysioNet's three ratios share their training data (the ratio only
sets the test masks), so one seed trains once for all three; the result reports the training run's seconds and
``train_cache: {"file", "loaded"}``.

    PYTHONPATH=. python -m experiments.run --model csdi --dataset exchange_rate_nips --preset quick --threads 1
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from tsdiff.diffusion import SamplingOptions

from experiments.common import SAMPLING_KEYS, sampling_options
from tsdiff.models.csdi.imputer import MODEL_DEFAULTS

IMPUTATION = ("physionet_10", "physionet_50", "physionet_90", "pm25")
FORECAST = ("exchange_rate_nips", "ETTh1", "ETTm1", "weather", "exchange_rate", "m4_hourly")
#: the network and schedule settings, as the model takes them
NETWORK_KEYS = tuple(k for k in MODEL_DEFAULTS if k not in SAMPLING_KEYS)

CONFIG_KEYS = NETWORK_KEYS + SAMPLING_KEYS + (
    "epochs", "batch_size", "lr", "ema_decay", "num_samples", "threads", "progress", "split", "scaling",
    "speed_loop_samples", "ddim_steps",
    # imputation
    "mask_strategy", "max_train", "max_test", "max_train_seconds", "impute_batch_size", "data_seed", "fold",
    "window", "curve", "num_batches", "stays", "eval_stride",
    # forecasting
    "context_length", "prediction_length", "num_batches_per_epoch", "prediction_batch_size", "save_predictor",
    "num_sample_features", "also_samplers", "weights", "train_cache",
)

#: entries that only shape sampling and scoring: runs that differ only in these train the same network
EVALUATION_KEYS = SAMPLING_KEYS + ("num_samples", "max_test", "impute_batch_size", "speed_loop_samples", "ddim_steps",
                                   "split", "eval_stride", "progress", "train_cache")


def _network(config: dict) -> dict:
    return {k: config[k] for k in NETWORK_KEYS if k in config}


def _setup(config: dict, seed: int) -> None:
    if config.get("threads"):
        torch.set_num_threads(int(config["threads"]))
    torch.manual_seed(seed)
    np.random.seed(seed)


# -- metrics (as CSDI's evaluation computes them) ----------------------------------------------------------------------
def imputation_metrics(samples, target, eval_mask) -> dict:
    """CSDI's ``crps`` (19 levels 0.05..0.95, interpolated sample quantiles, normalised by Σ|target|), ``mae`` and
    ``rmse`` of the sample median, over ``eval_mask``.

    Shapes: samples (S, ...), target (...), eval_mask (...), all in the units being scored.
    """
    from tsdiff.evaluation import crps

    median = samples.median(dim=0).values
    m = eval_mask.double()
    err = (median.double() - target.double()) * m
    n = m.sum()
    return {"crps": crps(samples.double(), target.double(), mask=eval_mask.bool(), quantile_method="linear"),
            "mae": float(err.abs().sum() / n), "rmse": float(((err ** 2).sum() / n).sqrt())}


# -- imputation ---------------------------------------------------------------------------------------------------------
def load_imputation(dataset: str, config: dict):
    """The train/valid/test splits of an imputation benchmark, with the preset's data options."""
    from tsdiff.data import load_physionet, load_pm25

    if dataset.startswith("physionet_"):
        ratio = int(dataset.split("_")[1]) / 100.0
        return load_physionet(missing_ratio=ratio, seed=config.get("data_seed", 1), fold=config.get("fold", 0),
                              stays=config.get("stays", "csdi"))
    return load_pm25(window=config.get("window", 36))


def evaluation_split(splits: dict, dataset: str, config: dict):
    """The split that is scored: ``test``, or with ``split="valid"`` the validation stays (PhysioNet) / windows of
    the validation month every ``eval_stride`` hours (PM2.5; default the window length: non-overlapping)."""
    import dataclasses

    if config.get("split", "test") == "test":
        return splits["test"]
    valid = splits["valid"]
    if dataset != "pm25":
        return valid
    pick = np.arange(0, len(valid), config.get("eval_stride", valid.shape[1]))
    return dataclasses.replace(valid, values=valid.values[pick], observed_mask=valid.observed_mask[pick],
                               eval_mask=valid.eval_mask[pick], given_mask=valid.given_mask[pick],
                               starts=None if valid.starts is None else valid.starts[pick])


def build_imputer(train, config: dict, device: str = "cpu"):
    """The ``CSDIImputer`` of ``config`` for the data of ``train`` (already standardised by the loader); a refused
    setting raises :class:`experiments.common.ConfigError` before any training."""
    from experiments.common import config_errors
    from tsdiff import checks
    from tsdiff.models.csdi import CSDIImputer
    from tsdiff.models.csdi.masks import STRATEGIES

    with config_errors("csdi"):
        imputer = CSDIImputer(num_features=train.values.shape[2], scaling=config.get("scaling", "none"), device=device,
                              **_network(config))
        checks.one_of(config.get("mask_strategy", "random"), "mask_strategy", STRATEGIES)
    return imputer


def fit_imputer(imputer, train, config: dict, seed: int, callback=None):
    """Fit on the first ``max_train`` training windows with the preset's budget (``epochs``, or exactly
    ``num_batches`` batches) and weight average (``ema_decay``)."""
    n = config.get("max_train")
    return imputer.fit(train.values[:n], train.observed_mask[:n], epochs=config.get("epochs", 200),
                       batch_size=config["batch_size"], lr=config["lr"],
                       mask_strategy=config.get("mask_strategy", "random"), seed=seed,
                       progress=bool(config.get("progress", True)), max_seconds=config.get("max_train_seconds"),
                       callback=callback, num_batches=config.get("num_batches"), ema_decay=config.get("ema_decay"))


def _run_imputation(dataset: str, config: dict, seed: int, device: str) -> dict:
    splits = load_imputation(dataset, config)
    train, test = splits["train"], evaluation_split(splits, dataset, config)
    te = slice(0, config.get("max_test"))
    curve = []  # with config["curve"]: the scores of a small test subset after every epoch
    imputer, trained, cache = _train_imputer(train, test, config, seed, device, curve)
    tr = slice(0, config.get("max_train"))

    values, given = test.values[te], test.given_mask[te]
    target, eval_mask = torch.as_tensor(test.values[te]), torch.as_tensor(test.eval_mask[te])
    scale = torch.as_tensor(test.std, dtype=torch.float32) if dataset == "pm25" else torch.ones(1)
    shift = torch.as_tensor(test.mean, dtype=torch.float32) if dataset == "pm25" else torch.zeros(1)
    S = config["num_samples"]
    main = SamplingOptions.for_call(imputer.model.default_sampling, imputer.model.diffusion.num_diffusion_steps,
                                    sampling_options(config))
    bs = config.get("impute_batch_size")
    cpu_seconds = []  # process CPU time of each call of sample()

    def sample(sampling, vals=values, msk=given, num_samples=S, batch_size=bs):
        t, c = time.perf_counter(), time.process_time()
        out = imputer.impute(vals, msk, num_samples=num_samples, sampling=sampling, seed=seed, batch_size=batch_size)
        cpu_seconds.append(time.process_time() - c)
        return out, time.perf_counter() - t

    samples, sample_seconds = sample(main)
    result = {**imputation_metrics(samples * scale + shift, target * scale + shift, eval_mask),
              "train_seconds": trained["train_seconds"], "train_cpu_seconds": trained["train_cpu_seconds"],
              "sample_seconds": sample_seconds, "num_samples": S,
              "sampler": main.sampler, "sampling_steps": main.sampling_steps, "sampling": main.to_dict(),
              "train_size": int(train.values[tr].shape[0]), "test_size": int(values.shape[0]),
              **_baseline_scores(train, values, given, target, eval_mask, scale, shift),
              **sample_health(samples, target, eval_mask),
              "epochs_run": len(imputer.history), "batches_run": imputer.history[-1]["batches"],
              "split": config.get("split", "test"),
              "data": {k: v for k, v in test.info.items() if k not in ("cut_length", "hist_ok")}}  # JSON-able
    result["sample_cpu_seconds"] = cpu_seconds[0]
    result["history"] = [{k: h.get(k) for k in ("epoch", "batches", "loss", "seconds")} for h in imputer.history]
    if curve:
        result["curve"] = curve
    if cache is not None:
        result["train_cache"] = cache
    k = config.get("speed_loop_samples", 3)
    result["speed"] = {}
    if k:
        result["speed"] = _speed_imputation(sample, values, given, target, eval_mask, scale, shift, sample_seconds,
                                            main, config, cpu_seconds)
        loop_cpu = sum(cpu_seconds[1:1 + k]) / k
        result["speed"].update(batched_cpu_seconds=cpu_seconds[0], looped_cpu_seconds_per_sample=loop_cpu,
                               speedup_cpu=loop_cpu * values.shape[0] * S / cpu_seconds[0])
    result["speed"].update(_ddim_variants(sample, target, eval_mask, scale, shift, config, cpu_seconds))
    return result


def _train_imputer(train, test, config: dict, seed: int, device: str, curve: list):
    """Build and fit the imputer, or load it from ``config["train_cache"]`` when that holds one trained from the
    same data, training entries, seed and device.

    Returns (imputer, {"train_seconds", "train_cpu_seconds"} of the run that trained it, cache info or None).
    """
    from experiments.common import ConfigError
    from tsdiff.models.csdi import CSDIImputer

    if config.get("train_cache") and config.get("curve"):
        raise ConfigError("csdi: train_cache cannot be combined with curve (the curve is scored during training)")
    stem = Path(config["train_cache"]) / f"csdi-{_training_key(train, config, seed, device)}" \
        if config.get("train_cache") else None
    if stem is not None and stem.with_suffix(".json").exists():
        imputer = CSDIImputer.load(stem.with_suffix(".npz"), device=device)
        trained = json.loads(stem.with_suffix(".json").read_text())
        imputer.history = trained.pop("history")
        return imputer, trained, {"file": str(stem.with_suffix(".npz")), "loaded": True}
    imputer = build_imputer(train, config, device)
    callback = _curve_callback(config["curve"], test, seed, curve) if config.get("curve") else None
    t0, c0 = time.perf_counter(), time.process_time()
    fit_imputer(imputer, train, config, seed, callback)
    trained = {"train_seconds": time.perf_counter() - t0 - sum(c["eval_seconds"] for c in curve),
               # this process's CPU time: comparable across machine loads
               "train_cpu_seconds": time.process_time() - c0}
    if stem is None:
        return imputer, trained, None
    stem.parent.mkdir(parents=True, exist_ok=True)
    imputer.save(stem.with_suffix(".npz"))
    # the JSON is written last: a run stopped between the two files leaves no entry that looks complete
    stem.with_suffix(".json").write_text(json.dumps({**trained, "seed": seed, "history": imputer.history},
                                                    default=float))
    return imputer, trained, {"file": str(stem.with_suffix(".npz")), "loaded": False}


def _training_key(train, config: dict, seed: int, device: str) -> str:
    """A digest of everything that decides the trained weights: the training windows and masks used, the config
    entries outside :data:`EVALUATION_KEYS`, the seed, the device and the torch version."""
    n = config.get("max_train")
    digest = hashlib.sha256()
    for array in (train.values[:n], train.observed_mask[:n]):
        digest.update(np.ascontiguousarray(array).tobytes())
    recipe = {k: v for k, v in config.items() if k not in EVALUATION_KEYS}
    digest.update(json.dumps({"recipe": recipe, "seed": seed, "device": str(device), "torch": torch.__version__},
                             sort_keys=True, default=str).encode())
    return digest.hexdigest()[:20]


def sample_health(samples: torch.Tensor, target: torch.Tensor, eval_mask: torch.Tensor) -> dict:
    """Counts that expose exploding sampling chains, in standardised units (before any rescaling).

    ``samples_nonfinite``: sampled target cells (over all samples) that are NaN/inf; ``samples_beyond_10sd``: finite
    ones with |value| > 10; ``max_abs_sample``: the largest finite |value|; ``targets_median_beyond_5sd``: targets
    whose sample median misses the truth by more than 5. Shapes: samples (S, ...), target and eval_mask (...).
    """
    m = eval_mask.bool()
    picked = samples[:, m].double()
    finite = torch.isfinite(picked)
    err = (samples.median(dim=0).values.double() - target.double()).abs()[m]
    return {"samples_nonfinite": int((~finite).sum()), "samples_beyond_10sd": int((picked[finite].abs() > 10).sum()),
            "max_abs_sample": float(picked[finite].abs().max()) if finite.any() else float("nan"),
            "targets_median_beyond_5sd": int((~(err <= 5)).sum()), "num_targets": int(m.sum())}


def _ddim_variants(sample, target, eval_mask, scale, shift, config, cpu_seconds: list) -> dict:
    """Scores and times of DDIM with each of ``ddim_steps`` steps."""
    out = {}
    for n in config.get("ddim_steps", []):
        s, sec = sample(SamplingOptions("ddim", n))
        out[f"ddim{n}"] = {"seconds": sec, "cpu_seconds": cpu_seconds[-1],
                           **imputation_metrics(s * scale + shift, target * scale + shift, eval_mask)}
    return out


def _curve_callback(spec: dict, test, seed: int, curve: list):
    """``CSDIImputer.fit`` callback: after each epoch, impute the first ``spec["max_test"]`` test grids with
    ``spec["num_samples"]`` ddpm samples and append ``{epoch, train_seconds, loss, crps, mae, eval_seconds}``."""
    n = spec.get("max_test", 8)
    values, given = test.values[:n], test.given_mask[:n]
    target, eval_mask = torch.as_tensor(test.values[:n]), torch.as_tensor(test.eval_mask[:n])

    def callback(imputer, record):
        started = time.perf_counter()
        samples = imputer.impute(values, given, num_samples=spec.get("num_samples", 10), seed=seed,
                                 batch_size=spec.get("batch_size", 2))
        scores = imputation_metrics(samples, target, eval_mask)
        curve.append({"epoch": record["epoch"], "train_seconds": record["seconds"], "loss": record["loss"],
                      "crps": scores["crps"], "mae": scores["mae"], "eval_seconds": time.perf_counter() - started})

    return callback


def _baseline_scores(train, values, given, target, eval_mask, scale, shift) -> dict:
    """MAE, RMSE and CRPS on the evaluation targets of the naive imputers (training-set feature means; per-feature
    linear interpolation over time), in the units the model is scored in. Their CRPS is CSDI's CRPS of a point
    forecast (all samples equal): Σ|error| / Σ|target|."""
    from tsdiff.data.imputation import feature_means, interpolate_impute, mean_impute

    means = feature_means(train.values, train.observed_mask)
    out = {}
    for name, fill in (("mean_imputation", mean_impute), ("interpolation", interpolate_impute)):
        point = torch.as_tensor(fill(values, given, means), dtype=torch.float64)[None] * scale + shift
        scores = imputation_metrics(point, target.double() * scale + shift, eval_mask)
        out.update({f"{name}_{k}": v for k, v in scores.items()})
    return out


def _speed_imputation(sample, values, given, target, eval_mask, scale, shift, batched_seconds, main, config,
                      cpu_seconds: list) -> dict:
    N, S = values.shape[0], config["num_samples"]
    k = config.get("speed_loop_samples", 3)
    t = time.perf_counter()
    for i in range(k):
        sample(main, vals=values[i % N:i % N + 1], msk=given[i % N:i % N + 1], num_samples=1, batch_size=1)
    per = (time.perf_counter() - t) / k
    out = {"batched_seconds": batched_seconds, "looped_seconds_per_sample": per,
           "looped_seconds_extrapolated": per * N * S, "looped_samples_timed": k,
           "note": f"looped = same sampler, batch 1, timed on {k} samples and extrapolated to {N}x{S}",
           "speedup": per * N * S / batched_seconds}
    return out


# -- forecasting --------------------------------------------------------------------------------------------------------
def grid_entries(entries) -> list:
    """Univariate GluonTS entries as CSDI's (1, T) targets: m4_hourly's series are each a one-feature grid."""
    return [{**e, "target": np.asarray(e["target"], dtype=np.float32)[None]} for e in entries]


def train_forecaster(task, config: dict, seed: int, device: str, workdir: str):
    """A ``CSDIEstimator`` built from ``config`` and trained on the task (a univariate set: every series a 1 × T
    grid): (predictor, estimator)."""
    import lightning.pytorch as pl

    from experiments.common import config_errors
    from tsdiff.models.base import trainer_kwargs
    from tsdiff.models.csdi import CSDIEstimator

    pl.seed_everything(seed, workers=True, verbose=False)
    with config_errors("csdi"):  # the estimator checks every hyperparameter when built
        estimator = CSDIEstimator(
            freq=task.freq, prediction_length=task.prediction_length, target_dim=task.target_dim,
            context_length=config.get("context_length"), lr=config["lr"], batch_size=config["batch_size"],
            num_batches_per_epoch=config["num_batches_per_epoch"], num_parallel_samples=config["num_samples"],
            prediction_batch_size=config.get("prediction_batch_size", 64), scaling=config.get("scaling", "global"),
            ema_decay=config.get("ema_decay"), num_sample_features=config.get("num_sample_features", 64),
            weights=config.get("weights"),
            **_network(config),
            trainer_kwargs=trainer_kwargs(config["epochs"], device="cuda" if device.startswith("cuda") else "cpu",
                                          progress=config.get("progress", True), workdir=workdir),
        )
    train = task.multivariate.train if task.is_multivariate else grid_entries(task.dataset.train)
    return estimator.train(train), estimator


def _run_forecast(dataset: str, config: dict, seed: int, device: str, out_dir) -> dict:
    from gluonts.dataset.common import ListDataset

    from experiments.common import load_forecast_task, parse_sampling, score_forecasts

    task = load_forecast_task(dataset, prediction_length=config.get("prediction_length"),
                              split=config.get("split", "test"))
    dim, S, P = task.target_dim, config["num_samples"], task.prediction_length
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        predictor, estimator = train_forecaster(task, config, seed, device, tmp)
        train_seconds, train_cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    net = predictor.prediction_net  # CSDIModel
    cpu_seconds = []  # process CPU time of each forecast() call
    inputs = task.window_inputs() if task.is_multivariate else grid_entries(task.test_inputs())
    windows = ListDataset(inputs, freq=task.freq, one_dim_target=False)
    test = task.histories

    def forecast(sampling):
        """Samples for every test window (the shared protocol): W arrays (S, H, D), or N arrays (S, H) for the
        univariate set; and the time they took."""
        t, c = time.perf_counter(), time.process_time()
        fc = [f.samples for f in predictor.predict(windows, num_samples=S, seed=seed, sampling=sampling)]
        if not task.is_multivariate:
            fc = [f.reshape(f.shape[0], P) for f in fc]
        cpu_seconds.append(time.process_time() - c)
        return fc, time.perf_counter() - t

    main = predictor.sampling_options(sampling_options(config))
    forecasts, sample_seconds = forecast(main)
    nonfinite = sum(int((~np.isfinite(f)).sum()) for f in forecasts)
    result = {**score_forecasts(task, forecasts), "train_seconds": train_seconds,
              "train_cpu_seconds": train_cpu_seconds, "samples_nonfinite": nonfinite,
              "batches_run": config["epochs"] * config["num_batches_per_epoch"], "sample_seconds": sample_seconds,
              "sample_cpu_seconds": cpu_seconds[0], "num_samples": S, "sampler": main.sampler,
              "sampling_steps": main.sampling_steps, "sampling": main.to_dict(), "num_test_series": len(test),
              "target_dim": dim, "context_length": estimator.context_length}

    k = config.get("speed_loop_samples", 3)
    result["speed"] = _speed_forecast(net, test, main, k, S, sample_seconds, cpu_seconds[0]) if k else {}
    for n in config.get("ddim_steps", []):
        fc, sec = forecast(SamplingOptions("ddim", n))
        result["speed"][f"ddim{n}"] = {"seconds": sec, "cpu_seconds": cpu_seconds[-1], **score_forecasts(task, fc)}
    for text in config.get("also_samplers", []):  # "NAME[:STEPS[:ETA]]": more reverse processes, same network
        other = predictor.sampling_options(parse_sampling(text))
        fc, sec = forecast(other)
        result["speed"][text] = {"seconds": sec, "cpu_seconds": cpu_seconds[-1], "sampling": other.to_dict(),
                                 **score_forecasts(task, fc)}
    if out_dir is not None and config.get("save_predictor", False):
        path = Path(out_dir) / f"csdi_{dataset}_seed{seed}_predictor"
        path.mkdir(parents=True, exist_ok=True)
        predictor.serialize(path)
    return result


def _speed_forecast(net, test, main, k: int, S: int, sample_seconds: float, sample_cpu_seconds: float) -> dict:
    """The batch-1 loop: the same sampler, one sample of one series at a time, timed on ``k`` samples."""
    C = net.context_length
    first = np.asarray(test[0], dtype=np.float32).reshape(-1, np.shape(test[0])[-1])  # (D, T)
    past = torch.as_tensor(first[:, -C:].T[None])
    obs = torch.ones_like(past)
    with torch.no_grad():
        t, c = time.perf_counter(), time.process_time()
        for _ in range(k):
            net(past, obs, num_samples=1, sampling=main)
        per = (time.perf_counter() - t) / k
        per_cpu = (time.process_time() - c) / k
    return {"batched_seconds": sample_seconds, "looped_seconds_per_sample": per,
            "looped_seconds_extrapolated": per * len(test) * S, "looped_samples_timed": k,
            "note": f"looped = same sampler, batch 1, timed on {k} samples and extrapolated "
                    f"to {len(test)} series x {S} samples",
            "speedup": per * len(test) * S / sample_seconds,
            "batched_cpu_seconds": sample_cpu_seconds, "looped_cpu_seconds_per_sample": per_cpu,
            "speedup_cpu": per_cpu * len(test) * S / sample_cpu_seconds}


def run(dataset: str, config: dict, seed: int, device: str = "cpu", out_dir=None) -> dict:
    """Train CSDI on ``dataset`` with ``config`` (a preset), sample, score and time.

    Returns metrics: imputation ``crps``/``mae``/``rmse`` (PM2.5 in µg/m³, PhysioNet in normalised units, as CSDI);
    forecasting ``crps``/``crps_sum``/... from :func:`experiments.common.score_forecasts` (GluonTS-identical); plus
    ``train_seconds``, ``sample_seconds``, ``num_samples``, ``device``, ``threads``, ``date`` and ``speed``
    (batched vs batch-1 loop, DDIM).
    """
    if dataset not in IMPUTATION + FORECAST:
        raise ValueError(f"csdi runs on {IMPUTATION + FORECAST}, not {dataset!r}")
    _setup(config, seed)
    if dataset in FORECAST:
        result = _run_forecast(dataset, config, seed, device, out_dir)
    else:
        result = _run_imputation(dataset, config, seed, device)
    result.update(device=device, threads=torch.get_num_threads(), seed=seed, dataset=dataset,
                  date=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    return result  # experiments.run writes it, with config and machine, into out_dir


def main(argv: Optional[list] = None) -> None:  # pragma: no cover - convenience
    import argparse

    p = argparse.ArgumentParser(description="CSDI benchmark (standalone; prefer python -m experiments.run)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--preset", default="quick")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    preset = json.loads((Path(__file__).parents[1] / "presets" / "csdi" / f"{args.dataset}.json").read_text())
    print(json.dumps(run(args.dataset, preset[args.preset], args.seed, out_dir=args.out), indent=2, default=float))


if __name__ == "__main__":  # pragma: no cover
    main()
