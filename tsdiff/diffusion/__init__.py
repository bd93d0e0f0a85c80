"""The one DDPM core of tsdiff: schedules, forward process, posterior, loss and samplers.

>>> from tsdiff.diffusion import NoiseSchedule, GaussianDiffusion
>>> diffusion = GaussianDiffusion(NoiseSchedule("linear", 100, 1e-4, 0.1))
>>> loss = diffusion.training_loss(denoiser, x0, cond)                        # doctest: +SKIP
>>> x = diffusion.sample(denoiser, (64, 8), cond, sampler="ddim", num_steps=10)  # doctest: +SKIP
"""
from .gaussian import PREDICTIONS, GaussianDiffusion
from .samplers import SAMPLERS, VARIANCES, DDIMSampler, DDPMSampler, make_sampler, resolve_sampling_options
from .schedule import SCHEDULE_KINDS, NoiseSchedule

__all__ = [
    "NoiseSchedule",
    "GaussianDiffusion",
    "DDPMSampler",
    "DDIMSampler",
    "make_sampler",
    "resolve_sampling_options",
    "SCHEDULE_KINDS",
    "PREDICTIONS",
    "SAMPLERS",
    "VARIANCES",
]
