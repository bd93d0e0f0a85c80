"""CSDI's denoiser (Tashiro et al., NeurIPS 2021): residual layers of a time and a feature transformer.

Layout: every grid here is ``(batch, K, L)`` = batch × features × time (CSDI's own layout); the model
(:class:`~tsdiff.models.csdi.CSDIModel`) takes and returns ``(N, L, K)`` and transposes. Hidden feature maps are
channels-last, ``(batch, K, L, C)``.

Sampling batches all samples of all series: the batch axis of ``x_t`` is ``num_samples * N``, sample-major
(row ``s * N + n`` is sample ``s`` of series ``n``). Everything that depends only on the conditioning (the
conditioning channel's projection, the side-information projection of every residual layer) is computed once per
series by :meth:`CSDIDenoiser.condition` and broadcast over samples and steps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional

import torch
from torch import nn
from torch.nn import functional as F

from tsdiff import checks
from tsdiff.nn.axial import AxialTransformerLayer
from tsdiff.nn.embedding import DiffusionStepEmbedding, sinusoidal_embedding


def _linear(in_dim: int, out_dim: int, zero: bool = False) -> nn.Linear:
    """A 1×1 convolution as a Linear on channels-last data, initialised like CSDI's ``Conv1d_with_init``."""
    layer = nn.Linear(in_dim, out_dim)
    if zero:
        nn.init.zeros_(layer.weight)
    else:
        nn.init.kaiming_normal_(layer.weight)
    return layer


