"""pandas <-> GluonTS conversion: round trips, gaps, and every rejected input."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tsdiff.data.pandas import PandasLayout, from_pandas, to_pandas


def _series(n=10, freq="h", name="load"):
    idx = pd.date_range("2021-03-01", periods=n, freq=freq, name="time")
    return pd.Series(np.linspace(0.0, 1.0, n), index=idx, name=name)


def _wide(n=8):
    idx = pd.date_range("2021-01-01", periods=n, freq="D", name="day")
    return pd.DataFrame({"a": np.arange(n, dtype=float), "b": np.arange(n) * 2, "c": np.linspace(-1, 1, n)}, index=idx)


def _long(id_col="item_id", time_col="timestamp", target_col="target"):
    return pd.DataFrame({
        id_col: ["A"] * 4 + ["B"] * 3,
        time_col: list(pd.date_range("2020-01-01", periods=4, freq="MS"))
        + list(pd.date_range("2020-02-01", periods=3, freq="MS")),
        target_col: [1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0],
    })  # fmt: skip


def _unchanged(fn, obj, *args, **kwargs):
    """Call ``fn(obj)`` and check that ``obj`` was not mutated."""
    before = obj.copy(deep=True)
    out = fn(obj, *args, **kwargs)
    if isinstance(obj, pd.DataFrame):
        pd.testing.assert_frame_equal(obj, before)
    else:
        pd.testing.assert_series_equal(obj, before)
    return out


# ----------------------------------------------------------------------------------------------- round trips


def test_series_round_trip():
    s = _series()
    entries, layout = _unchanged(from_pandas, s)
    assert isinstance(layout, PandasLayout) and layout.kind == "series" and layout.freq == "h"
    (entry,) = entries
    assert entry["start"] == pd.Period("2021-03-01 00:00", freq="h")
    assert entry["target"].dtype == np.float32 and entry["target"].shape == (10,)
    assert entry["item_id"] == "load"
    pd.testing.assert_series_equal(to_pandas(entries, layout), s)
    pd.testing.assert_series_equal(to_pandas([entry["target"]], layout), s)  # arrays work as well as entries


def test_series_without_freq_attribute_and_int_dtype():
    s = pd.Series([3, 1, 4, 1, 5], index=pd.DatetimeIndex(["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04",
                                                          "2020-01-05"]))  # fmt: skip
    assert s.index.freq is None
    entries, layout = from_pandas(s)
    assert layout.freq == "D" and entries[0]["item_id"] == "0"
    pd.testing.assert_series_equal(to_pandas(entries, layout), s)


def test_period_index_round_trip():
    s = pd.Series([1.5, 2.5, 3.5], index=pd.period_range("2020-01", periods=3, freq="M"), name="m")
    entries, layout = from_pandas(s)
    assert entries[0]["start"] == pd.Period("2020-01", freq="M")
    pd.testing.assert_series_equal(to_pandas(entries, layout), s)


def test_month_start_frequency_gets_month_period():
    s = pd.Series([1.0, 2.0, 3.0], index=pd.date_range("2020-01-01", periods=3, freq="MS"))
    entries, layout = from_pandas(s)
    assert entries[0]["start"] == pd.Period("2020-01", freq="M") and layout.freq == "MS"
    pd.testing.assert_series_equal(to_pandas(entries, layout), s)


def test_timezone_and_string_index():
    s = _series().tz_localize("Europe/Berlin")
    entries, layout = from_pandas(s)
    assert entries[0]["start"].freqstr == "h"
    pd.testing.assert_series_equal(to_pandas(entries, layout), s)
    strings = pd.Series([1.0, 2.0, 3.0], index=["2020-01-01", "2020-01-02", "2020-01-03"])
    entries, layout = from_pandas(strings)
    back = to_pandas(entries, layout)
    assert isinstance(back.index, pd.DatetimeIndex) and back.tolist() == [1.0, 2.0, 3.0]


def test_wide_round_trip():
    df = _wide()
    entries, layout = _unchanged(from_pandas, df)
    assert layout.kind == "wide" and layout.columns == ("a", "b", "c") and layout.index_name == "day"
    assert entries[0]["target"].shape == (3, 8) and entries[0]["target"].dtype == np.float32
    np.testing.assert_allclose(entries[0]["target"][1], df["b"].to_numpy())
    pd.testing.assert_frame_equal(to_pandas(entries, layout), df)


def test_long_round_trip_default_and_nixtla_names():
    df = _long()
    entries, layout = _unchanged(from_pandas, df)
    assert layout.kind == "long" and layout.ids == ("A", "B") and layout.freq == "MS"
    assert [e["item_id"] for e in entries] == ["A", "B"]
    assert entries[1]["start"] == pd.Period("2020-02", freq="M")
    np.testing.assert_array_equal(entries[1]["target"], np.array([10, 20, 30], dtype=np.float32))
    pd.testing.assert_frame_equal(to_pandas(entries, layout), df)

    nixtla = _long("unique_id", "ds", "y")
    entries, layout = _unchanged(from_pandas, nixtla, id_col="unique_id", time_col="ds", target_col="y")
    pd.testing.assert_frame_equal(to_pandas(entries, layout), nixtla)


def test_gaps_become_nan():
    s = _series(6).drop(index=_series(6).index[[2, 3]])  # no freq attribute, infer_freq fails
    entries, layout = from_pandas(s)
    target = entries[0]["target"]
    assert target.shape == (6,) and np.isnan(target[[2, 3]]).all() and not np.isnan(target[[0, 1, 4, 5]]).any()
    expected = _series(6)
    expected.iloc[[2, 3]] = np.nan
    pd.testing.assert_series_equal(to_pandas(entries, layout), expected, check_freq=False)

    df = _wide().drop(index=_wide().index[[1, 5]])
    entries, _ = from_pandas(df)
    assert entries[0]["target"].shape == (3, 8) and np.isnan(entries[0]["target"][:, [1, 5]]).all()

    long = _long().drop(index=[1])  # item A misses February
    entries, layout = from_pandas(long)
    np.testing.assert_array_equal(entries[0]["target"], np.array([1, np.nan, 3, 4], dtype=np.float32))
    assert len(to_pandas(entries, layout)) == len(_long())


def test_explicit_freq_and_extended_targets():
    s = pd.Series([1.0, 2.0], index=pd.DatetimeIndex(["2020-01-01", "2020-01-03"]))
    entries, layout = from_pandas(s, freq="D")
    assert entries[0]["target"].shape == (3,)
    longer = to_pandas([np.arange(5.0)], layout)  # e.g. with a forecast appended: the index continues
    assert longer.index[-1] == pd.Timestamp("2020-01-05")


# ----------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("kind", ["series", "wide", "long"])
def test_unsorted_timestamps(kind):
    if kind == "series":
        obj = _series().iloc[[0, 2, 1, 3]]
    elif kind == "wide":
        obj = _wide().iloc[[1, 0, 2]]
    else:
        obj = _long().iloc[[0, 2, 1, 3, 4, 5, 6]]
    with pytest.raises(ValueError, match="not sorted"):
        _unchanged(from_pandas, obj)


def test_duplicate_timestamps():
    s = _series().iloc[[0, 1, 1, 2]]
    with pytest.raises(ValueError, match="duplicate timestamps"):
        from_pandas(s)
    long = _long()
    long.loc[5, "timestamp"] = long.loc[4, "timestamp"]
    with pytest.raises(ValueError, match="duplicate timestamps in item 'B'"):
        _unchanged(from_pandas, long)
    # the same timestamp in different items is fine
    from_pandas(_long())


def test_non_numeric_columns_are_named():
    df = _wide().assign(label="x", flag=True)
    with pytest.raises(TypeError, match=r"'label'.*'flag'"):
        _unchanged(from_pandas, df)
    with pytest.raises(TypeError, match="'target'"):
        from_pandas(_long().assign(target="1.0"))
    with pytest.raises(TypeError, match="non-numeric"):
        from_pandas(_series().astype(str))


def test_index_not_time_like():
    with pytest.raises(TypeError, match="not time-like"):
        from_pandas(pd.Series([1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match="cannot be converted"):
        from_pandas(pd.Series([1.0, 2.0], index=["apple", "pear"]))
    with pytest.raises(TypeError, match=r"not time-like.*columns \['a'\]"):
        from_pandas(pd.DataFrame({"a": [1.0, 2.0]}))


def test_frequency_errors():
    irregular = pd.Series([1.0, 2.0, 3.0, 4.0],
                          index=pd.DatetimeIndex(["2020-01-01 00:00", "2020-01-01 01:00", "2020-01-01 01:30",
                                                  "2020-01-01 03:00"]))  # fmt: skip
    with pytest.raises(ValueError, match="cannot infer a regular frequency"):
        from_pandas(irregular)
    with pytest.raises(ValueError, match="not on one regular h grid"):
        from_pandas(irregular, freq="h")
    with pytest.raises(ValueError, match="single timestamp"):
        from_pandas(pd.Series([1.0], index=pd.DatetimeIndex(["2020-01-01"])))
    assert from_pandas(_series(1))[1].freq == "h"  # a single point is fine when the index carries its freq
    with pytest.raises(ValueError, match="invalid freq"):
        from_pandas(_series(), freq="not-a-freq")
    mixed = pd.concat([_long(), pd.DataFrame({"item_id": ["C"] * 3, "target": [1.0, 2.0, 3.0],
                                              "timestamp": pd.date_range("2020-01-01", periods=3, freq="D")})],
                      ignore_index=True)  # fmt: skip
    with pytest.raises(ValueError, match="mixed frequencies"):
        from_pandas(mixed)


def test_missing_long_columns_are_listed():
    df = _long().drop(columns="timestamp")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['timestamp'\].*\['item_id', 'target'\]"):
        _unchanged(from_pandas, df)
    nixtla = _long("unique_id", "ds", "y")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['target'\]"):
        from_pandas(nixtla, id_col="unique_id", time_col="ds")  # target_col left at its default


def test_empty_all_nan_and_inf():
    with pytest.raises(ValueError, match="empty"):
        from_pandas(pd.Series([], index=pd.DatetimeIndex([]), dtype=float))
    with pytest.raises(ValueError, match="empty"):
        from_pandas(pd.DataFrame(index=pd.date_range("2020", periods=3, freq="D")))
    with pytest.raises(ValueError, match="empty"):
        from_pandas(_long().iloc[:0])
    with pytest.raises(ValueError, match="all values are NaN"):
        from_pandas(_series() * np.nan)
    with pytest.raises(ValueError, match=r"all values are NaN for \['c'\]"):
        from_pandas(_wide().assign(c=np.nan))
    long = _long()
    long.loc[long["item_id"] == "B", "target"] = np.nan
    with pytest.raises(ValueError, match=r"all values are NaN for item\(s\) \['B'\]"):
        from_pandas(long)
    df = _wide()
    df.iloc[2, 2] = np.inf
    with pytest.raises(ValueError, match=r"inf values in column\(s\) \['c'\]"):
        _unchanged(from_pandas, df)
    with pytest.raises(TypeError, match="Series or DataFrame"):
        from_pandas(np.arange(3.0))


def test_nullable_dtypes():
    s = pd.Series(pd.array([1, None, 3], dtype="Int64"), index=pd.date_range("2020", periods=3, freq="D"))
    entries, layout = _unchanged(from_pandas, s)
    assert np.isnan(entries[0]["target"][1])
    pd.testing.assert_series_equal(to_pandas(entries, layout), s)


def test_entries_work_with_gluonts():
    from gluonts.dataset.common import ListDataset
    from gluonts.dataset.util import to_pandas as gluonts_to_pandas

    s = _series(12)
    entries, layout = from_pandas(s)
    back = gluonts_to_pandas(entries[0])  # GluonTS' own reader of an entry: PeriodIndex from start + len
    np.testing.assert_allclose(back.to_numpy(), s.to_numpy(), rtol=1e-6)
    assert back.index[0].to_timestamp() == s.index[0]
    wide_entries, _ = from_pandas(_wide())
    ds = ListDataset(wide_entries, freq="D", one_dim_target=False)
    assert next(iter(ds))["target"].shape == (3, 8)
