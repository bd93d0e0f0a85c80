"""Reverse-process samplers with a tiny contract: ``timesteps``, ``reset`` and ``step``.

A sampler turns a model's output at step ``t`` into the next, less noisy, state. It knows nothing about the network:
:meth:`GaussianDiffusion.sample` calls the denoiser once per entry of ``timesteps`` for the whole batch and hands the
output to ``step``; ``reset`` clears any state a multistep sampler keeps between steps, at the start of every run.
Switching from DDPM to DDIM is one field of :class:`~tsdiff.diffusion.SamplingOptions`.

Coefficients are plain Python floats computed in float64, so a step never indexes a device tensor and never forces
a host–device synchronisation inside the sampling loop.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch

from .options import SamplingOptions

if TYPE_CHECKING:  # pragma: no cover
    from .gaussian import GaussianDiffusion


def _gaussian_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise shaped like ``x``; drawn on the generator's device, so CPU generators work for GPU data."""
    if generator is None:
        return torch.randn_like(x)
    noise = torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype)
    return noise.to(x.device, non_blocking=True)


class Sampler:
    """Base of the samplers: ``timesteps`` (step indices, noisiest first), ``reset()``, ``step(...)``.

    ``clip``: clamp x̂₀ to [−clip, clip] before it is used (``math.inf``: never).
    """

    timesteps: list[int]

    def __init__(self, diffusion: "GaussianDiffusion", clip: float = math.inf):
        self.diffusion = diffusion
        self.clip = float(clip)

    def reset(self) -> None:
        """Forget state carried between steps (none for one-step samplers)."""

    def predicted_x0(self, model_output: torch.Tensor, t: int, x_t: torch.Tensor) -> torch.Tensor:
        """x̂₀ implied by the model output at step ``t``, clipped if asked."""
        x0 = self.diffusion.predict_x0(x_t, t, model_output)
        return x0 if math.isinf(self.clip) else x0.clamp(-self.clip, self.clip)

    def step(self, model_output: torch.Tensor, t: int, x_t: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """x at the next entry of ``timesteps`` (x₀ after the last), shaped like ``x_t``."""
        raise NotImplementedError


class DDPMSampler(Sampler):
    """Ancestral sampling over all T steps (Ho et al. 2020, Algorithm 2).

    x_{t−1} = μ̃_t(x̂₀, x_t) + σ_t z with σ_t² = β̃_t (``variance="posterior"``) or β_t (``variance="beta"``);
    no noise is added at the last step.
    """

    def __init__(self, diffusion: "GaussianDiffusion", variance: str = "posterior", clip: float = math.inf):
        super().__init__(diffusion, clip)
        s = diffusion.schedule
        var = (s.posterior_variance if variance == "posterior" else s.betas).numpy()
        self.variance = variance
        self._sigma = [float(math.sqrt(v)) for v in var]
        self.timesteps = list(range(s.num_diffusion_steps - 1, -1, -1))

    def step(self, model_output, t, x_t, generator=None):
        mean, _, _ = self.diffusion.q_posterior(self.predicted_x0(model_output, t, x_t), x_t, t)  # eqs. 6–7
        if t == 0:
            return mean
        return mean + self._sigma[t] * _gaussian_like(x_t, generator)


class DDIMSampler(Sampler):
    """DDIM (Song et al. 2021, eq. 12) over ``sampling_steps`` evenly spaced steps from T−1 down to 0.

    x_{τ'} = √ᾱ_{τ'} x̂₀ + √(1 − ᾱ_{τ'} − σ²) ε̂ + σ z,  σ = η √((1 − ᾱ_{τ'})/(1 − ᾱ_τ)) √(1 − ᾱ_τ/ᾱ_{τ'}).
    ``eta=0`` is deterministic; ``eta=1`` with all T steps is DDPM with σ_t² = β̃_t.
    """

    def __init__(self, diffusion: "GaussianDiffusion", sampling_steps: int, eta: float = 0.0,
                 clip: float = math.inf):
        super().__init__(diffusion, clip)
        T = diffusion.schedule.num_diffusion_steps
        self.eta = float(eta)
        # Evenly spaced, always starting at the noisiest step T−1 (distinct because the spacing is >= 1).
        self.timesteps = [int(t) for t in np.round(np.linspace(T - 1, 0, sampling_steps))]
        alpha_bars = diffusion.schedule.alpha_bars.numpy()
        self._prev = {}
        for i, t in enumerate(self.timesteps):
            t_prev = self.timesteps[i + 1] if i + 1 < len(self.timesteps) else -1
            ab, ab_prev = alpha_bars[t], (alpha_bars[t_prev] if t_prev >= 0 else 1.0)
            sigma = self.eta * math.sqrt((1 - ab_prev) / (1 - ab)) * math.sqrt(1 - ab / ab_prev)
            dir_coef = math.sqrt(max(1 - ab_prev - sigma**2, 0.0))
            self._prev[t] = (math.sqrt(ab_prev), dir_coef, sigma)

    def step(self, model_output, t, x_t, generator=None):
        x0 = self.predicted_x0(model_output, t, x_t)
        # Unclipped, ε̂ follows from x̂₀; clipped, the direction term keeps the network's own noise estimate.
        eps = self.diffusion.predict_noise(x_t, t, model_output, x0=x0 if math.isinf(self.clip) else None)
        sqrt_ab_prev, dir_coef, sigma = self._prev[t]
        x_prev = sqrt_ab_prev * x0 + dir_coef * eps
        if sigma > 0:
            x_prev = x_prev + sigma * _gaussian_like(x_t, generator)
        return x_prev


def make_sampler(diffusion: "GaussianDiffusion", sampling: SamplingOptions | None = None) -> Sampler:
    """The sampler object of ``sampling`` (checked against the diffusion's schedule; ``None``: ddpm)."""
    options = (sampling or SamplingOptions()).check(diffusion.num_diffusion_steps)
    if options.sampler == "ddpm":
        return DDPMSampler(diffusion, variance=options.variance, clip=options.clip)
    return DDIMSampler(diffusion, sampling_steps=options.sampling_steps, eta=options.eta, clip=options.clip)
