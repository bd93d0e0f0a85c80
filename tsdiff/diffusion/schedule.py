"""Noise schedules: the sequence β_1..β_T and every constant derived from it.

All constants are computed once in float64 (the cumulative product ᾱ_t loses precision quickly in float32) and kept
as float64 tensors; :class:`~tsdiff.diffusion.GaussianDiffusion` casts them to the data's dtype and device when used.
Index ``t`` runs over ``0..T-1``: ``betas[t]`` is the paper's β_{t+1}.
"""
from __future__ import annotations

import math

import numpy as np
import torch

BETA_SCHEDULES = ("linear", "quad", "cosine")

# Defaults per schedule: TimeGrad uses linear 1e-4 → 0.1 over 100 steps, CSDI quad 1e-4 → 0.5 over 50 steps.
DEFAULTS = {
    "linear": dict(num_diffusion_steps=100, beta_start=1e-4, beta_end=0.1),
    "quad": dict(num_diffusion_steps=50, beta_start=1e-4, beta_end=0.5),
    "cosine": dict(num_diffusion_steps=100, beta_start=None, beta_end=None),
}

COSINE_OFFSET = 0.008  # s in Nichol & Dhariwal (2021), eq. 17
MAX_BETA = 0.999  # cosine betas are clipped here to avoid a singular last step


def _betas(beta_schedule: str, T: int, beta_start: float, beta_end: float) -> np.ndarray:
    if beta_schedule == "linear":
        return np.linspace(beta_start, beta_end, T, dtype=np.float64)
    if beta_schedule == "quad":
        return np.linspace(math.sqrt(beta_start), math.sqrt(beta_end), T, dtype=np.float64) ** 2
    # cosine: ᾱ(t) = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s) · π/2);  β_t = 1 − ᾱ_t/ᾱ_{t−1}
    steps = np.arange(T + 1, dtype=np.float64) / T
    f = np.cos((steps + COSINE_OFFSET) / (1 + COSINE_OFFSET) * math.pi / 2) ** 2
    alpha_bar = f / f[0]
    return np.clip(1.0 - alpha_bar[1:] / alpha_bar[:-1], 0.0, MAX_BETA)


class NoiseSchedule:
    """A variance schedule β_t and its derived constants (DDPM, Ho et al. 2020, eqs. 4, 6, 7).

    Args:
        beta_schedule: ``"linear"`` (β = linspace(β_start, β_end)), ``"quad"`` (β = linspace(√β_start, √β_end)²) or
            ``"cosine"`` (Nichol & Dhariwal 2021, s = 0.008, β clipped at 0.999; β_start/β_end are not used).
        num_diffusion_steps: T, the number of diffusion steps (≥ 1).
        beta_start, beta_end: first and last β for ``linear``/``quad``, each in (0, 1). ``None`` takes the
            schedule's default (linear 1e-4 → 0.1, quad 1e-4 → 0.5).

    Attributes (float64 tensors of shape ``(T,)``):
        betas, alphas (1 − β), alpha_bars (ᾱ_t = Π α), alpha_bars_prev (ᾱ_{t−1}, with ᾱ_{−1} = 1),
        posterior_variance (β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t)), posterior_log_variance_clipped (log β̃_t with
        β̃_0 = 0 replaced by β̃_1), posterior_mean_coef1/2 (μ̃_t = coef1 · x₀ + coef2 · x_t).
    """

    def __init__(
        self,
        beta_schedule: str = "linear",
        num_diffusion_steps: int | None = None,
        beta_start: float | None = None,
        beta_end: float | None = None,
    ):
        if beta_schedule not in BETA_SCHEDULES:
            raise ValueError(f"unknown beta_schedule {beta_schedule!r}; expected one of {BETA_SCHEDULES}")
        defaults = DEFAULTS[beta_schedule]
        T = defaults["num_diffusion_steps"] if num_diffusion_steps is None else num_diffusion_steps
        if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
            raise ValueError(f"num_diffusion_steps must be an integer >= 1, got {T!r}")
        if beta_schedule != "cosine":
            beta_start = defaults["beta_start"] if beta_start is None else beta_start
            beta_end = defaults["beta_end"] if beta_end is None else beta_end
            for name, value in (("beta_start", beta_start), ("beta_end", beta_end)):
                if not (isinstance(value, (int, float, np.floating)) and 0.0 < float(value) < 1.0):
                    raise ValueError(f"{name} must lie in the open interval (0, 1), got {value!r}")
        self.beta_schedule = beta_schedule
        self.num_diffusion_steps = int(T)
        self.beta_start = None if beta_start is None else float(beta_start)
        self.beta_end = None if beta_end is None else float(beta_end)

        betas = _betas(beta_schedule, self.num_diffusion_steps, self.beta_start, self.beta_end)
        alphas = 1.0 - betas
        alpha_bars = np.cumprod(alphas)
        alpha_bars_prev = np.concatenate([[1.0], alpha_bars[:-1]])
        posterior_variance = betas * (1.0 - alpha_bars_prev) / (1.0 - alpha_bars)
        # β̃_0 = 0; its log is clipped to log β̃_1 (or log β_0 when T = 1) so that it stays finite.
        first = posterior_variance[1] if self.num_diffusion_steps > 1 else betas[0]
        log_variance = np.log(np.concatenate([[first], posterior_variance[1:]]))

        as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
        self.betas = as_tensor(betas)
        self.alphas = as_tensor(alphas)
        self.alpha_bars = as_tensor(alpha_bars)
        self.alpha_bars_prev = as_tensor(alpha_bars_prev)
        self.posterior_variance = as_tensor(posterior_variance)
        self.posterior_log_variance_clipped = as_tensor(log_variance)
        self.posterior_mean_coef1 = as_tensor(betas * np.sqrt(alpha_bars_prev) / (1.0 - alpha_bars))
        self.posterior_mean_coef2 = as_tensor((1.0 - alpha_bars_prev) * np.sqrt(alphas) / (1.0 - alpha_bars))

    def __len__(self) -> int:
        return self.num_diffusion_steps

    def __repr__(self) -> str:
        if self.beta_schedule == "cosine":
            return f"NoiseSchedule('cosine', num_diffusion_steps={self.num_diffusion_steps})"
        return (
            f"NoiseSchedule({self.beta_schedule!r}, num_diffusion_steps={self.num_diffusion_steps}, "
            f"beta_start={self.beta_start:g}, beta_end={self.beta_end:g})"
        )

    def config(self) -> dict:
        """The constructor arguments, for serialisation."""
        return dict(beta_schedule=self.beta_schedule, num_diffusion_steps=self.num_diffusion_steps,
                    beta_start=self.beta_start, beta_end=self.beta_end)
