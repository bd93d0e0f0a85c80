"""CSDI: masks, network, imputer (accuracy, calibration, reproducibility, edge cases), estimator and predictor."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tsdiff.data.imputation import interpolate_impute
from tsdiff.diffusion import SamplingOptions
from tsdiff.models.csdi import (
    CSDIImputer,
    CSDIModel,
    forecast_mask,
    historical_mask,
    make_cond_mask,
    mix_mask,
    random_mask,
    sample_features,
)

SMALL = dict(residual_channels=32, residual_layers=2, heads=4, dim_feedforward=32)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def sinusoids(n: int, L: int = 24, K: int = 4, seed: int = 0, noise: float = 0.05) -> np.ndarray:
    """(n, L, K): per sample a random phase and amplitude; feature k is shifted by k·π/2 (strong cross-feature and
    temporal structure)."""
    rng = np.random.default_rng(seed)
    t = np.arange(L)[None, :, None]
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    amp = rng.uniform(0.5, 1.5, (n, 1, 1))
    k = np.arange(K)[None, None, :]
    x = amp * np.sin(2 * np.pi * t / 12.0 + phase + k * np.pi / 2) + noise * rng.standard_normal((n, L, K))
    return x.astype(np.float32)


def block_eval_mask(n: int, L: int, K: int, block: int = 6, seed: int = 1) -> np.ndarray:
    """One hidden block of ``block`` steps per (sample, feature), at random positions."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((n, L, K), dtype=bool)
    for i in range(n):
        for k in range(K):
            s = rng.integers(0, L - block + 1)
            mask[i, s:s + block, k] = True
    return mask


@pytest.fixture(scope="module")
def fitted():
    torch.set_num_threads(1)
    train = sinusoids(256, seed=0)
    imp = CSDIImputer(**SMALL).fit(train, np.ones_like(train), epochs=20, batch_size=32, lr=3e-3, seed=0,
                                   progress=False)
    return imp


# -- masks ------------------------------------------------------------------------------------------------------------
def _observed(B=200, K=5, L=20, p=0.8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(B, K, L, generator=g) < p).float()


def test_random_mask_shape_subset_and_ratio():
    obs = _observed()
    cond = random_mask(obs, torch.Generator().manual_seed(1))
    assert cond.shape == obs.shape and cond.dtype == obs.dtype
    assert torch.all(cond <= obs)
    hidden_ratio = (obs - cond).sum((1, 2)) / obs.sum((1, 2))
    assert hidden_ratio.min() >= 0 and hidden_ratio.max() <= 1
    assert abs(hidden_ratio.mean().item() - 0.5) < 0.08  # ratio ~ U(0, 1)
    assert hidden_ratio.std().item() > 0.2  # per-sample ratios, not one global ratio


def test_historical_and_mix_masks():
    obs = _observed()
    hist = historical_mask(obs)
    assert hist.shape == obs.shape and torch.all(hist <= obs)
    assert torch.equal(hist[1], obs[1] * obs[0]) and torch.equal(hist[0], obs[0] * obs[-1])
    mix = mix_mask(obs, torch.Generator().manual_seed(2))
    assert mix.shape == obs.shape and torch.all(mix <= obs)
    is_hist = torch.tensor([torch.equal(mix[i], hist[i]) for i in range(len(obs))])
    assert 0.3 < is_hist.float().mean().item() < 0.7  # half the samples use the historical pattern


def test_forecast_mask_and_dispatch():
    obs = _observed()
    cond = forecast_mask(obs, 5)
    assert torch.all(cond[..., -5:] == 0) and torch.equal(cond[..., :-5], obs[..., :-5])
    assert torch.equal(make_cond_mask("forecast", obs, prediction_length=5), cond)
    for s in ("random", "historical", "mix"):
        assert make_cond_mask(s, obs).shape == obs.shape
    with pytest.raises(ValueError):
        make_cond_mask("nope", obs)
    with pytest.raises(ValueError):
        forecast_mask(obs, 20)


