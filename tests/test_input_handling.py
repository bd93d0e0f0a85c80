"""Input handling of the pandas API (issue 17): new data on another time axis, frames whose layout could be
misread, duplicate column names, large re-indexed gaps, and malformed inputs a new user tries."""
import warnings

import numpy as np
import pandas as pd
import pytest

import tsdiff
from tsdiff.data import from_pandas
from tsdiff.data.pandas import LargeGapWarning

from api_helpers import CSDI_FAST, FAST, hourly_frame, long_frame

H = 6


@pytest.fixture(scope="module")
def fitted():
    return tsdiff.TimeGrad(prediction_length=H, **FAST).fit(hourly_frame())


@pytest.fixture(scope="module")
def fitted_csdi():
    return tsdiff.CSDI(prediction_length=H, **CSDI_FAST).fit(hourly_frame())


def _unchanged(y):
    return y.copy(deep=True)


# ------------------------------------------------------------------------------------------ the fitted time axis


def _quarter_hourly(n=200):
    return hourly_frame(n).set_axis(pd.date_range("2024-03-01", periods=n, freq="15min"))


def test_predict_refuses_another_frequency(fitted):
    with pytest.raises(ValueError, match=r"frequency '15min'.*fitted on 'h'"):
        fitted.predict(y=_quarter_hourly(), num_samples=2)
    with pytest.raises(ValueError, match=r"frequency '2h'.*fitted on 'h'"):
        fitted.predict(y=hourly_frame(200).iloc[::2], num_samples=2)


def test_impute_refuses_another_frequency(fitted_csdi):
    with pytest.raises(ValueError, match=r"frequency '15min'.*fitted on 'h'"):
        fitted_csdi.impute(_quarter_hourly(), num_samples=2)


def test_same_frequency_spelled_differently_is_accepted(fitted):
    y = hourly_frame(60).set_axis(pd.date_range("2024-02-01", periods=60, freq="60min"))
    forecast = fitted.predict(y=y, num_samples=2)
    assert forecast.index[0] == pd.Timestamp("2024-02-03 12:00")
    assert (np.diff(forecast.index) == np.timedelta64(1, "h")).all()


def test_predict_refuses_another_time_zone(fitted):
    with pytest.raises(ValueError, match="time zone UTC.*fitted on None"):
        fitted.predict(y=hourly_frame().tz_localize("UTC"), num_samples=2)
    berlin = tsdiff.TimeGrad(prediction_length=H, **FAST).fit(hourly_frame().tz_localize("Europe/Berlin"))
    with pytest.raises(ValueError, match="time zone UTC.*fitted on Europe/Berlin"):
        berlin.predict(y=hourly_frame().tz_localize("UTC"), num_samples=2)


def test_month_start_data_fits_and_forecasts_month_starts():
    y = pd.DataFrame({"a": np.sin(np.arange(48.0))}, index=pd.date_range("2015-01-01", periods=48, freq="MS"))
    forecast = tsdiff.TimeGrad(prediction_length=H, **FAST).fit(y).predict(num_samples=2)
    assert list(forecast.index) == list(pd.date_range("2019-01-01", periods=H, freq="MS"))


# ------------------------------------------------------------------------------------------- layout detection


def test_wide_frame_with_long_format_column_names_stays_wide():
    wide = hourly_frame(columns=("timestamp", "target"))
    before = _unchanged(wide)
    entries, layout = from_pandas(wide)
    assert layout.kind == "wide" and layout.columns == ("timestamp", "target")
    assert entries[0]["target"].shape == (2, 120)
    forecast = tsdiff.TimeGrad(prediction_length=H, **FAST).fit(wide).predict(num_samples=2)
    assert forecast.samples.shape == (2, H, 2)
    pd.testing.assert_frame_equal(wide, before)


LAYOUT_CASES = {
    "time index and all long columns": (long_frame().set_index(pd.date_range("2024", periods=240, freq="h")),
                                        "ambiguous"),
    "long frame with an extra column": (long_frame().assign(temp=1.0), r"column\(s\) \['temp'\] besides"),
    "long frame without an id column": (long_frame().drop(columns="item_id"), r"lacks column\(s\) \['item_id'\]"),
    "duplicate wide columns": (hourly_frame().set_axis(["a", "a"], axis=1), r"duplicate column names \['a'\]"),
    "duplicate long columns": (pd.concat([long_frame(), long_frame()["target"]], axis=1), "duplicate column names"),
}


@pytest.mark.parametrize("name", list(LAYOUT_CASES))
def test_layout_refusals(name):
    y, pattern = LAYOUT_CASES[name]
    before = _unchanged(y)
    with pytest.raises(ValueError, match=pattern):
        from_pandas(y)
    pd.testing.assert_frame_equal(y, before)


@pytest.mark.parametrize("model", ["timegrad", "csdi"])
def test_duplicate_column_names_are_a_value_error_for_both_models(model):
    y = hourly_frame().set_axis(["a", "a"], axis=1)
    cls, kwargs = (tsdiff.TimeGrad, FAST) if model == "timegrad" else (tsdiff.CSDI, CSDI_FAST)
    with pytest.raises(ValueError, match=r"duplicate column names \['a'\]"):
        cls(prediction_length=H, **kwargs).fit(y)


# ----------------------------------------------------------------------------------------------- large gaps


