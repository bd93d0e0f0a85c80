"""The training budget (time limit, validation tail, early stopping, loss curve, logger), the convergence warnings
and the console (one progress bar per phase on stderr, no Lightning banners)."""
import warnings

import numpy as np
import pandas as pd
import pytest

import tsdiff
from tsdiff.api.timegrad import TailSampler
from tsdiff.api.training import MAX_SPREAD_TO_RANGE, warn_if_loss_flat, warn_if_spread_implausible

from api_helpers import CSDI_FAST, FAST, hourly_frame

H = 4
MODELS = [(tsdiff.TimeGrad, FAST), (tsdiff.CSDI, CSDI_FAST)]
IDS = ["TimeGrad", "CSDI"]


@pytest.fixture(autouse=True)
def _no_convergence_noise():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tsdiff.ConvergenceWarning)  # tiny models; the warning is tested below
        yield


# -- budget --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,fast", MODELS, ids=IDS)
def test_time_limit_stops_training(cls, fast):
    """A limit shorter than one batch stops training after its first batch (counted, not timed)."""
    model = cls(prediction_length=H, **{**fast, "epochs": 50}, time_limit=1e-3).fit(hourly_frame(n=80))
    assert model.stop_reason_ == "time_limit"
    assert model.loss_curve_["batches"].sum() == 1
    unlimited = cls(prediction_length=H, **fast).fit(hourly_frame(n=80))
    assert unlimited.stop_reason_ == "max_epochs" and len(unlimited.loss_curve_) == fast["epochs"]


@pytest.mark.parametrize("cls,fast", MODELS, ids=IDS)
def test_validation_tail_is_held_out_of_training(cls, fast):
    """Two series that differ only in the validation tail train identically (same training losses) and are
    validated differently."""
    y = hourly_frame(n=100)
    other = y.copy()
    other.iloc[-20:] = np.random.default_rng(0).normal(0, 5, (20, 2))  # the tail is noise now
    kwargs = dict(**{**fast, "epochs": 2}, validation_fraction=0.2)
    a, b = cls(prediction_length=H, **kwargs).fit(y), cls(prediction_length=H, **kwargs).fit(other)
    assert a.loss_curve_["val_loss"].notna().all()
    np.testing.assert_array_equal(a.loss_curve_["train_loss"], b.loss_curve_["train_loss"])
    assert (a.loss_curve_["val_loss"] != b.loss_curve_["val_loss"]).all()


@pytest.mark.parametrize("cls,fast", MODELS, ids=IDS)
def test_early_stopping_stops_after_patience_epochs_without_improvement(cls, fast):
    """A learning rate far too high makes the validation loss erratic; training stops ``patience`` epochs after
    its best epoch, and keeps that epoch's weights."""
    patience = 2
    model = cls(prediction_length=H, **{**fast, "epochs": 40}, lr=0.5, validation_fraction=0.25,
                early_stopping_patience=patience).fit(hourly_frame(n=120))
    curve = model.loss_curve_
    assert model.stop_reason_ == "early_stopping" and len(curve) < 40
    assert curve["val_loss"].idxmin() == len(curve) - patience


def test_budget_arguments_are_checked():
    with pytest.raises(ValueError, match="time_limit must be a positive number"):
        tsdiff.TimeGrad(prediction_length=H, time_limit=0)
    with pytest.raises(ValueError, match=r"validation_fraction must be a number in \(0, 1\)"):
        tsdiff.CSDI(prediction_length=H, validation_fraction=1.5)
    with pytest.raises(ValueError, match="early_stopping_patience needs a validation tail"):
        tsdiff.TimeGrad(prediction_length=H, early_stopping_patience=3)
    with pytest.raises(ValueError, match="leaves 30 of 60 time steps for training; TimeGrad needs at least 60"):
        tsdiff.TimeGrad(prediction_length=30, validation_fraction=0.2, **FAST).fit(hourly_frame(n=60))


def test_tail_sampler_draws_windows_whose_horizon_lies_in_the_tail():
    sampler = TailSampler(first=80, min_future=H, max_windows=64)
    assert list(sampler(np.zeros((2, 100)))) == list(range(80, 97))
    assert len(TailSampler(first=0, min_future=H, max_windows=5)(np.zeros(100))) == 5


# -- convergence warnings ------------------------------------------------------------------------------------------
def test_loss_criterion():
    rng = np.random.default_rng(0)
    flat = 1.0 + 0.05 * rng.standard_normal(50)
    falling = np.linspace(1.0, 0.3, 50) + 0.05 * rng.standard_normal(50)
    with pytest.warns(tsdiff.ConvergenceWarning, match="loss hardly fell"):
        assert warn_if_loss_flat("m", flat)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not warn_if_loss_flat("m", falling)
        assert not warn_if_loss_flat("m", flat[:5])  # too few batches to judge