def test_historical_random_mask_learns_the_data_s_own_gaps():
    """Per sample: the previous sample's gap pattern (historical), or, where that pattern hides nothing of this
    sample, a random fraction; forecast_random's draws are those it always made."""
    obs = _observed()
    whole = obs.clone()
    whole[::2] = 1.0  # even samples have no gaps: the historical mask leaves the odd ones whole
    for data in (obs, whole):
        cond = make_cond_mask("historical_random", data, torch.Generator().manual_seed(3))
        assert cond.shape == data.shape and torch.all(cond <= data)
        hist, rand = historical_mask(data), random_mask(data, torch.Generator().manual_seed(3))
        left_whole = [i for i in range(len(data)) if torch.equal(hist[i], data[i])]
        for i in range(len(data)):  # random gaps where the historical pattern hides nothing
            assert torch.equal(cond[i], rand[i] if i in left_whole else hist[i])
        assert sum((data[i] - cond[i]).sum() for i in left_whole) > 0 or not left_whole
        assert (not left_whole) if data is obs else len(left_whole) == len(data) // 2
    g = lambda: torch.Generator().manual_seed(4)  # noqa: E731
    first, again = (make_cond_mask("historical_random", whole, g()) for _ in range(2))
    assert torch.equal(first, again)
    choose = torch.rand(len(obs), generator=g()) > 0.5
    gaps = random_mask(obs, _after_one_draw(g(), len(obs)))
    expected = torch.where(choose[:, None, None], forecast_mask(obs, 5), gaps)
    assert torch.equal(make_cond_mask("forecast_random", obs, g(), 5), expected)


def test_forecast_historical_mask_forecasts_or_hides_the_data_s_own_gaps():
    """Per sample: the horizon hidden (probability 1/4) or historical_random's gaps, drawn after the choice."""
    obs, whole = _observed(), torch.ones(8, 4, 20)
    g = lambda: torch.Generator().manual_seed(6)  # noqa: E731
    for data in (obs, whole):
        cond = make_cond_mask("forecast_historical", data, g(), 5)
        choose = torch.rand(len(data), generator=g()) > 0.75
        gaps = make_cond_mask("historical_random", data, _after_one_draw(g(), len(data)))
        assert torch.equal(cond, torch.where(choose[:, None, None], forecast_mask(data, 5), gaps))
        assert 0 < int(choose.sum()) < len(data) / 2  # both kinds in this batch, fewer forecasts
        assert torch.all(cond <= data) and torch.all((data - cond).flatten(1).sum(1) > 0)  # every sample learns
    with pytest.raises(ValueError, match="needs prediction_length"):
        make_cond_mask("forecast_historical", obs)


def _after_one_draw(generator: torch.Generator, n: int) -> torch.Generator:
    torch.rand(n, generator=generator)
    return generator


def test_sample_features():
    values = torch.arange(2 * 6 * 3, dtype=torch.float32).reshape(2, 6, 3)
    v, o, fid = sample_features(values, torch.ones_like(values), 4, torch.Generator().manual_seed(0))
    assert v.shape == (2, 4, 3) and o.shape == (2, 4, 3) and fid.shape == (2, 4)
    for b in range(2):
        assert len(set(fid[b].tolist())) == 4
        assert torch.equal(v[b], values[b, fid[b]])


# -- network ----------------------------------------------------------------------------------------------------------
def test_denoiser_broadcasts_conditioning_over_samples():
    torch.manual_seed(0)
    model = CSDIModel(3, mask_strategy="random", **SMALL).eval()
    N, S, K, L = 2, 3, 3, 7
    values, mask = torch.randn(N, K, L), (torch.rand(N, K, L) > 0.5).float()
    x, t = torch.randn(S * N, K, L), torch.randint(0, 50, (S * N,))
    with torch.no_grad():
        shared = model.denoiser(x, t, model.denoiser.condition(values * mask, mask))
        rep = model.denoiser(x, t, model.denoiser.condition((values * mask).repeat(S, 1, 1), mask.repeat(S, 1, 1)))
    torch.testing.assert_close(shared, rep, rtol=1e-4, atol=1e-5)


