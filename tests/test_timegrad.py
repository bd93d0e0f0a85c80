"""TimeGrad: module shapes and initialisation, NaN handling, seeding, samplers, serialisation and a small fit.

CPU only, single thread; the whole file runs in well under a minute.
"""
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from gluonts.dataset.common import ListDataset
from gluonts.model.predictor import Predictor

from tsdiff.diffusion import SamplingOptions
from tsdiff.models.base import DiffusionPredictor
from tsdiff.models.timegrad import EpsilonTheta, TimeGradEstimator, TimeGradModel, scale_context

from timegrad_helpers import CONTEXT, D, FREQ, LAGS, P, captured_loss_targets, model_inputs, small_model

torch.set_num_threads(1)

TRAINER = dict(enable_progress_bar=False, logger=False, enable_model_summary=False, accelerator="cpu")


def sinusoids(length: int, seed: int = 0, noise: float = 0.2) -> np.ndarray:
    """Three correlated noisy daily sinusoids, shape (3, length): a shared phase, per-series amplitude and level."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    common = np.sin(2 * np.pi * t / 24)
    return np.stack(
        [5.0 + (i + 1) * common + noise * rng.standard_normal(length) for i in range(D)]
    ).astype(np.float32)


def dataset(target: np.ndarray, **extra) -> ListDataset:
    start = pd.Period("2021-01-01 00:00", freq=FREQ)
    return ListDataset([{"start": start, "target": target, **extra}], freq=FREQ, one_dim_target=False)


def estimator(tmp_path, epochs=1, batches=4, **kwargs) -> TimeGradEstimator:
    options = dict(
        freq=FREQ, prediction_length=P, target_dim=D, context_length=CONTEXT, lags_seq=LAGS, batch_size=16,
        num_batches_per_epoch=batches, num_parallel_samples=8, seed=0,
        trainer_kwargs=dict(max_epochs=epochs, default_root_dir=str(tmp_path), **TRAINER),
    )
    options.update(kwargs)
    return TimeGradEstimator(**options)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny trained predictor (1 epoch × 4 batches) shared by the sampling tests, and its test data."""
    target = sinusoids(24 * 12 + P)
    est = estimator(tmp_path_factory.mktemp("runs"))
    predictor = est.train(dataset(target[:, :-P]))
    return predictor, dataset(target)


# -- module level -----------------------------------------------------------------------------------------------------
def test_denoiser_output_layer_is_zero_and_shapes():
    net = EpsilonTheta(target_dim=5, cond_dim=7, num_diffusion_steps=10)
    assert torch.count_nonzero(net.output_proj.weight) == 0
    assert torch.count_nonzero(net.output_proj.bias) == 0
    x, t, cond = torch.randn(4, 5), torch.randint(0, 10, (4,)), torch.randn(4, 7)
    out = net(x, t, cond)
    assert out.shape == (4, 5)
    assert torch.all(out == 0)  # zero-initialised output ⇒ ε̂ = 0 before training


@pytest.mark.parametrize("dilation,circular", [(1, True), (2, True), (4, False), (1, False)])
def test_series_conv_equals_conv1d(dilation, circular):
    """SeriesConv (channels-last matmul) is exactly nn.Conv1d over the series axis with circular/zero padding."""
    from tsdiff.models.timegrad.denoiser import SeriesConv

    conv = SeriesConv(4, 6, 3, dilation, circular=circular)
    ref = torch.nn.Conv1d(4, 6, 3, padding=dilation, dilation=dilation, padding_mode="circular" if circular else "zeros")
    with torch.no_grad():  # Linear weight (out, k·in) with taps k outer → Conv1d weight (out, in, k)
        ref.weight.copy_(conv.weight.view(6, 3, 4).permute(0, 2, 1))
        ref.bias.copy_(conv.bias)
    x = torch.randn(5, 7, 4)  # (N, D, C)
    torch.testing.assert_close(conv(x), ref(x.transpose(1, 2)).transpose(1, 2))


def test_denoiser_handles_single_series():
    net = EpsilonTheta(target_dim=1, cond_dim=3, num_diffusion_steps=5)  # dilation 2 > D: falls back to zero padding
    assert net(torch.randn(2, 1), torch.zeros(2, dtype=torch.long), torch.randn(2, 3)).shape == (2, 1)


def test_scale_context_ignores_unobserved():
    x = torch.tensor([[[1.0, 2.0], [3.0, float("nan")], [float("nan"), 4.0]]])  # (1, 3, 2)
    obs = (~torch.isnan(x)).float()
    loc, scale = scale_context(torch.nan_to_num(x, nan=123.0), obs, "mean")
    assert torch.allclose(scale, torch.tensor([[[2.0, 3.0]]])) and torch.all(loc == 0)
    loc, scale = scale_context(torch.nan_to_num(x, nan=123.0), obs, "std")
    assert torch.allclose(loc, torch.tensor([[[2.0, 3.0]]])) and torch.allclose(scale, torch.tensor([[[1.0, 1.0]]]))
    loc, scale = scale_context(x.nan_to_num(), torch.zeros_like(x), "mean")  # nothing observed → identity
    assert torch.all(scale == 1) and torch.all(loc == 0)


