"""CSDI over a deterministic fill: the fills themselves, residual diffusion (a zero network returns the fill), the
baseline input channel, x̂₀ clipping through SamplingOptions, per-window scaling, fixed batch budgets, the weight
average (ema_decay) through the imputer and the estimator, and a learning test."""
from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

from tsdiff.data.imputation import interpolate_impute
from tsdiff.diffusion import SamplingOptions
from tsdiff.models.csdi import CSDIImputer, CSDIModel
from tsdiff.models.csdi.baseline import baseline_fill, interpolate_time, local_deviation, seasonal_fill
from tsdiff.models.csdi.masks import make_cond_mask
from tsdiff.models.csdi.scaling import window_loc_scale

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = dict(residual_channels=8, residual_layers=1, heads=2, dim_feedforward=8, num_diffusion_steps=10)


def _grid(B=6, K=3, L=11, p=0.5, seed=0):
    """values, mask (B, K, L): a grid in the denoiser's layout, with an empty row and a row with one given step."""
    g = torch.Generator().manual_seed(seed)
    values = torch.randn(B, K, L, generator=g)
    mask = (torch.rand(B, K, L, generator=g) < p).float()
    mask[0, 0] = 0  # a row with nothing given
    mask[0, 1] = 0
    mask[0, 1, 4] = 1  # a row with one given step
    return values, mask


def _model(**kw):
    return CSDIModel(3, mask_strategy="random", **{**TINY, **kw})


# -- fills ------------------------------------------------------------------------------------------------------------
def test_interpolation_matches_the_numpy_baseline():
    values, mask = _grid()
    ours = interpolate_time(values, mask)
    # the numpy baseline works on (N, L, K) and fills empty rows with the feature mean; ask it for 0 there
    ref = interpolate_impute(values.transpose(1, 2).numpy(), mask.transpose(1, 2).numpy(), means=np.zeros(3))
    np.testing.assert_allclose(ours.transpose(1, 2).numpy(), ref, rtol=0, atol=1e-6)
    assert torch.equal(ours[mask > 0], values[mask > 0])  # given values untouched, bit for bit
    assert torch.all(ours[0, 0] == 0) and torch.all(ours[0, 1] == values[0, 1, 4])


def test_interpolation_of_a_hand_example():
    values = torch.tensor([[[0.0, 9.0, 2.0, 9.0, 9.0, 8.0, 9.0]]])
    mask = torch.tensor([[[0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0]]])
    out = interpolate_time(values, mask)
    torch.testing.assert_close(out, torch.tensor([[[2.0, 2.0, 2.0, 4.0, 6.0, 8.0, 8.0]]]))


def test_seasonal_fill_repeats_the_last_season_and_falls_back_to_last_value():
    L, P, season = 12, 5, 3
    values = torch.arange(2 * L, dtype=torch.float32).reshape(1, 2, L)
    mask = torch.ones_like(values)
    mask[..., L - P:] = 0  # forecast the last P steps
    mask[0, 1, 2] = 0  # a gap inside the context is interpolated, not copied forward as garbage
    out = seasonal_fill(values, mask, season)
    last = values[..., L - P - season:L - P]  # the last season of the context
    torch.testing.assert_close(out[..., L - P:], last.repeat(1, 1, 2)[..., :P])
    torch.testing.assert_close(out[0, 1, 2], (values[0, 1, 1] + values[0, 1, 3]) / 2)
    long = seasonal_fill(values, mask, season=L)
    torch.testing.assert_close(long[..., L - P:], values[..., L - P - 1:L - P].expand(1, 2, P))
    torch.testing.assert_close(long, baseline_fill("interpolation", values, mask))
    with pytest.raises(ValueError, match="season"):
        seasonal_fill(values, mask, 0)
    with pytest.raises(ValueError, match="unknown baseline"):
        baseline_fill("median", values, mask)


# -- residual diffusion -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scaling", ["global", "window"])
@pytest.mark.parametrize("channel", [False, True])
@pytest.mark.parametrize("sampling", [SamplingOptions("ddpm"), SamplingOptions("ddim", 4),
                                      SamplingOptions("dpm-solver++", 3)], ids=["ddpm", "ddim", "dpm"])