def test_sliced_inference_matches_one_batch():
    torch.manual_seed(0)
    model = CSDIModel(3, mask_strategy="random", **SMALL).eval()
    N, S, K, L = 2, 5, 3, 7
    values, mask = torch.randn(N, K, L), (torch.rand(N, K, L) > 0.5).float()
    x, t = torch.randn(S * N, K, L), torch.full((S * N,), 7)
    with torch.no_grad():
        cond = model.denoiser.condition(values * mask, mask)
        model.denoiser.inference_chunk_cells = None
        whole = model.denoiser(x, t, cond)
        model.denoiser.inference_chunk_cells = 2 * N * K * L  # slices of 2 samples, last one shorter
        sliced = model.denoiser(x, t, cond)
    torch.testing.assert_close(whole, sliced, rtol=1e-5, atol=1e-6)


def test_loss_ignores_unobserved_values_and_follows_its_generator():
    torch.manual_seed(0)
    model = CSDIModel(2, mask_strategy="random", **SMALL).eval()
    window = torch.randn(4, 8, 2)  # (B, L, D)
    obs = torch.ones_like(window)
    obs[:, :2, :] = 0
    nan_window = window.clone()
    nan_window[obs == 0] = float("nan")
    with torch.no_grad():
        a = model.loss(window, obs, generator=torch.Generator().manual_seed(1))
        b = model.loss(nan_window, obs, generator=torch.Generator().manual_seed(1))
        c = model.loss(window, obs, generator=torch.Generator().manual_seed(2))
    assert torch.isfinite(a) and torch.equal(a, b) and not torch.equal(a, c)


# -- imputer ----------------------------------------------------------------------------------------------------------
def test_imputation_beats_interpolation_and_is_calibrated(fitted):
    test = sinusoids(16, seed=5)
    eval_mask = block_eval_mask(*test.shape)
    given = ~eval_mask
    samples = fitted.impute(test, given, num_samples=25, seed=0).numpy()  # ddpm, all 50 steps
    assert samples.shape == (25,) + test.shape
    median = np.median(samples, axis=0)
    mae_model = np.abs(median - test)[eval_mask].mean()
    mae_interp = np.abs(interpolate_impute(test, given) - test)[eval_mask].mean()
    assert mae_model < 0.7 * mae_interp, (mae_model, mae_interp)
    lo, hi = np.quantile(samples, [0.1, 0.9], axis=0)
    coverage = ((test >= lo) & (test <= hi))[eval_mask].mean()
    assert 0.6 <= coverage <= 0.95, coverage


def test_observed_unchanged_and_seeds(fitted):
    test = sinusoids(6, seed=7)
    given = ~block_eval_mask(*test.shape, seed=3)
    kw = dict(num_samples=8, sampler="ddim", sampling_steps=5)
    a = fitted.impute(test, given, seed=1, **kw)
    b = fitted.impute(test, given, seed=1, **kw)
    c = fitted.impute(test, given, seed=2, **kw)
    g = torch.as_tensor(given)
    assert torch.equal(a[:, g], torch.as_tensor(test)[g].expand(8, -1))  # bit-exact
    assert torch.equal(a, b)
    assert not torch.equal(a[:, ~g], c[:, ~g])
    assert a[:, ~g].std(dim=0).min() > 0  # hidden values vary across samples
    ddpm = fitted.impute(test, given, num_samples=4, seed=1)
    assert torch.equal(ddpm[:, g], torch.as_tensor(test)[g].expand(4, -1))
    chunked = fitted.impute(test, given, seed=1, batch_size=2, **kw)
    assert chunked.shape == a.shape


def test_save_load_roundtrip(fitted, tmp_path):
    test = sinusoids(3, seed=8)
    given = ~block_eval_mask(*test.shape, seed=4)
    fitted.save(tmp_path / "csdi.npz")
    loaded = CSDIImputer.load(tmp_path / "csdi.npz")
    kw = dict(num_samples=4, sampler="ddim", sampling_steps=4, seed=0)
    assert torch.equal(fitted.impute(test, given, **kw), loaded.impute(test, given, **kw))


