"""Schedules and the closed-form pieces of the forward process and posterior."""
import math

import numpy as np
import pytest
import torch

from tsdiff.diffusion import GaussianDiffusion, NoiseSchedule, SamplingOptions


def test_linear_and_quad_match_closed_form():
    lin = NoiseSchedule("linear", 100, 1e-4, 0.1)
    np.testing.assert_allclose(lin.betas.numpy(), np.linspace(1e-4, 0.1, 100), rtol=0, atol=1e-15)
    quad = NoiseSchedule("quad", 50, 1e-4, 0.5)
    np.testing.assert_allclose(quad.betas.numpy(), np.linspace(1e-2, math.sqrt(0.5), 50) ** 2, rtol=1e-14)
    assert quad.betas[0].item() == pytest.approx(1e-4) and quad.betas[-1].item() == pytest.approx(0.5)


def test_cosine_matches_nichol_dhariwal():
    T, s = 200, 0.008
    sched = NoiseSchedule("cosine", T)
    f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    expected = np.array([f(t) / f(0) for t in range(1, T + 1)])
    # ᾱ equals f(t)/f(0) wherever no β was clipped at 0.999
    clipped = sched.betas.numpy() >= 0.999
    np.testing.assert_allclose(sched.alpha_bars.numpy()[~clipped], expected[~clipped], rtol=1e-10)
    assert clipped[-1] and clipped.sum() == 1  # only the last β is clipped
    assert sched.betas.max().item() == pytest.approx(0.999)


@pytest.mark.parametrize("beta_schedule", ["linear", "quad", "cosine"])
def test_derived_constants(beta_schedule):
    s = NoiseSchedule(beta_schedule, 64)
    ab = s.alpha_bars.numpy()
    assert np.all(np.diff(ab) < 0), "alpha_bar must be strictly decreasing"
    np.testing.assert_allclose(ab, np.cumprod(1 - s.betas.numpy()), rtol=1e-14)
    ab_prev = np.concatenate([[1.0], ab[:-1]])
    np.testing.assert_allclose(s.posterior_variance.numpy(), s.betas.numpy() * (1 - ab_prev) / (1 - ab), rtol=1e-14)
    assert s.posterior_variance[0].item() == 0.0
    assert np.all(np.isfinite(s.posterior_log_variance_clipped.numpy()))
    assert s.betas.dtype == torch.float64


@pytest.mark.parametrize(
    "args",
    [
        dict(beta_schedule="sigmoid"),
        dict(beta_schedule="linear", num_diffusion_steps=0),
        dict(beta_schedule="linear", num_diffusion_steps=2.5),
        dict(beta_schedule="linear", beta_start=0.0),
        dict(beta_schedule="linear", beta_end=1.0),
        dict(beta_schedule="quad", beta_start=-1e-4),
        dict(beta_schedule="quad", beta_end=1.5),
    ],
)
def test_invalid_arguments_raise(args):
    with pytest.raises(ValueError):
        NoiseSchedule(**args)


def test_invalid_diffusion_arguments():
    s = NoiseSchedule("linear", 10)
    with pytest.raises(ValueError, match="prediction"):
        GaussianDiffusion(s, prediction="score")
    with pytest.raises(TypeError):
        GaussianDiffusion("linear")
    d = GaussianDiffusion(s)
    zero = lambda x, t, c: torch.zeros_like(x)  # noqa: E731
    bad = [
        (dict(sampler="ddpm", sampling_steps=5), "ddim"),
        (dict(sampler="ddim", sampling_steps=11), "sampling_steps"),
        (dict(sampler="ddim", sampling_steps=0), "sampling_steps"),
        (dict(sampler="ddim", eta=1.5), "eta"),
        (dict(variance="learned"), "variance"),
        (dict(sampler="euler"), "sampler"),
        (dict(clip=0.0), "clip"),
        (dict(sampler="ddim", sampling_steps=5, spacing="uniform"), "spacing"),
        (dict(sampler="dpm-solver++", sampling_steps=5, order=3), "order"),
        (dict(sampler="dpm-solver++", sampling_steps=5, order=True), "order"),
        (dict(sampler="dpm-solver++", sampling_steps=5, order=2.0), "order"),
        (dict(sampler="dpm-solver++", sampling_steps=11), "sampling_steps"),
        (dict(sampler="ddpm", sampling_steps=5), "dpm-solver"),  # the error names the few-step samplers
    ]
    for options, match in bad:
        with pytest.raises(ValueError, match=match):
            d.sample(zero, (2, 3), sampling=SamplingOptions(**options))
    with pytest.raises(TypeError, match="sampling_steps"):
        d.sample(zero, (2, 3), sampling=SamplingOptions("ddim", sampling_steps=2.5))
    with pytest.raises(ValueError, match="shape"):
        d.training_loss(lambda x, t, c: x[:, :1], torch.zeros(4, 3))


