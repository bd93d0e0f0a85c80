"""``tsdiff.CSDI``: the pandas front end of CSDI — forecasting as imputation, and gap filling."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from tsdiff import checks
from tsdiff.diffusion import SamplingOptions
from tsdiff.quiet import user_stacklevel

from .covariates import FUTURE, PAST, Covariates, predict_covariates
from .defaults import CSDI_EPOCHS, CSDI_SAMPLING, LEARNING_RATE, NUM_BATCHES_PER_EPOCH, SEED
from .grid import Grid
from .imputation import Imputation
from .model import DiffusionForecaster
from .panel import forecast_windows, spread_windows, standardise, validation_cuts
from .params import store_init_arguments
from .quantiles import check_levels
from .training import FitSession, validation_cut


def _windows(values: np.ndarray, length: int, starts) -> np.ndarray:
    """(D, T) grid → (N, length, D) windows starting at ``starts``."""
    return np.stack([values[:, s:s + length].T for s in starts])


def _with_covariates(values: np.ndarray, cov: Covariates) -> np.ndarray:
    """The (D, T) grid with the covariates as more features below it: (D + K_p + K, T), the past-only ones
    (modelled with the targets) before the future-known ones (always given: the model's last features)."""
    T = values.shape[1]
    rows = [values] + [c[:, :T] for c in (cov.past, cov.future) if c is not None]
    return np.concatenate(rows).astype(np.float32)


class CSDI(DiffusionForecaster):
    """CSDI (Tashiro et al., NeurIPS 2021) on pandas data: a transformer denoiser over a (time × variable) grid
    that fills whatever is hidden — the future (``predict``) or gaps (``impute``).

    One network serves both: training hides, per window, either the last ``prediction_length`` steps or the gaps of
    another window, so the gaps it learns to fill are shaped like the data's own (random ones where the data have
    none; ``mask_strategy="forecast_historical"``), and each window counts once in the loss relative to how far
    the interpolation is off (``loss_weighting="relative"``), so the forecast windows, whose errors are large, do
    not drown the gaps. A model that only imputes can use ``mask_strategy="historical_random"``.

    Covariates (:mod:`tsdiff.api.covariates`) are more rows of the (variable × time) grid, side information the
    transformer attends to across features: ``covariates`` (known in advance) are given on every step of a window,
    the horizon included, and are never hidden nor denoised; ``past_covariates`` are modelled jointly with the
    targets (hidden with them on the horizon, given on the context). Panels take neither.

    >>> model = tsdiff.CSDI(prediction_length=24, epochs=20).fit(df)         # doctest: +SKIP
    >>> model.predict().to_frame()                                           # doctest: +SKIP
    >>> model.impute(df).median                                              # df with its NaNs filled  # doctest: +SKIP

    Args:
        prediction_length: forecast horizon; windows span ``context_length + prediction_length`` steps.
        freq: pandas frequency (default: inferred from the index).
        context_length: history given to the model (default: ``2 * prediction_length``, at least 8).
        epochs, batch_size, num_batches_per_epoch, lr: training budget (windows per epoch =
            ``batch_size * num_batches_per_epoch``, drawn evenly over the series) and Adam's learning rate.
        time_limit, validation_fraction, early_stopping_patience: as in :class:`tsdiff.TimeGrad` (the validation
            windows are those whose horizon lies in the held-out tail).
        mask_strategy: what training hides (:mod:`tsdiff.models.csdi.masks`): ``"forecast_historical"`` (both
            tasks: the horizon in a quarter of the windows, else another window's gap pattern, random gaps where
            the data have none),
            ``"historical_random"`` (imputation only), ``"forecast_random"`` (the horizon or a random fraction; the
            default before ``loss_weighting`` existed), or any other of the strategies, e.g. ``"forecast"``.
        loss_weighting: ``"relative"``: each training window counts once, its error relative to the
            interpolation's; ``"pooled"`` (the paper's): every hidden value counts once, so forecast windows
            dominate a mixed ``mask_strategy`` (:class:`~tsdiff.models.csdi.CSDIModel`). On 10 % holes in ETTh1's
            validation rows, ``"forecast_historical"`` (half forecasts then, over the last value) imputed with MAE
            0.418 weighted relatively and 0.477 with each window's plain mean error (the previous default,
            ``"forecast_random"`` pooled: 0.498; interpolation: 0.471), and forecast as well (RESULTS.md).
        num_sample_features: train each window on a random subset of this many columns when the frame has more
            (CSDI's device for wide data): a training batch then costs the same whatever the width, while
            ``impute``/``predict`` still see every column. ``None``: all columns.
        residual_channels, residual_layers, heads, step_embedding_dim, time_embedding_dim, feature_embedding_dim,
            dim_feedforward, dropout: the transformer denoiser (32 channels, 2 layers, 4 heads: smaller than the
            paper's 64 / 4 / 8, see ``tsdiff.api.defaults.CSDI_RECIPE``).
        num_diffusion_steps, beta_schedule, beta_start, beta_end: the noise schedule (quad 1e-4 → 0.5, 50 steps).
        prediction, baseline, season, baseline_channel: what the denoiser outputs (``"epsilon"``, ``"x0"``, ``"v"``)
            and the residual over a deterministic fill (``"interpolation"``: gaps interpolated, the horizon the last
            value; ``"seasonal"``: the same gaps, the horizon the seasonal naive forecast, one ``season`` back;
            ``None``: values), optionally also an input channel; see :class:`~tsdiff.models.csdi.CSDIModel`.
            ``season=None``: the frequency's season (GluonTS's: 24 for hourly data, 96 for 15-minute, 1 for daily;
            a season longer than the window gives the last value). The defaults (x₀ over the seasonal fill, which
            is also a channel) make an untrained model impute like ``df.interpolate()`` and forecast like seasonal
            naive (RESULTS.md, "pandas defaults"). The paper's recipe is ``prediction="epsilon", baseline=None,
            baseline_channel=False, deviation_channel=False``.
        deviation_channel: also give the denoiser each observed value's deviation from the line through its
            neighbours, so that a gap in one column is filled with what the correlated columns did at the same
            step (:func:`~tsdiff.models.csdi.baseline.local_deviation`).
        ema_decay: sample with a moving average of the weights (e.g. 0.999); ``None``: the trained weights.
        sampler, sampling_steps, eta: default reverse process, for ``predict`` and ``impute`` alike. Unset: DDIM
            with 10 steps and fresh noise (η = 1), 3–5× faster than ``"ddpm"`` over all 50 steps and more accurate
            on the validation sets measured (``tsdiff.api.defaults.CSDI_SAMPLING``). A sampler given alone gets its
            own step count and η.
        device, seed, verbose, logger, log_dir, trainer_kwargs: as in :class:`tsdiff.TimeGrad`.

    Fitted attributes: as :class:`tsdiff.TimeGrad`'s (``predictor_`` is a
    :class:`~tsdiff.models.csdi.CSDIImputer`).
    """

    name = "CSDI"
    DEFAULT_SAMPLING = CSDI_SAMPLING
    supported_covariates = (FUTURE, PAST)
    ADDED_PARAMS = {"deviation_channel": False, "mask_strategy": "forecast_random",  # files from before they existed
                    "loss_weighting": "pooled", "num_sample_features": None}
    DEPRECATED = ("num_steps", "progress", "diffusion_steps", "channels", "layers")

    def __init__(self, prediction_length: int, *, freq: str | None = None, context_length: int | None = None,
                 # training budget
                 epochs: int = CSDI_EPOCHS, batch_size: int = 16, num_batches_per_epoch: int = NUM_BATCHES_PER_EPOCH,
                 lr: float = LEARNING_RATE, time_limit: float | None = None,
                 validation_fraction: float | None = None, early_stopping_patience: int | None = None,
                 mask_strategy: str = "forecast_historical", loss_weighting: str = "relative",
                 num_sample_features: int | None = None,
                 # the transformer denoiser
                 residual_channels: int = 32, residual_layers: int = 2, heads: int = 4,
                 step_embedding_dim: int = 128, time_embedding_dim: int = 128, feature_embedding_dim: int = 16,
                 dim_feedforward: int = 64, dropout: float = 0.1,
                 # the noise schedule and the default reverse process (predict and impute)
                 num_diffusion_steps: int = 50, beta_schedule: str = "quad", beta_start: float = 1e-4,
                 beta_end: float = 0.5, prediction: str = "x0", baseline: str | None = "seasonal",
                 season: int | None = None, baseline_channel: bool = True, deviation_channel: bool = True,
                 ema_decay: float | None = None,
                 sampler: str | None = None, sampling_steps: int | None = None, eta: float | None = None,
                 # running
                 device: str = "auto", seed: int = SEED, verbose: int = 1, logger: str | None = None,
                 log_dir: str = "tsdiff_logs", trainer_kwargs: dict | None = None, **deprecated) -> None:
        store_init_arguments(self, locals())
        self._validate()

    def _check_model(self) -> None:
        from tsdiff.models.csdi import CSDIImputer

        from tsdiff.models.base.recipe import check_optimiser

        from tsdiff.models.csdi.masks import STRATEGIES

        CSDIImputer(**self._imputer_kwargs())  # checks every argument; builds no network
        check_optimiser(self.lr, 0.0, "constant", ema_decay=self.ema_decay)
        checks.one_of(self.mask_strategy, "mask_strategy", STRATEGIES)
        checks.optional_positive_int(self.num_sample_features, "num_sample_features")

    @property
    def effective_context_length(self) -> int:
        from tsdiff.models.csdi.estimator import default_context_length

        return self.context_length or default_context_length(self.prediction_length)

    @property
    def window_length(self) -> int:
        return self.effective_context_length + self.prediction_length

    def _imputer_kwargs(self, freq: str | None = None) -> dict:
        """CSDIImputer's arguments; ``freq``: the data's frequency, whose season a seasonal fill with ``season=None``
        takes (GluonTS's ``get_seasonality``; 1, the last value, before the data are known)."""
        device = {"gpu": "cuda", "mps": "cpu"}.get(self.device, self.device)
        params = self._model_params()
        if params["baseline"] == "seasonal" and params["season"] is None:
            from gluonts.time_feature import get_seasonality

            params["season"] = int(get_seasonality(freq)) if freq else 1
        params.pop("ema_decay")  # training settings: they go to fit
        params.pop("mask_strategy")
        params.pop("num_sample_features")
        sampling = self.default_sampling()
        return dict(device=device, sampler=sampling.sampler, sampling_steps=sampling.sampling_steps, eta=sampling.eta,
                    **params)

    # -- backend hooks ----------------------------------------------------------------------------------------------
    def _train(self, grid: Grid, cov: Covariates, checkpoint_dir=None, resume: bool = False) -> None:
        L, C = self.window_length, self.effective_context_length
        values = _with_covariates(grid.values, cov)
        cut = validation_cut(self, grid.length)
        T = grid.length if cut is None else cut
        count = min(T - L + 1, self.batch_size * self.num_batches_per_epoch)
        starts = np.unique(np.linspace(0, T - L, count).round().astype(int))
        valid = None
        if cut is not None:  # windows whose horizon lies in the tail (their context may reach back before it)
            first, last = max(cut - C, 0), grid.length - L
            tail_starts = np.unique(np.linspace(first, last, min(64, last - first + 1)).round().astype(int))
            valid = _windows(values, L, tail_starts)
        self._fit_imputer(_windows(values, L, starts), valid, checkpoint_dir, resume,
                          num_given=0 if cov.future is None else len(cov.future), freq=grid.layout.freq)

    def _fit_imputer(self, values: np.ndarray, valid: np.ndarray | None, checkpoint_dir, resume: bool,
                     num_given: int = 0, freq: str | None = None) -> None:
        """Train a CSDIImputer on windows (N, L, K), hiding the last ``prediction_length`` steps or random cells;
        ``valid``: validation windows (M, L, K) or None; ``num_given``: the last features are covariates, never
        hidden."""
        from tsdiff.models.csdi import CSDIImputer

        imputer = CSDIImputer(num_features=values.shape[2], **self._imputer_kwargs(freq))
        batches = -(-len(values) // self.batch_size)
        session = FitSession(self, self.epochs * batches, validating=valid is not None)
        imputer.fit(values, np.isfinite(values), epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                    mask_strategy=self.mask_strategy, prediction_length=self.prediction_length, seed=self.seed,
                    num_sample_features=self.num_sample_features,
                    num_feat_dynamic_real=num_given,
                    valid=None if valid is None else (valid, np.isfinite(valid)), progress=self.verbose >= 2,
                    trainer_kwargs=session.trainer_kwargs(), checkpoint_dir=checkpoint_dir, resume=resume,
                    ema_decay=self.ema_decay)
        self.predictor_ = imputer
        session.finish()

    def _warn_if_never_trained_to_forecast(self) -> None:
        if not self.mask_strategy.startswith("forecast"):
            warnings.warn(f"this CSDI model was fitted with mask_strategy={self.mask_strategy!r}, which never hides "
                          "the horizon: it was trained to fill gaps, not to forecast, and its forecasts will be poor. "
                          "Fit with mask_strategy='forecast_historical' (the default) to predict", UserWarning,
                          stacklevel=user_stacklevel())

    def _sample(self, grid: Grid, cov: Covariates, num_samples: int, seed: int,
                sampling: SamplingOptions) -> np.ndarray:
        self._warn_if_never_trained_to_forecast()
        C, H, D, T = self.effective_context_length, self.prediction_length, grid.values.shape[0], grid.length
        history = _with_covariates(grid.values, cov)[:, -C:]
        window = np.concatenate([history, np.full((len(history), H), np.nan, np.float32)], axis=1)
        if cov.future is not None:  # the known covariates of the horizon are given
            window[-len(cov.future):, C:] = cov.future[:, T:T + H]
        window = window.T[None]
        samples = self.predictor_.impute(window, np.isfinite(window), num_samples=num_samples, sampling=sampling,
                                         seed=seed, progress=self.verbose >= 1)
        return samples[:, 0, C:, :D].numpy().astype(np.float64)  # (S, H, D)

    # -- panels: one global network over (1 x L) windows of every series ---------------------------------------------
    def _train_panel(self, panel, cov, checkpoint_dir=None, resume: bool = False) -> None:
        L, C = self.window_length, self.effective_context_length
        cuts = validation_cuts(self, panel)
        training = [v if c is None else v[:c] for v, c in zip(panel.values(), cuts)]
        # each series standardised by the mean and s.d. of its training part, so one network serves any scale
        scaled, loc, scale = standardise(training)
        values = spread_windows(scaled, L, self.batch_size * self.num_batches_per_epoch)[:, :, None]
        valid = None
        if self.validation_fraction is not None:  # windows whose horizon lies in each series' own tail
            tails = [(v[max(c - C, 0):] - m) / s for v, c, m, s in zip(panel.values(), cuts, loc, scale)
                     if c is not None]
            valid = spread_windows(tails, L, 64)[:, :, None]
        self._fit_imputer(values, valid, checkpoint_dir, resume, freq=panel.layout.freq)

    def _sample_panel(self, panel, cov, num_samples: int, seed: int, sampling: SamplingOptions) -> np.ndarray:
        self._warn_if_never_trained_to_forecast()
        C, H = self.effective_context_length, self.prediction_length
        scaled, loc, scale = standardise(panel.values())
        window = forecast_windows(scaled, C, H)[:, :, None]  # (N, C + H, 1)
        drawn = self.predictor_.impute(window, np.isfinite(window), num_samples=num_samples, sampling=sampling,
                                       seed=seed, progress=self.verbose >= 1)
        samples = drawn[:, :, C:, 0].numpy().astype(np.float64) * scale[:, None] + loc[:, None]  # (S, N, H)
        return samples.transpose(0, 2, 1)

    def _save_state(self, directory: Path) -> dict:
        self.predictor_.save(directory / "weights.npz")
        return {}

    def _load_state(self, directory: Path, state: dict) -> None:
        from tsdiff.models.csdi import CSDIImputer

        self.predictor_ = CSDIImputer.load(directory / "weights.npz", device=self._imputer_kwargs()["device"])

    # -- imputation -------------------------------------------------------------------------------------------------
    def impute(self, y: pd.Series | pd.DataFrame | None = None, num_samples: int = 100,
               quantiles: float | tuple[float, ...] = (0.1, 0.5, 0.9),
               covariates: pd.DataFrame | pd.Series | None = None,
               past_covariates: pd.DataFrame | pd.Series | None = None, sampler: str | None = None,
               sampling_steps: int | None = None, eta: float | None = None, seed: int | None = None,
               sampling: SamplingOptions | None = None, **deprecated) -> Imputation:
        """Fill the missing values of ``y`` (default: the fitted data) with samples.

        The series is cut into consecutive windows of ``window_length`` steps (the last one aligned with the end);
        each is imputed given its observed values. Missing timestamps are added to the grid as gaps. The model's
        sampler defaults apply, as in ``predict``; ``sampler``/``sampling_steps``/``eta``/``sampling`` override them.
        ``covariates``/``past_covariates``: for a model fitted with them, covering ``y``'s time steps (default: the
        fitted ones when ``y`` is None); gaps in ``past_covariates`` are imputed with the targets.

        Returns:
            :class:`Imputation` whose ``median``/``quantile(q)`` have the (regularised) input's index and columns.
        """
        self._require_fitted()
        if self.panel_ is not None:
            raise ValueError("impute fills the gaps of the one (multivariate) series a model was fitted on; this "
                             "model was fitted on a panel. Fit a CSDI model on a wide frame (panel=False) to impute")
        sampling = self._sampling(sampling, sampler, sampling_steps, eta, deprecated)
        num_samples = checks.positive_int(num_samples, "num_samples")
        check_levels(quantiles)
        seed = self.seed if seed is None else checks.seed(seed)
        grid = self.grid_ if y is None else self._grid(y, self.long_cols_)
        fitted_vars = list(self.grid_.frame().columns)
        if list(grid.frame().columns) != fitted_vars:
            raise ValueError(f"y has variables {list(grid.frame().columns)}; the model was fitted on {fitted_vars}")
        if y is not None:
            self._check_time_axis(grid)
        cov = self._imputation_covariates(y, grid, covariates, past_covariates)
        L, T = self.window_length, grid.length
        if T < L:
            raise ValueError(f"y has {T} time steps; imputation works on windows of {L} "
                             "(context_length + prediction_length)")
        starts = list(range(0, T - L + 1, L))
        if starts[-1] != T - L:
            starts.append(T - L)
        values = _with_covariates(grid.values, cov)
        windows = _windows(values, L, starts)
        # the imputer chunks windows and samples to the memory budget, with a bar over windows × steps on stderr
        drawn = self.predictor_.impute(windows, np.isfinite(windows), num_samples=num_samples, sampling=sampling,
                                       seed=seed, progress=self.verbose >= 1).numpy()  # (S, N, L, D)
        D = grid.values.shape[0]
        samples = np.empty((num_samples, T, D), dtype=np.float64)
        for k, s in enumerate(starts):
            samples[:, s:s + L] = drawn[:, k, :, :D]
        # observed cells carry the user's exact values (the model works in float32)
        frame = self.history_ if y is None else self._wide_frame(y, grid)
        observed = np.isfinite(frame.to_numpy(dtype=np.float64))
        samples[:, observed] = frame.to_numpy(dtype=np.float64)[observed]
        if grid.layout.kind == "series":
            return Imputation(samples[:, :, 0], observed[:, 0], frame.iloc[:, 0])
        return Imputation(samples, observed, frame)

    def _imputation_covariates(self, y, grid: Grid, covariates, past_covariates) -> Covariates:
        """The covariates on ``grid``'s own steps (no horizon): the fitted ones when ``y`` is None."""
        fitted = Covariates(self.covariates_, self.past_covariates_) if y is None else None
        return predict_covariates(self, list(grid.frame().columns), grid, 0, self.long_cols_, covariates,
                                  past_covariates,
                                  fitted=fitted)
