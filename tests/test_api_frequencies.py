"""Every common frequency fits and forecasts, with both models and through the CLI; business-day data does not
flood the console with pandas deprecation warnings (their cause is gone, not only filtered)."""
import warnings

import numpy as np
import pandas as pd
import pytest

import tsdiff
import tsdiff.quiet
from tsdiff import cli

from api_helpers import CSDI_FAST, FAST

FREQS = ["ME", "MS", "QE", "QS", "YE", "YS", "W", "W-MON", "B", "D", "h"]
H = 3


def series(freq, n=40):
    return pd.Series(10 + np.sin(np.arange(n)), index=pd.date_range("2001-01-01", periods=n, freq=freq), name="y")


@pytest.mark.parametrize("cls,fast", [(tsdiff.TimeGrad, FAST), (tsdiff.CSDI, CSDI_FAST)], ids=["TimeGrad", "CSDI"])
@pytest.mark.parametrize("freq", FREQS)
def test_fit_and_forecast_every_frequency(cls, fast, freq):
    y = series(freq)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tsdiff.ConvergenceWarning)  # a 2-batch model: its spread is not the point
        forecast = cls(prediction_length=H, **fast).fit(y).predict(num_samples=4)
    expected = pd.date_range(y.index[-1], periods=H + 1, freq=freq)[1:]
    assert list(forecast.index) == list(expected)
    assert np.isfinite(forecast.samples).all()


def test_business_days_emit_no_frequency_deprecations(monkeypatch):
    """GluonTS used to build a deprecated Period[B] for every training window (~17 pandas FutureWarnings per
    batch). With tsdiff's own filter switched off, fit and predict emit none."""
    monkeypatch.setattr(tsdiff.quiet, "FREQ_DEPRECATIONS", "(?!)")  # the filter matches nothing
    y = series("B", n=120)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tsdiff.TimeGrad(prediction_length=H, **{**FAST, "num_batches_per_epoch": 5}).fit(y).predict(num_samples=3)
    deprecations = [str(w.message) for w in caught if issubclass(w.category, FutureWarning)]
    assert deprecations == []


def test_business_day_calendar_features_are_gluonts_own():
    """The features computed once for business days equal those GluonTS computes on a Period[B] index."""
    from gluonts.time_feature import time_features_from_frequency_str

    y = series("B", n=30)
    model = tsdiff.TimeGrad(prediction_length=H, **FAST)
    grid = model._grid(y, dict(id_col="item_id", time_col="timestamp", target_col="target"))
    entry = model._entry(grid, None, future=H)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        index = pd.period_range(y.index[0], periods=len(y) + H, freq="B")
        expected = np.vstack([f(index) for f in time_features_from_frequency_str("B")])
    np.testing.assert_allclose(entry["feat_dynamic_real"], expected, rtol=1e-6)
    assert entry["start"].freqstr == "D"  # what GluonTS sees: plain steps


@pytest.mark.parametrize("freq", ["ME", "QE", "YE", "B"])
def test_cli_forecasts_monthly_quarterly_yearly_business(freq, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    y = series(freq).rename_axis("date")
    y.to_csv(tmp_path / "in.csv")
    code = cli.main(["forecast", str(tmp_path / "in.csv"), "--horizon", str(H), "--epochs", "1", "--batches", "2",
                     "--samples", "4", "--output", str(tmp_path / "fc.csv"), "--quiet"])
    assert code == 0, capsys.readouterr().err
    written = pd.read_csv(tmp_path / "fc.csv", header=[0, 1], index_col=0, parse_dates=True)
    assert list(written.index) == list(pd.date_range(y.index[-1], periods=H + 1, freq=freq)[1:])
