"""The samplers driven by the exact score of Gaussian data (the closed forms are in gaussian_helpers).

Every sampler step is affine in x_t plus Gaussian noise, so the mean and variance of the chain's output follow a
scalar recursion, written below from the papers' update rules (not from tsdiff).
"""
import math

import numpy as np
import pytest
import torch

from gaussian_helpers import MU, STD, affine_map, affine_predictions, exact_predictor
from tsdiff.diffusion import GaussianDiffusion, NoiseSchedule, SamplingOptions

N = 20_000


def reference_moments(schedule, mu, var, sampler, sampling_steps=None, eta=0.0, variance="posterior"):
    """Mean and variance of the chain's output, by the scalar recursion m' = a m + b, v' = a² v + σ²."""
    betas = schedule.betas.numpy()
    ab_all = schedule.alpha_bars.numpy()
    T = len(betas)
    m, v = 0.0, 1.0
    if sampler == "ddpm":
        for t in range(T - 1, -1, -1):
            ab = ab_all[t]
            ab_prev = ab_all[t - 1] if t > 0 else 1.0
            (x0a, x0b), _ = affine_predictions(ab, mu, var)
            c1 = betas[t] * math.sqrt(ab_prev) / (1 - ab)  # Ho et al. eq. 7
            c2 = (1 - ab_prev) * math.sqrt(1 - betas[t]) / (1 - ab)
            a, b = c1 * x0a + c2, c1 * x0b
            sigma2 = 0.0 if t == 0 else (betas[t] * (1 - ab_prev) / (1 - ab) if variance == "posterior" else betas[t])
            m, v = a * m + b, a * a * v + sigma2
        return m, v
    taus = np.round(np.linspace(T - 1, 0, sampling_steps)).astype(int)
    for i, t in enumerate(taus):
        ab = ab_all[t]
        ab_prev = ab_all[taus[i + 1]] if i + 1 < len(taus) else 1.0
        (x0a, x0b), (ea, eb) = affine_predictions(ab, mu, var)
        sigma = eta * math.sqrt((1 - ab_prev) / (1 - ab)) * math.sqrt(1 - ab / ab_prev)  # Song et al. eq. 16
        d = math.sqrt(1 - ab_prev - sigma**2)
        a = math.sqrt(ab_prev) * x0a + d * ea
        b = math.sqrt(ab_prev) * x0b + d * eb
        m, v = a * m + b, a * a * v + sigma**2
    return m, v


def draw(diffusion, prediction, seed=0, n=N, **kwargs):
    denoiser = exact_predictor(diffusion.schedule, prediction)
    gen = torch.Generator().manual_seed(seed)
    return diffusion.sample(denoiser, (n, len(MU)), sampling=SamplingOptions(**kwargs), generator=gen,
                            dtype=torch.float64)


def assert_moments_match(x, schedule, **kwargs):
    n = x.shape[0]
    for d in range(len(MU)):
        m, v = reference_moments(schedule, MU[d].item(), STD[d].item() ** 2, **kwargs)
        emp_m, emp_v = x[:, d].mean().item(), x[:, d].var().item()
        assert abs(emp_m - m) < 5 * math.sqrt(v / n), (d, emp_m, m)
        assert abs(emp_v - v) < 5 * v * math.sqrt(2 / n), (d, emp_v, v)


SCHEDULES = {
    "linear": NoiseSchedule("linear", 100, 1e-4, 0.1),
    "quad": NoiseSchedule("quad", 50, 1e-4, 0.5),
    "cosine": NoiseSchedule("cosine", 100),
}


@pytest.mark.parametrize("beta_schedule", list(SCHEDULES))
@pytest.mark.parametrize("prediction", ["epsilon", "x0", "v"])
@pytest.mark.parametrize(
    "sampler_kwargs",
    [
        dict(sampler="ddpm", variance="posterior"),
        dict(sampler="ddpm", variance="beta"),
        dict(sampler="ddim", sampling_steps=10, eta=0.0),
        dict(sampler="ddim", sampling_steps=7, eta=0.5),
        dict(sampler="ddim", sampling_steps=50, eta=1.0),
    ],
    ids=["ddpm-posterior", "ddpm-beta", "ddim10-eta0", "ddim7-eta0.5", "ddim50-eta1"],
)
def test_chain_moments_equal_exact_recursion(beta_schedule, prediction, sampler_kwargs):
    schedule = SCHEDULES[beta_schedule]
    x = draw(GaussianDiffusion(schedule, prediction), prediction, **sampler_kwargs)
    ref_kwargs = dict(sampler_kwargs)
    if ref_kwargs["sampler"] == "ddim":
        ref_kwargs.pop("variance", None)
    assert_moments_match(x, schedule, **ref_kwargs)


