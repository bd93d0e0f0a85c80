"""CSDI (Tashiro et al., NeurIPS 2021) as a pure ``nn.Module``: a diffusion model of (time × feature) windows
that fills in whatever part of a window it is not given — gaps (imputation) or the last steps (forecasting).

User-facing layout is GluonTS's time-first ``(batch, time, features)``; the denoiser works on CSDI's
``(batch, features, time)`` grids. All diffusion maths lives in :mod:`tsdiff.diffusion`.
"""

from typing import List, Optional

import torch
from gluonts.core.component import validated
from torch import nn

from tsdiff import checks
from tsdiff.diffusion import PREDICTIONS, GaussianDiffusion, NoiseSchedule, SamplingOptions, make_sampler

from .baseline import BASELINES, baseline_fill, local_deviation
from .denoiser import CSDIDenoiser
from .masks import STRATEGIES, make_cond_mask, sample_features
from .scaling import window_loc_scale

#: ``"global"``: standardise every feature with fixed statistics of the training data (CSDI's way); ``"window"``:
#: standardise each window's features with the mean/std of its given values (:mod:`.scaling`); ``"none"``.
SCALINGS = ("global", "window", "none")
LOSS_WEIGHTINGS = ("pooled", "relative")
#: Floor of a window's mean squared fill residual under ``loss_weighting="relative"`` (standardised units²), so that
#: a window its fill already gets right cannot take over the batch.
RELATIVE_FLOOR = 1e-2


