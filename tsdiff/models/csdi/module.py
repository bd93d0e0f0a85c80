"""CSDI networks (Tashiro et al., NeurIPS 2021): the denoiser, the grid-level imputation model and its forecaster.

Layout: every grid here is ``(batch, K, L)`` = batch × features × time (CSDI's own layout); the user-facing
:class:`~tsdiff.models.csdi.CSDIImputer` takes and returns ``(N, L, K)`` and transposes. Hidden feature maps are
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

from tsdiff.diffusion import GaussianDiffusion, NoiseSchedule, make_sampler, resolve_sampling_options
from tsdiff.nn import checks
from tsdiff.nn.axial import AxialTransformerLayer
from tsdiff.nn.embedding import DiffusionStepEmbedding, sinusoidal_embedding

from .masks import forecast_mask, sample_features


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
    (``(1 − cond_mask) · x_t``); side information: sinusoidal time embedding, learned feature embedding and the
    conditioning mask.

    Args:
        num_features: number of distinct feature ids (rows of the feature embedding); grids may use a subset.
        channels, layers, heads: width, number of residual layers and attention heads (CSDI: 64, 4, 8).
        num_steps: diffusion steps T (for the step-embedding table).
        step_embedding_dim, time_embedding_dim, feature_embedding_dim: CSDI: 128, 128, 16.
        dim_feedforward, dropout: of the transformer layers (CSDI: 64, 0.1).
    Shapes: ``forward(x_t (B, K, L), t (B,), cond)`` → ε̂ (B, K, L), where ``cond`` is a :class:`CSDIConditioning`
    from :meth:`condition` for N series and B = S·N (sample-major).
    """

    def __init__(
        self,
        num_features: int,
        channels: int = 64,
        layers: int = 4,
        heads: int = 8,
        num_steps: int = 50,
        step_embedding_dim: int = 128,
        time_embedding_dim: int = 128,
        feature_embedding_dim: int = 16,
        dim_feedforward: int = 64,
        dropout: float = 0.1,
    ):
        super().__init__()
        for name, value in [("num_features", num_features), ("channels", channels), ("layers", layers),
                            ("heads", heads), ("step_embedding_dim", step_embedding_dim),
                            ("time_embedding_dim", time_embedding_dim),
                            ("feature_embedding_dim", feature_embedding_dim), ("dim_feedforward", dim_feedforward)]:
            checks.positive_int(value, name)
        if channels % heads:
            raise ValueError(f"channels ({channels}) must be divisible by heads ({heads})")
        checks.dropout_rate(dropout, "dropout")
        self.num_features = num_features
        self.channels = channels
        self.time_embedding_dim = time_embedding_dim
        self.step_embedding = DiffusionStepEmbedding(num_steps, step_embedding_dim)
        self.feature_embedding = nn.Embedding(num_features, feature_embedding_dim)
        self.input_projection = _linear(2, channels)
        side_dim = time_embedding_dim + feature_embedding_dim + 1
        self.blocks = nn.ModuleList(
            CSDIResidualBlock(channels, heads, step_embedding_dim, side_dim, dim_feedforward, dropout)
            for _ in range(layers)
        )
        self.output_hidden = _linear(channels, channels)
        self.output = _linear(channels, 1, zero=True)

    def condition(
        self, cond_values: torch.Tensor, cond_mask: torch.Tensor, feature_id: Optional[torch.Tensor] = None
    ) -> CSDIConditioning:
        """Precompute the step- and sample-independent part of the network.

        Args:
            cond_values: (N, K, L), the values given to the model (zero elsewhere).
            cond_mask: (N, K, L), 1 where a value is given.
            feature_id: (N, K) long ids into the feature embedding (default ``arange(K)``).
        """
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


