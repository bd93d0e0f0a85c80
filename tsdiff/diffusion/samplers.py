"""Reverse-process samplers with a tiny contract: ``timesteps`` and ``step``.

A sampler turns a model's output at step ``t`` into the next, less noisy, state. It knows nothing about the network:
:meth:`GaussianDiffusion.sample` calls the denoiser once per step for the whole batch and hands the output here.
Switching from DDPM to DDIM is one argument.

Coefficients are plain Python floats computed in float64, so a step never indexes a device tensor and never forces
a host–device synchronisation inside the sampling loop.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:  # pragma: no cover
    from .gaussian import GaussianDiffusion

SAMPLERS = ("ddpm", "ddim")
VARIANCES = ("posterior", "beta")


def _gaussian_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise shaped like ``x``; drawn on the generator's device, so CPU generators work for GPU data."""
    if generator is None:
        return torch.randn_like(x)
    noise = torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype)
    return noise.to(x.device, non_blocking=True)


class DDPMSampler:
    """Ancestral sampling over all T steps (Ho et al. 2020, Algorithm 2).

    x_{t−1} = μ̃_t(x̂₀, x_t) + σ_t z with σ_t² = β̃_t (``variance="posterior"``) or β_t (``variance="beta"``);
    no noise is added at the last step.
    """

    def __init__(self, diffusion: "GaussianDiffusion", variance: str = "posterior"):
        if variance not in VARIANCES:
            raise ValueError(f"variance must be one of {VARIANCES}, got {variance!r}")
        self.diffusion = diffusion
        self.variance = variance
        s = diffusion.schedule
        var = (s.posterior_variance if variance == "posterior" else s.betas).numpy()
        self._sigma = [float(math.sqrt(v)) for v in var]
        self.timesteps = list(range(s.num_steps - 1, -1, -1))

    def step(self, model_output, t: int, x_t: torch.Tensor, generator=None, clip: float | None = None):
        x0 = self.diffusion.predict_x0(x_t, t, model_output)
        if clip is not None:
            x0 = x0.clamp(-clip, clip)
        mean, _, _ = self.diffusion.q_posterior(x0, x_t, t)
        if t == 0:
            return mean
        return mean + self._sigma[t] * _gaussian_like(x_t, generator)


class DDIMSampler:
    """DDIM (Song et al. 2021, eq. 12) over ``num_steps`` evenly spaced steps from T−1 down to 0.

    x_{τ'} = √ᾱ_{τ'} x̂₀ + √(1 − ᾱ_{τ'} − σ²) ε̂ + σ z,  σ = η √((1 − ᾱ_{τ'})/(1 − ᾱ_τ)) √(1 − ᾱ_τ/ᾱ_{τ'}).
    ``eta=0`` is deterministic; ``eta=1`` with all T steps is DDPM with σ_t² = β̃_t.
    """

    def __init__(self, diffusion: "GaussianDiffusion", num_steps: int | None = None, eta: float = 0.0):
        T = diffusion.schedule.num_steps
        num_steps = T if num_steps is None else num_steps
        if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or not 1 <= num_steps <= T:
            raise ValueError(f"num_steps must be an integer in [1, {T}] for this schedule, got {num_steps!r}")
        if not (isinstance(eta, (int, float)) and 0.0 <= eta <= 1.0):
            raise ValueError(f"eta must lie in [0, 1], got {eta!r}")
        self.diffusion = diffusion
        self.eta = float(eta)
        # Evenly spaced, always starting at the noisiest step T−1 (distinct because the spacing is >= 1).
        self.timesteps = [int(t) for t in np.round(np.linspace(T - 1, 0, num_steps))]
        alpha_bars = diffusion.schedule.alpha_bars.numpy()
        self._prev = {}
        for i, t in enumerate(self.timesteps):
            t_prev = self.timesteps[i + 1] if i + 1 < len(self.timesteps) else -1
            ab, ab_prev = alpha_bars[t], (alpha_bars[t_prev] if t_prev >= 0 else 1.0)
            sigma = self.eta * math.sqrt((1 - ab_prev) / (1 - ab)) * math.sqrt(1 - ab / ab_prev)
            dir_coef = math.sqrt(max(1 - ab_prev - sigma**2, 0.0))
            self._prev[t] = (math.sqrt(ab_prev), dir_coef, sigma)

    def step(self, model_output, t: int, x_t: torch.Tensor, generator=None, clip: float | None = None):
        x0 = self.diffusion.predict_x0(x_t, t, model_output)
        if clip is not None:
            x0 = x0.clamp(-clip, clip)
        eps = self.diffusion.predict_noise(x_t, t, model_output, x0=x0 if clip is None else None)
        sqrt_ab_prev, dir_coef, sigma = self._prev[t]
        x_prev = sqrt_ab_prev * x0 + dir_coef * eps
        if sigma > 0:
            x_prev = x_prev + sigma * _gaussian_like(x_t, generator)
        return x_prev


def resolve_sampling_options(
    sampler: str | None,
    num_steps: int | None,
    eta: float | None,
    defaults: tuple[str, int | None, float],
) -> tuple[str, int | None, float]:
    """Per-call sampler options laid over a model's ``defaults`` (sampler, num_steps, eta).

    ``None`` keeps the default. ``"ddpm"`` always runs all T steps, so a step count meant for DDIM (a model
    default, say) is dropped for it rather than refused. Returns (sampler, num_steps, eta) for :func:`make_sampler`.
    """
    default_sampler, default_steps, default_eta = defaults
    sampler = sampler or default_sampler
    num_steps = default_steps if num_steps is None else num_steps
    if sampler == "ddpm":
        num_steps = None
    return sampler, num_steps, default_eta if eta is None else eta


def make_sampler(
    diffusion: "GaussianDiffusion",
    sampler: str = "ddpm",
    num_steps: int | None = None,
    eta: float = 0.0,
    variance: str = "posterior",
):
    """Build a sampler by name: ``"ddpm"`` (all T steps; ``num_steps`` must be None or T) or ``"ddim"``."""
    if sampler == "ddpm":
        T = diffusion.schedule.num_steps
        if num_steps is not None and num_steps != T:
            raise ValueError(
                f"the ddpm sampler runs all {T} steps of its schedule (num_steps={num_steps} given); "
                "use sampler='ddim' for fewer steps"
            )
        return DDPMSampler(diffusion, variance=variance)
    if sampler == "ddim":
        return DDIMSampler(diffusion, num_steps=num_steps, eta=eta)
    raise ValueError(f"unknown sampler {sampler!r}; expected one of {SAMPLERS}")
