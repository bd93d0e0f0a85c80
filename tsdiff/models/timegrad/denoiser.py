"""TimeGrad's ε-network: a DiffWave-style stack of gated, dilated 1-D convolutions over the *series* axis.

One multivariate observation x ∈ R^D is treated as a length-D signal; the convolutions mix neighbouring series (the
series order is arbitrary, which is why the dilated convolution wraps around circularly). The RNN state of the time
step conditions every block after being "upsampled" from ``cond_dim`` to length D.

Layout is channels-last, ``(N, D, C)``: every convolution is written as shifted copies of the input concatenated on
the channel axis followed by one ``nn.Linear``. That is exactly ``nn.Conv1d`` (kernel 3, dilation d, circular
padding), but one large matmul is several times faster on CPU than mkldnn's convolution for these tiny kernels, and
sampling calls the network T × prediction_length times.
"""
import math
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from tsdiff.nn import DiffusionStepEmbedding

LEAKY_SLOPE = 0.4  # as in TimeGrad's reference ε-network


def shift_series(x: torch.Tensor, shift: int, circular: bool) -> torch.Tensor:
    """y[:, i] = x[:, i − shift] along axis 1 of (N, D, C), wrapping around (circular) or filling with zeros."""
    if circular:
        return torch.roll(x, shifts=shift, dims=1)
    D = x.shape[1]
    if abs(shift) >= D:
        return torch.zeros_like(x)
    if shift > 0:
        return F.pad(x[:, : D - shift], (0, 0, shift, 0))
    return F.pad(x[:, -shift:], (0, 0, 0, -shift))


