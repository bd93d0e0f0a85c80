"""Size DeepAR's ``cpu`` preset to the training time of TimeGrad's: measure both models' seconds per training batch
in one process, alternating short trainings so that both see the same machine load.

``python -m experiments.equal_budget --dataset ETTh1 [--timegrad-preset cpu] [--deepar-preset quick] [--batches 100]
[--rounds 3] [--threads 1]`` prints one JSON object: per round and in total the seconds per batch of each model
(timed from Lightning's ``on_train_start`` to ``on_train_end``: data loading, forward, backward and optimiser step,
not the one-off setup), their ratio, and ``deepar_batches``: the number of DeepAR batches that takes as long as
the TimeGrad preset's ``epochs × num_batches_per_epoch`` batches. Both train on the validation split's training
series, as the tuning runs do.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings

import lightning.pytorch as pl


class BatchTimer(pl.Callback):
    """Wall seconds from the start to the end of ``fit``'s training loop, and the number of batches trained."""

    def __init__(self):
        self.seconds, self.batches, self._start = 0.0, 0, None

    def on_train_start(self, trainer, module):
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.batches += 1

    def on_train_end(self, trainer, module):
        self.seconds += time.perf_counter() - self._start


def time_timegrad(task, config: dict, batches: int, seed: int) -> BatchTimer:
    from experiments.models import timegrad

    timer = BatchTimer()
    cfg = {**config, "epochs": 1, "num_batches_per_epoch": batches,
           "trainer_kwargs": {**config.get("trainer_kwargs", {}), "callbacks": [timer]}}
    with tempfile.TemporaryDirectory() as workdir:
        timegrad.train(task, cfg, seed, "cpu", workdir)
    return timer


def time_deepar(task, config: dict, batches: int, seed: int) -> BatchTimer:
    from experiments.models.baselines import DEEPAR_DEFAULTS, _deepar_estimator

    timer = BatchTimer()
    cfg = {**DEEPAR_DEFAULTS, **config, "epochs": 1, "num_batches_per_epoch": batches}
    pl.seed_everything(seed, verbose=False)
    with tempfile.TemporaryDirectory() as workdir:
        estimator = _deepar_estimator(task, cfg, "cpu", workdir, len(task.dataset.train))
        estimator.trainer_kwargs["callbacks"] = [timer]
        estimator.train(task.dataset.train, cache_data=True)
    return timer


def main(argv=None) -> dict:
    from experiments.common import load_forecast_task
    from experiments.run import load_preset

    p = argparse.ArgumentParser(prog="python -m experiments.equal_budget", description=__doc__.splitlines()[0])
    p.add_argument("--dataset", required=True)
    p.add_argument("--timegrad-preset", default="cpu")
    p.add_argument("--deepar-preset", default="quick")
    p.add_argument("--batches", type=int, default=100, help="batches per timed training of each model")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    tg_config = load_preset("timegrad", args.dataset, args.timegrad_preset)
    da_config = load_preset("deepar", args.dataset, args.deepar_preset)
    task = load_forecast_task(args.dataset, split="valid")
    rounds, totals = [], {"timegrad": [0.0, 0], "deepar": [0.0, 0]}
    for _ in range(args.rounds):
        row = {}
        for name, fn, cfg in (("timegrad", time_timegrad, tg_config), ("deepar", time_deepar, da_config)):
            timer = fn(task, cfg, args.batches, args.seed)
            row[name] = timer.seconds / timer.batches
            totals[name][0] += timer.seconds
            totals[name][1] += timer.batches
        row["ratio"] = row["timegrad"] / row["deepar"]
        rounds.append(row)
    per_batch = {k: s / n for k, (s, n) in totals.items()}
    ratio = per_batch["timegrad"] / per_batch["deepar"]
    tg_batches = int(tg_config.get("epochs", 10)) * int(tg_config.get("num_batches_per_epoch", 100))
    result = {"dataset": args.dataset, "timegrad_preset": args.timegrad_preset, "deepar_preset": args.deepar_preset,
              "seconds_per_batch": per_batch, "ratio": ratio, "rounds": rounds, "timegrad_batches": tg_batches,
              "deepar_batches": int(round(tg_batches * ratio)),
              "deepar_batch_size": da_config.get("batch_size", 32)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
