"""Diffusion-step embeddings shared by the denoisers."""
from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_embedding(positions: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Transformer-style sinusoidal features: (N,) positions → (N, dim), first half sin, second half cos."""
    if dim % 2:
        raise ValueError(f"embedding dim must be even, got {dim}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=positions.device, dtype=torch.float32) / half)
    angles = positions.float()[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class DiffusionStepEmbedding(nn.Module):
    """Step index t → vector: a fixed sinusoidal table followed by two SiLU-activated projections
    (the embedding of DiffWave, used by TimeGrad and CSDI).

    Args:
        num_diffusion_steps: T, the number of diffusion steps.
        dim: width of the sinusoidal table and of the output.
        proj_dim: width of the output (default ``dim``).
    Shapes: ``t`` (B,) long → (B, proj_dim).
    """

    def __init__(self, num_diffusion_steps: int, dim: int = 128, proj_dim: int | None = None):
        super().__init__()
        proj_dim = dim if proj_dim is None else proj_dim
        self.register_buffer("table", sinusoidal_embedding(torch.arange(num_diffusion_steps), dim), persistent=False)
        self.proj1 = nn.Linear(dim, proj_dim)
        self.proj2 = nn.Linear(proj_dim, proj_dim)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        x = self.table[t]
        x = nn.functional.silu(self.proj1(x))
        return nn.functional.silu(self.proj2(x))