def _gap_warnings(y, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from_pandas(y, **kwargs)
    return [str(w.message) for w in caught if issubclass(w.category, LargeGapWarning)]


def test_a_year_gap_in_hourly_data_warns_naming_the_gap():
    idx = pd.date_range("2020-01-01", periods=3 * 8760, freq="h")
    y = pd.Series(np.sin(np.arange(len(idx)) / 24.0), index=idx, name="load").drop(idx[8760:2 * 8760])
    (message,) = _gap_warnings(y)
    assert "8760 NaN rows" in message and "(8760 rows)" in message
    assert f"from {idx[8760]} to {idx[2 * 8760 - 1]}" in message and "series 'load'" in message


def test_gap_thresholds():
    idx = pd.date_range("2020-01-01", periods=20_000, freq="h")
    y = pd.Series(1.0, index=idx)
    assert _gap_warnings(y.drop(idx[100:105])) == []              # 5 rows: a few dropped readings
    assert _gap_warnings(y.drop(idx[100:1100])) == []             # 1,000 rows = 5 %: under both thresholds
    assert len(_gap_warnings(y.drop(idx[100:1102]))) == 1        # one gap of 1,002 rows > 1,000
    many_small = y.drop(idx[np.arange(0, 20_000, 5)[1:]])        # every 5th hour missing: 20 % of the grid
    (message,) = _gap_warnings(many_small)
    assert "3999 gap(s)" in message


def test_long_frame_gaps_give_one_warning_naming_the_worst_item():
    y = long_frame(n=120, ids=("x", "y", "z"))
    y = y.drop(y.index[(y["item_id"] == "y") & y.index.isin(range(130, 200))])  # 70 of item y's 120 hours
    y = y.drop(y.index[(y["item_id"] == "z") & y.index.isin(range(250, 270))])  # 20 of item z's
    (message,) = _gap_warnings(y)
    assert message.startswith("item 'y' (one of 2 items with large gaps)") and "70 NaN rows" in message


# ------------------------------------------------------------------------------ malformed inputs, issue 17 run


MALFORMED = {
    "complex values": (hourly_frame().assign(a=lambda d: d["a"] + 1j), TypeError, r"real numbers.*'a' \(complex"),
    "numbers as strings": (hourly_frame().astype(str), TypeError, "pd.to_numeric"),
    "categorical numbers": (hourly_frame().assign(a=lambda d: d["a"].round().astype("category")), TypeError, "'a'"),
    "MultiIndex rows": (hourly_frame().set_index(pd.MultiIndex.from_arrays(
        [["s"] * 120, pd.date_range("2024", periods=120, freq="h")])), TypeError, "not time-like"),
    "YYYYMMDD integers as index": (pd.DataFrame({"a": np.arange(60.0)}, index=pd.date_range(
        "2024", periods=60, freq="D").strftime("%Y%m%d").astype(int)), TypeError, "not time-like"),
    "single row": (hourly_frame().iloc[:1], ValueError, "context_length"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_inputs(name):
    y, exc, pattern = MALFORMED[name]
    before = _unchanged(y)
    with pytest.raises(exc, match=pattern):
        tsdiff.TimeGrad(prediction_length=H, **FAST).fit(y)
    pd.testing.assert_frame_equal(y, before)


def test_constant_and_one_value_series_give_finite_forecasts():
    for y in (hourly_frame().assign(a=5.0, b=5.0), hourly_frame().assign(a=0.0),
              hourly_frame().assign(a=[1.0] + [np.nan] * 119)):
        samples = tsdiff.TimeGrad(prediction_length=H, **FAST).fit(y).predict(num_samples=2).samples
        assert np.isfinite(samples).all()


# ------------------------------------------------------------------------------------------- dates from text


def test_string_index_with_ambiguous_day_month_is_refused():
    months = pd.date_range("2024-01-01", periods=12, freq="MS")
    y = pd.Series(np.arange(12.0), index=months.strftime("%d/%m/%Y"))  # read month-first this would be daily
    with pytest.raises(ValueError, match="ambiguous .*'01/02/2024' reads as 2024-01-02 month-first"):
        from_pandas(y)
    days = pd.date_range("2024-01-01", periods=40, freq="D")
    entries, layout = from_pandas(pd.Series(np.arange(40.0), index=days.strftime("%d.%m.%Y")))  # 13.01. decides
    assert layout.freq == "D" and entries[0]["start"] == pd.Period("2024-01-01", freq="D")


def test_mixed_utc_offsets_are_refused_with_the_fix():
    berlin = pd.date_range("2024-03-29", periods=72, freq="h", tz="Europe/Berlin")  # crosses the DST change
    with pytest.raises(TypeError, match=r"mix UTC offsets.*utc=True"):
        from_pandas(pd.Series(np.arange(72.0), index=berlin.astype(str)))


def test_covariates_in_another_time_zone_or_with_duplicate_names():
    y = hourly_frame()
    cov = pd.DataFrame({"h": np.arange(126.0)}, index=pd.date_range("2024-01-01", periods=126, freq="h"))
    with pytest.raises(ValueError, match="time zone UTC, the data in None"):
        tsdiff.TimeGrad(prediction_length=H, **FAST).fit(y, covariates=cov.tz_localize("UTC"))
    with pytest.raises(ValueError, match=r"duplicate column names \['h'\]"):
        tsdiff.TimeGrad(prediction_length=H, **FAST).fit(y, covariates=pd.concat([cov, cov], axis=1))


def test_wide_frame_with_a_text_date_index_and_a_target_column_stays_wide():
    wide = hourly_frame(columns=("load", "target"))
    wide.index = wide.index.astype(str)  # as read by pd.read_csv(index_col=0) without parse_dates
    _, layout = from_pandas(wide)
    assert layout.kind == "wide" and layout.columns == ("load", "target")
