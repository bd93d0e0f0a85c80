"""Progressive distillation on Gaussian data: an exact teacher, a student of the same (affine) form.

Under the exact score every DDIM step is affine in x_t, so two teacher steps define an affine target that an affine
student can represent exactly; the student's few-step output must then reproduce the teacher's many-step output
(both known exactly through gaussian_helpers.affine_map).
"""
import copy

import pytest
import torch
from torch import nn

from gaussian_helpers import MU, STD, affine_map, relative_w2
from tsdiff.diffusion import DDIMSampler, GaussianDiffusion, NoiseSchedule
from tsdiff.diffusion.distillation import (DistillationBatch, distillation_loss, progressive_distillation,
                                           refined_timesteps)


class AffineDenoiser(nn.Module):
    """output = slope[t] · x + intercept[t] per dimension, initialised to the exact ε, x₀ or v of N(MU, STD²)."""

    def __init__(self, schedule, prediction):
        super().__init__()
        ab = schedule.alpha_bars[:, None]
        var = STD**2
        denom = ab * var + 1 - ab
        x0 = (ab.sqrt() * var / denom, MU - ab * var * MU / denom)
        eps = ((1 - ab).sqrt() / denom, -(1 - ab).sqrt() * ab.sqrt() * MU / denom)
        v = tuple(ab.sqrt() * e - (1 - ab).sqrt() * x for e, x in zip(eps, x0))
        slope, intercept = {"epsilon": eps, "x0": x0, "v": v}[prediction]
        self.slope = nn.Parameter(slope.clone())
        self.intercept = nn.Parameter(intercept.clone())

    def forward(self, x, t, cond):
        return self.slope[t] * x + self.intercept[t]


def gaussian_batches(batch_size=512):
    def draw(generator):
        return DistillationBatch(MU + STD * torch.randn(batch_size, len(MU), generator=generator, dtype=torch.float64))

    return draw


def test_refined_timesteps_insert_one_midpoint_per_segment():
    assert refined_timesteps([99, 74, 49, 24]) == [99, 86, 74, 61, 49, 36, 24, 11]
    assert refined_timesteps([99, 66, 33, 0]) == [99, 82, 66, 49, 33, 16, 0]  # 0 → data has no room
    assert refined_timesteps([5, 4, 1]) == [5, 4, 2, 1, 0]


def test_teacher_is_a_fixed_point():
    """A student equal to its teacher on a grid of single steps has zero loss: the target is its own step."""
    schedule = NoiseSchedule("linear", 100, 1e-4, 0.1)
    d = GaussianDiffusion(schedule, "v")
    teacher = AffineDenoiser(schedule, "v")
    g = torch.Generator().manual_seed(0)
    steps = list(range(99, -1, -1))  # every segment has width 1: no midpoints
    loss = distillation_loss(d, teacher, teacher, steps, gaussian_batches()(g), g)
    assert loss.item() < 1e-20
    # with midpoints the one-step target differs from the teacher's own step
    assert distillation_loss(d, teacher, teacher, [99, 74, 49, 24], gaussian_batches()(g), g).item() > 1e-4


@pytest.mark.parametrize("prediction", ["v", "x0"])
def test_four_step_student_reproduces_the_teachers_moments(prediction, one_torch_thread):
    schedule = NoiseSchedule("linear", 100, 1e-4, 0.1)  # TimeGrad's schedule
    d = GaussianDiffusion(schedule, prediction)
    teacher = AffineDenoiser(schedule, prediction)
    original = copy.deepcopy(teacher.state_dict())
    # 3 × 100 Adam steps on 256 draws: ~2 s; the student lands within ~0.004 of the teacher (seeds 1, 2)
    result = progressive_distillation(d, teacher, gaussian_batches(256), sampling_steps=4, halvings=3,
                                      iterations=100, lr=0.03, generator=torch.Generator().manual_seed(1))
    assert len(result.teacher_timesteps) == 32 and result.sampling.sampling_steps == 4
    for key, value in teacher.state_dict().items():
        assert torch.equal(value, original[key]), "the teacher is left unchanged"
    reference = affine_map(d, DDIMSampler(d, timesteps=result.teacher_timesteps), denoiser=teacher)
    student = affine_map(d, result.sampling, denoiser=result.student)
    teacher_few = affine_map(d, result.sampling, denoiser=teacher)
    assert relative_w2(*teacher_few, *reference) > 0.2, "4 plain DDIM steps are far from 32"
    assert relative_w2(*student, *reference) < 0.02


def test_mask_keeps_unobserved_positions_out_of_the_loss():
    schedule = NoiseSchedule("quad", 50, 1e-4, 0.5)
    d = GaussianDiffusion(schedule, "x0")
    teacher = AffineDenoiser(schedule, "x0")
    student = copy.deepcopy(teacher)
    with torch.no_grad():
        student.intercept[:, 2:] += 100.0  # wrong only where the mask is 0
    g = torch.Generator().manual_seed(2)
    x0 = gaussian_batches()(g).x0
    mask = torch.ones_like(x0)
    mask[:, 2:] = 0
    x0[:, 2:] = float("nan")
    steps = list(range(49, -1, -1))
    loss = distillation_loss(d, student, teacher, steps, DistillationBatch(x0, None, mask), g)
    assert torch.isfinite(loss) and loss.item() < 1e-20
