"""TimeGrad (Rasul et al., ICML 2021) as a pure ``nn.Module``: an RNN over lagged multivariate targets whose
hidden state conditions a denoising-diffusion model of the next observation.

Tensor layout follows GluonTS's ``InstanceSplitter(output_NTC=True)``: time before series, i.e. ``(B, T, D)``.
All diffusion maths (schedule, loss, DDPM/DDIM sampling) lives in :mod:`tsdiff.diffusion`.
"""

from typing import List, Optional, Tuple

import torch
from gluonts.core.component import validated
from gluonts.time_feature import get_lags_for_frequency
from torch import nn

from tsdiff import checks
from tsdiff.diffusion import PREDICTIONS, GaussianDiffusion, NoiseSchedule, SamplingOptions, make_sampler

from .covariates import StaticFeatures, hide_past_only_covariates
from .denoiser import EpsilonTheta
from .scaling import robust_loc_spread

SCALINGS = ("mean", "std", "robust", "diff", "none")
CELL_TYPES = {"LSTM": nn.LSTM, "GRU": nn.GRU}


def scale_context(
    context: torch.Tensor, observed: torch.Tensor, kind: str = "mean", min_scale: float = 1e-8
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-window, per-series affine normalisation computed on the observed context only.

    Args:
        context: (B, T, D) target values (unobserved entries may hold anything finite).
        observed: (B, T, D) 1 where observed.
        kind: ``"mean"`` (TimeGrad/DeepAR: loc 0, scale = mean |x|), ``"std"`` (loc = mean, scale = std),
            ``"robust"`` (loc = median, scale = interquartile range / 1.349: the std on Gaussian data, but not
            pulled by outliers),
            ``"diff"`` (loc = the last observed value, scale = root-mean-square of the one-step changes between
            consecutive observed values: a random-walk-like series gets unit-size steps) or ``"none"``
            (loc 0, scale 1).
    Returns:
        loc, scale: each (B, 1, D); scale > 0. Series without observations get loc 0, scale 1.
    """
    if kind not in SCALINGS:
        raise ValueError(f"scaling must be one of {SCALINGS}, got {kind!r}")
    ones = torch.ones_like(context[:, :1])
    if kind == "none":
        return torch.zeros_like(ones), ones
    observed = observed.to(context.dtype)
    context = torch.where(observed > 0, context, torch.zeros_like(context))
    count = observed.sum(1, keepdim=True)
    has_obs = count > 0
    count = count.clamp_min(1.0)
    if kind == "mean":
        scale = (context.abs() * observed).sum(1, keepdim=True) / count
        scale = torch.where(has_obs & (scale > min_scale), scale, ones)
        return torch.zeros_like(scale), scale
    if kind == "diff":  # loc: the last observed value; spread: RMS of changes between consecutive observations
        steps = torch.arange(1, context.shape[1] + 1, device=context.device, dtype=context.dtype).view(1, -1, 1)
        last = (observed * steps).argmax(1, keepdim=True)  # index of the last observed value (0 if none)
        loc = context.gather(1, last)
        pairs = observed[:, 1:] * observed[:, :-1]
        change_sq = ((context[:, 1:] - context[:, :-1]) ** 2 * pairs).sum(1, keepdim=True)
        spread = (change_sq / pairs.sum(1, keepdim=True).clamp_min(1.0)).sqrt()
    elif kind == "robust":
        loc, spread = robust_loc_spread(context, observed)
    else:  # "std"
        loc = (context * observed).sum(1, keepdim=True) / count
        spread = ((((context - loc) * observed) ** 2).sum(1, keepdim=True) / count).sqrt()
    # A (near-)constant context has no spread to scale by; fall back to its magnitude so the scale stays
    # meaningful in the series' own units rather than blowing small deviations up.
    scale = torch.maximum(spread, 1e-2 * loc.abs())
    scale = torch.where(has_obs & (scale > min_scale), scale, ones)
    return torch.where(has_obs, loc, torch.zeros_like(loc)), scale


class TimeGradModel(nn.Module):
    """TimeGrad network.

    Per time step ``t`` the RNN reads [lags of the normalised target of all D series (D·L values), a learned
    per-series embedding (D·E), static features of the series, time features and dynamic real covariates at ``t``
    (F)]; its output ``h_t`` is projected to ``conditioning_length`` and conditions the ε-network that denoises
    x_t ∈ R^D.

    Args:
        freq: pandas frequency string (used for the default lags).
        context_length: number of steps the RNN is unrolled over before the first forecast step.
        prediction_length: forecast horizon P.
        target_dim: number of series D.
        num_time_features: F, time features + dynamic real covariates per step.
        num_past_feat_dynamic_real: K_p ≤ F: the last K_p of those are known only up to the forecast start; on the
            horizon the RNN reads their last known value and an indicator (see :mod:`.covariates`).
        num_feat_static_real, cardinality, category_embedding_dim: static features per series: R reals and one
            learned embedding per categorical feature (levels per feature: ``cardinality``).
        lags_seq: lags (≥ 1); default GluonTS ``get_lags_for_frequency(freq)``.
        cell_type: ``"LSTM"`` or ``"GRU"``; num_layers, hidden_size, dropout_rate: of the RNN.
        embedding_dim: E, size of the per-series embedding.
        conditioning_length: width of the projected RNN state fed to the denoiser.
        scaling: ``"mean"``, ``"std"``, ``"robust"``, ``"diff"`` or ``"none"`` (see :func:`scale_context`).
        increments: diffuse the one-step change x_t − x_{t−1} (normalised) instead of the level x_t; the forecast
            is the running sum of sampled changes. Suits random-walk-like data, whose levels drift out of the
            range a level model was trained on while their changes stay stationary. Same as ``difference_lag=1``.
        difference_lag: s ≥ 0; s > 0 diffuses the residual x_t − x_{t−s} over the cheap forecast x_{t−s} (s = 1:
            the last value, s = the season: seasonal naive) and adds it back while sampling. 0 (default): levels.
        prediction: what the denoiser predicts: ``"epsilon"`` (TimeGrad), ``"x0"`` or ``"v"``. The output layer
            starts at zero, so with ``"x0"`` an untrained model predicts x̂₀ = 0: with ``difference_lag`` s > 0 it
            returns the baseline x_{t−s} exactly, and training can only move away from it where that helps.
        num_diffusion_steps, beta_schedule, beta_start, beta_end: the :class:`~tsdiff.diffusion.NoiseSchedule`.
        residual_layers, residual_channels, dilation_cycle_length, cond_upsampler_dim: the ε-network
            (:class:`EpsilonTheta`).
        num_parallel_samples: default number of samples drawn per window.
        sampler, sampling_steps, eta: the default reverse process, :attr:`default_sampling` (a
            :class:`~tsdiff.diffusion.SamplingOptions`).

    Input shapes (B windows): ``target_dimension_indicator`` (B, D) long; ``past_target``,
    ``past_observed_values`` (B, past_length, D) with
    ``past_length = context_length + max(max(lags_seq), difference_lag)``;
    ``past_time_feat`` (B, past_length, F); ``future_time_feat`` (B, P, F); ``future_target``,
    ``future_observed_values`` (B, P, D); optional ``feat_static_real`` (B, D·R) and ``feat_static_cat`` (B, D·C).
    """

    @validated()
    def __init__(
        self,
        freq: str,
        context_length: int,
        prediction_length: int,
        target_dim: int,
        num_time_features: int,
        num_past_feat_dynamic_real: int = 0,
        num_feat_static_real: int = 0,
        cardinality: Optional[List[int]] = None,
        category_embedding_dim: Optional[int] = None,
        lags_seq: Optional[List[int]] = None,
        cell_type: str = "LSTM",
        num_layers: int = 2,
        hidden_size: int = 40,
        dropout_rate: float = 0.1,
        embedding_dim: int = 1,
        conditioning_length: int = 100,
        scaling: str = "mean",
        increments: bool = False,
        difference_lag: int = 0,
        prediction: str = "epsilon",
        num_diffusion_steps: int = 100,
        beta_schedule: str = "linear",
        beta_start: float = 1e-4,
        beta_end: float = 0.1,
        residual_layers: int = 8,
        residual_channels: int = 8,
        dilation_cycle_length: int = 2,
        cond_upsampler_dim: Optional[int] = None,
        num_parallel_samples: int = 100,
        sampler: str = "ddpm",
        sampling_steps: Optional[int] = None,
        eta: float = 0.0,
    ) -> None:
        super().__init__()
        self.check_arguments(
            context_length, prediction_length, target_dim, num_time_features, cell_type=cell_type,
            num_layers=num_layers, hidden_size=hidden_size, dropout_rate=dropout_rate, embedding_dim=embedding_dim,
            conditioning_length=conditioning_length, scaling=scaling, increments=increments,
            difference_lag=difference_lag, prediction=prediction, num_diffusion_steps=num_diffusion_steps,
            beta_schedule=beta_schedule, beta_start=beta_start, beta_end=beta_end, residual_layers=residual_layers,
            residual_channels=residual_channels, dilation_cycle_length=dilation_cycle_length,
            cond_upsampler_dim=cond_upsampler_dim, num_parallel_samples=num_parallel_samples, sampler=sampler,
            sampling_steps=sampling_steps, eta=eta, num_past_feat_dynamic_real=num_past_feat_dynamic_real,
            num_feat_static_real=num_feat_static_real, cardinality=cardinality,
            category_embedding_dim=category_embedding_dim)
        self.freq = freq
        self.context_length = context_length
        self.prediction_length = prediction_length
        self.target_dim = target_dim
        self.num_time_features = num_time_features
        self.num_past_feat_dynamic_real = num_past_feat_dynamic_real
        self.lags_seq = sorted(set(lags_seq if lags_seq is not None else get_lags_for_frequency(freq)))
        if min(self.lags_seq) < 1:
            raise ValueError(f"lags must be >= 1, got {self.lags_seq}")
        self.scaling = scaling
        self.increments = increments
        self.difference_lag = 1 if increments else difference_lag
        # the RNN reads lags up to max(lags_seq) before the context; a residual needs x_{t-s} there too
        self.past_length = context_length + max(max(self.lags_seq), self.difference_lag)
        self.num_parallel_samples = num_parallel_samples
        self.default_sampling = SamplingOptions(sampler, sampling_steps, eta)

        self.embedding = nn.Embedding(target_dim, embedding_dim)
        self.static_features = StaticFeatures(target_dim, num_feat_static_real, cardinality, category_embedding_dim)
        input_size = (target_dim * len(self.lags_seq) + target_dim * embedding_dim + self.static_features.output_size
                      + num_time_features + (1 if num_past_feat_dynamic_real else 0))  # + the known-values indicator
        self.rnn = CELL_TYPES[cell_type](
            input_size=input_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            dropout=dropout_rate if num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.cond_proj = nn.Linear(hidden_size, conditioning_length)
        self.denoiser = EpsilonTheta(
            target_dim=target_dim,
            cond_dim=conditioning_length,
            num_diffusion_steps=num_diffusion_steps,
            residual_layers=residual_layers,
            residual_channels=residual_channels,
            dilation_cycle_length=dilation_cycle_length,
            cond_upsampler_dim=cond_upsampler_dim,
        )
        self.diffusion = GaussianDiffusion(
            NoiseSchedule(beta_schedule, num_diffusion_steps, beta_start, beta_end), prediction=prediction
        )

    @staticmethod
    def check_arguments(context_length, prediction_length, target_dim, num_time_features, cell_type="LSTM",
                        num_layers=2, hidden_size=40, dropout_rate=0.1, embedding_dim=1, conditioning_length=100,
                        scaling="mean", increments=False, difference_lag=0, prediction="epsilon",
                        num_diffusion_steps=100, beta_schedule="linear", beta_start=1e-4,
                        beta_end=0.1, residual_layers=8, residual_channels=8, dilation_cycle_length=2,
                        cond_upsampler_dim=None, num_parallel_samples=100, sampler="ddpm", sampling_steps=None,
                        eta=0.0, num_past_feat_dynamic_real=0, num_feat_static_real=0, cardinality=None,
                        category_embedding_dim=None, **_) -> None:
        """Check the hyperparameters without building anything (ValueError/TypeError naming the bad one)."""
        checks.one_of(cell_type, "cell_type", CELL_TYPES)
        checks.one_of(scaling, "scaling", SCALINGS)
        checks.one_of(prediction, "prediction", PREDICTIONS)
        if isinstance(difference_lag, bool) or not isinstance(difference_lag, int) or difference_lag < 0:
            raise ValueError(f"difference_lag must be an integer >= 0 (or 'season' in the estimator), "
                             f"got {difference_lag!r}")
        if increments and difference_lag not in (0, 1):
            raise ValueError(f"increments=True means difference_lag=1; got difference_lag={difference_lag}")
        for name, value in [("context_length", context_length), ("prediction_length", prediction_length),
                            ("target_dim", target_dim), ("num_layers", num_layers), ("hidden_size", hidden_size),
                            ("embedding_dim", embedding_dim), ("conditioning_length", conditioning_length),
                            ("residual_layers", residual_layers), ("residual_channels", residual_channels),
                            ("num_diffusion_steps", num_diffusion_steps),
                            ("dilation_cycle_length", dilation_cycle_length),
                            ("num_parallel_samples", num_parallel_samples)]:
            checks.positive_int(value, name)
        checks.optional_positive_int(cond_upsampler_dim, "cond_upsampler_dim")
        checks.dropout_rate(dropout_rate, "dropout_rate")
        if num_time_features < 0:
            raise ValueError(f"num_time_features must be >= 0, got {num_time_features}")
        if isinstance(num_past_feat_dynamic_real, bool) or not isinstance(num_past_feat_dynamic_real, int) \
                or not 0 <= num_past_feat_dynamic_real <= num_time_features:
            raise ValueError(f"num_past_feat_dynamic_real must be an integer in [0, num_time_features="
                             f"{num_time_features}], got {num_past_feat_dynamic_real!r}")
        StaticFeatures.check_arguments(num_feat_static_real, cardinality, category_embedding_dim)
        NoiseSchedule(beta_schedule, num_diffusion_steps, beta_start, beta_end)
        SamplingOptions(sampler, sampling_steps, eta).check(num_diffusion_steps)

    # -- building blocks ----------------------------------------------------------------------------------------
    def _series_features(self, target_dimension_indicator, feat_static_real, feat_static_cat) -> torch.Tensor:
        """What the RNN reads about the series at every step: their embeddings and static features, (B, ·)."""
        emb = self.embedding(target_dimension_indicator).flatten(1)
        static = self.static_features(feat_static_real, feat_static_cat, emb.shape[0])
        return emb if static is None else torch.cat([emb, static], dim=-1)

    def _features(self, past_time_feat, future_time_feat) -> torch.Tensor:
        """(B, past_length + P, F [+ 1]): the step features, past-only covariates hidden on the horizon."""
        time_feat = torch.cat([past_time_feat, future_time_feat], dim=1)
        return hide_past_only_covariates(time_feat, past_time_feat.shape[1], self.num_past_feat_dynamic_real)

    def _rnn_inputs(
        self, series: torch.Tensor, start: int, end: int, time_feat: torch.Tensor, series_emb: torch.Tensor
    ) -> torch.Tensor:
        """RNN inputs for positions [start, end) of ``series`` (B, T, D): lags, embedding, features → (B, end−start, ·).

        ``time_feat`` (B, end−start, F); ``series_emb`` (B, D·E).
        """
        lags = torch.stack([series[:, start - lag : end - lag] for lag in self.lags_seq], dim=-1)
        batch, steps = lags.shape[:2]
        return torch.cat(
            [lags.reshape(batch, steps, -1), series_emb.unsqueeze(1).expand(-1, steps, -1), time_feat], dim=-1
        )

    def _normalise(self, past_target, past_observed_values):
        """(B, past_length, D) → normalised past with unobserved entries set to 0 (the context's centre), loc, scale.

        Zeroing after normalisation is what keeps NaNs (imputed or not) and arbitrary fill values away from the RNN.
        """
        observed = past_observed_values > 0
        loc, scale = scale_context(
            past_target[:, -self.context_length :], past_observed_values[:, -self.context_length :], self.scaling
        )
        normed = torch.where(observed, (past_target - loc) / scale, torch.zeros_like(past_target))
        return normed, loc, scale

    # -- training -----------------------------------------------------------------------------------------------
    def loss(
        self,
        target_dimension_indicator: torch.Tensor,
        past_target: torch.Tensor,
        past_observed_values: torch.Tensor,
        past_time_feat: torch.Tensor,
        future_time_feat: torch.Tensor,
        future_target: torch.Tensor,
        future_observed_values: torch.Tensor,
        feat_static_real: Optional[torch.Tensor] = None,
        feat_static_cat: Optional[torch.Tensor] = None,
        generator: Optional[torch.Generator] = None,
    ) -> torch.Tensor:
        """ε-MSE over the context and prediction positions (teacher forcing), observed entries only. Scalar.

        ``generator`` (optional) draws the diffusion steps and noise, e.g. for a reproducible validation loss.
        """
        past_normed, loc, scale = self._normalise(past_target, past_observed_values)
        future_observed = future_observed_values > 0
        future_normed = torch.where(future_observed, (future_target - loc) / scale, torch.zeros_like(future_target))
        series = torch.cat([past_normed, future_normed], dim=1)
        observed = torch.cat([past_observed_values, future_observed_values], dim=1)
        time_feat = self._features(past_time_feat, future_time_feat)

        start = self.past_length - self.context_length
        end = self.past_length + future_target.shape[1]
        emb = self._series_features(target_dimension_indicator, feat_static_real, feat_static_cat)
        inputs = self._rnn_inputs(series, start, end, time_feat[:, start:end], emb)
        output, _ = self.rnn(inputs)
        cond = self.cond_proj(output)  # (B, T', C)
        x0 = series[:, start:end]
        mask = observed[:, start:end]
        lag = self.difference_lag
        if lag:  # a residual over x_{t-s} is known only where both x_t and x_{t-s} are
            x0 = x0 - series[:, start - lag : end - lag]
            mask = mask * observed[:, start - lag : end - lag]
        return self.diffusion.training_loss(
            self.denoiser, x0.reshape(-1, self.target_dim), cond.reshape(-1, cond.shape[-1]),
            mask.reshape(-1, self.target_dim), generator=generator,
        )

    # -- prediction ---------------------------------------------------------------------------------------------
    @torch.no_grad()
    def forward(
        self,
        target_dimension_indicator: torch.Tensor,
        past_target: torch.Tensor,
        past_observed_values: torch.Tensor,
        past_time_feat: torch.Tensor,
        future_time_feat: torch.Tensor,
        feat_static_real: Optional[torch.Tensor] = None,
        feat_static_cat: Optional[torch.Tensor] = None,
        num_samples: Optional[int] = None,
        generator: Optional[torch.Generator] = None,
        sampling: Optional[SamplingOptions] = None,
    ) -> torch.Tensor:
        """Autoregressive sampling of the horizon.

        The RNN is unrolled over the context once per window; then its state is repeated ``num_samples`` times and
        every forecast step runs one RNN step and one reverse diffusion for all windows × samples at once.
        ``sampling`` overrides :attr:`default_sampling` field by field; the sampler is built once per call.

        Returns:
            samples (B, num_samples, prediction_length, D) in the data's units.
        """
        S = num_samples or self.num_parallel_samples
        sampler = make_sampler(self.diffusion, (sampling or SamplingOptions()).resolve(self.default_sampling))
        B, P, D = past_target.shape[0], future_time_feat.shape[1], self.target_dim

        past_normed, loc, scale = self._normalise(past_target, past_observed_values)
        time_feat = self._features(past_time_feat, future_time_feat)
        emb = self._series_features(target_dimension_indicator, feat_static_real, feat_static_cat)

        # Warm-up over the context (its last output would condition x at the last past step, which we know).
        start = self.past_length - self.context_length
        inputs = self._rnn_inputs(past_normed, start, self.past_length, time_feat[:, start : self.past_length], emb)
        _, state = self.rnn(inputs)

        # Samples become part of the batch: (B·S, ...), sample index fastest.
        rep = lambda x, dim=0: x.repeat_interleave(S, dim=dim)  # noqa: E731
        state = tuple(rep(s, 1) for s in state) if isinstance(state, tuple) else rep(state, 1)
        series = torch.cat([rep(past_normed), past_normed.new_zeros(B * S, P, D)], dim=1)
        time_feat, emb = rep(time_feat), rep(emb)

        for k in range(P):
            t = self.past_length + k
            step_in = self._rnn_inputs(series, t, t + 1, time_feat[:, t : t + 1], emb)
            output, state = self.rnn(step_in, state)
            cond = self.cond_proj(output[:, 0])
            # The conditioning is constant over the reverse diffusion: prepare it once, denoise T times.
            x = self.diffusion.sample(
                self.denoiser.denoise, (B * S, D), cond=self.denoiser.condition(cond), sampling=sampler,
                generator=generator, device=series.device, dtype=series.dtype,
            )
            series[:, t] = series[:, t - self.difference_lag] + x if self.difference_lag else x
        samples = series[:, self.past_length :].reshape(B, S, P, D)
        return samples * scale.unsqueeze(1) + loc.unsqueeze(1)