def test_fit_is_deterministic_and_accepts_nan():
    data = sinusoids(16, L=8, K=2)
    obs = np.ones_like(data, dtype=bool)
    obs[:, :2, 0] = False
    data[~obs] = np.nan
    kw = dict(epochs=2, batch_size=8, seed=3, progress=False, mask_strategy="mix")
    a = CSDIImputer(**SMALL).fit(data, obs, **kw, valid=(data[:4], obs[:4]))
    b = CSDIImputer(**SMALL).fit(data, obs, **kw)
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)
    assert a.history[-1]["valid_loss"] is not None and np.isfinite(a.history[-1]["loss"])


@pytest.mark.parametrize("strategy", ["random", "historical", "mix"])
@pytest.mark.parametrize("L,K", [(10, 1), (1, 3), (1, 1)])
def test_edge_shapes(L, K, strategy):
    data = sinusoids(8, L=L, K=K)
    obs = np.ones_like(data)
    imp = CSDIImputer(**SMALL).fit(data, obs, epochs=1, batch_size=4, mask_strategy=strategy, progress=False)
    assert np.isfinite(imp.history[-1]["loss"])
    given = obs.copy()
    given[:, 0, 0] = 0
    out = imp.impute(data, given, num_samples=3, sampler="ddim", sampling_steps=3, seed=0)
    assert out.shape == (3, 8, L, K) and torch.isfinite(out).all()
    if L == 1:
        with pytest.raises(ValueError):
            CSDIImputer(**SMALL).fit(data, obs, epochs=1, mask_strategy="forecast", prediction_length=1)


def test_forecast_strategy_training():
    data = sinusoids(16, L=12, K=3)
    imp = CSDIImputer(**SMALL).fit(data, np.ones_like(data), epochs=1, batch_size=8, mask_strategy="forecast",
                                   prediction_length=4, num_sample_features=2, progress=False)
    assert np.isfinite(imp.history[-1]["loss"])


def test_bad_inputs():
    with pytest.raises(ValueError):
        CSDIImputer(**SMALL).fit(np.zeros((4, 5)), np.ones((4, 5)), epochs=1)
    with pytest.raises(ValueError):
        CSDIImputer(**SMALL).fit(np.zeros((4, 5, 2)), np.ones((4, 5, 3)), epochs=1)
    with pytest.raises(ValueError):
        CSDIImputer(**SMALL).fit(np.zeros((4, 5, 2)), np.ones((4, 5, 2)), epochs=1, mask_strategy="nope")
    with pytest.raises(TypeError):
        CSDIImputer(unknown_arg=3)
    with pytest.raises(RuntimeError):
        CSDIImputer(**SMALL).impute(np.zeros((1, 2, 2)), np.ones((1, 2, 2)))


# -- estimator and its predictor (tsdiff.models.base.DiffusionPredictor) ----------------------------------------------
T_TINY = 10  # diffusion steps of the tiny forecasters


def forecast_dataset():
    """One multivariate entry, target (D = 3, T = 120), daily."""
    import pandas as pd
    from gluonts.dataset.common import ListDataset

    series = sinusoids(1, L=120, K=3)[0].T  # (D, T)
    return ListDataset([{"start": pd.Period("2020-01-01", "D"), "target": series}], freq="D", one_dim_target=False)


def tiny_estimator(tmp_path, **kwargs):
    from tsdiff.models.csdi import CSDIEstimator

    trainer = {"max_epochs": 1, "default_root_dir": str(tmp_path), "logger": False, "enable_progress_bar": False,
               "enable_model_summary": False}
    return CSDIEstimator(freq="D", prediction_length=6, target_dim=3, context_length=12, num_batches_per_epoch=3,
                         batch_size=8, num_parallel_samples=5, num_diffusion_steps=T_TINY, trainer_kwargs=trainer, **SMALL,
                         **kwargs)


@pytest.fixture(scope="module")
def forecaster(tmp_path_factory):
    """(predictor, dataset): a tiny CSDIEstimator trained for one short epoch; defaults ddpm and seed 11."""
    torch.set_num_threads(1)
    ds = forecast_dataset()
    return tiny_estimator(tmp_path_factory.mktemp("csdi"), seed=11).train(ds), ds


