"""Gaussian diffusion: forward process, posterior, training objective and sampling loop.

One function per equation of Ho et al. (2020): ``q_sample`` (eq. 4), ``q_posterior`` (eqs. 6–7),
``predict_x0`` / ``predict_noise`` (eq. 4 solved for x₀ or ε), ``training_loss`` (L_simple, eq. 14).

The denoiser is any callable ``denoiser(x_t, t, cond) -> Tensor`` shaped like ``x_t``; ``x_t`` has the batch on its
first axis and any trailing shape; ``t`` is a LongTensor of shape ``(batch,)`` with step indices in ``[0, T)``.
Its output is interpreted according to ``prediction``: the noise ε, the clean data x₀, or the velocity
v = √ᾱ_t ε − √(1 − ᾱ_t) x₀ (Salimans & Ho 2022).
"""
from __future__ import annotations

from typing import Callable

import torch
from tqdm.auto import tqdm

from .options import SamplingOptions
from .samplers import Sampler, make_sampler
from .schedule import NoiseSchedule

PREDICTIONS = ("epsilon", "x0", "v")

Denoiser = Callable[[torch.Tensor, torch.Tensor, object], torch.Tensor]


class GaussianDiffusion:
    """The DDPM core shared by every model in tsdiff.

    Args:
        schedule: a :class:`NoiseSchedule`.
        prediction: what the denoiser predicts: ``"epsilon"`` (default), ``"x0"`` or ``"v"``.
    """

    def __init__(self, schedule: NoiseSchedule, prediction: str = "epsilon"):
        if not isinstance(schedule, NoiseSchedule):
            raise TypeError(f"schedule must be a NoiseSchedule, got {type(schedule).__name__}")
        if prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")
        self.schedule = schedule
        self.prediction = prediction
        s = schedule
        self._float64 = {
            "sqrt_ab": s.alpha_bars.sqrt(),
            "sqrt_one_minus_ab": (1.0 - s.alpha_bars).sqrt(),
            "coef1": s.posterior_mean_coef1,
            "coef2": s.posterior_mean_coef2,
            "post_var": s.posterior_variance,
            "post_logvar": s.posterior_log_variance_clipped,
        }
        self._scalars = {k: v.tolist() for k, v in self._float64.items()}
        self._cache: dict = {}

    @property
    def num_diffusion_steps(self) -> int:
        """T, the number of steps of the schedule."""
        return self.schedule.num_diffusion_steps

    def __repr__(self) -> str:
        return f"GaussianDiffusion({self.schedule!r}, prediction={self.prediction!r})"

    # -- helpers --------------------------------------------------------------------------------------------------
    def _coef(self, name: str, t, x: torch.Tensor):
        """Constant ``name`` at step ``t``, broadcastable against ``x`` of shape (batch, ...).

        ``t`` is a Python int (one step for the whole batch, as in sampling: returns a float) or a LongTensor of
        shape (batch,) (as in training: returns a tensor of shape (batch, 1, ..., 1)).
        """
        if isinstance(t, int):
            return self._scalars[name][t]
        key = (name, t.device, x.dtype)
        table = self._cache.get(key)
        if table is None:
            table = self._cache[key] = self._float64[name].to(device=t.device, dtype=x.dtype)
        return table[t].reshape(-1, *([1] * (x.dim() - 1)))

    def sample_timesteps(self, batch_size: int, device=None, generator=None) -> torch.Tensor:
        """Uniform step indices ``t ~ U{0, …, T−1}``, shape ``(batch_size,)``."""
        gen_device = generator.device if generator is not None else device
        t = torch.randint(0, self.num_diffusion_steps, (batch_size,), device=gen_device, generator=generator)
        return t.to(device)

    # -- forward process and posterior ------------------------------------------------------------------------------
    def q_sample(self, x0: torch.Tensor, t, noise: torch.Tensor) -> torch.Tensor:
        """x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε  (eq. 4). Shapes: x0, noise (B, ...); t (B,) or int."""
        return self._coef("sqrt_ab", t, x0) * x0 + self._coef("sqrt_one_minus_ab", t, x0) * noise

    def predict_x0(self, x_t: torch.Tensor, t, model_output: torch.Tensor) -> torch.Tensor:
        """The clean-data estimate x̂₀ implied by the denoiser's output at step t."""
        if self.prediction == "x0":
            return model_output
        a, b = self._coef("sqrt_ab", t, x_t), self._coef("sqrt_one_minus_ab", t, x_t)
        if self.prediction == "epsilon":
            return (x_t - b * model_output) / a
        return a * x_t - b * model_output  # v

    def predict_noise(self, x_t: torch.Tensor, t, model_output: torch.Tensor, x0=None) -> torch.Tensor:
        """The noise estimate ε̂ implied by the denoiser's output at step t (``x0``: an already computed x̂₀)."""
        if self.prediction == "epsilon":
            return model_output
        a, b = self._coef("sqrt_ab", t, x_t), self._coef("sqrt_one_minus_ab", t, x_t)
        if self.prediction == "v":
            return b * x_t + a * model_output
        x0 = model_output if x0 is None else x0
        return (x_t - a * x0) / b

    def q_posterior(self, x0: torch.Tensor, x_t: torch.Tensor, t):
        """Mean, variance and clipped log-variance of q(x_{t−1} | x_t, x₀)  (eqs. 6–7)."""
        mean = self._coef("coef1", t, x_t) * x0 + self._coef("coef2", t, x_t) * x_t
        return mean, self._coef("post_var", t, x_t), self._coef("post_logvar", t, x_t)

    def training_target(self, x0: torch.Tensor, t, noise: torch.Tensor) -> torch.Tensor:
        """What the denoiser should output for ``prediction``: ε, x₀ or v = √ᾱ ε − √(1−ᾱ) x₀."""
        if self.prediction == "epsilon":
            return noise
        if self.prediction == "x0":
            return x0
        return self._coef("sqrt_ab", t, x0) * noise - self._coef("sqrt_one_minus_ab", t, x0) * x0

    # -- training ---------------------------------------------------------------------------------------------------
    def training_loss(
        self,
        denoiser: Denoiser,
        x0: torch.Tensor,
        cond=None,
        mask: torch.Tensor | None = None,
        t: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """L_simple: mean squared error of the prediction target over the positions where ``mask`` is 1.

        Args:
            denoiser: ``denoiser(x_t, t, cond)``.
            x0: clean data, shape (B, ...). Entries where ``mask`` is 0 may be NaN: they are zeroed first and never
                reach the loss.
            cond: passed through to the denoiser.
            mask: 1 where the loss counts (observed targets), broadcastable to ``x0``; ``None`` counts everything.
                Non-binary weights act as per-position weights.
            t, noise: fix the drawn steps (shape (B,)) and noise (shape of x0); drawn here when ``None``.
        Returns:
            A scalar tensor.
        """
        if mask is not None:
            mask = mask.to(x0.dtype).expand_as(x0)
            x0 = torch.where(mask > 0, x0, torch.zeros_like(x0))
        if t is None:
            t = self.sample_timesteps(x0.shape[0], device=x0.device, generator=generator)
        if noise is None:
            noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype,
                                device=generator.device if generator is not None else x0.device).to(x0.device)
        x_t = self.q_sample(x0, t, noise)
        output = denoiser(x_t, t, cond)
        if output.shape != x0.shape:
            raise ValueError(f"denoiser returned shape {tuple(output.shape)}, expected {tuple(x0.shape)}")
        error = (output - self.training_target(x0, t, noise)) ** 2
        if mask is None:
            return error.mean()
        return (error * mask).sum() / mask.sum().clamp_min(1.0)

    # -- sampling ---------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        denoiser: Denoiser,
        shape,
        cond=None,
        sampling: SamplingOptions | Sampler | None = None,
        generator: torch.Generator | None = None,
        device=None,
        dtype: torch.dtype = torch.float32,
        noise: torch.Tensor | None = None,
        progress: bool = False,
    ) -> torch.Tensor:
        """Draw x₀ by running the reverse process from x_T ~ N(0, I).

        Everything in ``shape`` (its first axis: the batch, e.g. samples × series) goes through the denoiser
        together, one call per step.

        Args:
            denoiser: ``denoiser(x_t, t, cond)``; ``t`` is a LongTensor of shape ``(shape[0],)``.
            shape: shape of x, batch first.
            cond: passed through to the denoiser.
            sampling: :class:`SamplingOptions` (``None``: ddpm over all T steps), or a sampler object already built
                with :func:`make_sampler` (a model that samples many times with the same options builds it once).
            generator: makes the draw reproducible.
            device, dtype: of x (default: the device of ``noise`` if given, else CPU).
            noise: the starting x_T (overrides ``shape``'s draw).
            progress: show a progress bar over steps.
        Returns:
            Tensor of shape ``shape``.
        """
        sampler = sampling if isinstance(sampling, Sampler) else make_sampler(self, sampling)
        sampler.reset()
        if noise is None:
            device = torch.device("cpu") if device is None else torch.device(device)
            gen_device = generator.device if generator is not None else device
            x = torch.randn(tuple(shape), generator=generator, device=gen_device, dtype=dtype).to(device)
        else:
            x = noise
        batch = x.shape[0]
        for t in tqdm(sampler.timesteps, desc="sampling", disable=not progress, leave=False):
            t_batch = torch.full((batch,), t, device=x.device, dtype=torch.long)
            output = denoiser(x, t_batch, cond)
            x = sampler.step(output, t, x, generator=generator)
        return x