class CSDIModel(nn.Module):
    """CSDI: conditional score-based diffusion imputation on (features × time) grids.

    Args:
        num_features: K (number of feature ids).
        schedule_kind, num_steps, beta_start, beta_end: noise schedule (CSDI: quad, 50, 1e-4, 0.5).
        **denoiser_kwargs: passed to :class:`CSDIDenoiser` (channels, layers, heads, …).
    """

    def __init__(
        self,
        num_features: int,
        schedule_kind: str = "quad",
        num_steps: int = 50,
        beta_start: float = 1e-4,
        beta_end: float = 0.5,
        **denoiser_kwargs,
    ):
        super().__init__()
        checks.positive_int(num_features, "num_features")
        self.num_features = num_features
        self.diffusion = GaussianDiffusion(NoiseSchedule(schedule_kind, num_steps, beta_start, beta_end), "epsilon")
        self.denoiser = CSDIDenoiser(num_features, num_steps=num_steps, **denoiser_kwargs)

    def loss(
        self,
        values: torch.Tensor,
        observed_mask: torch.Tensor,
        cond_mask: torch.Tensor,
        feature_id: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """ε-MSE over the imputation targets ``observed_mask − cond_mask`` (scalar).

        Shapes: values, observed_mask, cond_mask (B, K, L) (values may be NaN where not observed);
        feature_id (B, K) or None.
        """
        observed_mask = observed_mask.to(values.dtype)
        cond_mask = cond_mask.to(values.dtype) * observed_mask
        values = torch.where(observed_mask > 0, values, torch.zeros_like(values))
        target_mask = observed_mask - cond_mask
        cond = self.denoiser.condition(values * cond_mask, cond_mask, feature_id)
        return self.diffusion.training_loss(self.denoiser, values, cond, mask=target_mask)

    @torch.no_grad()
    def impute(
        self,
        values: torch.Tensor,
        cond_mask: torch.Tensor,
        num_samples: int = 100,
        sampler: str = "ddpm",
        num_steps: Optional[int] = None,
        eta: float = 0.0,
        generator: Optional[torch.Generator] = None,
        feature_id: Optional[torch.Tensor] = None,
        progress: bool = False,
    ) -> torch.Tensor:
        """Draw ``num_samples`` completions of each grid, all in one batch per reverse step.

        Args:
            values: (N, K, L); entries where ``cond_mask`` is 0 are ignored (may be NaN).
            cond_mask: (N, K, L), 1 where the value is given.
            num_samples: S.
            sampler, num_steps, eta: reverse process (``"ddpm"`` with all T steps, or ``"ddim"``).
            generator: for reproducible draws.
        Returns:
            (S, N, K, L): the given values where ``cond_mask`` is 1, samples elsewhere.
        """
        cond_mask = cond_mask.to(values.dtype)
        values = torch.where(cond_mask > 0, values, torch.zeros_like(values))
        cond = self.denoiser.condition(values, cond_mask, feature_id)
        N, K, L = values.shape
        x = self.diffusion.sample(
            self.denoiser, (num_samples * N, K, L), cond, sampler=sampler, num_steps=num_steps, eta=eta,
            generator=generator, device=values.device, dtype=values.dtype, progress=progress,
        ).reshape(num_samples, N, K, L)
        return torch.where(cond_mask > 0, values, x)


class CSDIForecastModel(nn.Module):
    """CSDI used as a forecaster: the future part of a (target_dim × (context + prediction)) grid is imputed.

    Values are standardised per dimension with fixed ``scaler_mean`` / ``scaler_std`` (CSDI uses training-set
    statistics), then de-standardised.

    Args:
        target_dim: D.
        context_length, prediction_length: C and P (grid length L = C + P).
        num_parallel_samples: default samples per series at prediction time.
        scaler_mean, scaler_std: length-D lists (default 0 and 1).
        num_sample_features: train on a random subset of this many dimensions per window when D is larger.
        sampler, sampling_steps, eta: default reverse process at prediction time (``sampling_steps``: DDIM steps,
            ``None`` for all T).
        **model_kwargs: passed to :class:`CSDIModel`.
    Shapes: ``forward(past_target (B, C', D), past_observed_values (B, C', D))`` with C' ≥ C →
    samples (B, S, P, D).
    """

    def __init__(
        self,
        target_dim: int,
        context_length: int,
        prediction_length: int,
        num_parallel_samples: int = 100,
        scaler_mean: Optional[List[float]] = None,
        scaler_std: Optional[List[float]] = None,
        num_sample_features: int = 64,
        sampler: str = "ddpm",
        sampling_steps: Optional[int] = None,
        eta: float = 0.0,
        **model_kwargs,
    ):
        super().__init__()
        for name, value in [("target_dim", target_dim), ("context_length", context_length),
                            ("prediction_length", prediction_length), ("num_parallel_samples", num_parallel_samples),
                            ("num_sample_features", num_sample_features)]:
            checks.positive_int(value, name)
        self.target_dim = target_dim
        self.context_length = context_length
        self.prediction_length = prediction_length
        self.num_parallel_samples = num_parallel_samples
        self.num_sample_features = num_sample_features
        self.sampler, self.sampling_steps, self.eta = sampler, sampling_steps, eta
        mean = torch.zeros(target_dim) if scaler_mean is None else torch.tensor(scaler_mean, dtype=torch.float32)
        std = torch.ones(target_dim) if scaler_std is None else torch.tensor(scaler_std, dtype=torch.float32)
        if mean.shape != (target_dim,) or std.shape != (target_dim,):
            raise ValueError("scaler_mean and scaler_std must have target_dim entries")
        self.register_buffer("scaler_mean", mean)
        self.register_buffer("scaler_std", std.clamp_min(1e-8))
        self.model = CSDIModel(target_dim, **model_kwargs)
        # the default sampler options, resolved as at predict time: a bad one fails now, not at the first forecast
        make_sampler(self.model.diffusion, *resolve_sampling_options(None, None, None, (sampler, sampling_steps, eta)))

    def _grid(self, target: torch.Tensor) -> torch.Tensor:
        """(B, T, D) raw → (B, D, T) standardised."""
        return ((target - self.scaler_mean) / self.scaler_std).transpose(1, 2)

    def loss(
        self,
        past_target: torch.Tensor,
        past_observed_values: torch.Tensor,
        future_target: torch.Tensor,
        future_observed_values: torch.Tensor,
    ) -> torch.Tensor:
        """Training loss on a (B, D, C + P) window with the future hidden (CSDI's forecasting target strategy)."""
        C = self.context_length
        values = self._grid(torch.cat([past_target[:, -C:], future_target], dim=1))
        observed = torch.cat([past_observed_values[:, -C:], future_observed_values], dim=1).transpose(1, 2)
        feature_id = None
        if values.shape[1] > self.num_sample_features:
            values, observed, feature_id = sample_features(values, observed, self.num_sample_features)
        cond_mask = forecast_mask(observed, self.prediction_length)
        return self.model.loss(values, observed, cond_mask, feature_id)

    def forward(
        self,
        past_target: torch.Tensor,
        past_observed_values: torch.Tensor,
        num_samples: Optional[int] = None,
        generator: Optional[torch.Generator] = None,
        sampler: Optional[str] = None,
        sampling_steps: Optional[int] = None,
        eta: Optional[float] = None,
    ) -> torch.Tensor:
        """Impute the next P steps after the last C of ``past_target``: samples (B, S, P, D) in the data's units.

        ``num_samples``, ``sampler``, ``sampling_steps`` and ``eta`` override the module's defaults for this call
        only (``None``: the default); ``generator`` makes the draw reproducible.
        """
        C, P = self.context_length, self.prediction_length
        S = self.num_parallel_samples if num_samples is None else num_samples
        sampler, steps, eta = resolve_sampling_options(
            sampler, sampling_steps, eta, (self.sampler, self.sampling_steps, self.eta)
        )
        B, _, D = past_target.shape
        past = self._grid(past_target[:, -C:])
        observed = past_observed_values[:, -C:].transpose(1, 2)
        values = torch.cat([past, past.new_zeros(B, D, P)], dim=2)
        cond_mask = torch.cat([observed, observed.new_zeros(B, D, P)], dim=2)
        samples = self.model.impute(
            values, cond_mask, num_samples=S, sampler=sampler, num_steps=steps, eta=eta, generator=generator,
        )  # (S, B, D, L)
        future = samples[..., C:].permute(1, 0, 3, 2)  # (B, S, P, D)
        return future * self.scaler_std + self.scaler_mean