def test_untrained_x0_residual_model_returns_the_interpolation(scaling, channel, sampling):
    torch.manual_seed(0)
    model = _model(prediction="x0", baseline="interpolation", baseline_channel=channel, deviation_channel=channel,
                   scaling=scaling).eval()
    values, mask = _grid()
    values = 3.0 + 5.0 * values  # data units, not standardised
    out = model.impute(values.transpose(1, 2), mask.transpose(1, 2), num_samples=4, sampling=sampling,
                       generator=torch.Generator().manual_seed(1))
    expected = interpolate_time(values, mask).transpose(1, 2).expand(4, -1, -1, -1)
    if scaling == "window":  # a row with nothing given is filled with its (zero) window location, not the mean
        keep = mask.sum(-1, keepdim=True).transpose(1, 2).expand_as(expected[0]) > 0
        out, expected = out[:, keep], expected[:, keep]
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)  # the output layer starts at zero


@pytest.mark.parametrize("prediction", ["x0", "v"])
def test_x0_and_v_models_start_from_a_zero_output(prediction):
    model = _model(prediction=prediction)
    assert torch.all(model.denoiser.output.weight == 0) and torch.all(model.denoiser.output.bias == 0)
    assert model.diffusion.prediction == prediction
    assert torch.all(_model().denoiser.output.weight == 0)  # CSDI's ε-model: only the weight


