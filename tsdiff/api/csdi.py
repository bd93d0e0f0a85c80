"""``tsdiff.CSDI``: the pandas front end of CSDI — forecasting as imputation, and gap filling."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tsdiff import checks
from tsdiff.diffusion import SamplingOptions

from .grid import Grid
from .imputation import Imputation
from .model import DiffusionForecaster
from .panel import forecast_windows, spread_windows, standardise
from .quantiles import check_levels


def _windows(values: np.ndarray, length: int, starts) -> np.ndarray:
    """(D, T) grid → (N, length, D) windows starting at ``starts``."""
    return np.stack([values[:, s:s + length].T for s in starts])


class CSDI(DiffusionForecaster):
    """CSDI (Tashiro et al., NeurIPS 2021) on pandas data: a transformer denoiser over a (time × variable) grid
    that fills whatever is hidden — the future (``predict``) or gaps (``impute``).

    One network serves both: training hides, per window, either the last ``prediction_length`` steps or a random
    fraction of the observed values (mask strategy ``"forecast_random"``).

    >>> model = tsdiff.CSDI(prediction_length=24, epochs=20).fit(df)         # doctest: +SKIP
    >>> model.predict().to_frame()                                           # doctest: +SKIP
    >>> model.impute(df).median                                              # df with its NaNs filled  # doctest: +SKIP

    Args:
        prediction_length: forecast horizon; windows span ``context_length + prediction_length`` steps.
        context_length: history given to the model (default: ``2 * prediction_length``, at least 8).
        epochs, batch_size, num_batches_per_epoch, lr: training budget (windows per epoch =
            ``batch_size * num_batches_per_epoch``, drawn evenly over the series).
        sampler, sampling_steps, device, seed, progress, trainer_kwargs: as in :class:`tsdiff.TimeGrad`; the
            sampler defaults apply to ``predict`` and ``impute`` alike.
        **model_kwargs: network settings of :data:`tsdiff.models.csdi.MODEL_DEFAULTS` (``residual_channels``,
            ``residual_layers``, ``heads``, ``num_diffusion_steps``, ...).
    """

    name = "CSDI"
    RENAMED = {"num_steps": "sampling_steps", "diffusion_steps": "num_diffusion_steps",
               "channels": "residual_channels", "layers": "residual_layers"}

    def __init__(self, prediction_length: int, context_length: int | None = None, epochs: int = 20,
                 batch_size: int = 16, **kwargs):
        super().__init__(prediction_length, context_length=context_length, epochs=epochs, batch_size=batch_size,
                         **kwargs)

    def _check_model(self) -> None:
        from tsdiff.models.csdi import MODEL_DEFAULTS, CSDIImputer

        unknown = set(self.model_kwargs) - set(MODEL_DEFAULTS)
        if unknown:
            raise TypeError(f"unknown CSDI arguments {sorted(unknown)}; network settings are {sorted(MODEL_DEFAULTS)}")
        CSDIImputer(**self._imputer_kwargs())  # checks every argument; builds no network

    @property
    def effective_context_length(self) -> int:
        from tsdiff.models.csdi.estimator import default_context_length

        return self.context_length or default_context_length(self.prediction_length)

    @property
    def window_length(self) -> int:
        return self.effective_context_length + self.prediction_length

    def _imputer_kwargs(self) -> dict:
        device = {"gpu": "cuda", "mps": "cpu"}.get(self.device, self.device)
        return dict(device=device, sampler=self.sampler, sampling_steps=self.sampling_steps, **self.model_kwargs)

    # -- backend hooks ----------------------------------------------------------------------------------------------
    def _train(self, grid: Grid, cov) -> None:
        L, T = self.window_length, grid.length
        count = min(T - L + 1, self.batch_size * self.num_batches_per_epoch)
        starts = np.unique(np.linspace(0, T - L, count).round().astype(int))
        self._fit_imputer(_windows(grid.values, L, starts))

    def _fit_imputer(self, values: np.ndarray) -> None:
        """Train a CSDIImputer on windows (N, L, K), hiding the last ``prediction_length`` steps or random cells."""
        from tsdiff.models.csdi import CSDIImputer

        imputer = CSDIImputer(num_features=values.shape[2], **self._imputer_kwargs())
        imputer.fit(values, np.isfinite(values), epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                    mask_strategy="forecast_random", prediction_length=self.prediction_length, seed=self.seed,
                    progress=self.progress, trainer_kwargs=self.trainer_kwargs)
        self.predictor_ = imputer

    def _sample(self, grid: Grid, cov, num_samples: int, seed: int, sampling: SamplingOptions) -> np.ndarray:
        C, H, D = self.effective_context_length, self.prediction_length, grid.values.shape[0]
        window = np.concatenate([grid.values[:, -C:], np.full((D, H), np.nan, np.float32)], axis=1).T[None]
        samples = self.predictor_.impute(window, np.isfinite(window), num_samples=num_samples, sampling=sampling,
                                         seed=seed, progress=self.progress)
        return samples[:, 0, C:, :].numpy().astype(np.float64)  # (S, H, D)

    # -- panels: one global network over (1 x L) windows of every series ---------------------------------------------
    def _train_panel(self, panel) -> None:
        # each series standardised by its own mean and s.d., so that one network serves series of any scale
        scaled, _, _ = standardise(panel.values())
        count = self.batch_size * self.num_batches_per_epoch
        self._fit_imputer(spread_windows(scaled, self.window_length, count)[:, :, None])

    def _sample_panel(self, panel, num_samples: int, seed: int, sampling: SamplingOptions) -> np.ndarray:
        C, H = self.effective_context_length, self.prediction_length
        scaled, loc, scale = standardise(panel.values())
        window = forecast_windows(scaled, C, H)[:, :, None]  # (N, C + H, 1)
        drawn = self.predictor_.impute(window, np.isfinite(window), num_samples=num_samples, sampling=sampling,
                                       seed=seed, batch_size=self.batch_size, progress=self.progress)
        samples = drawn[:, :, C:, 0].numpy().astype(np.float64) * scale[:, None] + loc[:, None]  # (S, N, H)
        return samples.transpose(0, 2, 1)

    def _save_state(self, directory: Path) -> dict:
        self.predictor_.save(directory / "weights.npz")
        return {}

    def _load_state(self, directory: Path, state: dict) -> None:
        from tsdiff.models.csdi import CSDIImputer

        self.predictor_ = CSDIImputer.load(directory / "weights.npz", device=self._imputer_kwargs()["device"])

    # -- imputation -------------------------------------------------------------------------------------------------
    def impute(self, y=None, num_samples: int = 100, quantiles=(0.1, 0.5, 0.9), sampler: str | None = None,
               sampling_steps: int | None = None, eta: float | None = None, seed: int | None = None,
               sampling: SamplingOptions | None = None, **deprecated) -> Imputation:
        """Fill the missing values of ``y`` (default: the fitted data) with samples.

        The series is cut into consecutive windows of ``window_length`` steps (the last one aligned with the end);
        each is imputed given its observed values. Missing timestamps are added to the grid as gaps. The model's
        sampler defaults apply, as in ``predict``; ``sampler``/``sampling_steps``/``eta``/``sampling`` override them.

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
        L, T = self.window_length, grid.length
        if T < L:
            raise ValueError(f"y has {T} time steps; imputation works on windows of {L} "
                             "(context_length + prediction_length)")
        starts = list(range(0, T - L + 1, L))
        if starts[-1] != T - L:
            starts.append(T - L)
        windows = _windows(grid.values, L, starts)
        drawn = self.predictor_.impute(windows, np.isfinite(windows), num_samples=num_samples, sampling=sampling,
                                       seed=seed, progress=self.progress).numpy()  # (S, N, L, D)
        samples = np.empty((num_samples, T, grid.values.shape[0]), dtype=np.float64)
        for k, s in enumerate(starts):
            samples[:, s:s + L] = drawn[:, k]
        # observed cells carry the user's exact values (the model works in float32)
        frame = self.history_ if y is None else self._wide_frame(y, grid)
        observed = np.isfinite(frame.to_numpy(dtype=np.float64))
        samples[:, observed] = frame.to_numpy(dtype=np.float64)[observed]
        if grid.layout.kind == "series":
            return Imputation(samples[:, :, 0], observed[:, 0], frame.iloc[:, 0])
        return Imputation(samples, observed, frame)
