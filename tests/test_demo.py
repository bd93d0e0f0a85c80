"""`make demo` end to end on a tiny budget: it trains, scores and writes its two files."""
from __future__ import annotations

import os

import pandas as pd
import pytest

from experiments import demo
from tsdiff.data import present_locally


@pytest.mark.skipif(not os.environ.get("TSDIFF_DATA") or not present_locally("exchange_rate_nips"),
                    reason="TSDIFF_DATA unset or exchange_rate_nips not present")
def test_demo_writes_quantiles_and_chart(tmp_path, capsys):
    demo.main(["--epochs", "1", "--batches", "2", "--samples", "4", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "CRPS-sum" in out
    crps_sum = float(out.split("CRPS-sum")[1].split()[0])
    assert 0 < crps_sum < 1
    table = pd.read_csv(tmp_path / "forecast_quantiles.csv", index_col=0, header=[0, 1])  # (variable, stat)
    assert table.shape == (30, 8 * 4) and table.notna().all().all()  # 30 business days, 8 series × mean + 3 quantiles
    lower, upper = table[("series_0", "0.1")], table[("series_0", "0.9")]
    assert (lower <= upper).all()
    assert (tmp_path / "forecast.png").stat().st_size > 1000
