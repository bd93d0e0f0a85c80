"""Exponential moving average (EMA) of a network's weights: the weights diffusion models are usually sampled with.

After optimiser step k (k = 1, 2, ...): θ_ema ← d_k · θ_ema + (1 − d_k) · θ, with the warm-up
d_k = min(d, (1 + k) / (10 + k)), so that a short run's average is not dominated by the random initial weights.
"""
from __future__ import annotations

import torch
from torch import nn


def ema_decay_at(step: int, decay: float) -> float:
    """d_k: the decay the ``step``-th update (``step`` ≥ 1) uses."""
    return min(decay, (1.0 + step) / (10.0 + step))


@torch.no_grad()
def ema_update(average: nn.Module, model: nn.Module, decay: float) -> None:
    """θ_avg ← decay · θ_avg + (1 − decay) · θ for every parameter of two modules of the same architecture; buffers
    are copied.

    Buffers are copied, not averaged: the diffusion models' buffers are fixed tables (step embeddings, schedules),
    and averaging a constant with itself drifts by rounding, so the averaged network would no longer equal the one
    its saved weights rebuild.
    """
    for avg, new in zip(average.parameters(), model.parameters()):
        avg.mul_(decay).add_(new.detach(), alpha=1.0 - decay)
    for avg, new in zip(average.buffers(), model.buffers()):
        avg.copy_(new)
