"""The `tsdiff` command, run as a subprocess on small CSV files."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from api_helpers import hourly_frame, long_frame


ROOT = Path(__file__).resolve().parents[1]


def run(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "tsdiff.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    frame = hourly_frame(n=96)
    frame.index.name = "time"
    frame.to_csv(folder / "wide.csv")
    gappy = frame.copy()
    gappy.iloc[10:14, 0] = np.nan
    gappy.to_csv(folder / "gappy.csv")
    long_frame(n=96).to_csv(folder / "long.csv", index=False)
    (folder / "bad.csv").write_text("time,a\n2024-01-01,1\n2024-01-01,2\n2024-01-03,x\n")
    return folder


def test_forecast_writes_csv_plot_and_model(csv):
    out = run("forecast", csv / "wide.csv", "--horizon", 6, "--epochs", 1, "--batches", 2, "--samples", 20,
              "--quantiles", "0.05,0.5,0.95", "--output", csv / "fc.csv", "--plot", csv / "fc.png",
              "--save", csv / "model.tsd", "--quiet")
    assert out.returncode == 0, out.stderr
    # --quiet: no bars or notes; only warnings (a 2-batch model may well get a ConvergenceWarning), one line each
    assert all(line.startswith("tsdiff forecast: warning: ") for line in out.stderr.splitlines()), out.stderr
    frame = pd.read_csv(csv / "fc.csv", header=[0, 1], index_col=0)
    assert len(frame) == 6 and ("a", "0.95") in frame.columns
    assert (csv / "fc.png").stat().st_size > 1000
    again = run("forecast", csv / "wide.csv", "--horizon", 6, "--load", csv / "model.tsd", "--samples", 20,
                "--quantiles", "0.05,0.5,0.95", "--output", csv / "fc2.csv", "--quiet")
    assert again.returncode == 0, again.stderr
    assert (csv / "fc.csv").read_text() == (csv / "fc2.csv").read_text()  # same seed → same forecast


def test_long_format(csv):
    out = run("forecast", csv / "long.csv", "--horizon", 4, "--epochs", 1, "--batches", 2, "--samples", 10,
              "--time-col", "timestamp", "--id-col", "item_id", "--output", csv / "long_fc.csv", "--quiet")
    assert out.returncode == 0, out.stderr
    frame = pd.read_csv(csv / "long_fc.csv")
    assert list(frame.columns[:3]) == ["item_id", "timestamp", "mean"] and len(frame) == 8


def test_impute(csv):
    out = run("impute", csv / "gappy.csv", "--epochs", 1, "--batches", 2, "--samples", 10,
              "--output", csv / "filled.csv", "--plot", csv / "filled.png", "--quiet")
    assert out.returncode == 0, out.stderr
    filled = pd.read_csv(csv / "filled.csv", index_col=0)
    original = pd.read_csv(csv / "gappy.csv", index_col=0)
    assert filled.shape == original.shape and filled.notna().all().all()
    observed = original.notna().to_numpy()
    np.testing.assert_allclose(filled.to_numpy()[observed], original.to_numpy()[observed])


def test_datasets_and_help():
    out = run("datasets")
    assert out.returncode == 0 and "exchange_rate_nips" in out.stdout and "physionet_10" in out.stdout
    for cmd in ("forecast", "impute"):
        helped = run(cmd, "--help")
        assert helped.returncode == 0 and "--output" in helped.stdout


@pytest.mark.parametrize("args, message", [
    (["forecast", "missing.csv", "--horizon", 3, "--output", "x.csv"], "not found"),
    (["forecast", "{bad}", "--horizon", 3, "--output", "x.csv", "--epochs", 1], "duplicate|numeric|frequency"),
    (["forecast", "{wide}", "--horizon", 0, "--output", "x.csv"], "positive integer"),
    (["forecast", "{wide}", "--horizon", 3, "--output", "x.csv", "--quantiles", "0.5,2"], "between 0 and 1"),
    (["forecast", "{wide}", "--horizon", 3, "--output", "x.csv", "--time-col", "when"], "time column"),
    (["forecast", "{wide}", "--horizon", 3, "--output", "x.csv", "--load", "{bad}"], "not a tsdiff model"),
])
def test_bad_input_one_line_error(csv, args, message):
    args = [str(a).format(bad=csv / "bad.csv", wide=csv / "wide.csv") for a in args]
    out = run(*args, cwd=csv)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) >= 1 and "Traceback" not in out.stderr
    assert __import__("re").search(message, lines[-1]), out.stderr