class SeriesConv(nn.Module):
    """1-D convolution over the series axis in channels-last layout: (N, D, C_in) → (N, D, C_out).

    Equivalent to ``nn.Conv1d(C_in, C_out, kernel_size, dilation=dilation, padding=dilation * (kernel_size // 2))``
    with circular padding (``circular=True``, needs D ≥ dilation) or zero padding. ``kernel_size`` must be odd.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, dilation: int = 1,
                 circular: bool = True):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        half = kernel_size // 2
        # Tap k reads x[i + (k − half)·dilation], i.e. the input shifted by −(k − half)·dilation.
        self.shifts = [-(k - half) * dilation for k in range(kernel_size)]
        self.circular = circular
        self.linear = nn.Linear(kernel_size * in_channels, out_channels)

    @property
    def weight(self) -> torch.Tensor:
        return self.linear.weight

    @property
    def bias(self) -> torch.Tensor:
        return self.linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.shifts) == 1:
            return self.linear(x)
        taps = [x if s == 0 else shift_series(x, s, self.circular) for s in self.shifts]
        return self.linear(torch.cat(taps, dim=-1))


class CondUpsampler(nn.Module):
    """Conditioning vector → one value per series: (N, cond_dim) → (N, D, 1), two leaky-ReLU linear layers.

    ``hidden``: width of the middle layer; TimeGrad's reference uses D // 2, which squeezes the D per-series
    conditioning values through D/2 numbers.
    """

    def __init__(self, cond_dim: int, target_dim: int, hidden: Optional[int] = None):
        super().__init__()
        mid = max(target_dim // 2 if hidden is None else hidden, 1)
        self.linear1 = nn.Linear(cond_dim, mid)
        self.linear2 = nn.Linear(mid, target_dim)

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.linear1(cond), LEAKY_SLOPE)
        x = F.leaky_relu(self.linear2(x), LEAKY_SLOPE)
        return x.unsqueeze(-1)


class ResidualBlock(nn.Module):
    """One gated residual block (DiffWave): x + step → dilated conv + conditioning → tanh ⊙ σ → 1×1 → (residual, skip).

    Shapes: ``x`` (N, D, C), ``step`` (N, 1, C) projected step embedding, ``cond`` (N, D, 2C) projected
    conditioning → (residual (N, D, C), skip (N, D, C)).
    """

    def __init__(self, channels: int, dilation: int, target_dim: int):
        super().__init__()
        # Circular padding treats the series as a ring (no series sits at an "edge"); it needs D >= dilation.
        self.dilated_conv = SeriesConv(channels, 2 * channels, 3, dilation, circular=target_dim >= dilation)
        self.out_proj = nn.Linear(channels, 2 * channels)
        nn.init.kaiming_normal_(self.out_proj.weight)
        # tanh(a) = 2σ(2a) − 1: one sigmoid over [2·filter, gate] replaces tanh + sigmoid (tanh is ~6× slower
        # than sigmoid on CPU and this runs T × prediction_length times per forecast).
        self.register_buffer("gate_scale", torch.tensor([2.0] * channels + [1.0] * channels), persistent=False)

    def forward(self, x: torch.Tensor, step: torch.Tensor, cond: torch.Tensor):
        y = self.dilated_conv(x + step) + cond
        filt, gate = torch.sigmoid(y * self.gate_scale).chunk(2, dim=-1)
        y = gate * (2.0 * filt - 1.0)  # = σ(gate) ⊙ tanh(filter)
        y = F.leaky_relu(self.out_proj(y), LEAKY_SLOPE)
        residual, skip = y.chunk(2, dim=-1)
        return (x + residual) / math.sqrt(2.0), skip


class EpsilonTheta(nn.Module):
    """ε_θ(x_t, t, h): predicts the noise in a noisy multivariate observation given the RNN conditioning.

    Args:
        target_dim: D, number of series.
        cond_dim: width of the conditioning vector (the projected RNN state).
        num_diffusion_steps: T (size of the step-embedding table).
        residual_layers: number of residual blocks (default 8).
        residual_channels: channels C inside the blocks (default 8).
        dilation_cycle_length: block i uses dilation 2^(i mod cycle) (default 2).
        step_emb_dim: width of the sinusoidal step table (16); its projection has width ``step_proj_dim`` (64).
        cond_upsampler_dim: middle width of the conditioning upsampler (default D // 2, as the reference).

    Shapes: ``forward(x_t (N, D), t (N,) long, cond (N, cond_dim)) -> (N, D)``.
    The output convolution is zero-initialised, so an untrained network predicts ε̂ = 0.
    """

    def __init__(
        self,
        target_dim: int,
        cond_dim: int,
        num_diffusion_steps: int,
        residual_layers: int = 8,
        residual_channels: int = 8,
        dilation_cycle_length: int = 2,
        step_emb_dim: int = 16,
        step_proj_dim: int = 64,
        cond_upsampler_dim: Optional[int] = None,
    ):
        super().__init__()
        C, L = residual_channels, residual_layers
        self.target_dim = target_dim
        self.residual_layers = L
        self.residual_channels = C
        self.input_proj = nn.Linear(1, C)
        self.step_embedding = DiffusionStepEmbedding(num_diffusion_steps, dim=step_emb_dim, proj_dim=step_proj_dim)
        self.cond_upsampler = CondUpsampler(cond_dim, target_dim, cond_upsampler_dim)
        # The per-block step and conditioning projections of DiffWave, stacked: one matmul each for all blocks.
        self.step_proj = nn.Linear(step_proj_dim, L * C)
        self.cond_proj = nn.Linear(1, L * 2 * C)
        self.blocks = nn.ModuleList(
            ResidualBlock(C, 2 ** (i % dilation_cycle_length), target_dim) for i in range(L)
        )
        self.skip_proj = SeriesConv(C, C, 3, circular=False)
        self.output_proj = SeriesConv(C, 1, 3, circular=False)
        nn.init.kaiming_normal_(self.input_proj.weight)
        nn.init.kaiming_normal_(self.cond_proj.weight)
        nn.init.kaiming_normal_(self.skip_proj.weight)
        # Zero output: training starts from ε̂ = 0 (loss = 1), the stable DiffWave initialisation.
        nn.init.zeros_(self.output_proj.weight)
        nn.init.zeros_(self.output_proj.bias)

    def condition(self, cond: torch.Tensor) -> torch.Tensor:
        """Conditioning vector → per-block, per-series features: (N, cond_dim) → (L, N, D, 2C).

        Split out of :meth:`forward` because during sampling the conditioning is fixed over all diffusion steps
        of a forecast step: computing it once instead of T times is the largest saving in the sampling loop.
        Blocks come first so that each block's slice is contiguous (strided adds are much slower on CPU).
        """
        C, L = self.residual_channels, self.residual_layers
        features = self.cond_proj(self.cond_upsampler(cond))  # (N, D, L·2C)
        return features.view(cond.shape[0], -1, L, 2 * C).permute(2, 0, 1, 3).contiguous()

    def denoise(self, x: torch.Tensor, t: torch.Tensor, cond_features: torch.Tensor) -> torch.Tensor:
        """ε̂ from x_t (N, D), t (N,) and ``cond_features`` (L, N, D, 2C) from :meth:`condition` → (N, D)."""
        C, L = self.residual_channels, self.residual_layers
        # Embed the whole step table (T rows) and gather: cheaper than embedding N ≫ T rows one by one.
        T = self.step_embedding.table.shape[0]
        table = self.step_proj(self.step_embedding(torch.arange(T, device=t.device)))  # (T, L·C)
        steps = table.view(T, L, C).transpose(0, 1)[:, t].unsqueeze(2)  # (L, N, 1, C), contiguous
        h = F.leaky_relu(self.input_proj(x.unsqueeze(-1)), LEAKY_SLOPE)  # (N, D, C)
        skip = 0.0
        # unbind, not indexing: the backward of L separate selects would zero-fill L full-size gradient buffers.
        for block, step, cond in zip(self.blocks, steps.unbind(0), cond_features.unbind(0)):
            h, s = block(h, step, cond)
            skip = skip + s
        h = skip / math.sqrt(L)
        h = F.leaky_relu(self.skip_proj(h), LEAKY_SLOPE)
        return self.output_proj(h).squeeze(-1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """ε̂(x_t, t, cond): x (N, D), t (N,) long, cond (N, cond_dim) → (N, D)."""
        return self.denoise(x, t, self.condition(cond))
