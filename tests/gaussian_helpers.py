"""The exact score of Gaussian data, for testing samplers against closed forms.

For x₀ ~ N(μ, s²) per dimension, q(x_t) = N(√ᾱ μ, ᾱ s² + 1 − ᾱ), and the optimal predictors are
    ε*(x_t) = √(1−ᾱ) (x_t − √ᾱ μ) / (ᾱ s² + 1 − ᾱ),      x₀* = E[x₀ | x_t] = μ + √ᾱ s² (x_t − √ᾱ μ)/(ᾱ s² + 1 − ᾱ),
and v* = √ᾱ ε* − √(1−ᾱ) x₀*. Every step of a sampler is then affine in x_t (plus Gaussian noise for the stochastic
ones), so a deterministic sampler maps x_T to x₀ by an affine map x₀ = a x_T + b per dimension: running it on
x_T = 0 and x_T = 1 gives b and a + b exactly, and with x_T ~ N(0, 1) its output is exactly N(b, a²).
"""
import math

import torch

from tsdiff.diffusion import SamplingOptions

MU = torch.tensor([0.0, 1.5, -2.0, 0.5], dtype=torch.float64)
STD = torch.tensor([1.0, 0.5, 2.0, 0.2], dtype=torch.float64)


def exact_predictor(schedule, prediction):
    """``denoiser(x_t, t, cond)`` returning the exact ε, x₀ or v of the data N(MU, STD²); x_t of shape (B, 4)."""
    ab_table = schedule.alpha_bars

    def denoiser(x, t, cond):
        ab = ab_table[t].reshape(-1, 1).to(x.dtype)
        centred = x - ab.sqrt() * MU.to(x.dtype)
        denom = ab * STD.to(x.dtype) ** 2 + 1 - ab
        eps = (1 - ab).sqrt() * centred / denom
        x0 = MU.to(x.dtype) + ab.sqrt() * STD.to(x.dtype) ** 2 * centred / denom
        return {"epsilon": eps, "x0": x0, "v": ab.sqrt() * eps - (1 - ab).sqrt() * x0}[prediction]

    return denoiser


def affine_predictions(ab, mu, var):
    """x̂₀ and ε̂ as (slope, intercept) in x_t, for data N(mu, var)."""
    denom = ab * var + 1 - ab
    x0 = (math.sqrt(ab) * var / denom, mu - ab * var * mu / denom)
    eps = (math.sqrt(1 - ab) / denom, -math.sqrt(1 - ab) * math.sqrt(ab) * mu / denom)
    return x0, eps


def affine_map(diffusion, sampling, denoiser=None):
    """(slope, intercept), each of shape (4,), of a deterministic sampler's map x_T ↦ x₀ under the exact score."""
    denoiser = denoiser or exact_predictor(diffusion.schedule, diffusion.prediction)
    noise = torch.stack([torch.zeros(len(MU)), torch.ones(len(MU))]).double()
    if isinstance(sampling, dict):
        sampling = SamplingOptions(**sampling)
    out = diffusion.sample(denoiser, noise.shape, sampling=sampling, noise=noise)
    return out[1] - out[0], out[0]


def exact_flow_map(schedule):
    """(slope, intercept) of the exact probability-flow ODE from step T−1 to the data, started from N(0, 1).

    The ODE carries q(x_{T−1}) = N(√ᾱ μ, τ²), τ² = ᾱ s² + 1 − ᾱ, onto N(μ, s²); in one dimension its flow is
    increasing, hence the monotone affine transport x₀ = μ + (s/τ)(x − √ᾱ μ), whatever the path of ᾱ in between.
    The limit of every ODE sampler as its steps shrink; comparing with it isolates the discretisation error from the
    mismatch between N(0, 1) and q(x_{T−1}).
    """
    ab = schedule.alpha_bars[-1].item()
    tau = torch.sqrt(ab * STD**2 + 1 - ab)
    return STD / tau, MU - STD / tau * math.sqrt(ab) * MU


def relative_w2(slope, intercept, ref_slope, ref_intercept):
    """max over dimensions of W₂(N(b, a²), N(b', a'²)) / s: the Wasserstein-2 distance of the two output
    distributions in units of the data's standard deviation."""
    w2 = torch.sqrt((intercept - ref_intercept) ** 2 + (slope.abs() - ref_slope.abs()) ** 2)
    return float((w2 / STD).max())


def discretisation_error(diffusion, sampling):
    """``relative_w2`` of a deterministic sampler's output against the exact flow's."""
    return relative_w2(*affine_map(diffusion, sampling), *exact_flow_map(diffusion.schedule))


def stochastic_map(diffusion, sampling, monkeypatch):
    """(slope, noise_std, intercept), each (4,), of any sampler under the exact score: its output is exactly
    N(intercept, slope² + noise_std²) when x_T ~ N(0, 1).

    Every step is affine in x_t and in the fresh noise z_k it draws, so the output is a x_T + Σ_k b_k z_k + c. The
    samplers draw z through ``tsdiff.diffusion.samplers._gaussian_like``; here it returns unit vectors instead: row 0
    (x_T = 0, every z = 0) gives c, row 1 (x_T = 1) gives a + c, row 2 + k (only z_k = 1) gives b_k + c.
    """
    from tsdiff.diffusion import samplers

    if isinstance(sampling, dict):
        sampling = SamplingOptions(**sampling)
    T = diffusion.num_diffusion_steps
    rows = 2 + T
    draws = []

    def unit_noise(x, generator):
        z = torch.zeros_like(x)
        z[2 + len(draws)] = 1.0
        draws.append(1)
        return z

    noise = torch.zeros(rows, len(MU), dtype=torch.float64)
    noise[1] = 1.0
    with monkeypatch.context() as patch:  # undoes only this patch, on leaving
        patch.setattr(samplers, "_gaussian_like", unit_noise)
        out = diffusion.sample(exact_predictor(diffusion.schedule, diffusion.prediction), noise.shape,
                               sampling=sampling, noise=noise)
    c = out[0]
    b = out[2:2 + len(draws)] - c
    return out[1] - c, torch.sqrt((b**2).sum(0)), c


def stochastic_error(diffusion, sampling, monkeypatch):
    """``relative_w2`` of a (stochastic or deterministic) sampler's exact output distribution against the data's."""
    slope, noise_std, intercept = stochastic_map(diffusion, sampling, monkeypatch)
    return relative_w2(torch.sqrt(slope**2 + noise_std**2), intercept, STD, MU)
