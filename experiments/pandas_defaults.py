"""Check a candidate default recipe of the pandas ``tsdiff.TimeGrad`` against GluonTS ``DeepAREstimator`` with its
own defaults, at the same training time, on windows cut from the end of the training part (never the test windows).

``python -m experiments.pandas_defaults [--datasets ETTh1,ETTm1,weather] [--epochs 20] [--layout joint|panel]
[--set KEY=JSON ...] [--samplers ddpm,dpm-solver++:10:1] [--seed 0] [--split valid|valid-late] [--out FILE]``

What the pandas API does with a wide frame and no arguments is rebuilt here at the estimator level, with the
settings of ``RECOMMENDED`` (what this study proposes the API should pass), context = prediction length,
``epochs × 50`` batches of 64. ``--layout panel`` (the default; ``fit(wide)``, whose ``univariate=True`` trains the
same network as ``fit(wide, panel=True)``): every column is a training series of one global univariate model;
``--layout joint`` (``fit(wide, univariate=False)``): one model of the D-dimensional series. The forecasts
of the 7 validation windows of 24 steps (``experiments.common.validation_task``; ``--split valid-late``: the 28
windows before the test windows, training on the test protocol's rows) are scored with the benchmark's
metrics. DeepAR is trained twice on the same series: with its defaults (100 epochs × 50 batches of 32) and with
Lightning's ``max_time`` set to TimeGrad's measured training seconds (``max_epochs`` unbounded): "the same training
time". Prints one JSON line per dataset and model; ``--out`` also writes them to a file.
"""
from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
import warnings

import numpy as np

RECOMMENDED = {  # TimeGradEstimator arguments the pandas TimeGrad should default to (plus training per column)
    "scaling": "std",
    "difference_lag": "season",
    "cond_upsampler_dim": 32,
    "num_diffusion_steps": 100,
}
PREDICTION_LENGTH = 24
BATCHES_PER_EPOCH = 50  # the pandas API's default
BATCH_SIZE = 64  # the pandas API's default; ``--set batch_size=N`` overrides it like any other setting
NUM_SAMPLES = 100


def _trainer(workdir: str, **extra) -> dict:
    return dict(accelerator="cpu", devices=1, default_root_dir=workdir, logger=False, enable_progress_bar=False,
                enable_model_summary=False, **extra)


def _series(task) -> list[dict]:
    """Every training column as its own univariate series: (T,) targets for DeepAR."""
    return [{"start": e["start"], "target": np.asarray(e["target"], dtype=np.float32)} for e in task.dataset.train]


def _score(task, per_entry: list[np.ndarray], seconds: float, name: str, extra: dict) -> dict:
    from experiments.common import score_forecasts

    metrics = score_forecasts(task, task.stack_entry_samples(per_entry))
    return {"model": name, "train_seconds": round(seconds, 1), **extra, **metrics}


def run_timegrad(task, epochs: int, settings: dict, seed: int, layout: str = "panel", samplings=None) -> list[dict]:
    """Train TimeGrad as the pandas API would; one row per entry of ``samplings`` (SamplingOptions; None: the
    estimator's default sampler), each scored on the same trained network."""
    from experiments.common import score_forecasts
    from tsdiff.models.timegrad import TimeGradEstimator

    joint = layout == "joint"
    if joint:
        series = [{**e, "target": np.asarray(e["target"], dtype=np.float32)} for e in task.multivariate.train]
    else:
        series = [{**e, "target": e["target"][None, :]} for e in _series(task)]
    settings = {"batch_size": BATCH_SIZE, **settings}
    with tempfile.TemporaryDirectory() as workdir:
        estimator = TimeGradEstimator(freq=task.freq, prediction_length=PREDICTION_LENGTH,
                                      target_dim=task.target_dim if joint else 1, seed=seed,
                                      num_batches_per_epoch=BATCHES_PER_EPOCH, num_parallel_samples=NUM_SAMPLES,
                                      trainer_kwargs=_trainer(workdir, max_epochs=epochs), **settings)
        started = time.perf_counter()
        predictor = estimator.train(series, cache_data=True)
        seconds = time.perf_counter() - started
    extra = {"batches": epochs * BATCHES_PER_EPOCH, "layout": layout, **settings}
    rows = []
    for sampling in samplings or [None]:  # every sampler on the same trained network
        started = time.perf_counter()
        if joint:
            windows = [np.asarray(f.samples) for f in predictor.predict(
                task.window_inputs(), num_samples=NUM_SAMPLES, seed=seed, sampling=sampling)]  # W × (S, H, D)
            metrics = score_forecasts(task, windows)
        else:
            inputs = [{**e, "target": e["target"][None, :]} for e in task.test_inputs()]
            samples = [np.asarray(f.samples)[..., 0]
                       for f in predictor.predict(inputs, num_samples=NUM_SAMPLES, seed=seed, sampling=sampling)]
            metrics = score_forecasts(task, task.stack_entry_samples(samples))
        used = predictor.sampling_options(sampling)
        rows.append({"model": "timegrad", "train_seconds": round(seconds, 1), **extra,
                     "sampling": used.to_dict(), "sample_seconds": round(time.perf_counter() - started, 2), **metrics})
    return rows


