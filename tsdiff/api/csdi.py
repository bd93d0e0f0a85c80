"""``tsdiff.CSDI``: the pandas front end of CSDI — forecasting as imputation, and gap filling."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .grid import Grid
from .imputation import Imputation
from .model import DiffusionForecaster, _positive_int
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
        sampler, num_steps, device, seed, progress: as in :class:`tsdiff.TimeGrad`.
        **model_kwargs: network settings of :data:`tsdiff.models.csdi.MODEL_DEFAULTS` (``channels``, ``layers``,
            ``heads``, ``num_steps`` is called ``diffusion_steps`` here, ...).
    """

    name = "CSDI"

    def __init__(self, prediction_length: int, context_length: int | None = None, epochs: int = 20,
                 batch_size: int = 16, **kwargs):
        diffusion_steps = kwargs.pop("diffusion_steps", None)
        super().__init__(prediction_length, context_length=context_length, epochs=epochs, batch_size=batch_size,
                         **kwargs)
        from tsdiff.models.csdi import MODEL_DEFAULTS

        unknown = set(self.model_kwargs) - set(MODEL_DEFAULTS) - {"num_steps"}
        if unknown:
            raise TypeError(f"unknown CSDI arguments {sorted(unknown)}; network settings are {sorted(MODEL_DEFAULTS)}")
        if diffusion_steps is not None:
            self.model_kwargs["diffusion_steps"] = _positive_int(diffusion_steps, "diffusion_steps")
        from tsdiff.models.csdi import CSDIImputer

        CSDIImputer(**self._network_kwargs())  # fails now, naming a bad network setting, rather than in fit()

    @property
    def effective_context_length(self) -> int:
        return self.context_length or max(8, 2 * self.prediction_length)

    @property
    def window_length(self) -> int:
        return self.effective_context_length + self.prediction_length

    def _torch_device(self) -> str:
        import torch

        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return {"gpu": "cuda"}.get(self.device, self.device)

    def _network_kwargs(self) -> dict:
        kwargs = dict(self.model_kwargs)
        if "diffusion_steps" in kwargs:
            kwargs["num_steps"] = kwargs.pop("diffusion_steps")
        return kwargs

    # -- backend hooks ----------------------------------------------------------------------------------------------
    def _train(self, grid: Grid, cov) -> None:
        from tsdiff.models.csdi import CSDIImputer

        L, T = self.window_length, grid.length
        count = min(T - L + 1, self.batch_size * self.num_batches_per_epoch)
        starts = np.unique(np.linspace(0, T - L, count).round().astype(int))
        values = _windows(grid.values, L, starts)
        imputer = CSDIImputer(num_features=grid.values.shape[0], device=self._torch_device(),
                              **self._network_kwargs())
        imputer.fit(values, np.isfinite(values), epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                    mask_strategy="forecast_random", prediction_length=self.prediction_length, seed=self.seed,
                    progress=self.progress)
        self.predictor_ = imputer

    def _sample(self, grid: Grid, cov, num_samples: int, seed: int, sampler: str, num_steps) -> np.ndarray:
        C, H, D = self.effective_context_length, self.prediction_length, grid.values.shape[0]
        window = np.concatenate([grid.values[:, -C:], np.full((D, H), np.nan, np.float32)], axis=1).T[None]
        samples = self.predictor_.impute(window, np.isfinite(window), num_samples=num_samples, sampler=sampler,
                                         num_steps=num_steps, seed=seed, progress=self.progress)
        return samples[:, 0, C:, :].numpy().astype(np.float64)  # (S, H, D)

    def _save_state(self, directory: Path) -> None:
        self.predictor_.save(directory / "csdi.pt")

    def _load_state(self, directory: Path) -> None:
        from tsdiff.models.csdi import CSDIImputer

        self.predictor_ = CSDIImputer.load(directory / "csdi.pt", device=self._torch_device())

    # -- imputation -------------------------------------------------------------------------------------------------
    def impute(self, y=None, num_samples: int = 100, quantiles=(0.1, 0.5, 0.9), sampler: str | None = None,
               num_steps: int | None = None, seed: int | None = None) -> Imputation:
        """Fill the missing values of ``y`` (default: the fitted data) with samples.

        The series is cut into consecutive windows of ``window_length`` steps (the last one aligned with the end);
        each is imputed given its observed values. Missing timestamps are added to the grid as gaps.

        Returns:
            :class:`Imputation` whose ``median``/``quantile(q)`` have the (regularised) input's index and columns.
        """
        self._require_fitted()
        num_samples = _positive_int(num_samples, "num_samples")
        check_levels(quantiles)
        grid = self.grid_ if y is None else self._grid(y, self.long_cols_)
        fitted_vars = list(self.grid_.frame().columns)
        if list(grid.frame().columns) != fitted_vars:
            raise ValueError(f"y has variables {list(grid.frame().columns)}; the model was fitted on {fitted_vars}")
        if y is not None:
            self._check_time_axis(grid)
        sampler = sampler or self.sampler
        if sampler not in ("ddpm", "ddim"):
            raise ValueError(f"sampler must be 'ddpm' or 'ddim', got {sampler!r}")
        if sampler == "ddpm" and num_steps is not None:
            raise ValueError("num_steps applies to sampler='ddim'; ddpm always runs every diffusion step")
        L, T = self.window_length, grid.length
        if T < L:
            raise ValueError(f"y has {T} time steps; imputation works on windows of {L} "
                             "(context_length + prediction_length)")
        starts = list(range(0, T - L + 1, L))
        if starts[-1] != T - L:
            starts.append(T - L)
        windows = _windows(grid.values, L, starts)
        drawn = self.predictor_.impute(windows, np.isfinite(windows), num_samples=num_samples, sampler=sampler,
                                       num_steps=num_steps, seed=self.seed if seed is None else int(seed),
                                       progress=self.progress).numpy()  # (S, N, L, D)
        samples = np.empty((num_samples, T, grid.values.shape[0]), dtype=np.float64)
        for k, s in enumerate(starts):
            samples[:, s:s + L] = drawn[:, k]
        # observed cells carry the user's exact values (the model works in float32)
        frame = self._on_grid(self.data_ if y is None else y, grid)
        observed = np.isfinite(frame.to_numpy(dtype=np.float64))
        samples[:, observed] = frame.to_numpy(dtype=np.float64)[observed]
        if grid.layout.kind == "series":
            return Imputation(samples[:, :, 0], observed[:, 0], frame.iloc[:, 0])
        return Imputation(samples, observed, frame)

    def _on_grid(self, y, grid: Grid) -> pd.DataFrame:
        """The user's data as a wide float64 frame on the grid's index (T, D)."""
        if grid.layout.kind == "long":
            cols = self.long_cols_
            y = y.pivot(index=cols["time_col"], columns=cols["id_col"], values=cols["target_col"])
        frame = y.to_frame() if isinstance(y, pd.Series) else y
        index = grid.index()
        if isinstance(index, pd.DatetimeIndex) and not isinstance(frame.index, pd.DatetimeIndex):
            frame = frame.set_axis(pd.DatetimeIndex(frame.index))
        frame = frame.reindex(index).astype(np.float64)
        return frame.set_axis(grid.frame().columns, axis=1) if grid.layout.kind == "long" else frame