LONG_SCHEDULES = {
    "linear-1000": NoiseSchedule("linear", 1000, 1e-4, 0.02),
    "cosine-1000": NoiseSchedule("cosine", 1000),
}


@pytest.mark.slow  # ~15 s each: 1000 steps over 20,000 samples; fast variant below
@pytest.mark.parametrize("name", list(LONG_SCHEDULES))
@pytest.mark.parametrize("prediction", ["epsilon", "v"])
def test_ddpm_recovers_the_data_distribution(name, prediction):
    schedule = LONG_SCHEDULES[name]
    assert schedule.alpha_bars[-1].item() < 1e-4
    x = draw(GaussianDiffusion(schedule, prediction), prediction, seed=1)
    np.testing.assert_allclose(x.mean(0).numpy(), MU.numpy(), atol=0.02 * 2)  # means: 2 % of the spread of ±2
    np.testing.assert_allclose(x.std(0).numpy(), STD.numpy(), rtol=0.02)


@pytest.mark.slow  # ~10 s each; the exact variant below needs no sampling
@pytest.mark.parametrize("name", list(LONG_SCHEDULES))
def test_ddim_error_shrinks_with_more_steps(name):
    """Few deterministic DDIM steps shrink the variance; the error must fall as sampling_steps grows."""
    schedule = LONG_SCHEDULES[name]
    diffusion = GaussianDiffusion(schedule)
    errors = []
    for steps in (5, 10, 20, 100, 1000):
        x = draw(diffusion, "epsilon", seed=2, sampler="ddim", sampling_steps=steps)
        errors.append(float((x.std(0) / STD - 1).abs().max()))
    assert errors[0] > 0.05, f"5 DDIM steps should be visibly off, errors={errors}"
    assert all(a > b for a, b in zip(errors[:3], errors[1:4])), f"errors must shrink: {errors}"
    assert errors[-1] < 0.02, errors


@pytest.mark.parametrize("name", list(LONG_SCHEDULES))
def test_ddpm_recursion_recovers_the_data_distribution(name):
    """Fast variant of the slow test above: the recursion that the chain's moments are checked against (over
    sampled chains, in test_chain_moments_equal_exact_recursion and below) ends at the data's moments."""
    schedule = LONG_SCHEDULES[name]
    for d in range(len(MU)):
        m, v = reference_moments(schedule, MU[d].item(), STD[d].item() ** 2, "ddpm")
        # the slow test's tolerances: means within 2 % of the ±2 spread, stds within 2 %
        assert abs(m - MU[d].item()) < 0.04 and math.sqrt(v) == pytest.approx(STD[d].item(), rel=0.02)


@pytest.mark.parametrize("prediction", ["epsilon", "v"])
def test_ddpm_chain_on_200_steps_matches_the_recursion(prediction):
    """Fast variant, with the one above: a long chain (200 steps, 4,000 samples) has the recursion's moments."""
    schedule = NoiseSchedule("cosine", 200)
    x = draw(GaussianDiffusion(schedule, prediction), prediction, seed=1, n=4000)
    assert_moments_match(x, schedule, sampler="ddpm")


@pytest.mark.parametrize("name", list(LONG_SCHEDULES))
def test_ddim_error_shrinks_with_more_steps_exactly(name):
    """Fast, exact variant: deterministic DDIM under the exact score is an affine map of x_T, so its output std is
    known without sampling (gaussian_helpers.affine_map)."""
    diffusion = GaussianDiffusion(LONG_SCHEDULES[name])
    errors = []
    for steps in (5, 10, 20, 100, 1000):
        slope, _ = affine_map(diffusion, dict(sampler="ddim", sampling_steps=steps))
        errors.append(float((slope.abs() / STD - 1).abs().max()))
    assert errors[0] > 0.05, f"5 DDIM steps should be visibly off, errors={errors}"
    assert all(a > b for a, b in zip(errors, errors[1:])), f"errors must shrink: {errors}"
    assert errors[-1] < 0.01, errors
