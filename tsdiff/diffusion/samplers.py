"""Reverse-process samplers with a tiny contract: ``timesteps``, ``reset`` and ``step``.

A sampler turns a model's output at step ``t`` into the next, less noisy, state. It knows nothing about the network:
:meth:`GaussianDiffusion.sample` calls the denoiser once per entry of ``timesteps`` for the whole batch and hands the
output to ``step``; ``reset`` clears any state a multistep sampler keeps between steps, at the start of every run.
Switching between DDPM, DDIM and DPM-Solver++ is one field of :class:`~tsdiff.diffusion.SamplingOptions`.

Coefficients are plain Python floats computed in float64, so a step never indexes a device tensor and never forces
a host–device synchronisation inside the sampling loop.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import torch

from .options import DEFAULT_SPACING, SamplingOptions
from .timesteps import checked_timesteps, spaced_timesteps

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
    """DDIM (Song et al. 2021, eq. 12) over ``sampling_steps`` steps chosen by ``spacing``
    (:func:`~tsdiff.diffusion.timesteps.spaced_timesteps`; default: evenly spaced from T−1 down to 0), or over the
    explicit, strictly decreasing step indices ``timesteps``.

    x_{τ'} = √ᾱ_{τ'} x̂₀ + √(1 − ᾱ_{τ'} − σ²) ε̂ + σ z,  σ = η √((1 − ᾱ_{τ'})/(1 − ᾱ_τ)) √(1 − ᾱ_τ/ᾱ_{τ'}).
    ``eta=0`` is deterministic; ``eta=1`` with all T steps is DDPM with σ_t² = β̃_t.
    """

    def __init__(self, diffusion: "GaussianDiffusion", sampling_steps: int | None = None, eta: float = 0.0,
                 clip: float = math.inf, spacing: str = DEFAULT_SPACING["ddim"],
                 timesteps: Sequence[int] | None = None):
        super().__init__(diffusion, clip)
        self.eta = float(eta)
        self.spacing = spacing
        alpha_bars = diffusion.schedule.alpha_bars.numpy()
        if timesteps is None:
            self.timesteps = spaced_timesteps(alpha_bars, sampling_steps, spacing)
        else:  # an explicit grid, e.g. the one a distilled student was trained on
            self.timesteps = checked_timesteps(timesteps, len(alpha_bars))
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


class DPMSolverPlusPlusSampler(Sampler):
    """DPM-Solver++ (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic
    Models", arXiv:2211.01095): a solver of the diffusion ODE (η = 0) or SDE (η > 0, below) written with the data
    prediction x̂₀.

    With α_t = √ᾱ_t, σ_t = √(1 − ᾱ_t) and the half log-SNR λ_t = log(α_t/σ_t), the ODE's exact solution from step s
    to step t is (the paper's Sec. 4.1, data-prediction form)
        x_t = (σ_t/σ_s) x_s + σ_t ∫_{λ_s}^{λ_t} e^λ x̂₀(x_λ, λ) dλ.
    Holding x̂₀ fixed over a step gives the first-order update (equal to DDIM with η = 0, as the paper notes):
        x_t = (σ_t/σ_s) x_s − α_t (e^{−h} − 1) x̂₀(x_s, s),    h = λ_t − λ_s;
    letting x̂₀ vary linearly in λ through the current and the previous evaluation gives the multistep second-order
    update "DPM-Solver++(2M)" (the paper's Algorithm 2), where x̂₀(x_s, s) is replaced by
        D = (1 + 1/(2r)) x̂₀(x_s, s) − 1/(2r) x̂₀(x_{s'}, s'),    r = h'/h,
    s' being the step before s and h' = λ_s − λ_{s'}. One network call per step; the first step has no history and
    is first order. The last step goes from the final index to the data (σ = 0, λ = ∞, so h = ∞ and r = 0): there
    the update is x̂₀ itself, necessarily first order (the authors also lower the order at the end of short runs).

    **Stochastic variant (η > 0).** The reverse SDE has the same linear part, and integrating it exactly over the
    step while holding the data term fixed (as above) gives, with a fresh z ~ N(0, I) per step,
        x_t = (σ_t/σ_s) e^{−ηh} x_s + α_t (1 − e^{−(1+η)h}) D + σ_t √(1 − e^{−2ηh}) z.
    η = 0 is the ODE solver above; η = 1 is the SDE solver ("SDE-DPM-Solver++", Lu et al. 2022, and "SEEDS",
    Gonzalez et al. 2023). At order 1 this is the DDIM step whose fresh-noise variance is σ_t² (1 − e^{−2ηh}), so at
    η = 1 it equals DDIM with η = 1 step for step (tests/test_diffusion_solvers.py checks both); in between, the two
    η's parametrise the same family differently. Fresh noise re-randomises what the network got wrong at earlier
    steps, which is why ancestral samplers forgive an imperfect network better than ODE samplers do.

    Coefficients are evaluated as α_t (1 − e^{−(1+η)h}) = α_t − α_s (σ_t/σ_s) e^{−ηh} with
    e^{−h} = α_s σ_t / (σ_s α_t), which stay finite at σ_t = 0. ε-, x₀- and v-prediction models are all converted to
    x̂₀ (clipped if asked: the paper's thresholding) before the update.

    Args:
        diffusion: the :class:`~tsdiff.diffusion.GaussianDiffusion` whose schedule is solved.
        sampling_steps: network calls per run, 1 ≤ n ≤ T.
        order: 1 or 2.
        clip: clamp x̂₀ to [−clip, clip] (``math.inf``: never).
        spacing: see :func:`~tsdiff.diffusion.timesteps.spaced_timesteps` (default ``"logsnr"``, uniform steps in λ).
        eta: η in [0, 1], the fresh noise per step (0: the deterministic ODE solver; 1: the SDE solver).
    """

    def __init__(self, diffusion: "GaussianDiffusion", sampling_steps: int, order: int = 2,
                 clip: float = math.inf, spacing: str = DEFAULT_SPACING["dpm-solver++"], eta: float = 0.0):
        super().__init__(diffusion, clip)
        self.order = int(order)
        self.spacing = spacing
        self.eta = float(eta)
        alpha_bars = diffusion.schedule.alpha_bars.numpy()
        self.timesteps = spaced_timesteps(alpha_bars, sampling_steps, spacing)
        # Per step i (from timesteps[i] to the next index, or to the data after the last): the multiplier of x_s,
        # the multiplier of D, the weight 1/(2r) of the previous x̂₀ (0 for a first-order step) and the standard
        # deviation of the fresh noise (0 for the ODE solver and for the last step).
        self._coefs: list[tuple[float, float, float, float]] = []
        h_prev = None
        for i, t in enumerate(self.timesteps):
            alpha_s, sigma_s = math.sqrt(alpha_bars[t]), math.sqrt(1.0 - alpha_bars[t])
            if i + 1 < len(self.timesteps):
                ab_next = alpha_bars[self.timesteps[i + 1]]
                alpha_t, sigma_t = math.sqrt(ab_next), math.sqrt(1.0 - ab_next)
                h = math.log(alpha_t / sigma_t) - math.log(alpha_s / sigma_s)
            else:  # to the data: α = 1, σ = 0, h = ∞
                alpha_t, sigma_t, h = 1.0, 0.0, math.inf
            second_order = self.order == 2 and h_prev is not None and math.isfinite(h)
            prev_weight = 1.0 / (2.0 * (h_prev / h)) if second_order else 0.0
            decay = (alpha_s * sigma_t / (sigma_s * alpha_t)) ** self.eta  # e^{−ηh}; exactly 1.0 when η = 0
            noise_std = sigma_t * math.sqrt(max(1.0 - decay**2, 0.0))
            self._coefs.append((sigma_t / sigma_s * decay, alpha_t - alpha_s * sigma_t / sigma_s * decay, prev_weight,
                                noise_std))
            h_prev = h
        self.reset()

    def reset(self) -> None:
        """Forget the previous x̂₀ and restart at the first of ``timesteps``."""
        self._step_index = 0
        self._prev_x0: torch.Tensor | None = None

    def step(self, model_output, t, x_t, generator=None):
        i = self._step_index
        if i >= len(self.timesteps) or t != self.timesteps[i]:
            expected = self.timesteps[i] if i < len(self.timesteps) else "reset() first"
            raise RuntimeError(f"DPM-Solver++ steps must follow its timesteps in order after reset(): got step {t}, "
                               f"expected {expected}")
        x_scale, d_scale, prev_weight, noise_std = self._coefs[i]
        x0 = self.predicted_x0(model_output, t, x_t)
        d = x0 if prev_weight == 0.0 else (1.0 + prev_weight) * x0 - prev_weight * self._prev_x0
        self._prev_x0 = x0
        self._step_index = i + 1
        x_next = x_scale * x_t + d_scale * d
        if noise_std > 0.0:
            x_next = x_next + noise_std * _gaussian_like(x_t, generator)
        return x_next


def make_sampler(diffusion: "GaussianDiffusion", sampling: SamplingOptions | None = None) -> Sampler:
    """The sampler object of ``sampling`` (checked against the diffusion's schedule; ``None``: ddpm)."""
    options = (sampling or SamplingOptions()).check(diffusion.num_diffusion_steps)
    if options.sampler == "ddpm":
        return DDPMSampler(diffusion, variance=options.variance, clip=options.clip)
    if options.sampler == "dpm-solver++":
        return DPMSolverPlusPlusSampler(diffusion, sampling_steps=options.sampling_steps, order=options.order,
                                        clip=options.clip, spacing=options.spacing, eta=options.eta)
    return DDIMSampler(diffusion, sampling_steps=options.sampling_steps, eta=options.eta, clip=options.clip,
                       spacing=options.spacing)
