"""Hyperparameters are checked when a model is built: a bad one fails at construction with a message naming it,
not as a shape error deep inside torch during training. The check builds the network once without moving torch's
random stream."""
import pytest
import torch

import tsdiff
from tsdiff.models.csdi import CSDIEstimator, CSDIImputer
from tsdiff.models.timegrad import TimeGradEstimator
from tsdiff.nn import checks

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
    "sampler": (dict(sampler="euler"), ValueError, "unknown sampler 'euler'"),
    "ddim steps": (dict(sampler="ddim", sampling_steps=101), ValueError, r"num_steps must be an integer in \[1, 100\]"),
    "eta": (dict(sampler="ddim", eta=2.0), ValueError, r"eta must lie in \[0, 1\]"),
}


@pytest.mark.parametrize("name", list(TIMEGRAD_CASES))
def test_timegrad_estimator_rejects(name):
    kwargs, exc, pattern = TIMEGRAD_CASES[name]
    with pytest.raises(exc, match=pattern):
        TimeGradEstimator(freq="D", prediction_length=5, target_dim=3, **kwargs)


CSDI_CASES = {
    "channels": (dict(channels=0), ValueError, "channels must be a positive integer, got 0"),
    "heads": (dict(channels=64, heads=3), ValueError, r"channels \(64\) must be divisible by heads \(3\)"),
    "layers": (dict(layers=0), ValueError, "layers must be a positive integer"),
    "dropout": (dict(dropout=-0.1), ValueError, "dropout must be a number"),
    "num_steps": (dict(num_steps=0), ValueError, "num_steps"),
    "schedule": (dict(schedule_kind="cosine-ish"), ValueError, "unknown schedule kind"),
}


@pytest.mark.parametrize("name", list(CSDI_CASES))
def test_csdi_constructors_reject(name):
    kwargs, exc, pattern = CSDI_CASES[name]
    with pytest.raises(exc, match=pattern):
        CSDIEstimator(freq="D", prediction_length=5, target_dim=3, **kwargs)
    with pytest.raises(exc, match=pattern):
        CSDIImputer(**kwargs)  # K unknown until fit(): checked on a stand-in
    with pytest.raises(exc, match=pattern.replace("num_steps", "(diffusion_)?steps")):
        tsdiff.CSDI(prediction_length=5, **{"diffusion_steps" if k == "num_steps" else k: v
                                            for k, v in kwargs.items()})


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
    CSDIImputer(channels=16, heads=2)
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
