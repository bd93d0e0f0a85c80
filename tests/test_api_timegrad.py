"""The pandas API on TimeGrad: shapes, output frames, seeds, save/load, NaN and gaps, no input mutation."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

import tsdiff

from api_helpers import FAST, hourly_frame, long_frame, without_params

H = 6


@pytest.fixture(scope="module")
def wide_model():
    y = hourly_frame()
    before = y.copy()
    model = tsdiff.TimeGrad(prediction_length=H, **FAST).fit(y)
    pd.testing.assert_frame_equal(y, before)
    return model, y


def test_series_forecast():
    y = hourly_frame()["a"]
    before = y.copy()
    forecast = tsdiff.TimeGrad(prediction_length=H, **FAST).fit(y).predict(num_samples=20, quantiles=(0.1, 0.9))
    pd.testing.assert_series_equal(y, before)
    assert forecast.samples.shape == (20, H)
    expected_index = pd.date_range(y.index[-1] + pd.Timedelta(hours=1), periods=H, freq="h")
    assert list(forecast.index) == list(expected_index)
    frame = forecast.to_frame()
    assert list(frame.columns) == ["mean", "0.1", "0.9"]
    assert (frame["0.1"] <= frame["0.9"]).all()
    assert isinstance(forecast.mean, pd.Series) and forecast.mean.name == "a"
    np.testing.assert_allclose(forecast.mean.to_numpy(), forecast.samples.mean(0))


def test_wide_forecast_and_views(wide_model):
    model, y = wide_model
    forecast = model.predict(num_samples=30)
    assert forecast.samples.shape == (30, H, 2)
    frame = forecast.to_frame()
    assert frame.columns.nlevels == 2 and set(frame.columns.get_level_values(0)) == {"a", "b"}
    assert list(frame["a"].columns) == ["mean", "0.1", "0.5", "0.9"]
    median = forecast.median
    assert list(median.columns) == ["a", "b"] and median.index.equals(forecast.index)
    # GluonTS's sample-quantile rule: the sorted sample at rank round((S-1) q)
    ranked = np.sort(forecast.samples, axis=0)[int(np.round(29 * 0.9))]
    np.testing.assert_array_equal(forecast.quantile(0.9).to_numpy(), ranked)


def test_seeds_and_samplers(wide_model):
    model, _ = wide_model
    a = model.predict(num_samples=10, seed=3).samples
    b = model.predict(num_samples=10, seed=3).samples
    c = model.predict(num_samples=10, seed=4).samples
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    fast = model.predict(num_samples=10, sampler="ddim", sampling_steps=3, seed=3).samples
    assert fast.shape == a.shape and np.isfinite(fast).all() and not np.array_equal(fast, a)


def test_save_load_bit_identical(wide_model, tmp_path):
    model, _ = wide_model
    path = model.save(tmp_path / "m.tsd")
    loaded = tsdiff.load(path)
    assert type(loaded) is tsdiff.TimeGrad and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict(num_samples=10, seed=7).samples,
                                  model.predict(num_samples=10, seed=7).samples)


def test_predict_on_new_history(wide_model):
    model, y = wide_model
    newer = hourly_frame(n=150, seed=1)
    before = newer.copy()
    forecast = model.predict(newer, num_samples=5)
    pd.testing.assert_frame_equal(newer, before)
    assert forecast.index[0] == newer.index[-1] + pd.Timedelta(hours=1)


def test_long_format_nixtla_names():
    y = long_frame(ids=("s1", "s2", "s3"), id_col="unique_id", time_col="ds", target_col="y")
    before = y.copy()
    model = tsdiff.TimeGrad(prediction_length=H, **FAST).fit(y, id_col="unique_id", time_col="ds", target_col="y")
    frame = model.predict(num_samples=10).to_frame()
    pd.testing.assert_frame_equal(y, before)
    assert list(frame.columns[:3]) == ["unique_id", "ds", "mean"]
    assert len(frame) == 3 * H and set(frame["unique_id"]) == {"s1", "s2", "s3"}


@pytest.mark.parametrize("options", [{}, {"scaling": "diff", "increments": True}], ids=["levels", "increments"])
def test_nan_gaps_constant_and_large_values(options):
    y = hourly_frame(n=140)
    y.iloc[10:20, 0] = np.nan
    y.iloc[-1, 1] = np.nan  # the last value is missing: increments start from the last observed one
    y = y.drop(y.index[40:45])  # a gap in the timestamps: reindexed to NaN
    forecast = tsdiff.TimeGrad(prediction_length=H, **FAST, **options).fit(y).predict(num_samples=10)
    assert np.isfinite(forecast.samples).all()
    for values in (np.full(100, 3.0), np.zeros(100), 1e12 * (1 + 0.01 * np.sin(np.arange(100)))):
        s = pd.Series(values, index=pd.date_range("2024-01-01", periods=100, freq="D"))
        samples = tsdiff.TimeGrad(prediction_length=H, **FAST, **options).fit(s).predict(num_samples=10).samples
        assert np.isfinite(samples).all()


def test_plot(wide_model):
    model, _ = wide_model
    axes = model.predict(num_samples=10).plot(history=48)
    assert len(axes) == 2 and axes[0].get_title() == "a"
    single = model.predict(num_samples=10).plot(variables=["b"])
    assert single.get_title() == "b"


def test_forecast_follows_future_covariates():
    """The covariates reach the network: the same seed with different future covariates gives a different forecast,
    with the same ones an identical forecast."""
    y = hourly_frame()
    full = pd.date_range(y.index[0], periods=len(y) + H, freq="h")
    cov = pd.DataFrame({"x": np.sin(np.arange(len(full)) / 3.0)}, index=full)
    model = tsdiff.TimeGrad(prediction_length=H, **FAST).fit(y, covariates=cov.iloc[:len(y)])
    base = model.predict(covariates=cov, num_samples=8, seed=0).samples
    shifted = cov.copy()
    shifted.iloc[-H:, 0] += 5.0
    np.testing.assert_array_equal(base, model.predict(covariates=cov, num_samples=8, seed=0).samples)
    # same seed, so any difference comes from the covariates (a barely trained residual model moves little)
    assert not np.array_equal(base, model.predict(covariates=shifted, num_samples=8, seed=0).samples)


def test_residual_recipe_reaches_the_model_and_survives_save_load(tmp_path):
    """difference_lag="season" resolves to the hourly season (24), prediction and ema_decay reach the network that
    samples, and a saved model forecasts identically after loading."""
    df = hourly_frame(n=240)
    model = tsdiff.TimeGrad(prediction_length=12, difference_lag="season", prediction="x0", ema_decay=0.99,
                            scaling="robust", **FAST).fit(df)
    net = model.predictor_.prediction_net
    assert net.difference_lag == 24 and net.diffusion.prediction == "x0" and net.scaling == "robust"
    first = model.predict(num_samples=4, seed=1).samples
    model.save(tmp_path / "m")
    again = tsdiff.load(tmp_path / "m").predict(num_samples=4, seed=1).samples
    np.testing.assert_array_equal(first, again)
    with pytest.raises(ValueError, match="difference_lag"):
        tsdiff.TimeGrad(prediction_length=12, difference_lag="weekly")
    with pytest.raises(ValueError, match="ema_decay"):
        tsdiff.TimeGrad(prediction_length=12, ema_decay=1.0)


def test_a_wide_frame_is_one_global_univariate_model_by_default():
    """``univariate=True`` (the default): the network is a univariate one (target_dim 1) shared by the columns, and
    it is exactly the model ``fit(df, panel=True)`` trains on the same columns (bit-identical samples) — only the
    output keeps the wide layout. ``univariate=False`` is the joint model of all columns."""
    y = hourly_frame(columns=("a", "b", "c"))
    default = tsdiff.TimeGrad(prediction_length=H, **FAST).fit(y)
    panel = tsdiff.TimeGrad(prediction_length=H, **FAST).fit(y, panel=True)
    joint = tsdiff.TimeGrad(prediction_length=H, **FAST, univariate=False).fit(y)
    assert default.univariate is True
    assert default.predictor_.prediction_net.target_dim == 1 and joint.predictor_.prediction_net.target_dim == 3
    forecast = default.predict(num_samples=8, seed=5)
    assert forecast.samples.shape == joint.predict(num_samples=8, seed=5).samples.shape == (8, H, 3)
    assert list(forecast.to_frame().columns.get_level_values(0).unique()) == ["a", "b", "c"]
    np.testing.assert_array_equal(forecast.samples, panel.predict(num_samples=8, seed=5).samples)


def test_univariate_is_checked_and_older_files_load_as_joint_models(tmp_path):
    with pytest.raises(TypeError, match="univariate must be True or False"):
        tsdiff.TimeGrad(prediction_length=H, univariate="yes")
    model = tsdiff.TimeGrad(prediction_length=H, **FAST, univariate=False).fit(hourly_frame())
    loaded = tsdiff.load(without_params(model.save(tmp_path / "joint.tsd"), tmp_path / "old.tsd", "univariate"))
    assert loaded.univariate is False
    np.testing.assert_array_equal(loaded.predict(num_samples=5, seed=1).samples,
                                  model.predict(num_samples=5, seed=1).samples)
