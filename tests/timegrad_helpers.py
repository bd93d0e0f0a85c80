"""A small TimeGradModel and random inputs of the right shapes, shared by the TimeGrad test files."""
import torch

from tsdiff.models.timegrad import TimeGradModel

FREQ = "h"
P = 12  # prediction length
CONTEXT = 24
LAGS = [1, 2, 24]
D = 3


def small_model(**kwargs) -> TimeGradModel:
    options = dict(freq=FREQ, context_length=CONTEXT, prediction_length=P, target_dim=D, num_time_features=2,
                   lags_seq=LAGS, num_diffusion_steps=10)
    options.update(kwargs)
    return TimeGradModel(**options)


def model_inputs(model: TimeGradModel, batch: int = 2, with_future: bool = False, seed: int = 0,
                 past_spread: float = 1.0) -> dict:
    """The model's forward/loss inputs: targets 5 + ``past_spread`` · N(0, 1) in the past, 5 + N(0, 1) ahead."""
    g = torch.Generator().manual_seed(seed)
    L = model.past_length
    inputs = dict(
        target_dimension_indicator=torch.arange(D).repeat(batch, 1),
        past_target=5 + past_spread * torch.randn(batch, L, D, generator=g),
        past_observed_values=torch.ones(batch, L, D),
        past_time_feat=torch.randn(batch, L, 2, generator=g),
        future_time_feat=torch.randn(batch, P, 2, generator=g),
    )
    if with_future:
        inputs["future_target"] = 5 + torch.randn(batch, P, D, generator=g)
        inputs["future_observed_values"] = torch.ones(batch, P, D)
    return inputs


def captured_loss_targets(monkeypatch, model: TimeGradModel, inputs: dict) -> dict:
    """Run ``model.loss(**inputs)`` with the diffusion loss replaced by a probe: returns the ``x0`` (the diffused
    targets) and ``mask`` it was given."""
    seen = {}

    def capture(denoiser, x0, cond, mask=None, generator=None):
        seen.update(x0=x0, mask=mask)
        return x0.sum() * 0

    monkeypatch.setattr(model.diffusion, "training_loss", capture)
    model.loss(**inputs)
    return seen