def test_q_sample_moments():
    d = GaussianDiffusion(NoiseSchedule("linear", 100, 1e-4, 0.1))
    g = torch.Generator().manual_seed(0)
    n = 200_000
    x0 = torch.full((n,), 1.7, dtype=torch.float64)
    for t in (0, 10, 50, 99):
        tt = torch.full((n,), t, dtype=torch.long)
        xt = d.q_sample(x0, tt, torch.randn(n, generator=g, dtype=torch.float64))
        ab = d.schedule.alpha_bars[t].item()
        tol_mean = 5 * math.sqrt((1 - ab) / n)
        assert abs(xt.mean().item() - math.sqrt(ab) * 1.7) < tol_mean
        assert xt.var().item() == pytest.approx(1 - ab, rel=5 * math.sqrt(2 / n))


@pytest.mark.parametrize("prediction", ["epsilon", "x0", "v"])
def test_posterior_mean_from_x0_equals_from_eps(prediction):
    s = NoiseSchedule("quad", 50, 1e-4, 0.5)
    d = GaussianDiffusion(s, prediction=prediction)
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(64, 5, generator=g, dtype=torch.float64)
    eps = torch.randn(64, 5, generator=g, dtype=torch.float64)
    t = torch.randint(1, 50, (64,), generator=g)
    xt = d.q_sample(x0, t, eps)
    mean, var, logvar = d.q_posterior(x0, xt, t)
    # DDPM eq. 11: μ̃ = (x_t − β_t/√(1−ᾱ_t) ε)/√α_t
    beta = s.betas[t][:, None]
    alpha, ab = s.alphas[t][:, None], s.alpha_bars[t][:, None]
    mean_eps = (xt - beta / torch.sqrt(1 - ab) * eps) / torch.sqrt(alpha)
    torch.testing.assert_close(mean, mean_eps, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(var, s.posterior_variance[t][:, None])
    torch.testing.assert_close(logvar, s.posterior_variance[t][:, None].log())
    # each parameterisation's exact target converts back to the same x0 and eps
    target = d.training_target(x0, t, eps)
    torch.testing.assert_close(d.predict_x0(xt, t, target), x0, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(d.predict_noise(xt, t, target), eps, rtol=1e-9, atol=1e-9)


def test_training_loss_honours_mask_and_nan():
    d = GaussianDiffusion(NoiseSchedule("linear", 20))
    x0 = torch.randn(8, 6)
    mask = torch.ones(8, 6)
    mask[:, :2] = 0
    x0_nan = x0.clone()
    x0_nan[:, :2] = float("nan")
    # a denoiser that outputs a big error only where the mask is 0 must give zero loss with the exact ε elsewhere
    noise = torch.randn(8, 6)
    t = torch.randint(0, 20, (8,))

    def denoiser(x, tt, c):
        out = noise.clone()
        out[:, :2] = 100.0
        return out

    loss = d.training_loss(denoiser, x0_nan, mask=mask, t=t, noise=noise)
    assert torch.isfinite(loss) and loss.item() == pytest.approx(0.0, abs=1e-12)
    full = d.training_loss(denoiser, x0, t=t, noise=noise)
    expected = ((100.0 - noise[:, :2]) ** 2).sum() / noise.numel()
    assert full.item() == pytest.approx(expected.item(), rel=1e-5)


def test_sampling_is_reproducible_and_batched():
    d = GaussianDiffusion(NoiseSchedule("linear", 30))
    calls = []

    def denoiser(x, t, c):
        calls.append(x.shape[0])
        return 0.1 * x

    a = d.sample(denoiser, (50, 3, 4), generator=torch.Generator().manual_seed(3))
    b = d.sample(denoiser, (50, 3, 4), generator=torch.Generator().manual_seed(3))
    c = d.sample(denoiser, (50, 3, 4), generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert calls == [50] * 90, "one denoiser call per step for the whole batch"
    calls.clear()
    d.sample(denoiser, (7, 2), sampling=SamplingOptions("ddim", sampling_steps=5))
    assert calls == [7] * 5


DEFAULTS = SamplingOptions("ddim", sampling_steps=10, eta=0.5)
CHECKED_DEFAULTS = SamplingOptions("ddim", 10, 0.5, spacing="quadratic")


def test_sampler_switch_drops_the_defaults_spacing():
    """Defaults with a spacing: switching sampler drops it (dpm-solver++ then gets its own default), keeping it
    when the sampler is the same."""
    assert SamplingOptions("dpm-solver++", 5).resolve(CHECKED_DEFAULTS).check(50).spacing == "logsnr"
    assert SamplingOptions(sampling_steps=5).resolve(CHECKED_DEFAULTS).check(50).spacing == "quadratic"


@pytest.mark.parametrize(
    "call,expected",
    [
        (SamplingOptions(), DEFAULTS),  # nothing given: the model's defaults
        (SamplingOptions("ddpm"), SamplingOptions("ddpm", None, None)),  # a step count and η belong to their sampler
        (SamplingOptions("ddpm", 7), SamplingOptions("ddpm", 7, None)),  # kept, and refused by check() below
        (SamplingOptions("ddim", 20, 0.0), SamplingOptions("ddim", 20, 0.0)),  # eta 0 is a value, not "unset"
        (SamplingOptions(sampling_steps=5), SamplingOptions("ddim", 5, 0.5)),
        (SamplingOptions(clip=3.0), SamplingOptions("ddim", 10, 0.5, clip=3.0)),
        (SamplingOptions(spacing="logsnr"), SamplingOptions("ddim", 10, 0.5, spacing="logsnr")),
        # a spacing and η, like a step count, belong to their sampler; other fields carry over
        (SamplingOptions("dpm-solver++", order=1), SamplingOptions("dpm-solver++", None, None, order=1)),
        (SamplingOptions("dpm-solver++", eta=1.0, clip=2.0), SamplingOptions("dpm-solver++", None, 1.0, clip=2.0)),
        (SamplingOptions(sampling_steps=5, eta=0.0), SamplingOptions("ddim", 5, 0.0)),
    ],
)
def test_sampling_options_resolve(call, expected):
    assert call.resolve(DEFAULTS) == expected


def test_sampling_options_check_fills_every_field_and_is_idempotent():
    checked = SamplingOptions().check(50)
    assert checked == SamplingOptions("ddpm", 50, 0.0, "posterior", math.inf, "linspace", 2)
    assert checked.check(50) == checked
    assert SamplingOptions("ddpm", 50).check(50).sampling_steps == 50  # ddpm with T steps is fine
    with pytest.raises(ValueError, match="ddpm sampler runs all 50"):
        SamplingOptions("ddpm", 7).resolve(DEFAULTS).check(50)
    assert checked.to_dict()["clip"] is None  # JSON-able: no clipping is written as null
    # the spacing default belongs to the sampler; both it and the solver order are recorded in results
    solver = SamplingOptions("dpm-solver++", 10).check(50)
    assert (solver.spacing, solver.order) == ("logsnr", 2)
    assert SamplingOptions("ddim", 10).check(50).spacing == "linspace"
    assert solver.to_dict() == dict(sampler="dpm-solver++", sampling_steps=10, eta=0.0, variance="posterior",
                                    clip=None, spacing="logsnr", order=2)


def test_clip_bounds_every_predicted_x0():
    """A denoiser that predicts a huge ε makes x̂₀ explode; with clip the chain stays inside [−clip, clip]."""
    d = GaussianDiffusion(NoiseSchedule("linear", 20))
    huge = lambda x, t, c: torch.full_like(x, 1e3)  # noqa: E731
    for sampler in ("ddpm", "ddim", "dpm-solver++"):
        free = d.sample(huge, (4, 3), sampling=SamplingOptions(sampler), generator=torch.Generator().manual_seed(0))
        clipped = d.sample(huge, (4, 3), sampling=SamplingOptions(sampler, clip=2.0), generator=torch.Generator().manual_seed(0))
        assert free.abs().max() > 100
        assert clipped.abs().max() <= 2.0 + 1e-6
