"""Does ``tsdiff.CSDI(...).fit(df).impute(df)`` beat ``df.interpolate()`` on random holes, within minutes of training?

``python -m experiments.pandas_impute [--datasets ETTh1,pm25] [--rows 2000] [--start 0] [--holes 0.1]
[--set KEY=JSON ...] [--samplers ddpm,dpm-solver++:10:1] [--seed 0] [--out FILE]``

For each dataset: ``--rows`` rows of the offline CSV from row ``--start`` (default the first ones, the published
rows; ``--start 4000`` is a validation slice to choose a recipe on) (ETTh1: 7 hourly columns; pm25: 36 hourly PM2.5
stations with their own missing values), a fraction ``--holes`` of the observed cells removed at random (seed
``--seed``), the pandas ``tsdiff.CSDI`` fitted on the holed frame with its defaults (plus ``--set`` overrides), and its
sample median compared, on the removed cells only, with ``df.interpolate(limit_direction="both")`` (per column, in time)
— MAE, and CRPS of the samples against the interpolation's absolute error (a point forecast's CRPS). Training seconds
and imputation seconds are wall times of one process with one torch thread. Prints one JSON line per dataset.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd


def load_frame(dataset: str, rows: int, start: int = 0) -> pd.DataFrame:
    """``rows`` rows from row ``start`` of the dataset's offline CSV (checksum-verified, from ``TSDIFF_DATA``) as a wide
    hourly frame (float64)."""
    from tsdiff.data.imputation.pm25 import PM25_GROUND
    from tsdiff.data.registry import fetch_files
    from tsdiff.data.storage import fetch

    if dataset == "ETTh1":
        frame = pd.read_csv(fetch_files("ETTh1", download=False)["ETTh1.csv"], index_col="date", parse_dates=True)
    elif dataset == "pm25":
        frame = pd.read_csv(fetch(PM25_GROUND, download=False), index_col="datetime", parse_dates=True)
    else:
        raise ValueError(f"unknown dataset {dataset!r}; choose ETTh1 or pm25")
    if not 0 <= start < len(frame):
        raise ValueError(f"--start {start} is outside the {len(frame)} rows of {dataset}")
    frame = frame.iloc[start:start + rows].astype(np.float64)
    frame.index.freq = pd.infer_freq(frame.index)
    return frame


def punch_holes(frame: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A copy of ``frame`` with ``fraction`` of its observed cells set to NaN, and the (T, D) mask of those cells."""
    rng = np.random.default_rng(seed)
    observed = frame.notna().to_numpy()
    holes = observed & (rng.random(observed.shape) < fraction)
    holed = frame.copy()
    holed[holes] = np.nan
    return holed, holes


def run(dataset: str, rows: int, fraction: float, seed: int, overrides: dict, num_samples: int,
        samplings=None, start: int = 0) -> list[dict]:
    """One row per SamplingOptions of ``samplings`` (None: the model's default sampler), each imputed by the same
    fitted model; every row records the reverse process it used."""
    from tsdiff.diffusion import SamplingOptions
    import tsdiff
    from tsdiff.evaluation import energy_crps

    frame = load_frame(dataset, rows, start)
    holed, holes = punch_holes(frame, fraction, seed)
    truth = frame.to_numpy()[holes]
    interpolated = holed.interpolate(limit_direction="both").to_numpy()[holes]
    model = tsdiff.CSDI(prediction_length=24, seed=seed, verbose=0, **overrides)
    started = time.perf_counter()
    model.fit(holed)
    train_seconds = time.perf_counter() - started
    interpolation_mae = float(np.abs(interpolated - truth).mean())
    scale = np.abs(truth).mean()
    out = []
    for sampling in samplings or [None]:
        started = time.perf_counter()
        imputation = model.impute(holed, num_samples=num_samples, seed=seed, sampling=sampling)
        impute_seconds = time.perf_counter() - started
        samples = np.asarray(imputation.samples)[:, holes]  # (S, N)
        median = imputation.median.to_numpy()[holes]
        used = (sampling or SamplingOptions()).resolve(model.default_sampling()).check(model.num_diffusion_steps)
        out.append({"dataset": dataset, "rows": rows, "start": start, "holes": int(holes.sum()), "seed": seed,
                    "overrides": overrides, "sampling": used.to_dict(), "num_samples": num_samples,
                    "train_seconds": round(train_seconds, 1), "impute_seconds": round(impute_seconds, 1),
                    "mae": float(np.abs(median - truth).mean()), "interpolation_mae": interpolation_mae,
                    "crps_normalised": energy_crps(samples, truth) / scale,
                    "interpolation_crps_normalised": interpolation_mae / scale})
    return out


def main(argv=None) -> list[dict]:
    from experiments.common import parse_sampling
    from experiments.run import parse_overrides

    p = argparse.ArgumentParser(prog="python -m experiments.pandas_impute", description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="ETTh1,pm25")
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--start", type=int, default=0, help="first row (0: the published rows)")
    p.add_argument("--holes", type=float, default=0.1)
    p.add_argument("--samples", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="a tsdiff.CSDI argument")
    p.add_argument("--samplers", default=None,
                   help="comma-separated NAME[:STEPS[:ETA]] (e.g. ddpm,dpm-solver++:10:1): impute with each, on the "
                        "same fitted model (default: the model's own sampler)")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    rows = []
    for dataset in args.datasets.split(","):
        samplings = [parse_sampling(x) for x in args.samplers.split(",")] if args.samplers else None
        out = run(dataset, args.rows, args.holes, args.seed, parse_overrides(args.set), args.samples, samplings,
                  args.start)
        for row in out:
            print(json.dumps(row), flush=True)
            rows.append(row)
            if args.out:
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
    return rows


if __name__ == "__main__":
    main()
