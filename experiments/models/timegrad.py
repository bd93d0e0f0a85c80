"""TimeGrad benchmark: train on a GluonTS multivariate dataset, score the rolling test windows.

``run(dataset, config, seed)`` is what ``python -m experiments.run`` calls; it can also be run directly:

    PYTHONPATH=. python -m experiments.models.timegrad exchange_rate_nips --preset quick --seed 0

Config keys (all optional; see ``experiments/presets/timegrad/*.json``): ``epochs``, ``batch_size``,
``num_batches_per_epoch``, ``lr``, ``lr_schedule``, ``weight_decay``, ``context_length``, ``hidden_size``,
``num_layers``, ``cell_type``, ``dropout_rate``, ``scaling``, ``conditioning_length``, ``residual_layers``,
``residual_channels``, ``num_samples`` (100), ``sampler``/``sampling_steps``/``eta``, ``sampler_tradeoff`` (bool),
``threads`` (torch threads, default 1), ``eval_split`` (``"test"``, or ``"validation"``: hold out the last
``num_test_dates`` × ``prediction_length`` steps of the *training* data and score there — the only split used
for tuning).
"""
import argparse
import json
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch

PRESET_DIR = Path(__file__).resolve().parents[1] / "presets" / "timegrad"
QUANTILES = (np.arange(20) / 20.0)[1:]

# Datasets this runner knows: archive location under the data root, number of rolling test windows.
DATASETS = {
    "exchange_rate_nips": dict(
        archive="exchange_rate_nips/exchange_rate_nips.tar.gz", num_test_dates=5, prediction_length=30
    ),
}

MODEL_KEYS = (
    "context_length", "num_layers", "hidden_size", "dropout_rate", "cell_type", "embedding_dim",
    "conditioning_length", "scaling", "lags_seq", "num_diffusion_steps", "beta_schedule", "beta_start", "beta_end",
    "residual_layers", "residual_channels", "dilation_cycle_length", "cond_upsampler_dim", "lr", "weight_decay", "lr_schedule",
    "batch_size", "num_batches_per_epoch",
)


def load_preset(dataset: str, name: str) -> dict:
    """The ``name`` preset (``"quick"``/``"paper"``) of ``experiments/presets/timegrad/<dataset>.json``."""
    with open(PRESET_DIR / f"{dataset}.json") as f:
        return json.load(f)[name]


def _data_root() -> Path:
    from tsdiff.data.storage import data_root  # $TSDIFF_DATA, else the user cache

    return data_root()


def load_gluonts_dataset(dataset: str, workdir: str, eval_split: str = "test"):
    """Unpack the GluonTS archive into ``workdir`` and group it into one multivariate entry.

    Returns (train, test, metadata): train a 1-entry dataset of target (D, T); test ``num_test_dates`` entries,
    each a growing prefix whose last ``prediction_length`` steps are scored. With ``eval_split="validation"`` both
    are cut from the training data only.
    """
    from gluonts.dataset.common import FileDataset, ListDataset, MetaData, load_datasets
    from gluonts.dataset.multivariate_grouper import MultivariateGrouper

    spec = DATASETS[dataset]
    with tarfile.open(_data_root() / spec["archive"]) as tar:
        tar.extractall(workdir, filter="data")
    base = Path(workdir) / dataset
    raw_meta = json.loads((base / "metadata" / "metadata.json").read_text())
    if "freq" in raw_meta:
        meta = load_datasets(metadata=base / "metadata", train=base / "train", test=base / "test")
        freq, raw_train, raw_test = meta.metadata.freq, meta.train, meta.test
    else:
        # The 2019 multivariate release ships an older metadata layout ({"time_granularity": ...}) that
        # gluonts' MetaData no longer parses; read the JSON-lines files directly with its frequency.
        freq = MetaData(freq=raw_meta["time_granularity"]).freq
        raw_train, raw_test = FileDataset(base / "train", freq=freq), FileDataset(base / "test", freq=freq)
    P, n = spec["prediction_length"], spec["num_test_dates"]
    dim = len(list(raw_train))
    train = MultivariateGrouper(max_target_dim=dim)(raw_train)
    if eval_split == "test":
        test = MultivariateGrouper(num_test_dates=n, max_target_dim=dim)(raw_test)
        return train, test, dict(freq=freq, prediction_length=P, target_dim=dim)
    if eval_split != "validation":
        raise ValueError(f"eval_split must be 'test' or 'validation', got {eval_split!r}")
    entry = next(iter(train))
    full, start = np.asarray(entry["target"]), entry["start"]
    cut = full.shape[1] - n * P
    mk = lambda ends: ListDataset(  # noqa: E731
        [{"start": start, "target": full[:, :e]} for e in ends], freq=freq, one_dim_target=False
    )
    return mk([cut]), mk([cut + k * P for k in range(1, n + 1)]), dict(freq=freq, prediction_length=P, target_dim=dim)


def evaluate(test, forecasts) -> dict:
    """GluonTS ``MultivariateEvaluator`` with 19 quantiles and the sum aggregate (CRPS-sum)."""
    from gluonts.evaluation import MultivariateEvaluator

    evaluator = MultivariateEvaluator(quantiles=QUANTILES, target_agg_funcs={"sum": np.sum}, num_workers=0)
    targets = [_as_frame(entry, f) for entry, f in zip(test, forecasts)]
    agg, _ = evaluator(iter(targets), iter(forecasts), num_series=len(forecasts))
    return dict(
        crps=float(agg["mean_wQuantileLoss"]),
        crps_sum=float(agg["m_sum_mean_wQuantileLoss"]),
        nd=float(agg["ND"]),
        nrmse=float(agg["NRMSE"]),
    )


