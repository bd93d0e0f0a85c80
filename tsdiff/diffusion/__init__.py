"""The one DDPM core of tsdiff: schedules, forward process, posterior, loss and samplers.

>>> from tsdiff.diffusion import NoiseSchedule, GaussianDiffusion, SamplingOptions
>>> diffusion = GaussianDiffusion(NoiseSchedule("linear", 100, 1e-4, 0.1))
>>> loss = diffusion.training_loss(denoiser, x0, cond)                                       # doctest: +SKIP
>>> x = diffusion.sample(denoiser, (64, 8), cond, SamplingOptions("ddim", sampling_steps=10))  # doctest: +SKIP
>>> x = diffusion.sample(denoiser, (64, 8), cond, SamplingOptions("dpm-solver++", 10))        # doctest: +SKIP
"""
from .distillation import DistillationBatch, DistillationResult, progressive_distillation
from .gaussian import PREDICTIONS, GaussianDiffusion
from .options import SAMPLERS, SOLVER_ORDERS, SPACINGS, VARIANCES, SamplingOptions
from .samplers import DDIMSampler, DDPMSampler, DPMSolverPlusPlusSampler, Sampler, make_sampler
from .schedule import BETA_SCHEDULES, NoiseSchedule
from .timesteps import spaced_timesteps

__all__ = [
    "NoiseSchedule",
    "GaussianDiffusion",
    "SamplingOptions",
    "Sampler",
    "DDPMSampler",
    "DDIMSampler",
    "DPMSolverPlusPlusSampler",
    "make_sampler",
    "spaced_timesteps",
    "progressive_distillation",
    "DistillationBatch",
    "DistillationResult",
    "BETA_SCHEDULES",
    "PREDICTIONS",
    "SAMPLERS",
    "VARIANCES",
    "SPACINGS",
    "SOLVER_ORDERS",
]