def predict_counting(predictor, ds, **options):
    """(samples (S, P, D) of the one entry, denoiser calls = reverse steps) of one ``predict`` call."""
    calls = []
    hook = predictor.prediction_net.denoiser.register_forward_hook(lambda *_: calls.append(1))
    try:
        (forecast,) = predictor.predict(ds, **options)
    finally:
        hook.remove()
    return forecast.samples, len(calls)


def test_predictor_is_seeded(forecaster):
    from tsdiff.models.base import DiffusionPredictor

    predictor, ds = forecaster
    assert isinstance(predictor, DiffusionPredictor) and predictor.seed == 11
    a, steps = predict_counting(predictor, ds, seed=0)
    b, _ = predict_counting(predictor, ds, seed=0)
    c, _ = predict_counting(predictor, ds, seed=1)
    assert a.shape == (5, 6, 3) and np.isfinite(a).all() and steps == T_TINY
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # without a seed the predictor's own (the estimator's ``seed``) is used
    np.testing.assert_array_equal(predict_counting(predictor, ds)[0], predict_counting(predictor, ds, seed=11)[0])


def test_predictor_ddim_per_call(forecaster):
    predictor, ds = forecaster
    ddpm, _ = predict_counting(predictor, ds, seed=0)
    ddim, steps = predict_counting(predictor, ds, seed=0, sampler="ddim", sampling_steps=5)
    again, _ = predict_counting(predictor, ds, seed=0, sampler="ddim", sampling_steps=5)
    assert steps == 5 and ddim.shape == (5, 6, 3) and np.isfinite(ddim).all()
    np.testing.assert_array_equal(ddim, again)
    assert not np.allclose(ddim, ddpm)
    noisy, _ = predict_counting(predictor, ds, seed=0, sampler="ddim", sampling_steps=5, eta=1.0)
    assert not np.allclose(noisy, ddim)


def test_predictor_call_options_do_not_leak(forecaster):
    predictor, ds = forecaster
    fresh, _ = predict_counting(predictor, ds, seed=3, sampler="ddpm")
    predict_counting(predictor, ds, seed=4, sampler="ddim", sampling_steps=5, eta=1.0, num_samples=2)
    net = predictor.prediction_net
    assert net.default_sampling == SamplingOptions("ddpm", None, 0.0) and net.num_parallel_samples == 5
    assert predictor.seed == 11
    after, steps = predict_counting(predictor, ds, seed=3)
    assert steps == T_TINY and after.shape == (5, 6, 3)
    np.testing.assert_array_equal(after, fresh)


def test_estimator_sampler_defaults_reach_predictor(tmp_path):
    """Estimator-level ddim defaults, without training: the predictor and the network get them, a call may
    switch back to ddpm (over all T steps: the default DDIM step count does not apply to it)."""
    estimator = tiny_estimator(tmp_path, sampler="ddim", sampling_steps=4, eta=0.5, seed=2)
    predictor = estimator.create_predictor(estimator.create_transformation(), estimator.create_lightning_module())
    assert predictor.seed == 2 and predictor.prediction_net.default_sampling == SamplingOptions("ddim", 4, 0.5)
    ds = forecast_dataset()
    assert predict_counting(predictor, ds)[1] == 4
    assert predict_counting(predictor, ds, sampler="ddpm")[1] == T_TINY
    assert predict_counting(predictor, ds, sampling_steps=2)[1] == 2


def test_estimator_serialize_roundtrip(forecaster, tmp_path):
    from gluonts.model.forecast import SampleForecast
    from gluonts.model.predictor import Predictor

    from tsdiff.models.base import DiffusionPredictor

    predictor, ds = forecaster
    predictor.serialize(tmp_path)
    loaded = Predictor.deserialize(tmp_path)
    assert isinstance(loaded, DiffusionPredictor) and loaded.seed == 11
    for options in ({}, {"seed": 5, "sampler": "ddim", "sampling_steps": 3, "eta": 0.5}):
        (f1,) = predictor.predict(ds, **options)
        (f2,) = loaded.predict(ds, **options)
        assert isinstance(f1, SampleForecast) and f1.samples.shape == (5, 6, 3)
        np.testing.assert_array_equal(f1.samples, f2.samples)
        assert f1.start_date == f2.start_date