def test_scale_context_diff_uses_last_observed_value_and_step_size():
    # series 0: 1, 3, 2, 6 → last 6, steps 2, -1, 4 → rms sqrt(21/3); series 1: 5, 5, nan, 7 → last 7, one step (0)
    x = torch.tensor([[[1.0, 5.0], [3.0, 5.0], [2.0, float("nan")], [6.0, 7.0]]])  # (1, 4, 2)
    obs = (~torch.isnan(x)).float()
    loc, scale = scale_context(torch.nan_to_num(x, nan=-50.0), obs, "diff")
    torch.testing.assert_close(loc, torch.tensor([[[6.0, 7.0]]]))
    # series 1 has only a zero step (5 → 5; the pairs around the gap are skipped): the magnitude fallback 1e-2·|loc|
    torch.testing.assert_close(scale, torch.tensor([[[math.sqrt(7.0), 0.07]]]))
    x[0, -1, 0] = float("nan")  # an unobserved last value: loc is the last *observed* one
    loc, _ = scale_context(torch.nan_to_num(x), (~torch.isnan(x)).float(), "diff")
    assert loc[0, 0, 0] == 2.0


def test_increments_loss_diffuses_one_step_changes(monkeypatch):
    """With ``increments`` the ε-loss sees x_t − x_{t−1} (normalised), masked where either end is missing."""
    model = small_model(scaling="diff", increments=True)
    inputs = model_inputs(model, with_future=True)
    inputs["future_target"][0, 2, 1] = float("nan")
    inputs["future_observed_values"][0, 2, 1] = 0.0
    seen = captured_loss_targets(monkeypatch, model, inputs)
    loc, scale = scale_context(inputs["past_target"][:, -CONTEXT:], inputs["past_observed_values"][:, -CONTEXT:], "diff")
    full = torch.cat([inputs["past_target"], inputs["future_target"].nan_to_num()], 1)
    start = model.past_length - CONTEXT
    normed = (full - loc) / scale
    expected = (normed[:, start:] - normed[:, start - 1 : -1]).reshape(-1, D)
    mask = seen["mask"].reshape(2, CONTEXT + P, D)
    assert mask[0, CONTEXT + 2, 1] == 0 and mask[0, CONTEXT + 3, 1] == 0 and mask.sum() == mask.numel() - 2
    keep = seen["mask"] > 0
    torch.testing.assert_close(seen["x0"][keep], expected[keep])


def test_increments_forecast_is_running_sum_of_sampled_changes(monkeypatch):
    model = small_model(scaling="diff", increments=True).eval()
    change = 0.5  # every reverse diffusion "samples" the same normalised change
    monkeypatch.setattr(model.diffusion, "sample", lambda fn, shape, **kw: torch.full(shape, change))
    inputs = model_inputs(model)
    samples = model(**inputs, num_samples=3)
    loc, scale = scale_context(inputs["past_target"][:, -CONTEXT:], inputs["past_observed_values"][:, -CONTEXT:], "diff")
    last = inputs["past_target"][:, -1:]  # loc is the last value, so the walk starts there
    torch.testing.assert_close(loc, last)
    steps = torch.arange(1, P + 1, dtype=torch.float32).view(1, P, 1)
    expected = last + change * steps * scale  # (B, P, D)
    torch.testing.assert_close(samples, expected.unsqueeze(1).expand(-1, 3, -1, -1))


def test_loss_and_forward_shapes():
    model = small_model()
    inputs = model_inputs(model, batch=2, with_future=True)
    loss = model.loss(**inputs)
    assert loss.shape == () and torch.isfinite(loss)
    loss.backward()
    prediction_inputs = {k: v for k, v in inputs.items() if not k.startswith("future_t") and k != "future_observed_values"}
    prediction_inputs["future_time_feat"] = inputs["future_time_feat"]
    model.eval()
    samples = model(**prediction_inputs, num_samples=5)
    assert samples.shape == (2, 5, P, D) and torch.isfinite(samples).all()


def test_loss_masks_nan_targets():
    model = small_model()
    inputs = model_inputs(model, with_future=True)
    for key in ("past_target", "future_target"):
        inputs[key][:, -5:, 1] = float("nan")
        inputs[key.replace("target", "observed_values")][:, -5:, 1] = 0.0
    loss = model.loss(**inputs)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_sampling_batches_samples_windows_and_series():
    """Each forecast step calls the denoiser once per diffusion step with all windows × samples in one batch."""
    model = small_model().eval()
    batches = []
    denoise = model.denoiser.denoise

    def counting(x, t, cond):
        batches.append(x.shape)
        return denoise(x, t, cond)

    model.denoiser.denoise = counting
    model(**model_inputs(model, batch=2), num_samples=7, sampling=SamplingOptions("ddim", 3))
    assert len(batches) == P * 3
    assert set(batches) == {torch.Size([2 * 7, D])}