def test_spread_criterion_never_fires_on_random_walk_forecasts():
    """The exact forecast of a Gaussian random walk, from the shortest history a model accepts (T = 2H, where calm
    histories are likeliest), stays within the bound in 500 draws; the same forecast 10× too wide does not."""
    rng = np.random.default_rng(1)
    horizon, ratios = 6, []
    for _ in range(500):
        history = np.cumsum(rng.standard_normal(2 * horizon))[None]
        samples = history[0, -1] + np.cumsum(rng.standard_normal((100, horizon)), axis=1)[:, :, None]
        lo, hi = np.quantile(samples, [0.05, 0.95], axis=0)
        ratios.append((hi - lo).max() / np.ptp(history))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert not warn_if_spread_implausible("m", samples, history, ["x"])
    assert np.median(ratios) < 2.5 and max(ratios) < MAX_SPREAD_TO_RANGE
    with pytest.warns(tsdiff.ConvergenceWarning, match="'x' spreads absurdly wide"):
        assert warn_if_spread_implausible("m", 10 * MAX_SPREAD_TO_RANGE * samples, history, ["x"])


def test_a_one_epoch_model_warns():
    """The issue's case: one short epoch on a series between 7 and 13 gives ±100-wide bands; now it says so."""
    t = np.arange(240)
    y = pd.Series(10 + 3 * np.sin(2 * np.pi * t / 24), index=pd.date_range("2024-01-01", periods=240, freq="h"))
    small = dict(hidden_size=16, num_layers=1, residual_layers=3, residual_channels=8, num_diffusion_steps=50,
                 scaling="mean", difference_lag=0)  # the paper's recipe, as in the case
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tsdiff.TimeGrad(prediction_length=24, epochs=1, num_batches_per_epoch=20, batch_size=32, verbose=0,
                        **small).fit(y).predict(num_samples=30)
    messages = [str(w.message) for w in caught if issubclass(w.category, tsdiff.ConvergenceWarning)]
    assert any("hardly fell" in m for m in messages) and any("absurdly wide" in m for m in messages)
    assert all(w.filename == __file__ for w in caught if issubclass(w.category, tsdiff.ConvergenceWarning))


# -- console -------------------------------------------------------------------------------------------------------
BANNERS = ("GPU available", "TPU available", "Tip", "litlogger", ".ckpt", "checkpoint", "`Trainer.fit` stopped")


@pytest.mark.parametrize("cls,fast", MODELS, ids=IDS)
def test_one_bar_per_phase_on_stderr_and_no_banners(cls, fast, capfd):
    model = cls(prediction_length=H, **{**fast, "verbose": 1}).fit(hourly_frame(n=80))
    model.predict(num_samples=3)
    out, err = capfd.readouterr()
    assert out == ""
    assert not [b for b in BANNERS if b in err], err
    fit_total = model.loss_curve_["batches"].sum()
    steps = fast["num_diffusion_steps"] * (H if cls is tsdiff.TimeGrad else 1)
    lines = err.replace("\r", "\n")
    assert f"{model.name} fit: 100%" in lines and f"{fit_total}/{fit_total} [" in lines
    assert f"{model.name} sampling: 100%" in lines and f"{steps}/{steps} [" in lines
    assert "<" in lines  # tqdm's elapsed<remaining: an ETA
    model.predict(num_samples=3, sampler="ddim", sampling_steps=5)
    calls = 5 * (H if cls is tsdiff.TimeGrad else 1)
    assert f"{calls}/{calls} [" in capfd.readouterr().err.replace("\r", "\n")


@pytest.mark.parametrize("cls,fast", MODELS, ids=IDS)
def test_verbosity_levels(cls, fast, capfd):
    model = cls(prediction_length=H, **fast).fit(hourly_frame(n=80))  # verbose=0
    model.predict(num_samples=2)
    assert capfd.readouterr() == ("", "")
    cls(prediction_length=H, **{**fast, "verbose": 2}).fit(hourly_frame(n=80))
    err = capfd.readouterr().err
    assert f"{cls.name} epoch 1: train_loss" in err
    with pytest.raises(ValueError, match="verbose must be 0"):
        cls(prediction_length=H, verbose=3)


def test_csv_logger_writes_the_loss_curve(tmp_path):
    model = tsdiff.CSDI(prediction_length=H, **CSDI_FAST, logger="csv", log_dir=str(tmp_path / "logs"))
    model.fit(hourly_frame(n=80))
    metrics = pd.read_csv(f"{model.log_dir_}/metrics.csv")
    assert str(tmp_path / "logs") in model.log_dir_
    assert metrics["train_loss"].notna().sum() == CSDI_FAST["epochs"]
    with pytest.raises(ValueError, match="logger must be None, 'csv' or 'tensorboard'"):
        tsdiff.CSDI(prediction_length=H, logger="wandb")
