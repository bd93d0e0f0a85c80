"""Malformed input to the pandas API: every case is refused with a ValueError/TypeError naming the problem."""
import zipfile

import numpy as np
import pandas as pd
import pytest

import tsdiff
from tsdiff.api.model import NotFittedError

from api_helpers import FAST, hourly_frame, long_frame

H = 6


@pytest.fixture(scope="module")
def fitted():
    return tsdiff.TimeGrad(prediction_length=H, **FAST).fit(hourly_frame())


@pytest.fixture(scope="module")
def fitted_cov():
    y = hourly_frame()
    cov = pd.DataFrame({"hour": y.index.hour.astype(float)}, index=y.index)
    return tsdiff.TimeGrad(prediction_length=H, **FAST).fit(y, covariates=cov), y


def series(values, start="2024-01-01", freq="h", index=None):
    values = np.asarray(values, dtype=float) if not isinstance(values, list) else values
    if index is None:
        index = pd.date_range(start, periods=len(values), freq=freq)
    return pd.Series(values, index=index, name="y")


GOOD = hourly_frame()["a"]
IRREGULAR = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 01:07", "2024-01-01 03:00"] +
                           [f"2024-01-02 {h:02d}:13" for h in range(20)])


def _with(values_fn):
    s = GOOD.copy()
    values_fn(s)
    return s


FIT_CASES = {
    "none": (None, TypeError, "required"),
    "list": ([1.0, 2.0, 3.0], TypeError, "Series|DataFrame"),
    "ndarray": (np.arange(50.0), TypeError, "Series|DataFrame"),
    "empty series": (pd.Series([], dtype=float, index=pd.DatetimeIndex([])), ValueError, "empty"),
    "empty frame": (pd.DataFrame(index=pd.DatetimeIndex([])), ValueError, "empty|no columns"),
    "all nan": (series([np.nan] * 60), ValueError, "NaN|no observed"),
    "inf": (_with(lambda s: s.__setitem__(s.index[5], np.inf)), ValueError, "inf"),
    "-inf": (_with(lambda s: s.__setitem__(s.index[7], -np.inf)), ValueError, "inf"),
    "nan column": (hourly_frame().assign(c=np.nan), ValueError, "'c'"),
    "range index": (pd.Series(np.arange(60.0)), TypeError, "time"),
    "string index": (pd.Series(np.arange(3.0), index=["a", "b", "c"]), TypeError, "time"),
    "string values": (series(["a"] * 60), TypeError, "numeric"),
    "string column": (hourly_frame().assign(label="x"), TypeError, "label"),
    "bool column": (hourly_frame().assign(flag=True), TypeError, "flag"),
    "duplicate timestamps": (series(np.arange(60.0), index=pd.DatetimeIndex(
        list(pd.date_range("2024-01-01", periods=59, freq="h")) + [pd.Timestamp("2024-01-01 05:00")]).sort_values()),
        ValueError, "duplicate"),
    "unsorted timestamps": (GOOD.iloc[::-1], ValueError, "sorted|order"),
    "irregular timestamps": (series(np.arange(24.0), index=IRREGULAR), ValueError, "frequency"),
    "too short": (GOOD.iloc[:8], ValueError, "context_length"),
    "long: wrong target column": (long_frame().rename(columns={"target": "value"}), ValueError, "target"),
    "long: wrong id column": (long_frame().rename(columns={"item_id": "series"}), ValueError, "item_id"),
    "long: duplicate rows": (pd.concat([long_frame(), long_frame().iloc[:3]]), ValueError, "duplicate"),
    "long: text target": (long_frame().assign(target="x"), TypeError, "numeric"),
    "huge values": (GOOD * 1e31, ValueError, "rescale"),
}


@pytest.mark.parametrize("name", list(FIT_CASES))
def test_fit_rejects(name):
    y, exc, pattern = FIT_CASES[name]
    before = y.copy() if hasattr(y, "copy") else None
    with pytest.raises(exc, match=f"(?i){pattern}"):
        tsdiff.TimeGrad(prediction_length=H, **FAST).fit(y)
    if isinstance(y, pd.DataFrame):
        pd.testing.assert_frame_equal(y, before)
    elif isinstance(y, pd.Series):
        pd.testing.assert_series_equal(y, before)


CONSTRUCTOR_CASES = {
    "horizon 0": (dict(prediction_length=0), ValueError, "prediction_length"),
    "horizon negative": (dict(prediction_length=-3), ValueError, "prediction_length"),
    "horizon float": (dict(prediction_length=2.5), TypeError, "prediction_length"),
    "horizon string": (dict(prediction_length="12"), TypeError, "prediction_length"),
    "horizon bool": (dict(prediction_length=True), TypeError, "prediction_length"),
    "epochs 0": (dict(prediction_length=H, epochs=0), ValueError, "epochs"),
    "context 0": (dict(prediction_length=H, context_length=0), ValueError, "context_length"),
    "lr 0": (dict(prediction_length=H, lr=0.0), ValueError, "lr"),
    "lr 5": (dict(prediction_length=H, lr=5.0), ValueError, "lr"),
    "sampler": (dict(prediction_length=H, sampler="euler"), ValueError, "sampler"),
    "device": (dict(prediction_length=H, device="tpu"), ValueError, "device"),
    "seed": (dict(prediction_length=H, seed="abc"), TypeError, "seed"),
    "freq type": (dict(prediction_length=H, freq=5), TypeError, "freq"),
    # model arguments are checked by building the network once, at construction rather than in fit()
    "hidden_size 0": (dict(prediction_length=H, hidden_size=0), ValueError, "hidden_size must be a positive"),
    "scaling": (dict(prediction_length=H, scaling="max"), ValueError, "scaling must be one of"),
    "dropout 1": (dict(prediction_length=H, dropout_rate=1.0), ValueError, "dropout_rate"),
    "unknown model argument": (dict(prediction_length=H, hidden_sise=8), TypeError, "hidden_sise"),
    "ddim steps > T": (dict(prediction_length=H, sampler="ddim", sampling_steps=500), ValueError, r"\[1, 100\]"),
}