def relative_window_weights(targets: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    """Loss weights that make each window count once, relative to how far its fill is off.

    Window i with n_i hidden values and fill residuals r (the values minus the fill, which the model learns to
    generate) gets weight 1 / (n_i · s_i) on each hidden value, s_i = max(mean of r² over them, RELATIVE_FLOOR).
    A loss normalised by the weights' sum (``GaussianDiffusion.training_loss``) is then Σ_i (MSE_i / s_i) /
    Σ_i (1 / s_i): the per-window errors averaged with weights 1 / s_i. Windows with nothing hidden weigh 0.

    Shapes: targets (B, ...), 1 where hidden (the loss counts there); residual like targets → weights like targets.
    """
    B = targets.shape[0]
    flat_t, flat_r = targets.reshape(B, -1), residual.reshape(B, -1)
    count = flat_t.sum(1).clamp_min(1.0)  # windows with nothing hidden: 0 / 1, their targets zero them anyway
    spread = ((flat_r ** 2) * flat_t).sum(1) / count
    per_value = 1.0 / (count * spread.clamp_min(RELATIVE_FLOOR))
    return targets * per_value.reshape(-1, *([1] * (targets.dim() - 1))).detach()


class CSDIModel(nn.Module):
    """CSDI on windows of ``target_dim`` features.

    Training hides part of each window's observed values (``mask_strategy``, see :mod:`.masks`) and learns to
    denoise them given the rest; sampling fills every value that is not given.

    Args:
        target_dim: D, the number of features.
        context_length, prediction_length: C and P: a forecasting window spans C + P steps, and P is what the
            ``"forecast"`` strategies hide. Needed for :meth:`forward` (forecasting); pure imputation may leave them
            ``None``.
        mask_strategy: training mask, one of :data:`~tsdiff.models.csdi.masks.STRATEGIES`.
        loss_weighting: how the hidden values of a batch share the loss, one of :data:`LOSS_WEIGHTINGS`:
            ``"pooled"`` (CSDI): every hidden value weighs the same, so windows with many hidden values (a forecast
            horizon) outweigh windows with a few gaps; ``"relative"``: each window counts once, its mean squared
            error divided by its fill's (:func:`relative_window_weights`), so forecast windows, whose errors are
            large, do not drown the gap windows of a mixed ``mask_strategy``.
        scaling: one of :data:`SCALINGS`; ``scaler_mean``/``scaler_std`` (length D; default 0 and 1) are the
            ``"global"`` statistics.
        num_sample_features: train on a random subset of this many features per window when D is larger (CSDI:
            64; ``None``: all).
        num_feat_dynamic_real: K ≥ 0: the last K of the D features are covariates (side information): the training
            mask never hides them where they are observed, so they are never denoised (nor in the loss); give them
            in ``cond_mask`` wherever known, the forecast horizon included.
        residual_channels, residual_layers, heads, step_embedding_dim, time_embedding_dim, feature_embedding_dim,
            dim_feedforward, dropout: the :class:`CSDIDenoiser` (CSDI: 64, 4, 8, 128, 128, 16, 64, 0.1).
        num_diffusion_steps, beta_schedule, beta_start, beta_end: the noise schedule (CSDI: 50, quad, 1e-4, 0.5).
        prediction: what the denoiser outputs, one of :data:`~tsdiff.diffusion.PREDICTIONS` (CSDI: ``"epsilon"``).
            With ``"x0"``/``"v"`` the output layer starts at exactly zero (weight and bias), so an untrained model
            samples its fill (below) exactly.
        baseline: ``None`` (CSDI: diffuse the standardised values) or a fill of :mod:`.baseline`
            (``"interpolation"``; ``"seasonal"`` with ``season``), computed from the given values: the diffusion
            then generates the residual ``y − fill`` (for forecasting, the fills are the last-value and the
            seasonal-naive forecast).
        season: season length of the ``"seasonal"`` fill.
        baseline_channel: give the fill (``interpolation`` when ``baseline`` is None) to the denoiser as a third
            input channel (PriSTI's interpolated conditioning).
        deviation_channel: give each given value's deviation from the line through its neighbours
            (:func:`~tsdiff.models.csdi.baseline.local_deviation`) as one more input channel: what correlated
            features at the same step say about a hidden value, without differences the transformer must learn.
        num_parallel_samples: default number of samples S.
        sampler, sampling_steps, eta: the default reverse process, :attr:`default_sampling`.

    Shapes: ``loss(window_target (B, L, D), window_observed (B, L, D))`` → scalar;
    ``impute(values (N, L, D), cond_mask (N, L, D))`` → (S, N, L, D);
    ``forward(past_target (B, C', D), past_observed_values (B, C', D))`` with C' ≥ C → (B, S, P, D).
    """

    @validated()
    def __init__(
        self,
        target_dim: int,
        context_length: Optional[int] = None,
        prediction_length: Optional[int] = None,
        mask_strategy: str = "forecast",
        loss_weighting: str = "pooled",
        scaling: str = "global",
        scaler_mean: Optional[List[float]] = None,
        scaler_std: Optional[List[float]] = None,
        num_sample_features: Optional[int] = None,
        num_feat_dynamic_real: int = 0,
        residual_channels: int = 64,
        residual_layers: int = 4,
        heads: int = 8,
        step_embedding_dim: int = 128,
        time_embedding_dim: int = 128,
        feature_embedding_dim: int = 16,
        dim_feedforward: int = 64,
        dropout: float = 0.1,
        num_diffusion_steps: int = 50,
        beta_schedule: str = "quad",
        beta_start: float = 1e-4,
        beta_end: float = 0.5,
        prediction: str = "epsilon",
        baseline: Optional[str] = None,
        season: Optional[int] = None,
        baseline_channel: bool = False,
        deviation_channel: bool = False,
        num_parallel_samples: int = 100,
        sampler: str = "ddpm",
        sampling_steps: Optional[int] = None,
        eta: float = 0.0,
    ) -> None:
        super().__init__()
        self.check_arguments(
            target_dim, context_length, prediction_length, mask_strategy, scaling, scaler_mean, scaler_std,
            num_sample_features, num_feat_dynamic_real=num_feat_dynamic_real, residual_channels=residual_channels,
            residual_layers=residual_layers, heads=heads,
            step_embedding_dim=step_embedding_dim, time_embedding_dim=time_embedding_dim,
            feature_embedding_dim=feature_embedding_dim, dim_feedforward=dim_feedforward, dropout=dropout,
            num_diffusion_steps=num_diffusion_steps, beta_schedule=beta_schedule, beta_start=beta_start,
            beta_end=beta_end, prediction=prediction, baseline=baseline, season=season,
            baseline_channel=baseline_channel, deviation_channel=deviation_channel,
            num_parallel_samples=num_parallel_samples, sampler=sampler, sampling_steps=sampling_steps, eta=eta,
            loss_weighting=loss_weighting)
        self.target_dim = target_dim
        self.context_length = context_length
        self.prediction_length = prediction_length
        self.mask_strategy = mask_strategy
        self.loss_weighting = loss_weighting
        self.num_sample_features = num_sample_features
        self.num_feat_dynamic_real = num_feat_dynamic_real
        self.num_parallel_samples = num_parallel_samples
        self.scaling, self.baseline, self.season = scaling, baseline, season
        self.default_sampling = SamplingOptions(sampler, sampling_steps, eta)
        use = scaling == "global"
        mean = torch.tensor(scaler_mean, dtype=torch.float32) if use and scaler_mean else torch.zeros(target_dim)
        std = torch.tensor(scaler_std, dtype=torch.float32) if use and scaler_std else torch.ones(target_dim)
        self.register_buffer("scaler_mean", mean)
        self.register_buffer("scaler_std", std.clamp_min(1e-8))
        self.diffusion = GaussianDiffusion(
            NoiseSchedule(beta_schedule, num_diffusion_steps, beta_start, beta_end), prediction=prediction)
        self.denoiser = CSDIDenoiser(
            target_dim, residual_channels=residual_channels, residual_layers=residual_layers, heads=heads,
            num_diffusion_steps=num_diffusion_steps, step_embedding_dim=step_embedding_dim,
            time_embedding_dim=time_embedding_dim, feature_embedding_dim=feature_embedding_dim,
            dim_feedforward=dim_feedforward, dropout=dropout, baseline_channel=baseline_channel,
            deviation_channel=deviation_channel)
        if prediction != "epsilon":  # CSDI zeroes only the output weight; with the bias too an untrained x0/v
            nn.init.zeros_(self.denoiser.output.bias)  # model predicts x̂₀ = 0, i.e. samples its fill exactly

    @staticmethod
    def check_arguments(target_dim, context_length=None, prediction_length=None, mask_strategy="forecast",
                        scaling="global", scaler_mean=None, scaler_std=None, num_sample_features=None,
                        num_feat_dynamic_real=0, num_diffusion_steps=50, beta_schedule="quad", beta_start=1e-4,
                        beta_end=0.5, prediction="epsilon", baseline=None, season=None, num_parallel_samples=100,
                        sampler="ddpm", sampling_steps=None, eta=0.0, loss_weighting="pooled",
                        **denoiser_kwargs) -> None:
        """Check the hyperparameters without building anything (ValueError/TypeError naming the bad one)."""
        checks.positive_int(target_dim, "target_dim")
        checks.optional_positive_int(context_length, "context_length")
        checks.optional_positive_int(prediction_length, "prediction_length")
        checks.optional_positive_int(num_sample_features, "num_sample_features")
        checks.positive_int(num_parallel_samples, "num_parallel_samples")
        checks.one_of(mask_strategy, "mask_strategy", STRATEGIES)
        checks.one_of(loss_weighting, "loss_weighting", LOSS_WEIGHTINGS)
        checks.one_of(scaling, "scaling", SCALINGS)
        if isinstance(num_feat_dynamic_real, bool) or not isinstance(num_feat_dynamic_real, int) \
                or not 0 <= num_feat_dynamic_real < target_dim:
            raise ValueError(f"num_feat_dynamic_real must be an integer in [0, target_dim={target_dim}), got "
                             f"{num_feat_dynamic_real!r}")
        checks.one_of(prediction, "prediction", PREDICTIONS)
        if baseline is not None:
            checks.one_of(baseline, "baseline", BASELINES)
        if baseline == "seasonal" and season is None:
            raise ValueError("baseline='seasonal' needs a season length (season=...)")
        checks.optional_positive_int(season, "season")
        if mask_strategy.startswith("forecast") and prediction_length is None:
            raise ValueError(f"mask_strategy={mask_strategy!r} needs prediction_length")
        for name, stats in (("scaler_mean", scaler_mean), ("scaler_std", scaler_std)):
            if stats is not None and len(stats) != target_dim:
                raise ValueError(f"{name} must have target_dim={target_dim} entries, got {len(stats)}")
        CSDIDenoiser.check_arguments(**denoiser_kwargs)
        NoiseSchedule(beta_schedule, num_diffusion_steps, beta_start, beta_end)
        SamplingOptions(sampler, sampling_steps, eta).check(num_diffusion_steps)

    # -- layout ---------------------------------------------------------------------------------------------------
    def _standardised_grid(self, values: torch.Tensor) -> torch.Tensor:
        """(B, L, D) in the data's units → (B, D, L) standardised."""
        return ((values - self.scaler_mean) / self.scaler_std).transpose(1, 2)

    def _give_covariates(self, cond_mask: torch.Tensor, observed: torch.Tensor,
                         feature_id: Optional[torch.Tensor]) -> torch.Tensor:
        """``cond_mask`` (B, K, L) with the covariate features (the last ``num_feat_dynamic_real``; ``feature_id``
        (B, K) the original index of each row, None: all rows in order) given wherever observed."""
        if not self.num_feat_dynamic_real:
            return cond_mask
        if feature_id is None:
            feature_id = torch.arange(cond_mask.shape[1], device=cond_mask.device).expand(cond_mask.shape[0], -1)
        is_covariate = (feature_id >= self.target_dim - self.num_feat_dynamic_real)[..., None]
        return torch.where(is_covariate, observed, cond_mask)

    def _window_scaled(self, grid: torch.Tensor, given: torch.Tensor, keep: torch.Tensor):
        """(grid, loc, scale): with ``scaling="window"`` the (N, K, L) grid standardised per window and feature by
        the statistics of its ``given`` values (the model's input only, at training as at sampling), and zero
        outside ``keep``; loc/scale (N, K, 1). Otherwise the grid unchanged, loc 0 and scale 1."""
        if self.scaling != "window":
            return grid, 0.0, 1.0
        loc, scale = window_loc_scale(grid, given)
        return torch.where(keep > 0, (grid - loc) / scale, torch.zeros_like(grid)), loc, scale

    def fill(self, grid: torch.Tensor, cond_mask: torch.Tensor) -> Optional[torch.Tensor]:
        """The deterministic fill of the given values that the model uses (residual base and/or input channel),
        or None when it uses neither. Shapes: (N, K, L) → (N, K, L)."""
        if self.baseline is not None:
            return baseline_fill(self.baseline, grid * cond_mask, cond_mask, self.season)
        if self.denoiser.baseline_channel:
            return baseline_fill("interpolation", grid * cond_mask, cond_mask)
        return None

    def _condition(self, grid: torch.Tensor, cond_mask: torch.Tensor, feature_id=None):
        """(conditioning, base): the denoiser's precomputed conditioning and the residual base (0 without one)."""
        fill = self.fill(grid, cond_mask)
        deviation = local_deviation(grid * cond_mask, cond_mask) if self.denoiser.deviation_channel else None
        cond = self.denoiser.condition(grid * cond_mask, cond_mask, feature_id,
                                       baseline=fill if self.denoiser.baseline_channel else None, deviation=deviation)
        return cond, (fill if self.baseline is not None else torch.zeros_like(grid))

    # -- training -------------------------------------------------------------------------------------------------
    def loss(self, window_target: torch.Tensor, window_observed: torch.Tensor,
             generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Denoising loss (ε-, x₀- or v-MSE, of the residual over the fill with ``baseline``) over the values the
        mask strategy hides (observed − conditioning), a scalar.

        Args:
            window_target: (B, L, D) in the data's units (anything finite where unobserved).
            window_observed: (B, L, D), 1 where observed.
            generator: draws feature subsets, masks, steps and noise (default: torch's global RNG).
        """
        values = self._standardised_grid(window_target)
        observed = window_observed.transpose(1, 2).to(values.dtype)
        feature_id = None
        if self.num_sample_features is not None and values.shape[1] > self.num_sample_features:
            values, observed, feature_id = sample_features(values, observed, self.num_sample_features, generator)
        cond_mask = make_cond_mask(self.mask_strategy, observed, generator, self.prediction_length) * observed
        cond_mask = self._give_covariates(cond_mask, observed, feature_id)
        values = torch.where(observed > 0, values, torch.zeros_like(values))
        values, _, _ = self._window_scaled(values, cond_mask, keep=observed)  # the hidden targets are kept
        cond, base = self._condition(values, cond_mask, feature_id)
        weights = observed - cond_mask
        if self.loss_weighting == "relative":
            weights = relative_window_weights(weights, values - base)
        return self.diffusion.training_loss(self.denoiser, values - base, cond, mask=weights, generator=generator)

    # -- sampling -------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def impute(self, values: torch.Tensor, cond_mask: torch.Tensor, num_samples: Optional[int] = None,
               generator: Optional[torch.Generator] = None, sampling: Optional[SamplingOptions] = None,
               progress: bool = False) -> torch.Tensor:
        """Draw ``num_samples`` completions of each window, all in one batch per reverse step.

        Args:
            values: (N, L, D) in the data's units; entries where ``cond_mask`` is 0 are ignored (may be NaN).
            cond_mask: (N, L, D), 1 where the value is given.
            num_samples: S (default ``num_parallel_samples``).
            generator: makes the draw reproducible; sampling: overrides :attr:`default_sampling`.
        Returns:
            (S, N, L, D) in the data's units: the given values where ``cond_mask`` is 1, samples elsewhere.
        """
        S = self.num_parallel_samples if num_samples is None else num_samples
        sampler = make_sampler(self.diffusion, (sampling or SamplingOptions()).resolve(self.default_sampling))
        given = cond_mask > 0
        grid_mask = cond_mask.transpose(1, 2).to(values.dtype)
        grid = torch.where(grid_mask > 0, self._standardised_grid(values), torch.zeros_like(grid_mask))
        grid, loc, scale = self._window_scaled(grid, grid_mask, keep=grid_mask)
        cond, base = self._condition(grid, grid_mask)
        N, D, L = grid.shape
        x = self.diffusion.sample(
            self.denoiser, (S * N, D, L), cond, sampling=sampler, generator=generator, device=grid.device,
            dtype=grid.dtype, progress=progress,
        ).reshape(S, N, D, L)
        x = ((x + base) * scale + loc).transpose(2, 3)
        samples = x * self.scaler_std + self.scaler_mean
        return torch.where(given, values, samples)

    def forward(self, past_target: torch.Tensor, past_observed_values: torch.Tensor,
                num_samples: Optional[int] = None, generator: Optional[torch.Generator] = None,
                sampling: Optional[SamplingOptions] = None) -> torch.Tensor:
        """Forecast the P steps after the last C of ``past_target``: samples (B, S, P, D) in the data's units."""
        if self.context_length is None or self.prediction_length is None:
            raise ValueError("forecasting needs a model built with context_length and prediction_length")
        C, P = self.context_length, self.prediction_length
        past, observed = past_target[:, -C:], past_observed_values[:, -C:]
        B, _, D = past.shape
        values = torch.cat([past, past.new_zeros(B, P, D)], dim=1)
        cond_mask = torch.cat([observed, observed.new_zeros(B, P, D)], dim=1)
        samples = self.impute(values, cond_mask, num_samples, generator, sampling)  # (S, B, L, D)
        return samples[:, :, C:].transpose(0, 1)