def run_deepar(task, seed: int, max_seconds: float | None) -> dict:
    import lightning.pytorch as pl
    from gluonts.torch.model.deepar import DeepAREstimator

    pl.seed_everything(seed, verbose=False)
    extra = {} if max_seconds is None else {"max_epochs": 1_000_000, "max_time": {"seconds": math.ceil(max_seconds)}}
    with tempfile.TemporaryDirectory() as workdir:
        estimator = DeepAREstimator(freq=task.freq, prediction_length=PREDICTION_LENGTH,
                                    trainer_kwargs=_trainer(workdir, **extra))
        started = time.perf_counter()
        out = estimator.train_model(_series(task), cache_data=True)
        seconds = time.perf_counter() - started
    samples = [np.asarray(f.samples) for f in out.predictor.predict(task.test_inputs())]
    name = "deepar_defaults" if max_seconds is None else "deepar_same_time"
    return _score(task, samples, seconds, name, {"batches": int(out.trainer.global_step)})


def main(argv=None) -> list[dict]:
    from experiments.common import load_forecast_task, parse_sampling
    from experiments.models import SPLITS
    from experiments.run import parse_overrides

    p = argparse.ArgumentParser(prog="python -m experiments.pandas_defaults", description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="ETTh1,ETTm1,weather")
    p.add_argument("--epochs", type=int, default=20, help="TimeGrad epochs of 50 batches (the API's default: 20)")
    p.add_argument("--layout", choices=("joint", "panel"), default="panel",
                   help="panel: columns as series of one univariate network (fit(wide), the default univariate=True); "
                        "joint: one model of the wide frame (fit(wide, univariate=False))")
    p.add_argument("--skip-deepar", action="store_true", help="TimeGrad only (DeepAR rows of a panel run apply)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="override a RECOMMENDED entry")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", choices=[s for s in SPLITS if s != "test"], default="valid",
                   help="valid: the 7 windows after the training data; valid-late: the 28 windows before the test "
                        "windows (experiments.common.load_forecast_task)")
    p.add_argument("--skip-deepar-defaults", action="store_true")
    p.add_argument("--samplers", default=None,
                   help="comma-separated NAME[:STEPS[:ETA]] (e.g. ddpm,dpm-solver++:10:1): score each on the same "
                        "trained TimeGrad (default: the estimator's own sampler)")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    settings = {**RECOMMENDED, **parse_overrides(args.set)}
    rows = []
    for dataset in args.datasets.split(","):
        task = load_forecast_task(dataset, prediction_length=PREDICTION_LENGTH, split=args.split)
        timegrad = run_timegrad(task, args.epochs, settings, args.seed, args.layout,
                                [parse_sampling(x) for x in args.samplers.split(",")] if args.samplers else None)
        runs = timegrad if args.skip_deepar else [*timegrad, run_deepar(task, args.seed, timegrad[0]["train_seconds"])]
        if not (args.skip_deepar or args.skip_deepar_defaults):
            runs.append(run_deepar(task, args.seed, None))
        for row in runs:
            row = {"dataset": dataset, "split": args.split, "seed": args.seed, **row}
            print(json.dumps(row, default=str), flush=True)
            rows.append(row)
            if args.out:
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(row, default=str) + "\n")
    return rows


if __name__ == "__main__":
    main()