@pytest.mark.parametrize("name", list(CONSTRUCTOR_CASES))
def test_constructor_rejects(name):
    kwargs, exc, pattern = CONSTRUCTOR_CASES[name]
    with pytest.raises(exc, match=pattern):
        tsdiff.TimeGrad(**kwargs)


def test_unknown_freq_string():
    with pytest.raises(ValueError, match="(?i)freq"):
        tsdiff.TimeGrad(prediction_length=H, freq="fortnightly", **FAST).fit(GOOD)


PREDICT_CASES = {
    "samples 0": (dict(num_samples=0), ValueError, "num_samples"),
    "samples float": (dict(num_samples=10.5), TypeError, "num_samples"),
    "quantile 0": (dict(quantiles=(0.0, 0.5)), ValueError, "between 0 and 1"),
    "quantile 1.2": (dict(quantiles=(0.5, 1.2)), ValueError, "between 0 and 1"),
    "quantile nan": (dict(quantiles=(float("nan"),)), ValueError, "between 0 and 1"),
    "quantile string": (dict(quantiles="0.5"), TypeError, "quantiles"),
    "quantiles empty": (dict(quantiles=()), ValueError, "empty"),
    "ddpm with steps": (dict(sampler="ddpm", sampling_steps=5), ValueError, "ddim"),
    "sampler": (dict(sampler="euler"), ValueError, "sampler"),
    "seed": (dict(seed=1.5), TypeError, "seed"),
    "other variables": (dict(y=hourly_frame(columns=("a", "z"))), ValueError, "variables"),
    "covariates without fit covariates": (dict(covariates=pd.DataFrame(
        {"h": 1.0}, index=pd.date_range("2024-01-01", periods=200, freq="h"))), ValueError, "without covariates"),
}


@pytest.mark.parametrize("name", list(PREDICT_CASES))
def test_predict_rejects(fitted, name):
    kwargs, exc, pattern = PREDICT_CASES[name]
    with pytest.raises(exc, match=pattern):
        fitted.predict(**kwargs)


def _hours(index):
    return pd.DataFrame({"hour": index.hour.astype(float)}, index=index)


def test_covariate_errors(fitted_cov):
    model, y = fitted_cov
    future = pd.date_range(y.index[0], periods=len(y) + H, freq="h")
    with pytest.raises(ValueError, match="fitted with covariates"):
        model.predict()
    with pytest.raises(ValueError, match="do not cover"):
        model.predict(covariates=_hours(y.index))  # no future part
    with pytest.raises(ValueError, match="do not cover"):
        tsdiff.TimeGrad(prediction_length=H, **FAST).fit(y, covariates=_hours(y.index[10:]))
    with pytest.raises(ValueError, match="not numeric"):
        model.predict(covariates=_hours(future).assign(hour="x"))
    nan_cov = _hours(future)
    nan_cov.iloc[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.predict(covariates=nan_cov)
    with pytest.raises(TypeError, match="DataFrame"):
        model.predict(covariates=list(range(len(future))))
    assert model.predict(covariates=_hours(future), num_samples=4).samples.shape == (4, H, 2)


def test_not_fitted():
    model = tsdiff.TimeGrad(prediction_length=H)
    with pytest.raises(NotFittedError, match="fit"):
        model.predict()
    with pytest.raises(NotFittedError):
        model.save("never.tsd")
    assert isinstance(NotFittedError("x"), ValueError)


def test_corrupt_model_files(fitted, tmp_path):
    good = fitted.save(tmp_path / "model.tsd")
    data = good.read_bytes()
    (tmp_path / "truncated.tsd").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.tsd").write_text("hello")
    with zipfile.ZipFile(tmp_path / "foreign.tsd", "w") as zf:
        zf.writestr("something.txt", "x")
    with zipfile.ZipFile(tmp_path / "other_format.tsd", "w") as zf:
        zf.writestr("manifest.json", '{"format": "other"}')
    with zipfile.ZipFile(tmp_path / "future.tsd", "w") as zf:
        zf.writestr("manifest.json", '{"format": "tsdiff-model", "format_version": 99}')
    for name, pattern in [("truncated.tsd", "truncated|corrupt|not a tsdiff"), ("text.tsd", "not a tsdiff"),
                          ("foreign.tsd", "no manifest"), ("other_format.tsd", "not a tsdiff"),
                          ("future.tsd", "version")]:
        with pytest.raises(ValueError, match=pattern):
            tsdiff.load(tmp_path / name)
    with pytest.raises(FileNotFoundError, match="no model file"):
        tsdiff.load(tmp_path / "missing.tsd")


def test_forecast_object_rejects(fitted):
    forecast = fitted.predict(num_samples=8)
    with pytest.raises(ValueError, match="between 0 and 1"):
        forecast.quantile(1.5)
    with pytest.raises(ValueError, match="unknown variables"):
        forecast.plot(variables=["zzz"])
