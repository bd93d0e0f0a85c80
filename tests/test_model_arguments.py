"""Hyperparameters are checked when a model is built: a bad one fails at construction with a message naming it,
not as a shape error deep inside torch during training. The checks build no network, so they never move torch's
random stream."""
import pytest
import torch

import tsdiff
from tsdiff.models.csdi import CSDIEstimator, CSDIImputer
from tsdiff.models.timegrad import TimeGradEstimator
from tsdiff import checks

TIMEGRAD_CASES = {
    "hidden_size": (dict(hidden_size=0), ValueError, "hidden_size must be a positive integer, got 0"),
    "num_layers": (dict(num_layers=-1), ValueError, "num_layers must be a positive integer"),
    "context_length": (dict(context_length=0), ValueError, "context_length must be a positive integer"),
    "residual_channels": (dict(residual_channels=0), ValueError, "residual_channels"),
    "num_diffusion_steps": (dict(num_diffusion_steps=0), ValueError, "num_diffusion_steps"),
    "cell_type": (dict(cell_type="RNN"), ValueError, r"cell_type must be one of \('LSTM', 'GRU'\)"),
    "scaling": (dict(scaling="max"), ValueError, "scaling must be one of"),
    "dropout": (dict(dropout_rate=1.5), ValueError, r"dropout_rate must be a number in \[0, 1\)"),
    "lr": (dict(lr=-1e-3), ValueError, "lr must be a positive number"),
    "weight_decay": (dict(weight_decay=-1.0), ValueError, "weight_decay must be a non-negative number"),
    "lr_schedule": (dict(lr_schedule="step"), ValueError, "lr_schedule must be one of"),
    "batch_size": (dict(batch_size=0), ValueError, "batch_size must be a positive integer"),
    "beta_end": (dict(beta_end=1.5), ValueError, "beta_end"),
    "sampler": (dict(sampler="euler"), ValueError, "sampler must be one of .* got 'euler'"),
    "ddim steps": (dict(sampler="ddim", sampling_steps=101), ValueError, r"sampling_steps must lie in \[1, 100\]"),
    "ddpm steps": (dict(sampler="ddpm", sampling_steps=10), ValueError, "ddpm sampler runs all 100"),
    "eta": (dict(sampler="ddim", eta=2.0), ValueError, r"eta must be a number in \[0, 1\]"),
}


@pytest.mark.parametrize("name", list(TIMEGRAD_CASES))
def test_timegrad_estimator_rejects(name):
    kwargs, exc, pattern = TIMEGRAD_CASES[name]
    with pytest.raises(exc, match=pattern):
        TimeGradEstimator(freq="D", prediction_length=5, target_dim=3, **kwargs)


CSDI_CASES = {
    "residual_channels": (dict(residual_channels=0), ValueError, "residual_channels must be a positive integer, got 0"),
    "heads": (dict(residual_channels=64, heads=3), ValueError,
              r"residual_channels \(64\) must be divisible by heads \(3\)"),
    "residual_layers": (dict(residual_layers=0), ValueError, "residual_layers must be a positive integer"),
    "dropout": (dict(dropout=-0.1), ValueError, "dropout must be a number"),
    "num_diffusion_steps": (dict(num_diffusion_steps=0), ValueError, "num_diffusion_steps"),
    "beta_schedule": (dict(beta_schedule="cosine-ish"), ValueError, "unknown beta_schedule"),
    "ddim steps": (dict(sampler="ddim", sampling_steps=51), ValueError, r"sampling_steps must lie in \[1, 50\]"),
}


@pytest.mark.parametrize("name", list(CSDI_CASES))
def test_csdi_constructors_reject(name):
    kwargs, exc, pattern = CSDI_CASES[name]
    with pytest.raises(exc, match=pattern):
        CSDIEstimator(freq="D", prediction_length=5, target_dim=3, **kwargs)
    with pytest.raises(exc, match=pattern):
        CSDIImputer(**kwargs)  # K unknown until fit(): checked on a stand-in
    with pytest.raises(exc, match=pattern):
        tsdiff.CSDI(prediction_length=5, **kwargs)


@pytest.mark.parametrize("old,new,value", [("channels", "residual_channels", 16), ("layers", "residual_layers", 1),
                                           ("diffusion_steps", "num_diffusion_steps", 20),
                                           ("num_steps", "sampling_steps", 5)])
def test_csdi_old_names_warn_and_work(old, new, value):
    extra = {"sampler": "ddim"} if new == "sampling_steps" else {}
    with pytest.warns(FutureWarning, match=f"'{old}' is deprecated.*use '{new}'"):
        model = tsdiff.CSDI(prediction_length=5, heads=2, **extra, **{old: value})
    assert model.get_params()[new] == value and old not in model.get_params()


def test_csdi_forecast_settings_rejected():
    with pytest.raises(ValueError, match="context_length must be a positive integer"):
        CSDIEstimator(freq="D", prediction_length=5, target_dim=3, context_length=0)
    with pytest.raises(ValueError, match="num_batches_per_epoch"):
        CSDIEstimator(freq="D", prediction_length=5, target_dim=3, num_batches_per_epoch=0)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        CSDIEstimator(freq="D", prediction_length=5, target_dim=3, lr=0.0)


def test_checking_does_not_move_the_random_stream():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    TimeGradEstimator(freq="D", prediction_length=5, target_dim=3)
    CSDIEstimator(freq="D", prediction_length=5, target_dim=3)
    CSDIImputer(residual_channels=16, heads=2)
    assert torch.equal(torch.rand(3), expected)


def test_check_helpers():
    assert checks.positive_int(3, "n") == 3
    with pytest.raises(TypeError, match="n must be a positive integer, got True"):
        checks.positive_int(True, "n")
    with pytest.raises(TypeError, match="got 2.0"):
        checks.positive_int(2.0, "n")
    assert checks.optional_positive_int(None, "n") is None
    assert checks.dropout_rate(0, "p") == 0.0
    with pytest.raises(ValueError):
        checks.positive_float(float("inf"), "lr")
    with pytest.raises(ValueError, match=r"mode must be one of \('a', 'b'\), got 'c'"):
        checks.one_of("c", "mode", ("a", "b"))
