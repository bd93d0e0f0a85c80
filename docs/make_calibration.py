"""Regenerate docs/calibration.png: the README's panel example on real data. TimeGrad is one global model over the
first m4_hourly *training* series (a long frame), backtested with ``cross_validation`` on the last windows of that
training data (the benchmark's test windows are never read), scored, and its calibration plotted.

    TSDIFF_DATA=../shared/datasets python docs/make_calibration.py [--series 100] [--windows 2] [--epochs 6]
        [--batches 50] [--samples 100] [--sampler ddim] [--sampling-steps 10] [--seed 0] [--threads 1]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path


def m4_hourly_long(series: int):
    """The first ``series`` m4_hourly training series as a long frame (unique_id, ds, y)."""
    import numpy as np
    import pandas as pd

    from tsdiff.data import load_dataset

    parts = []
    for k, entry in enumerate(list(load_dataset("m4_hourly").train)[:series]):
        target = np.asarray(entry["target"], dtype=np.float64)
        ds = pd.period_range(entry["start"], periods=len(target), freq=entry["start"].freq).to_timestamp()
        parts.append(pd.DataFrame({"unique_id": entry.get("item_id", k), "ds": ds, "y": target}))
    return pd.concat(parts, ignore_index=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="docs/make_calibration.py", description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--windows", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batches", type=int, default=50, help="batches per epoch")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--sampler", default="ddim")
    parser.add_argument("--sampling-steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(Path(__file__).with_name("calibration.png")))
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import torch

    import tsdiff
    from tsdiff.evaluation import calibration_from_frame, evaluate_backtest

    torch.set_num_threads(args.threads)
    panel = m4_hourly_long(args.series)
    lengths = panel.groupby("unique_id").size()
    print(f"{panel['unique_id'].nunique()} series, {lengths.min()}-{lengths.max()} hours each")
    model = tsdiff.TimeGrad(prediction_length=48, epochs=args.epochs, num_batches_per_epoch=args.batches,
                            seed=args.seed, verbose=0)
    started = time.perf_counter()
    cv = model.cross_validation(panel, n_windows=args.windows, num_samples=args.samples, id_col="unique_id",
                                time_col="ds", target_col="y", sampler=args.sampler,
                                sampling_steps=args.sampling_steps)
    seconds = time.perf_counter() - started
    scores = evaluate_backtest(cv)
    report = calibration_from_frame(cv)
    print(scores.to_string())
    print(report)
    print(f"cross_validation: {seconds:.0f} s (one training, {args.windows} windows)")
    hist, _ = report.plot()
    hist.figure.suptitle(f"TimeGrad on {args.series} m4_hourly series: {args.windows} backtest windows of 48 h",
                         fontsize=10)
    hist.figure.tight_layout()
    hist.figure.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
