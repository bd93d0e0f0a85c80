"""Regenerate docs/quickstart.png: the README's quick-start example, run on ETTh1.

    TSDIFF_DATA=../shared/datasets python docs/make_quickstart.py
"""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import torch  # noqa: E402

import tsdiff  # noqa: E402
from tsdiff.data import dataset_info, fetch  # noqa: E402


def main() -> None:
    torch.set_num_threads(int(os.environ.get("TSDIFF_THREADS", "2")))
    path = fetch(dataset_info("ETTh1").files[0])
    df = pd.read_csv(path, index_col="date", parse_dates=True)
    history, truth = df.iloc[-24 * 60:-24], df.iloc[-24:]
    model = tsdiff.TimeGrad(prediction_length=24, epochs=10, seed=0, verbose=0).fit(history)
    forecast = model.predict(num_samples=100, quantiles=(0.1, 0.5, 0.9))
    print(forecast.to_frame().head())
    ax = forecast.plot(history=96, variables=["OT"], actuals=truth)
    ax.set_title("ETTh1 OT: TimeGrad, 10 epochs on 60 days (tsdiff quick start)")
    out = Path(__file__).with_name("quickstart.png")
    ax.figure.set_size_inches(8, 3)
    ax.figure.tight_layout()
    ax.figure.savefig(out, dpi=80)
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
