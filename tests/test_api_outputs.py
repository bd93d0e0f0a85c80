"""Outputs: intervals beside the quantile layout (lo-90/hi-90), plot bands that follow the quantiles asked for
with to_frame's quantile rule, an actuals overlay, and visible single-cell imputations."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from gluonts.model.forecast import SampleForecast
from matplotlib.collections import LineCollection

import tsdiff
from tsdiff.api.forecast import Forecast
from tsdiff.api.imputation import Imputation
from tsdiff.api.panel import read_panel
from tsdiff.api.panel_forecast import PanelForecast
from tsdiff.data import from_pandas

from api_helpers import FAST, hourly_frame
from panel_helpers import NIXTLA, ragged_panel

# tiny models: their convergence warnings are expected
pytestmark = pytest.mark.filterwarnings("ignore::tsdiff.api.training.ConvergenceWarning")
H, S = 6, 50


def forecast_of(y, quantiles=(0.1, 0.5, 0.9), seed=0):
    """A Forecast of random samples after ``y`` (no model needed)."""
    _, layout = from_pandas(y)
    index = pd.date_range(y.index[-1] + pd.Timedelta(hours=1), periods=H, freq="h")
    D = 1 if isinstance(y, pd.Series) else y.shape[1]
    samples = np.random.default_rng(seed).normal(size=(S, H) if D == 1 and isinstance(y, pd.Series) else (S, H, D))
    history = y.to_frame() if isinstance(y, pd.Series) else y
    return Forecast(samples, index, layout, history=history, quantiles=quantiles)


def test_interval_columns_are_gluonts_quantiles_beside_the_quantile_layout():
    forecast = forecast_of(hourly_frame(n=48)["a"])
    frame = forecast.to_frame(coverage=(0.8, 0.9))
    assert list(frame.columns) == ["mean", "0.1", "0.5", "0.9", "lo-80", "hi-80", "lo-90", "hi-90"]
    np.testing.assert_array_equal(frame["lo-80"], frame["0.1"])
    oracle = SampleForecast(forecast.samples, start_date=pd.Period(forecast.index[0], "h"))
    np.testing.assert_array_equal(frame["lo-90"], oracle.quantile(0.05))
    np.testing.assert_array_equal(frame["hi-90"], oracle.quantile(0.95))
    assert list(forecast.interval(0.975).columns) == ["lo-97.5", "hi-97.5"]
    wide = forecast_of(hourly_frame(n=48)).interval((0.5, 0.9))
    assert list(wide.columns) == [(v, s) for v in "ab" for s in ("lo-50", "hi-50", "lo-90", "hi-90")]
    long = forecast_of(hourly_frame(n=48)).to_frame(coverage=0.9, long=True)
    assert list(long.columns) == ["variable", "timestamp", "mean", "0.1", "0.5", "0.9", "lo-90", "hi-90"]
    assert len(long) == 2 * H


def test_coverage_is_a_fraction():
    forecast = forecast_of(hourly_frame(n=48)["a"])
    with pytest.raises(ValueError, match="write 0.9 for a 90 % interval"):
        forecast.interval(90)
    with pytest.raises(ValueError, match="write 0.8 for a 80 % interval"):
        forecast.to_frame(coverage=(80, 90))
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        forecast.interval(1.0)


def test_predict_interval_of_a_model():
    y = hourly_frame(n=80)
    model = tsdiff.TimeGrad(prediction_length=H, **FAST).fit(y)
    intervals = model.predict_interval(coverage=(0.8, 0.9), num_samples=20, seed=4)
    expected = model.predict(num_samples=20, seed=4).to_frame(quantiles=(0.05, 0.1, 0.9, 0.95))
    np.testing.assert_array_equal(intervals[("a", "lo-90")], expected[("a", "0.05")])
    np.testing.assert_array_equal(intervals[("b", "hi-80")], expected[("b", "0.9")])


def band_values(ax) -> dict:
    """{legend label: y values of the band's outline} of the fill_between bands on ``ax``."""
    return {c.get_label(): c.get_paths()[0].vertices[:, 1] for c in ax.collections if c.get_label()[0] != "_"}


def test_plot_bands_follow_the_quantiles_asked_with_the_frames_rule():
    forecast = forecast_of(hourly_frame(n=48)["a"], quantiles=(0.05, 0.25, 0.5, 0.75, 0.95))
    ax = forecast.plot()
    bands = band_values(ax)
    assert set(bands) == {"90 % interval", "50 % interval"}
    frame = forecast.to_frame()
    for label, (lo, hi) in {"90 % interval": ("0.05", "0.95"), "50 % interval": ("0.25", "0.75")}.items():
        assert np.isin(frame[lo], bands[label]).all() and np.isin(frame[hi], bands[label]).all()
    median = next(line for line in ax.get_lines() if line.get_label() == "median")
    np.testing.assert_array_equal(median.get_ydata(), frame["0.5"])
    assert set(band_values(forecast_of(hourly_frame(n=48)["a"]).plot())) == {"80 % interval"}  # (0.1, 0.5, 0.9)
    assert set(band_values(forecast.plot(coverage=(0.6,)))) == {"60 % interval"}
    uneven = forecast_of(hourly_frame(n=48)["a"], quantiles=(0.1, 0.95)).plot()
    assert set(band_values(uneven)) == {"0.1–0.95 quantiles"}


def test_actuals_overlay_for_series_wide_and_panel():
    y = hourly_frame(n=60)
    history, future = y.iloc[:-H], y.iloc[-H:]
    ax = forecast_of(history["a"]).plot(actuals=future["a"])
    actual = next(line for line in ax.get_lines() if line.get_label() == "actual")
    np.testing.assert_array_equal(actual.get_ydata(), future["a"].to_numpy())
    axes = forecast_of(history).plot(actuals=future[["b"]])  # a variable without actuals is drawn without
    labels = [[line.get_label() for line in a.get_lines()] for a in axes]
    assert "actual" not in labels[0] and "actual" in labels[1]
    panel_y = ragged_panel()
    held = panel_y.groupby("unique_id").tail(H)
    panel = read_panel(panel_y.drop(held.index), None, NIXTLA)
    samples = np.random.default_rng(0).normal(size=(S, H, 3))
    axes = PanelForecast(samples, panel).plot(actuals=held)
    for a, item in zip(axes, ["s0", "s1", "s2"]):
        actual = next(line for line in a.get_lines() if line.get_label() == "actual")
        np.testing.assert_array_equal(actual.get_ydata(), held[held["unique_id"] == item]["y"].to_numpy())


def test_imputation_plot_marks_single_filled_cells():
    y = hourly_frame(n=30)["a"]
    missing = np.zeros(30, bool)
    missing[[5, 12, 13, 14]] = True  # one isolated cell and a run of three
    samples = np.tile(y.to_numpy(), (S, 1)) + np.random.default_rng(0).normal(size=(S, 30)) * missing
    imputation = Imputation(samples, ~missing, y.where(~missing))
    ax = imputation.plot()
    marker = next(line for line in ax.get_lines() if line.get_label().startswith("imputed"))
    assert len(marker.get_xdata()) == 4 and marker.get_marker() == "D"
    np.testing.assert_array_equal(marker.get_ydata(), imputation.median.to_numpy()[missing])
    (bars,) = [c for c in ax.collections if isinstance(c, LineCollection)]  # one bar per imputed cell
    lows, highs = np.array([segment[:, 1] for segment in bars.get_segments()]).T
    np.testing.assert_array_equal(lows, imputation.quantile(0.05).to_numpy()[missing])
    np.testing.assert_array_equal(highs, imputation.quantile(0.95).to_numpy()[missing])