# -- estimator / predictor --------------------------------------------------------------------------------------------
def test_samplers_shapes_and_seeds(trained):
    predictor, test = trained
    assert isinstance(predictor, DiffusionPredictor) and isinstance(predictor.prediction_net, TimeGradModel)
    for sampler, steps in (("ddpm", None), ("ddim", 3)):
        a = next(iter(predictor.predict(test, num_samples=6, seed=1, sampler=sampler, sampling_steps=steps)))
        b = next(iter(predictor.predict(test, num_samples=6, seed=1, sampler=sampler, sampling_steps=steps)))
        c = next(iter(predictor.predict(test, num_samples=6, seed=2, sampler=sampler, sampling_steps=steps)))
        assert a.samples.shape == (6, P, D)
        assert np.isfinite(a.samples).all()
        np.testing.assert_array_equal(a.samples, b.samples)
        assert not np.allclose(a.samples, c.samples)
    # DDIM with η > 0 is stochastic too, and still seeded
    a = next(iter(predictor.predict(test, num_samples=4, seed=5, sampler="ddim", sampling_steps=2, eta=1.0)))
    b = next(iter(predictor.predict(test, num_samples=4, seed=5, sampler="ddim", sampling_steps=2, eta=1.0)))
    np.testing.assert_array_equal(a.samples, b.samples)


def test_serialize_roundtrip_identical_samples(trained, tmp_path):
    predictor, test = trained
    predictor.serialize(tmp_path)
    assert json.loads((tmp_path / "gluonts-config.json").read_text())["type"] == \
        "tsdiff.models.base.predictor.DiffusionPredictor"
    loaded = Predictor.deserialize(tmp_path)
    assert isinstance(loaded, DiffusionPredictor)
    a = next(iter(predictor.predict(test, num_samples=5, seed=7, sampler="ddim", sampling_steps=4)))
    b = next(iter(loaded.predict(test, num_samples=5, seed=7, sampler="ddim", sampling_steps=4)))
    np.testing.assert_array_equal(a.samples, b.samples)


def test_training_with_nans_is_finite(tmp_path):
    target = sinusoids(24 * 12 + P, seed=1)
    rng = np.random.default_rng(0)
    target[rng.random(target.shape) < 0.1] = np.nan
    target[1, 100:130] = np.nan  # a long gap in one series
    target[:, -P - 3 : -P] = np.nan  # missing values right before the forecast start
    out = estimator(tmp_path, epochs=1, batches=3).train_model(dataset(target[:, :-P]))
    loss = out.trainer.callback_metrics["train_loss"]
    assert math.isfinite(float(loss))
    forecast = next(iter(out.predictor.predict(dataset(target), num_samples=4, seed=0, sampler="ddim",
                                                 sampling_steps=3)))
    assert forecast.samples.shape == (4, P, D) and np.isfinite(forecast.samples).all()


def test_dynamic_real_covariates(tmp_path):
    target = sinusoids(24 * 12 + P, seed=2)
    covariate = np.sin(2 * np.pi * np.arange(target.shape[1]) / 24)[None].astype(np.float32)  # (1, T + P)
    est = estimator(tmp_path, epochs=1, batches=2, num_feat_dynamic_real=1)
    predictor = est.train(dataset(target[:, :-P], feat_dynamic_real=covariate[:, :-P]))
    # at prediction time the covariate extends prediction_length steps past the target
    forecast = next(iter(predictor.predict(dataset(target[:, :-P], feat_dynamic_real=covariate), num_samples=3, seed=0,
                                           sampler="ddim", sampling_steps=2)))
    assert forecast.samples.shape == (3, P, D) and np.isfinite(forecast.samples).all()


def quantile_crps(samples: np.ndarray, truth: np.ndarray) -> float:
    """Mean weighted quantile loss over the 19 quantiles 0.05…0.95 (GluonTS's ``mean_wQuantileLoss``)."""
    levels = np.arange(1, 20) / 20.0
    q = np.quantile(samples, levels, axis=0)  # (19, P, D)
    diff = truth[None] - q
    loss = 2 * np.abs(diff * ((diff < 0) - levels[:, None, None]))
    return float(loss.sum(axis=(1, 2)).mean() / np.abs(truth).sum())


def test_small_fit_beats_seasonal_naive(tmp_path):
    target = sinusoids(24 * 40 + P, seed=3, noise=0.3)
    train, truth = target[:, :-P], target[:, -P:].T  # truth (P, D)
    est = estimator(tmp_path, epochs=8, batches=25, batch_size=32, num_parallel_samples=100, lr=3e-3)
    predictor = est.train(dataset(train))
    forecast = next(iter(predictor.predict(dataset(train), seed=0, sampler="ddim", sampling_steps=20)))
    assert forecast.samples.shape == (100, P, D)
    model_crps = quantile_crps(forecast.samples, truth)
    naive = train[:, -24:][:, :P].T  # same hour yesterday
    naive_crps = quantile_crps(naive[None], truth)
    print(f"CRPS model {model_crps:.4f} vs seasonal naive {naive_crps:.4f}")
    assert model_crps < naive_crps, (model_crps, naive_crps)