def test_residual_loss_targets_the_difference_from_the_fill():
    torch.manual_seed(0)
    values, observed = _grid(p=0.9)
    cond = make_cond_mask("random", observed, torch.Generator().manual_seed(2)) * observed  # the loss's first draw
    target = observed - cond
    residual = values - interpolate_time(values * cond, cond)
    window, window_obs = values.transpose(1, 2), observed.transpose(1, 2)
    # zero network, x0-prediction: the loss is the mean squared residual over the targets
    model = _model(prediction="x0", baseline="interpolation")
    loss = model.loss(window, window_obs, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(loss, ((residual ** 2) * target).sum() / target.sum())
    plain = _model(prediction="x0")
    loss = plain.loss(window, window_obs, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(loss, ((values ** 2) * target).sum() / target.sum())
    # per-window scaling: the targets standardised by the statistics of the given values only
    loc, scale = window_loc_scale(values, cond)
    z = (values - loc) / scale
    windowed = _model(prediction="x0", scaling="window")
    loss = windowed.loss(window, window_obs, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(loss, ((z ** 2) * target).sum() / target.sum())


def test_baseline_channel_changes_the_network_input_and_is_checked():
    torch.manual_seed(0)
    model = _model(baseline_channel=True)
    assert model.denoiser.input_projection.in_features == 3
    assert _model().denoiser.input_projection.in_features == 2
    values, mask = _grid()
    with pytest.raises(ValueError, match="baseline"):
        model.denoiser.condition(values * mask, mask)
    a = model.denoiser.condition(values * mask, mask, baseline=torch.zeros_like(values)).input_base
    b = model.denoiser.condition(values * mask, mask, baseline=torch.ones_like(values)).input_base
    torch.testing.assert_close(b - a, model.denoiser.input_projection.weight[:, 2].expand_as(a))
    with pytest.raises(ValueError, match="baseline"):
        _model(baseline="linear")
    with pytest.raises(ValueError, match="season"):
        _model(baseline="seasonal")
    with pytest.raises(ValueError, match="prediction"):
        _model(prediction="score")
    with pytest.raises(TypeError, match="baseline_channel"):
        type(model.denoiser).check_arguments(baseline_channel="yes")
    with pytest.raises(ValueError, match="clip"):
        SamplingOptions(clip=0.0).check(10)


def test_local_deviation_is_each_given_value_minus_its_neighbours_mean():
    values, mask = _grid()
    dev = local_deviation(values, mask)
    fill = interpolate_time(values, mask).numpy()
    expected = np.zeros_like(fill)
    L = fill.shape[-1]
    for idx in np.ndindex(*fill.shape[:-1]):
        for t in range(L):
            if mask[idx + (t,)] > 0:
                before = fill[idx + (t - 1 if t > 0 else 1,)]
                after = fill[idx + (t + 1 if t < L - 1 else L - 2,)]
                expected[idx + (t,)] = values[idx + (t,)].item() - (before + after) / 2
    torch.testing.assert_close(dev, torch.from_numpy(expected))
    assert torch.all(dev[mask == 0] == 0) and dev.abs().sum() > 0
    line = (2.0 * torch.arange(9.0) - 1.0).expand(2, 3, 9).clone()  # inside, values on a line deviate by nothing
    on_line = local_deviation(line, torch.ones_like(line))
    torch.testing.assert_close(on_line[..., 1:-1], torch.zeros_like(line[..., 1:-1]))
    assert torch.all(on_line[..., 0] == -2.0) and torch.all(on_line[..., -1] == 2.0)  # one neighbour at the ends
    assert torch.equal(local_deviation(values[..., :1], mask[..., :1]), torch.zeros_like(values[..., :1]))


def test_deviation_channel_is_one_more_input_and_is_checked():
    torch.manual_seed(0)
    model = _model(baseline_channel=True, deviation_channel=True)
    assert model.denoiser.input_projection.in_features == 4
    assert _model(deviation_channel=True).denoiser.input_projection.in_features == 3
    values, mask = _grid()
    fill = torch.zeros_like(values)
    with pytest.raises(ValueError, match="deviation"):
        model.denoiser.condition(values * mask, mask, baseline=fill)
    a = model.denoiser.condition(values * mask, mask, baseline=fill, deviation=torch.zeros_like(values)).input_base
    b = model.denoiser.condition(values * mask, mask, baseline=fill, deviation=torch.ones_like(values)).input_base
    torch.testing.assert_close(b - a, model.denoiser.input_projection.weight[:, 3].expand_as(a))
    with pytest.raises(TypeError, match="deviation_channel"):
        type(model.denoiser).check_arguments(deviation_channel=1)
    # the model hands the denoiser the deviation of the given values (and the fill as the other channel)
    cond, _ = model._condition(values * mask, mask)
    expected = model.denoiser.condition(values * mask, mask, baseline=interpolate_time(values * mask, mask),
                                        deviation=local_deviation(values * mask, mask))
    torch.testing.assert_close(cond.input_base, expected.input_base)
    assert not torch.allclose(cond.input_base, model.denoiser.condition(
        values * mask, mask, baseline=interpolate_time(values * mask, mask),
        deviation=torch.zeros_like(values)).input_base)


@pytest.mark.parametrize("sampler,steps", [("ddpm", None), ("ddim", 5)])
def test_clip_bounds_every_sample_of_a_runaway_network(sampler, steps):
    torch.manual_seed(0)
    values, mask = _grid()
    values, mask = values.transpose(1, 2), mask.transpose(1, 2)
    runaway = _model().eval()
    with torch.no_grad():
        runaway.denoiser.output.bias.fill_(-50.0)  # ε̂ = −50 everywhere: x̂₀ far out of range
    def draw(clip):
        return runaway.impute(values, mask, num_samples=3, generator=torch.Generator().manual_seed(0),
                              sampling=SamplingOptions(sampler, steps, clip=clip))

    wild, tame = draw(None), draw(5.0)
    assert wild[:, mask == 0].abs().max() > 100
    assert tame[:, mask == 0].abs().max() <= 5.0 + 1e-5
    assert torch.equal(tame[:, mask > 0], wild[:, mask > 0])


# -- per-window scaling ---------------------------------------------------------------------------------------------
def test_window_scaling_standardises_the_given_values_and_inverts_exactly():
    g = torch.Generator().manual_seed(0)
    grid = torch.randn(4, 3, 20, generator=g) * torch.tensor([1.0, 1e3, 1e-3])[:, None] \
        + torch.tensor([5.0, -2e4, 0.0])[:, None]
    given = (torch.rand(4, 3, 20, generator=g) < 0.8).float()
    grid[0, 1] = 7.0  # a flat row: the scale is floored at 1 % of its level
    grid[2, 0] = 0.0  # a flat row at zero: no level either, so the window stays in its units (scale 1)
    given[1, 2] = 0  # nothing given: loc 0, scale 1
    loc, scale = window_loc_scale(grid, given)
    assert loc.shape == scale.shape == (4, 3, 1) and torch.all(scale > 0)
    assert loc[1, 2, 0] == 0 and scale[1, 2, 0] == 1 and loc[0, 1, 0] == 7.0
    torch.testing.assert_close(scale[0, 1, 0], torch.tensor(0.07))
    assert loc[2, 0, 0] == 0 and scale[2, 0, 0] == 1
    # an ordinary step after a flat context stays within 100 / |level| standard deviations (not 10⁵)
    assert (8.0 - loc[0, 1, 0]) / scale[0, 1, 0] < 15
    z = (grid - loc) / scale
    for b, d in [(0, 0), (2, 1), (3, 2)]:  # rows with a spread above the floor
        zz = z[b, d][given[b, d] > 0].double()
        assert abs(zz.mean().item()) < 1e-5 and abs(zz.std(unbiased=False).item() - 1) < 1e-4
    torch.testing.assert_close(z * scale + loc, grid, rtol=1e-6, atol=1e-6 * 2e4)


@pytest.mark.parametrize("baseline,season", [("interpolation", None), ("seasonal", 4)])
def test_untrained_forecaster_returns_the_naive_forecast_in_data_units(baseline, season):
    torch.manual_seed(0)
    C, P, D = 12, 6, 2
    net = CSDIModel(D, context_length=C, prediction_length=P, num_parallel_samples=3, scaling="window",
                    prediction="x0", baseline=baseline, season=season, baseline_channel=True, **TINY).eval()
    t = torch.arange(40, dtype=torch.float32)
    past = torch.stack([1000 + 50 * torch.sin(2 * np.pi * t / 4), -3 + 0.01 * t], dim=-1)[None]  # (1, 40, D)
    samples = net(past, torch.ones_like(past), generator=torch.Generator().manual_seed(0))
    assert samples.shape == (1, 3, P, D)
    if baseline == "interpolation":
        expected = past[:, -1:].expand(1, P, D)  # the last value
    else:
        expected = past[:, -season:].repeat(1, 2, 1)[:, :P]  # the last season, repeated
    torch.testing.assert_close(samples, expected[:, None].expand(1, 3, P, D), rtol=1e-5, atol=1e-3)


# -- batch budgets ----------------------------------------------------------------------------------------------------
class _LearningRates(pl.Callback):
    def __init__(self):
        self.seen = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.seen.append(trainer.optimizers[0].param_groups[0]["lr"])


def test_num_batches_is_an_exact_budget_with_the_lr_drops_in_batches():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((20, 6, 2)).astype(np.float32)  # 3 batches of 8 per pass
    obs = np.ones_like(data)
    steps, lrs = [], _LearningRates()
    imp = CSDIImputer(**TINY)
    imp.fit(data, obs, num_batches=8, batch_size=8, lr=1.0, lr_milestones=(0.5, 0.75), progress=False, seed=0,
            epochs=1, callback=lambda i, r: steps.append(r["batches"]), trainer_kwargs={"callbacks": [lrs]})
    assert [h["batches"] for h in imp.history] == steps == [3, 6, 8]
    np.testing.assert_allclose(lrs.seen, [1.0] * 4 + [0.1] * 2 + [0.01] * 2)  # drops after batches 4 and 6
    with pytest.raises(ValueError, match="num_batches"):
        CSDIImputer(**TINY).fit(data, obs, num_batches=0, progress=False)


class _Trajectory(pl.Callback):
    """The trained weights before the first step and after every step."""

    def __init__(self):
        self.states = []

    def _snap(self, module):
        self.states.append({k: v.detach().clone() for k, v in module.model.state_dict().items()})

    def on_train_start(self, trainer, module):
        self._snap(module)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self._snap(module)


def test_ema_decay_leaves_the_imputer_with_the_average_of_its_weight_trajectory():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((20, 6, 2)).astype(np.float32)  # 3 batches of 8 per pass
    obs = np.ones_like(data)
    trajectory, decay, seen = _Trajectory(), 0.5, []
    averaged = CSDIImputer(**TINY).fit(data, obs, num_batches=5, batch_size=8, progress=False, seed=0,
                                       ema_decay=decay, trainer_kwargs={"callbacks": [trajectory]},
                                       callback=lambda imp, record: seen.append(imp.model))
    assert seen == [averaged.model] * 2  # an epoch's callback samples with the average, as the fitted imputer
    init, *steps = trajectory.states
    assert len(steps) == 5
    expected = init
    for k, state in enumerate(steps, start=1):  # tsdiff.nn.ema's rule, with its warm-up
        d = min(decay, (1 + k) / (10 + k))
        expected = {n: d * expected[n] + (1 - d) * v for n, v in state.items()}
    for name, value in averaged.model.state_dict().items():
        torch.testing.assert_close(value, expected[name], rtol=1e-5, atol=1e-6)
    plain = CSDIImputer(**TINY).fit(data, obs, num_batches=5, batch_size=8, progress=False, seed=0)
    for name, value in plain.model.state_dict().items():  # the same training stream, without the average
        torch.testing.assert_close(value, steps[-1][name])
    with pytest.raises(ValueError, match="ema_decay"):
        CSDIImputer(**TINY).fit(data, obs, num_batches=1, progress=False, ema_decay=1.0)


def test_estimator_passes_ema_decay_to_the_lightning_module():
    from tsdiff.models.csdi import CSDIEstimator

    kw = dict(freq="h", prediction_length=3, target_dim=2, context_length=6, **TINY)
    module = CSDIEstimator(ema_decay=0.99, **kw).create_lightning_module()
    assert module.ema_decay == 0.99 and module.sampling_model is module.ema_model is not module.model
    plain = CSDIEstimator(**kw).create_lightning_module()
    assert plain.ema_model is None and plain.sampling_model is plain.model
    with pytest.raises(ValueError, match="ema_decay"):
        CSDIEstimator(ema_decay=0.0, **kw)


# -- learning ---------------------------------------------------------------------------------------------------------
def _two_tone(n, L=24, K=4, seed=0):
    """(n, L, K): feature k = amplitude · sin(2π t / 8 + phase + k π/2); a hidden block of one feature is known
    from the other features (their phase) but not from its own neighbours (a period is 8 steps)."""
    rng = np.random.default_rng(seed)
    t = np.arange(L)[None, :, None]
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    amp = rng.uniform(0.5, 1.5, (n, 1, 1))
    return (amp * np.sin(2 * np.pi * t / 8 + phase + np.arange(K) * np.pi / 2)).astype(np.float32)


def test_short_residual_fit_beats_interpolation():
    train, test = _two_tone(256, seed=0), _two_tone(16, seed=1)
    imp = CSDIImputer(residual_channels=16, residual_layers=1, heads=2, dim_feedforward=32, num_diffusion_steps=20,
                      prediction="x0", baseline="interpolation", baseline_channel=True)
    imp.fit(train, np.ones_like(train), num_batches=80, batch_size=16, lr=3e-3, seed=0, progress=False,
            ema_decay=0.99)
    rng = np.random.default_rng(2)
    eval_mask = np.zeros(test.shape, dtype=bool)
    for i in range(len(test)):  # one hidden block of 5 steps in one feature per series
        s, k = rng.integers(0, 24 - 5), rng.integers(0, 4)
        eval_mask[i, s:s + 5, k] = True
    samples = imp.impute(test, ~eval_mask, num_samples=8, sampler="ddim", sampling_steps=5, seed=0).numpy()
    mae = np.abs(np.median(samples, 0) - test)[eval_mask].mean()
    mae_interp = np.abs(interpolate_impute(test, ~eval_mask) - test)[eval_mask].mean()
    assert mae < 0.5 * mae_interp, (mae, mae_interp)


def _rough_and_correlated(n, L=24, K=4, seed=0):
    """(n, L, K): one rough random walk per series, feature k = walk · (1 + k / 2): a missing value is far from the
    line through its neighbours but known from the other features at the same step."""
    rng = np.random.default_rng(seed)
    walk = rng.normal(size=(n, L, 1)).cumsum(1)
    return (walk * (1 + np.arange(K) / 2)).astype(np.float32)


def test_deviation_channel_and_historical_gaps_learn_from_correlated_features():
    """10 % single-value holes in the training data and in the test windows: trained on the data's own gap pattern
    (historical_random) with the deviation channel, a short fit's median beats interpolation by far."""
    train, test = _rough_and_correlated(256, seed=0), _rough_and_correlated(16, seed=1)
    rng = np.random.default_rng(3)
    train_observed = rng.random(train.shape) > 0.1
    imp = CSDIImputer(residual_channels=16, residual_layers=1, heads=2, dim_feedforward=32, num_diffusion_steps=20,
                      prediction="x0", baseline="interpolation", baseline_channel=True, deviation_channel=True)
    imp.fit(np.where(train_observed, train, np.nan), train_observed, num_batches=150, batch_size=16, lr=3e-3, seed=0,
            progress=False, mask_strategy="historical_random")
    eval_mask = rng.random(test.shape) < 0.1
    samples = imp.impute(test, ~eval_mask, num_samples=8, sampler="ddim", sampling_steps=5, seed=0).numpy()
    mae = np.abs(np.median(samples, 0) - test)[eval_mask].mean()
    mae_interp = np.abs(interpolate_impute(test, ~eval_mask) - test)[eval_mask].mean()
    assert mae < 0.45 * mae_interp, (mae, mae_interp)  # 0.23 (random masks: 0.64; no deviation channel: 0.35)


# -- loss weighting ---------------------------------------------------------------------------------------------------
def test_relative_weights_make_each_window_count_once_relative_to_its_fill():
    from tsdiff.diffusion import GaussianDiffusion, NoiseSchedule
    from tsdiff.models.csdi.module import RELATIVE_FLOOR, relative_window_weights

    g = torch.Generator().manual_seed(0)
    targets = (torch.rand(5, 3, 8, generator=g) < 0.4).float()
    targets[0] = 0.0  # nothing hidden
    scales = torch.tensor([1.0, 1.0, 10.0, 0.3, 1e-3]).reshape(5, 1, 1)  # window 4: below the floor
    residual = torch.randn(5, 3, 8, generator=g) * scales
    weights = relative_window_weights(targets, residual)
    spreads = []
    for i in range(5):
        n = targets[i].sum()
        if n == 0:
            assert torch.all(weights[i] == 0)
            continue
        s = max(float((residual[i] ** 2)[targets[i] > 0].mean()), RELATIVE_FLOOR)
        spreads.append((i, s))
        torch.testing.assert_close(weights[i], targets[i] / (n * s))
    assert spreads[-1][1] == RELATIVE_FLOOR
    # through the diffusion loss: the per-window MSEs averaged with weights 1 / s_i
    diffusion = GaussianDiffusion(NoiseSchedule("linear", 10), prediction="x0")
    t, noise = torch.randint(0, 10, (5,), generator=g), torch.randn(5, 3, 8, generator=g)
    denoiser = lambda x_t, t, cond: 0.5 * x_t  # noqa: E731
    loss = diffusion.training_loss(denoiser, residual, mask=weights, t=t, noise=noise)
    error = (0.5 * diffusion.q_sample(residual * (targets > 0), t, noise) - residual * (targets > 0)) ** 2
    mse = {i: float(error[i][targets[i] > 0].mean()) for i, _ in spreads}
    expected = sum(mse[i] / s for i, s in spreads) / sum(1 / s for _, s in spreads)
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_loss_weighting_reaches_the_loss_and_is_checked():
    from tsdiff.models.csdi.module import relative_window_weights

    values = torch.randn(4, 11, 3, generator=torch.Generator().manual_seed(1))
    seen = {}
    for weighting in ("pooled", "relative"):
        model = _model(prediction="x0", baseline="interpolation", loss_weighting=weighting)
        original = model.diffusion.training_loss

        def spy(denoiser, x0, cond=None, mask=None, **kw):
            seen[weighting] = (x0, mask)
            return original(denoiser, x0, cond, mask=mask, **kw)

        model.diffusion.training_loss = spy
        model.loss(values, torch.ones_like(values), generator=torch.Generator().manual_seed(2))
    x0, pooled = seen["pooled"]
    assert set(pooled.unique().tolist()) <= {0.0, 1.0}  # every hidden value counts once
    torch.testing.assert_close(seen["relative"][0], x0)  # the same draws
    torch.testing.assert_close(seen["relative"][1], relative_window_weights(pooled, x0))
    with pytest.raises(ValueError, match="loss_weighting must be one of"):
        _model(loss_weighting="window")


def test_relative_weighting_lets_one_network_forecast_and_fill_gaps():
    """Training on forecast windows and the data's own gaps (forecast_historical): pooled, the forecast windows'
    large errors drown the gaps and the median is no better than interpolation; weighted relatively it is far
    better."""
    train, test = _rough_and_correlated(256, seed=0), _rough_and_correlated(16, seed=1)
    rng = np.random.default_rng(3)
    train_observed = rng.random(train.shape) > 0.1
    eval_mask = rng.random(test.shape) < 0.1
    mae_interp = np.abs(interpolate_impute(test, ~eval_mask) - test)[eval_mask].mean()
    ratio = {}
    for weighting in ("pooled", "relative"):
        imp = CSDIImputer(residual_channels=16, residual_layers=1, heads=2, dim_feedforward=32, num_diffusion_steps=20,
                          prediction="x0", baseline="interpolation", baseline_channel=True, deviation_channel=True,
                          loss_weighting=weighting)
        imp.fit(np.where(train_observed, train, np.nan), train_observed, num_batches=150, batch_size=16, lr=3e-3,
                seed=0, progress=False, mask_strategy="forecast_historical", prediction_length=6)
        samples = imp.impute(test, ~eval_mask, num_samples=8, sampler="ddim", sampling_steps=5, seed=0).numpy()
        ratio[weighting] = np.abs(np.median(samples, 0) - test)[eval_mask].mean() / mae_interp
    assert ratio["relative"] < 0.6 and ratio["pooled"] > 1.5 * ratio["relative"], ratio  # 0.44 and 1.13
