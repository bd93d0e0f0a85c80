"""Progressive distillation (Salimans & Ho, ICLR 2022): a student denoiser that takes one DDIM step where its
teacher took two, halved again and again down to 2–4 network calls per sample.

The utility sees only what every tsdiff model has: the :class:`GaussianDiffusion`, a denoiser module called as
``denoiser(x_t, t, cond)``, and a way to draw training batches (clean x₀ in the denoiser's units, its ``cond``, and
the mask of positions the loss counts, as in :meth:`GaussianDiffusion.training_loss`). The distilled student is
then sampled with the returned :class:`SamplingOptions` (DDIM, η = 0, on the grid it was trained for).

One halving (the paper's Algorithm 2, on a discrete grid): the student's grid G has n steps (the last one going to
the data); the teacher's grid refines G with the midpoint of every segment that has room for one. For a segment
t → t' (midpoint m) and z_t = α_t x₀ + σ_t ε (α = √ᾱ, σ = √(1 − ᾱ)), two DDIM steps of the teacher
    z_m = α_m x̂ + (σ_m/σ_t)(z_t − α_t x̂),  x̂ = x̂₀_teacher(z_t, t);   z_{t'} likewise from z_m,
fix the target x̃ that makes one DDIM step of the student from z_t land on z_{t'}:
    x̃ = (z_{t'} − (σ_{t'}/σ_t) z_t) / (α_{t'} − (σ_{t'}/σ_t) α_t)      (at the data, α = 1 and σ = 0: x̃ = z_{t'}).
The student (initialised as the teacher) fits x̂₀_student(z_t, t) to x̃ with the paper's "truncated SNR" weight
max(ᾱ_t/(1 − ᾱ_t), 1) on the squared error of x̂₀ (its Sec. 4); then it becomes the teacher of the next halving.
Any prediction type works through ``diffusion.predict_x0``; the paper finds x₀- or v-prediction students more
stable than ε-prediction ones at 1–4 steps, since x̂₀ = (z − σ ε̂)/α amplifies ε's errors where α is small.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, NamedTuple

import torch
from torch import nn

from .gaussian import GaussianDiffusion
from .options import SamplingOptions
from .timesteps import spaced_timesteps


class DistillationBatch(NamedTuple):
    """One training batch: ``x0`` (B, ...) clean data as the denoiser sees it; ``cond`` passed to the denoiser;
    ``mask`` 1 where the loss counts (broadcastable to x0; ``None``: everywhere; entries of x0 where it is 0 may
    be NaN)."""

    x0: torch.Tensor
    cond: object = None
    mask: torch.Tensor | None = None


@dataclass
class DistillationResult:
    """``student``: the distilled denoiser (a new module); ``sampling``: the options to sample it with;
    ``teacher_timesteps``: the grid the original denoiser was distilled from; ``losses``: per halving, the loss of
    every iteration."""

    student: nn.Module
    sampling: SamplingOptions
    teacher_timesteps: list[int]
    losses: list[list[float]]


def refined_timesteps(steps: list[int]) -> list[int]:
    """The teacher's grid for a student on ``steps`` (strictly decreasing; the data follows as index −1): the
    midpoint ⌊(a + b)/2⌋ inserted into every segment a → b with a − b ≥ 2."""
    refined = []
    for a, b in zip(steps, list(steps[1:]) + [-1]):
        refined.append(a)
        if a - b >= 2:
            refined.append((a + b) // 2)
    return refined


def _per_sample(table: torch.Tensor, index: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """table[index] shaped (B, 1, ..., 1) to broadcast against ``like`` (B, ...)."""
    return table[index].reshape(-1, *([1] * (like.dim() - 1)))


class _Grid:
    """α and σ per step index, with the data at index −1 (α = 1, σ = 0); float64 tables moved to the data."""

    def __init__(self, diffusion: GaussianDiffusion, device, dtype):
        ab = diffusion.schedule.alpha_bars
        one, zero = torch.ones(1, dtype=ab.dtype), torch.zeros(1, dtype=ab.dtype)
        self.alpha = torch.cat([one, ab.sqrt()]).to(device=device, dtype=dtype)  # entry k: step k − 1
        self.sigma = torch.cat([zero, (1 - ab).sqrt()]).to(device=device, dtype=dtype)
        self.snr = (ab / (1 - ab)).to(device=device, dtype=dtype)

    def coefs(self, t: torch.Tensor, like: torch.Tensor):
        return _per_sample(self.alpha, t + 1, like), _per_sample(self.sigma, t + 1, like)


def _ddim_step(diffusion, grid: _Grid, denoiser, z, s, u, cond):
    """One deterministic DDIM step from step s to step u (per sample; u = −1: the data), shapes (B, ...)."""
    x0 = diffusion.predict_x0(z, s, denoiser(z, s, cond))
    alpha_s, sigma_s = grid.coefs(s, z)
    alpha_u, sigma_u = grid.coefs(u, z)
    return alpha_u * x0 + sigma_u / sigma_s * (z - alpha_s * x0)


def distillation_loss(diffusion: GaussianDiffusion, student: nn.Module, teacher: nn.Module,
                      student_steps: list[int], batch: DistillationBatch,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """The weighted x̂₀ error of ``student`` against two DDIM steps of ``teacher``, a scalar (see module docstring).

    ``student_steps`` is the student's grid; each sample of the batch gets a random segment of it.
    """
    x0, cond, mask = batch
    if mask is not None:
        mask = mask.to(x0.dtype).expand_as(x0)
        x0 = torch.where(mask > 0, x0, torch.zeros_like(x0))
    B, device = x0.shape[0], x0.device
    teacher_steps = refined_timesteps(student_steps)
    starts, middles, ends = [], [], []
    for i, t in enumerate(student_steps):
        end = student_steps[i + 1] if i + 1 < len(student_steps) else -1
        after = teacher_steps[teacher_steps.index(t) + 1] if t != teacher_steps[-1] else -1
        starts.append(t), middles.append(after), ends.append(end)  # after == end: no midpoint
    gen_device = generator.device if generator is not None else device
    pick = torch.randint(0, len(student_steps), (B,), generator=generator, device=gen_device).to(device)
    t, mid, end = (torch.tensor(v, device=device)[pick] for v in (starts, middles, ends))
    noise = torch.randn(x0.shape, generator=generator, device=gen_device, dtype=x0.dtype).to(device)
    z = diffusion.q_sample(x0, t, noise)
    grid = _Grid(diffusion, device, x0.dtype)
    with torch.no_grad():
        z_mid = _ddim_step(diffusion, grid, teacher, z, t, mid, cond)
        has_mid = (mid != end).reshape(-1, *([1] * (x0.dim() - 1)))
        z_end = _ddim_step(diffusion, grid, teacher, z_mid, mid.clamp_min(0), end, cond)
        z_end = torch.where(has_mid, z_end, z_mid)
        alpha_t, sigma_t = grid.coefs(t, z)
        alpha_e, sigma_e = grid.coefs(end, z)
        ratio = sigma_e / sigma_t
        target = (z_end - ratio * z) / (alpha_e - ratio * alpha_t)
    predicted = diffusion.predict_x0(z, t, student(z, t, cond))
    weight = _per_sample(grid.snr, t, z).clamp_min(1.0)  # truncated SNR weighting
    error = weight * (predicted - target) ** 2
    if mask is None:
        return error.mean()
    return (error * mask).sum() / mask.sum().clamp_min(1.0)


def progressive_distillation(
    diffusion: GaussianDiffusion,
    denoiser: nn.Module,
    draw_batch: Callable[[torch.Generator | None], DistillationBatch],
    sampling_steps: int = 4,
    halvings: int = 3,
    spacing: str = "trailing",
    iterations: int = 500,
    lr: float = 1e-4,
    generator: torch.Generator | None = None,
) -> DistillationResult:
    """Distil ``denoiser`` into a student that samples in ``sampling_steps`` DDIM steps.

    Args:
        diffusion: the diffusion the denoiser was trained with.
        denoiser: the trained network (``denoiser(x_t, t, cond)``); left unchanged: the student is a copy.
        draw_batch: ``draw_batch(generator) -> DistillationBatch`` of training data.
        sampling_steps: the student's network calls per sample (2–4 is the aim).
        halvings: how many times the step count is halved: the original denoiser is run on a grid of about
            ``sampling_steps * 2**halvings`` steps (the final grid refined ``halvings`` times).
        spacing: the student's grid, :func:`~tsdiff.diffusion.timesteps.spaced_timesteps` (``"trailing"``: every
            call is at a step ≥ T/n − 1, none spent at t = 0).
        iterations: optimiser steps per halving (Adam, learning rate ``lr``).
        generator: draws segments and noise (and is passed to ``draw_batch``).
    Returns:
        A :class:`DistillationResult`; sample the student with ``result.sampling``.
    """
    if halvings < 1:
        raise ValueError(f"halvings must be at least 1, got {halvings!r}")
    grids = [spaced_timesteps(diffusion.schedule.alpha_bars, sampling_steps, spacing)]
    for _ in range(halvings):
        grids.insert(0, refined_timesteps(grids[0]))
    student = copy.deepcopy(denoiser)
    losses = []
    for student_steps in grids[1:]:
        teacher = copy.deepcopy(student).eval()
        teacher.requires_grad_(False)
        student.train()
        optimiser = torch.optim.Adam(student.parameters(), lr=lr)
        history = []
        for _ in range(iterations):
            loss = distillation_loss(diffusion, student, teacher, student_steps, draw_batch(generator), generator)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            history.append(loss.item())
        losses.append(history)
    student.eval()
    sampling = SamplingOptions("ddim", sampling_steps, eta=0.0, spacing=spacing)
    return DistillationResult(student, sampling, grids[0], losses)
