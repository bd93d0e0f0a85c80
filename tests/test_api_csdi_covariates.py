"""tsdiff.CSDI with covariates: known ones as always-given side-information rows, past-only ones modelled jointly."""
import numpy as np
import pandas as pd
import pytest
import torch
from api_helpers import CSDI_FAST, hourly_frame

import tsdiff
from tsdiff.models.csdi.module import CSDIModel

H = 6


def _driven(n=400, seed=0):
    """y_t = 2 x_t + noise with x_t = ±1 at random: only the known covariate x says where y goes next."""
    rng = np.random.default_rng(seed)
    full = pd.date_range("2024-01-01", periods=n + H, freq="h")
    x = rng.choice([-1.0, 1.0], size=n + H)
    y = pd.Series(2 * x[:n] + 0.1 * rng.standard_normal(n), index=full[:n], name="y")
    return y, pd.DataFrame({"x": x}, index=full)


def test_the_forecast_follows_a_known_covariate():
    """Learning: any forecast blind to x has a mean absolute error of at least 2 on average here (the best blind
    point forecast is 0); trained with x as side information, CSDI follows it, also when x is flipped."""
    y, cov = _driven()
    before = cov.copy()
    model = tsdiff.CSDI(prediction_length=H, **dict(CSDI_FAST, epochs=8, num_batches_per_epoch=15,
                                                    residual_channels=16, num_diffusion_steps=20)).fit(
        y, covariates=cov.iloc[:len(y)])
    pd.testing.assert_frame_equal(cov, before)
    for sign in (1.0, -1.0):
        given = cov.copy()
        given.iloc[len(y):] *= sign
        mean = model.predict(covariates=given, num_samples=50, seed=0).mean.to_numpy()
        truth = 2 * given["x"].to_numpy()[len(y):]
        assert np.abs(mean - truth).mean() < 1.2, (sign, mean)  # measured 0.7 (seed 0)
        assert np.corrcoef(mean, truth)[0, 1] > 0.8, (sign, mean)


def test_covariate_rows_are_never_hidden_nor_in_the_loss():
    """The training mask gives the covariate features wherever observed: the loss does not depend on them being
    hideable (equal loss whatever the strategy draws for them) and the cond mask covers them."""
    torch.manual_seed(0)
    model = CSDIModel(target_dim=3, prediction_length=2, mask_strategy="forecast", num_feat_dynamic_real=1,
                      residual_channels=4, residual_layers=1, heads=1, num_diffusion_steps=5)
    observed = torch.ones(2, 3, 6)
    cond = model._give_covariates(torch.zeros(2, 3, 6), observed, None)
    assert cond[:, 2].eq(1).all() and cond[:, :2].eq(0).all()
    picked = torch.tensor([[2, 0], [1, 2]])  # a feature subset: original ids 2 (the covariate) and 0 / 1 and 2
    cond = model._give_covariates(torch.zeros(2, 2, 6), torch.ones(2, 2, 6), picked)
    assert cond[0, 0].eq(1).all() and cond[0, 1].eq(0).all() and cond[1, 1].eq(1).all()
    with pytest.raises(ValueError, match="num_feat_dynamic_real"):
        CSDIModel(target_dim=2, num_feat_dynamic_real=2)


def test_covariates_survive_save_load_and_reach_impute(tmp_path):
    y = hourly_frame(n=120)
    full = pd.date_range(y.index[0], periods=len(y) + H, freq="h")
    cov = pd.DataFrame({"hour": np.sin(2 * np.pi * full.hour / 24)}, index=full)
    past = pd.DataFrame({"p": np.cos(np.arange(len(y)) / 7.0)}, index=y.index)
    model = tsdiff.CSDI(prediction_length=H, **CSDI_FAST).fit(y, covariates=cov.iloc[:len(y)], past_covariates=past)
    first = model.predict(covariates=cov, num_samples=4, seed=2).samples
    assert first.shape == (4, H, 2)
    model.save(tmp_path / "csdi.tsd")
    loaded = tsdiff.load(tmp_path / "csdi.tsd")
    np.testing.assert_array_equal(first, loaded.predict(covariates=cov, num_samples=4, seed=2).samples)
    gappy = y.copy()
    gappy.iloc[40:45, 0] = np.nan
    filled = loaded.impute(gappy, covariates=cov.iloc[:len(y)], past_covariates=past, num_samples=4, seed=0)
    assert list(filled.median.columns) == ["a", "b"] and filled.median.notna().all().all()
    np.testing.assert_array_equal(loaded.impute(num_samples=3, seed=1).samples,
                                  model.impute(num_samples=3, seed=1).samples)
    with pytest.raises(ValueError, match="fitted with covariates: pass covariates covering the history"):
        model.impute(gappy, num_samples=2)
    with pytest.raises(ValueError, match="covariates do not cover 6 required timestamps"):
        model.predict(covariates=cov.iloc[:len(y)], num_samples=2)