def _bcast_add(y: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``y + c`` where y's batch is ``S * N`` (sample-major) and c's batch is N (or also ``S * N``)."""
    if y.shape[0] == c.shape[0]:
        return y + c
    return (y.reshape(-1, *c.shape) + c).reshape(y.shape)


def _bcast_mul(y: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    if y.shape[0] == c.shape[0]:
        return y * c
    return (y.reshape(-1, *c.shape) * c).reshape(y.shape)


@dataclass
class CSDIConditioning:
    """Everything the denoiser needs that does not change over diffusion steps or samples.

    Attributes:
        mask: conditioning mask, (N, K, L), 1 = value given to the model.
        input_base: projection of the conditioning channel plus bias, (N, K, L, C).
        side: per residual layer, the projection of the side information, (N, K, L, 2C).
    """

    mask: torch.Tensor
    input_base: torch.Tensor
    side: List[torch.Tensor]


class CSDIResidualBlock(nn.Module):
    """One CSDI residual layer: step embedding → time transformer → feature transformer → gated activation.

    Shapes: ``h`` (B, K, L, C), ``step`` (B, E_step), ``side`` (N, K, L, 2C) with B = S·N → (residual out, skip),
    both (B, K, L, C).
    """

    def __init__(self, channels: int, heads: int, step_dim: int, side_dim: int, dim_feedforward: int, dropout: float):
        super().__init__()
        self.step_projection = nn.Linear(step_dim, channels)
        self.side_projection = _linear(side_dim, 2 * channels)
        self.mid_projection = _linear(channels, 2 * channels)
        self.output_projection = _linear(channels, 2 * channels)
        self.time_layer = AxialTransformerLayer(channels, heads, dim_feedforward, dropout, "gelu", axis="time")
        self.feature_layer = AxialTransformerLayer(channels, heads, dim_feedforward, dropout, "gelu", axis="feature")

    def project_side(self, time_emb: torch.Tensor, feat_emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Side info [time emb (L, Et) | feature emb (N, K, Ef) | mask (N, K, L)] → (N, K, L, 2C).

        Equal to ``side_projection`` applied to the concatenated (N, K, L, Et + Ef + 1) side information, computed
        without materialising it (the projection is linear and each part varies along one axis only).
        """
        w, b = self.side_projection.weight, self.side_projection.bias
        et, ef = time_emb.shape[-1], feat_emb.shape[-1]
        time_part = time_emb @ w[:, :et].T  # (L, 2C)
        feat_part = feat_emb @ w[:, et:et + ef].T + b  # (N, K, 2C)
        mask_part = mask[..., None] * w[:, et + ef]  # (N, K, L, 2C)
        return mask_part + feat_part[:, :, None, :] + time_part

    def forward(self, h: torch.Tensor, step: torch.Tensor, side: torch.Tensor):
        y = h + self.step_projection(step)[:, None, None, :]
        y = self.feature_layer(self.time_layer(y))
        y = _bcast_add(self.mid_projection(y), side)
        gate, filt = y.chunk(2, dim=-1)
        y = self.output_projection(torch.sigmoid(gate) * torch.tanh(filt))
        residual, skip = y.chunk(2, dim=-1)
        return (h + residual) / math.sqrt(2.0), skip


class CSDIDenoiser(nn.Module):
    """ε_θ(x_t, t | conditioning) of CSDI on (features × time) grids.

    Input per position: two channels, the conditioning value (``cond_mask · x``) and the noisy target
    (``(1 − cond_mask) · x_t``), and optionally a third, a fill of the grid (``baseline_channel``); side information:
    sinusoidal time embedding, learned feature embedding and the conditioning mask.

    Args:
        num_features: number of distinct feature ids (rows of the feature embedding); grids may use a subset.
        residual_channels, residual_layers, heads: width, number of residual layers and attention heads
            (CSDI: 64, 4, 8).
        num_diffusion_steps: T (for the step-embedding table).
        step_embedding_dim, time_embedding_dim, feature_embedding_dim: CSDI: 128, 128, 16.
        dim_feedforward, dropout: of the transformer layers (CSDI: 64, 0.1).
        baseline_channel: a third input channel carrying a deterministic fill of the whole grid (e.g. the linear
            interpolation of the conditioning values, as PriSTI, ICDE 2023), given to :meth:`condition`.
        deviation_channel: one more input channel, each given value's deviation from its neighbours
            (:func:`~tsdiff.models.csdi.baseline.local_deviation`), given to :meth:`condition`.
    Shapes: ``forward(x_t (B, K, L), t (B,), cond)`` → ε̂ (B, K, L), where ``cond`` is a :class:`CSDIConditioning`
    from :meth:`condition` for N series and B = S·N (sample-major).
    """

    def __init__(
        self,
        num_features: int,
        residual_channels: int = 64,
        residual_layers: int = 4,
        heads: int = 8,
        num_diffusion_steps: int = 50,
        step_embedding_dim: int = 128,
        time_embedding_dim: int = 128,
        feature_embedding_dim: int = 16,
        dim_feedforward: int = 64,
        dropout: float = 0.1,
        baseline_channel: bool = False,
        deviation_channel: bool = False,
    ):
        super().__init__()
        self.check_arguments(num_features, residual_channels, residual_layers, heads, step_embedding_dim,
                             time_embedding_dim, feature_embedding_dim, dim_feedforward, dropout)
        C = residual_channels
        self.num_features = num_features
        self.residual_channels = C
        self.time_embedding_dim = time_embedding_dim
        self.step_embedding = DiffusionStepEmbedding(num_diffusion_steps, step_embedding_dim)
        self.feature_embedding = nn.Embedding(num_features, feature_embedding_dim)
        self.baseline_channel = bool(baseline_channel)
        self.deviation_channel = bool(deviation_channel)
        # input channels: [conditioning value, noisy target, (fill), (deviation)]
        self.input_projection = _linear(2 + self.baseline_channel + self.deviation_channel, C)
        side_dim = time_embedding_dim + feature_embedding_dim + 1
        self.blocks = nn.ModuleList(
            CSDIResidualBlock(C, heads, step_embedding_dim, side_dim, dim_feedforward, dropout)
            for _ in range(residual_layers)
        )
        self.output_hidden = _linear(C, C)
        self.output = _linear(C, 1, zero=True)

    @staticmethod
    def check_arguments(num_features=1, residual_channels=64, residual_layers=4, heads=8, step_embedding_dim=128,
                        time_embedding_dim=128, feature_embedding_dim=16, dim_feedforward=64, dropout=0.1,
                        baseline_channel=False, deviation_channel=False) -> None:
        """Check the hyperparameters without building anything (ValueError/TypeError naming the bad one)."""
        for name, value in [("num_features", num_features), ("residual_channels", residual_channels),
                            ("residual_layers", residual_layers), ("heads", heads),
                            ("step_embedding_dim", step_embedding_dim), ("time_embedding_dim", time_embedding_dim),
                            ("feature_embedding_dim", feature_embedding_dim), ("dim_feedforward", dim_feedforward)]:
            checks.positive_int(value, name)
        if residual_channels % heads:
            raise ValueError(f"residual_channels ({residual_channels}) must be divisible by heads ({heads})")
        checks.dropout_rate(dropout, "dropout")
        for name, flag in [("baseline_channel", baseline_channel), ("deviation_channel", deviation_channel)]:
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {flag!r}")

    def condition(
        self, cond_values: torch.Tensor, cond_mask: torch.Tensor, feature_id: Optional[torch.Tensor] = None,
        baseline: Optional[torch.Tensor] = None, deviation: Optional[torch.Tensor] = None,
    ) -> CSDIConditioning:
        """Precompute the step- and sample-independent part of the network.

        Args:
            cond_values: (N, K, L), the values given to the model (zero elsewhere).
            cond_mask: (N, K, L), 1 where a value is given.
            feature_id: (N, K) long ids into the feature embedding (default ``arange(K)``).
            baseline: (N, K, L), the third input channel; required exactly when built with ``baseline_channel``.
            deviation: (N, K, L), the last input channel; required exactly when built with ``deviation_channel``.
        """
        if (baseline is not None) != self.baseline_channel:
            raise ValueError("a baseline grid must be given exactly when the denoiser has a baseline channel")
        if (deviation is not None) != self.deviation_channel:
            raise ValueError("a deviation grid must be given exactly when the denoiser has a deviation channel")
        N, K, L = cond_values.shape
        if feature_id is None:
            if K > self.num_features:
                raise ValueError(f"grid has {K} features but the model was built for {self.num_features}")
            feature_id = torch.arange(K, device=cond_values.device).expand(N, K)
        cond_mask = cond_mask.to(cond_values.dtype)
        time_emb = sinusoidal_embedding(torch.arange(L, device=cond_values.device), self.time_embedding_dim)
        feat_emb = self.feature_embedding(feature_id)  # (N, K, Ef)
        w, b = self.input_projection.weight, self.input_projection.bias
        input_base = (cond_values * cond_mask)[..., None] * w[:, 0] + b
        if baseline is not None:
            input_base = input_base + baseline[..., None] * w[:, 2]
        if deviation is not None:
            input_base = input_base + deviation[..., None] * w[:, -1]
        side = [block.project_side(time_emb, feat_emb, cond_mask) for block in self.blocks]
        return CSDIConditioning(mask=cond_mask, input_base=input_base, side=side)

    #: Without gradients, a batch of S·N rows is evaluated in slices of whole samples holding about this many grid
    #: cells (rows × K × L): the result is the same, but the activations stay in cache (on CPU, batch 500 of an
    #: 8 × 60 grid runs ~2× faster in slices of ~5k cells than in one piece). ``None`` disables slicing.
    inference_chunk_cells: Optional[int] = 4800

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: CSDIConditioning) -> torch.Tensor:
        B, K, L = x_t.shape
        N = cond.mask.shape[0]
        if self.inference_chunk_cells and not torch.is_grad_enabled() and B > N:
            rows = N * max(1, self.inference_chunk_cells // (N * K * L))  # whole samples (sample-major batch)
            if rows < B:
                return torch.cat([self._forward(x_t[i:i + rows], t[i:i + rows], cond) for i in range(0, B, rows)])
        return self._forward(x_t, t, cond)

    def _forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: CSDIConditioning) -> torch.Tensor:
        noisy = _bcast_mul(x_t, 1.0 - cond.mask)  # (B, K, L)
        h = F.relu(_bcast_add(noisy[..., None] * self.input_projection.weight[:, 1], cond.input_base))
        step = self.step_embedding(t)
        skips = 0.0
        for block, side in zip(self.blocks, cond.side):
            h, skip = block(h, step, side)
            skips = skips + skip
        h = F.relu(self.output_hidden(skips / math.sqrt(len(self.blocks))))
        return self.output(h).squeeze(-1)