def _as_frame(entry, forecast):
    import pandas as pd

    target = np.asarray(entry["target"])  # (D, T)
    index = pd.period_range(start=entry["start"], periods=target.shape[1], freq=entry["start"].freq)
    return pd.DataFrame(target.T, index=index)


def _inputs(test, prediction_length: int):
    """The test entries with their last ``prediction_length`` steps (the scored window) cut off."""
    from gluonts.dataset.common import ListDataset

    entries = [dict(entry, target=np.asarray(entry["target"])[:, :-prediction_length]) for entry in test]
    return ListDataset(entries, freq=entries[0]["start"].freqstr, one_dim_target=False)


def _forecast(predictor, test, num_samples, seed, **sampling):
    inputs = _inputs(test, predictor.prediction_length)
    t0 = time.perf_counter()
    forecasts = list(predictor.predict(inputs, num_samples=num_samples, seed=seed, **sampling))
    return forecasts, time.perf_counter() - t0


def run(dataset: str, config: dict, seed: int, device: str = "cpu", out_dir=None) -> dict:
    """Train TimeGrad on ``dataset`` with ``config`` and score it on the rolling test windows.

    Returns a dict with ``crps``, ``crps_sum``, ``nd``, ``nrmse``, ``train_seconds``, ``sample_seconds`` (the whole
    test set), ``num_samples``, ``device``, ``epochs``, ``config`` and, when ``config["sampler_tradeoff"]``,
    ``sampler_tradeoff``: a list of {sampler, steps, crps, crps_sum, sample_seconds} for ddpm-100 and ddim-50/20/10
    from the same trained model. ``out_dir``: where Lightning's checkpoints and ``metrics.json`` go (default: a
    temporary directory that is removed).
    """
    from tsdiff.models.timegrad import TimeGradEstimator

    torch.set_num_threads(int(config.get("threads", 1)))
    num_samples = int(config.get("num_samples", 100))
    with tempfile.TemporaryDirectory(prefix="timegrad_") as tmp:
        train, test, meta = load_gluonts_dataset(dataset, tmp, config.get("eval_split", "test"))
        root = Path(out_dir) if out_dir is not None else Path(tmp) / "lightning"
        root.mkdir(parents=True, exist_ok=True)
        accelerator = "cpu" if device == "cpu" else "gpu" if device.startswith("cuda") else "auto"
        trainer_kwargs = dict(
            max_epochs=int(config.get("epochs", 10)),
            accelerator=accelerator,
            devices=1,
            default_root_dir=str(root),
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer_kwargs.update(config.get("trainer_kwargs", {}))
        estimator = TimeGradEstimator(
            freq=meta["freq"],
            prediction_length=meta["prediction_length"],
            target_dim=meta["target_dim"],
            num_parallel_samples=num_samples,
            sampler=config.get("sampler", "ddpm"),
            sampling_steps=config.get("sampling_steps"),
            eta=config.get("eta", 0.0),
            seed=seed,
            trainer_kwargs=trainer_kwargs,
            **{k: config[k] for k in MODEL_KEYS if k in config},
        )
        t0 = time.perf_counter()
        predictor = estimator.train(train)
        train_seconds = time.perf_counter() - t0
        predictor.to("cpu" if device == "cpu" else device)

        forecasts, sample_seconds = _forecast(predictor, test, num_samples, seed)
        result = dict(
            model="timegrad",
            dataset=dataset,
            seed=seed,
            **evaluate(test, forecasts),
            train_seconds=train_seconds,
            sample_seconds=sample_seconds,
            num_samples=num_samples,
            device=str(predictor.device),
            threads=torch.get_num_threads(),
            epochs=trainer_kwargs["max_epochs"],
            eval_split=config.get("eval_split", "test"),
            config=config,
        )
        if config.get("sampler_tradeoff"):
            rows = []
            main = (config.get("sampler", "ddpm"), config.get("sampling_steps"))
            for sampler, steps in (("ddpm", None), ("ddim", 50), ("ddim", 20), ("ddim", 10)):
                if (sampler, steps) == main or (sampler == main[0] == "ddpm"):
                    scores, secs = result, sample_seconds  # the main forecast already is this setting
                else:
                    fc, secs = _forecast(predictor, test, num_samples, seed, sampler=sampler, sampling_steps=steps)
                    scores = evaluate(test, fc)
                rows.append(dict(sampler=sampler, steps=steps or estimator.model_kwargs["num_diffusion_steps"],
                                 crps=scores["crps"], crps_sum=scores["crps_sum"], sample_seconds=secs))
            result["sampler_tradeoff"] = rows
        if out_dir is not None:
            (root / "metrics.json").write_text(json.dumps(result, indent=2, default=str))
        return result


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", nargs="?", default="exchange_rate_nips")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out-dir", default=None)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=JSON", help="override preset entries")
    args = parser.parse_args(argv)
    config = load_preset(args.dataset, args.preset)
    for item in args.set:
        key, value = item.split("=", 1)
        config[key] = json.loads(value)
    result = run(args.dataset, config, args.seed, args.device, args.out_dir)
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
