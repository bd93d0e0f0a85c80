"""The pandas API on CSDI: forecasting as imputation, gap filling, seeds, save/load, input untouched."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

import tsdiff
from tsdiff.api.model import NotFittedError

from api_helpers import CSDI_FAST, hourly_frame, without_params

H = 6


@pytest.fixture(scope="module")
def gappy():
    y = hourly_frame(n=160)
    y.iloc[30:40, 0] = np.nan
    y.iloc[[5, 77, 150], 1] = np.nan
    return y


@pytest.fixture(scope="module")
def model(gappy):
    before = gappy.copy()
    fitted = tsdiff.CSDI(prediction_length=H, **CSDI_FAST).fit(gappy)
    pd.testing.assert_frame_equal(gappy, before)
    return fitted


def test_forecast(model, gappy):
    forecast = model.predict(num_samples=12, seed=0)
    assert forecast.samples.shape == (12, H, 2) and np.isfinite(forecast.samples).all()
    assert forecast.index[0] == gappy.index[-1] + pd.Timedelta(hours=1)
    assert np.array_equal(forecast.samples, model.predict(num_samples=12, seed=0).samples)
    assert not np.array_equal(forecast.samples, model.predict(num_samples=12, seed=1).samples)


def test_impute_keeps_observed_and_fills_gaps(model, gappy):
    before = gappy.copy()
    imputation = model.impute(gappy, num_samples=10, seed=0)
    pd.testing.assert_frame_equal(gappy, before)
    median = imputation.median
    assert median.shape == gappy.shape and median.index.equals(gappy.index)
    assert list(median.columns) == ["a", "b"]
    observed = gappy.notna().to_numpy()
    np.testing.assert_array_equal(median.to_numpy()[observed], gappy.to_numpy()[observed])
    assert np.isfinite(median.to_numpy()).all()
    # hidden cells vary across samples, observed ones never do
    spread = np.ptp(imputation.samples, axis=0)
    assert (spread[~observed] > 0).all() and (spread[observed] == 0).all()
    frame = imputation.to_frame()
    assert len(frame) == gappy.size and frame["observed"].sum() == observed.sum()
    lo, hi = imputation.quantile(0.1), imputation.quantile(0.9)
    assert (lo.to_numpy() <= hi.to_numpy()).all()
    assert model.impute(gappy, num_samples=10, seed=0).samples.tobytes() == imputation.samples.tobytes()


def test_univariate_series_and_plot(gappy):
    s = gappy["a"]
    model = tsdiff.CSDI(prediction_length=H, **CSDI_FAST).fit(s)
    imputation = model.impute(num_samples=5)
    assert isinstance(imputation.median, pd.Series) and imputation.median.notna().all()
    assert model.predict(num_samples=5).samples.shape == (5, H)
    assert imputation.plot().get_title() == "a"


def test_save_load_and_errors(model, tmp_path):
    path = model.save(tmp_path / "csdi.tsd")
    loaded = tsdiff.load(path)
    assert type(loaded) is tsdiff.CSDI
    np.testing.assert_array_equal(loaded.predict(num_samples=6, seed=2).samples,
                                  model.predict(num_samples=6, seed=2).samples)
    with pytest.raises(NotFittedError):
        tsdiff.CSDI(prediction_length=H).impute(hourly_frame())
    with pytest.raises(ValueError, match="CSDI does not take static_covariates; it takes covariates, past_cov"):
        tsdiff.CSDI(prediction_length=H, **CSDI_FAST).fit(
            hourly_frame(), static_covariates=pd.DataFrame({"s": [1.0, 2.0]}, index=["a", "b"]))
    with pytest.raises(TypeError, match="unexpected keyword argument 'hidden_size'"):
        tsdiff.CSDI(prediction_length=H, hidden_size=3)
    with pytest.raises(ValueError, match="variables"):
        model.impute(hourly_frame(columns=("a", "c")))
    with pytest.raises(ValueError, match="ddim"):
        model.impute(sampler="ddpm", sampling_steps=3)


def test_model_sampler_defaults_reach_predict_and_impute(gappy):
    """The model-level ddim defaults apply to ``impute`` as to ``predict`` (counted as denoiser calls), and a call
    may switch back to ddpm over all T steps."""
    model = tsdiff.CSDI(prediction_length=4, **{**CSDI_FAST, "num_diffusion_steps": 20}, sampler="ddim",
                        sampling_steps=5).fit(gappy)
    calls = []
    model.predictor_.model.denoiser.register_forward_hook(lambda *_: calls.append(1))

    def count(fn, **kwargs):
        calls.clear()
        fn(num_samples=3, seed=0, **kwargs)
        return len(calls)

    assert count(model.predict) == 5
    assert count(model.impute) == 5
    assert count(model.impute, sampler="ddpm") == 20
    assert count(model.predict, sampling_steps=2) == 2


def test_residual_recipe_with_ema_imputes_and_survives_save_load(tmp_path):
    """The residual recipe (x0 over an interpolation, the fill as a channel) with a weight average: its settings
    reach the model, and a saved model imputes identically after loading; a bad ema_decay is refused by name."""
    df = hourly_frame(n=96)
    holed = df.copy()
    holed.iloc[10:14, 0] = np.nan
    model = tsdiff.CSDI(prediction_length=8, prediction="x0", baseline="interpolation", baseline_channel=True,
                        ema_decay=0.9, **CSDI_FAST).fit(holed)
    assert model.predictor_.model.diffusion.prediction == "x0"
    first = model.impute(holed, num_samples=3, seed=2).samples
    model.save(tmp_path / "m")
    np.testing.assert_array_equal(first, tsdiff.load(tmp_path / "m").impute(holed, num_samples=3, seed=2).samples)
    with pytest.raises(ValueError, match="ema_decay"):
        tsdiff.CSDI(prediction_length=8, ema_decay=1.5)


def test_deviation_channel_reaches_the_network_and_older_files_load_without_it(model, tmp_path):
    with pytest.raises(TypeError, match="deviation_channel must be True or False"):
        tsdiff.CSDI(prediction_length=H, deviation_channel="yes")
    df = hourly_frame(n=96)
    df.iloc[10:14, 0] = np.nan
    assert model.deviation_channel is True and model.predictor_.model.denoiser.deviation_channel is True  # default
    plain = tsdiff.CSDI(prediction_length=H, **CSDI_FAST, deviation_channel=False).fit(df)
    assert plain.predictor_.model.denoiser.deviation_channel is False
    assert model.mask_strategy == "forecast_historical" and model.loss_weighting == "relative"  # defaults
    assert model.predictor_.model.loss_weighting == "relative"
    assert model.predictor_.model.mask_strategy == "forecast_historical"
    old = without_params(plain.save(tmp_path / "plain.tsd"), tmp_path / "old.tsd", "deviation_channel",
                         "mask_strategy", "loss_weighting")
    loaded = tsdiff.load(old)
    assert loaded.mask_strategy == "forecast_random" and loaded.deviation_channel is False
    assert loaded.loss_weighting == "pooled"
    assert loaded.predictor_.model.denoiser.deviation_channel is False
    np.testing.assert_array_equal(loaded.impute(df, num_samples=3, seed=1).samples,
                                  plain.impute(df, num_samples=3, seed=1).samples)


def test_an_imputation_only_model_imputes_and_warns_when_asked_to_forecast(gappy):
    import warnings

    model = tsdiff.CSDI(prediction_length=H, **CSDI_FAST, mask_strategy="historical_random").fit(gappy)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        filled = model.impute(num_samples=3, seed=0).median
    assert filled.notna().all().all()
    with pytest.warns(UserWarning, match="never hides the horizon"):
        model.predict(num_samples=3, seed=0)
    with pytest.raises(ValueError, match="mask_strategy must be one of"):
        tsdiff.CSDI(prediction_length=H, mask_strategy="gaps")
    with pytest.raises(ValueError, match="loss_weighting must be one of"):
        tsdiff.CSDI(prediction_length=H, loss_weighting="per_value")


def test_num_sample_features_trains_on_column_subsets_and_imputes_every_column(monkeypatch):
    from tsdiff.models.csdi import module

    df = hourly_frame(n=96, columns=("a", "b", "c", "d", "e"))
    df.iloc[10:13, 4] = np.nan
    widths = []
    sample_features = module.sample_features

    def spy(values, observed, num_features, generator=None):
        picked = sample_features(values, observed, num_features, generator)
        widths.append((values.shape[1], picked[0].shape[1]))
        return picked

    monkeypatch.setattr(module, "sample_features", spy)
    model = tsdiff.CSDI(prediction_length=H, **CSDI_FAST, num_sample_features=2).fit(df)
    assert widths and set(widths) == {(5, 2)}  # every training batch: 2 of the 5 columns
    assert model.impute(df, num_samples=2, seed=0).median.notna().all().all()
    with pytest.raises(ValueError, match="num_sample_features must be a positive integer"):
        tsdiff.CSDI(prediction_length=H, num_sample_features=0)


def test_an_untrained_seasonal_model_imputes_like_interpolation_and_forecasts_like_seasonal_naive():
    """baseline="seasonal": interpolation inside the data, the seasonal naive forecast (season=None: the frequency's
    season) on the horizon; with x0-prediction from a zero output layer a (practically) untrained model samples
    exactly that."""
    df = hourly_frame(n=120, columns=("a", "b"))
    holed = df.copy()
    holed.iloc[100:103, 0] = np.nan
    untrained = dict(baseline="seasonal", lr=1e-12, epochs=1, num_batches_per_epoch=2, batch_size=4, residual_channels=8,
                     residual_layers=1, heads=1, num_diffusion_steps=10, verbose=0)
    model = tsdiff.CSDI(prediction_length=12, **untrained).fit(holed)
    assert model.baseline == "seasonal" and model.season is None and model.predictor_.model.season == 24
    interpolated = holed.interpolate().to_numpy()
    forecast = model.predict(num_samples=2, seed=0).samples  # (S, 12, 2): the same 12 steps one day back
    np.testing.assert_allclose(forecast, np.broadcast_to(interpolated[-24:-12], forecast.shape), atol=1e-4)
    filled = model.impute(holed, num_samples=2, seed=0).median
    np.testing.assert_allclose(filled.to_numpy(), interpolated, atol=1e-4)
    quarter_hourly = pd.DataFrame({"y": np.arange(60.0)}, index=pd.date_range("2024-01-01", periods=60, freq="15min"))
    assert tsdiff.CSDI(prediction_length=7, **untrained).fit(quarter_hourly).predictor_.model.season == 96
