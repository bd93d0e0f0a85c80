"""``tsdiff.TimeGrad``: the pandas front end of :class:`tsdiff.models.timegrad.TimeGradEstimator`."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from tsdiff.data.pandas_time import to_period
from tsdiff.diffusion import SamplingOptions
from tsdiff.quiet import quiet_lightning

from .grid import Grid
from .model import DiffusionForecaster


class TimeGrad(DiffusionForecaster):
    """TimeGrad (Rasul et al., ICML 2021) on pandas data: an RNN over the history conditions a diffusion model of
    each next multivariate observation.

    >>> model = tsdiff.TimeGrad(prediction_length=24, epochs=10).fit(df)      # doctest: +SKIP
    >>> forecast = model.predict(num_samples=100, quantiles=(0.1, 0.5, 0.9))   # doctest: +SKIP
    >>> forecast.to_frame()                                                    # doctest: +SKIP

    Args:
        prediction_length: forecast horizon (steps).
        freq: pandas frequency (default: inferred from the index).
        context_length: steps the RNN reads before forecasting (default: ``prediction_length``).
        epochs, batch_size, num_batches_per_epoch, lr: the training budget and optimiser.
        sampler, sampling_steps: default reverse process (``"ddpm"``, or ``"ddim"`` with ``sampling_steps``).
        device: ``"auto"`` (GPU if present), ``"cpu"`` or ``"cuda"``.
        seed: seeds training and, by default, sampling.
        progress: progress bars during training and sampling.
        trainer_kwargs: more ``lightning.Trainer`` arguments (precision, callbacks, max_time, ...).
        **model_kwargs: any other :class:`~tsdiff.models.timegrad.TimeGradEstimator` argument (``hidden_size``,
            ``num_layers``, ``cell_type``, ``residual_layers``, ``scaling``, ``num_diffusion_steps``, ...).
    """

    name = "TimeGrad"
    supports_covariates = True

    def _check_model(self) -> None:
        try:  # building an estimator checks every argument; it builds no network
            self._make_estimator(self.freq or "D", 2, 0)
        except TypeError as exc:  # an argument TimeGradEstimator does not take
            raise TypeError(f"TimeGrad: {exc}") from None

    def _make_estimator(self, freq: str, target_dim: int, num_covariates: int, workdir=None):
        from tsdiff.models.base import trainer_kwargs
        from tsdiff.models.timegrad import TimeGradEstimator

        return TimeGradEstimator(
            freq=freq, prediction_length=self.prediction_length, target_dim=target_dim,
            context_length=self.context_length, num_feat_dynamic_real=num_covariates, lr=self.lr,
            batch_size=self.batch_size, num_batches_per_epoch=self.num_batches_per_epoch, sampler=self.sampler,
            sampling_steps=self.sampling_steps, seed=self.seed,
            trainer_kwargs=trainer_kwargs(self.epochs, device=self.device, progress=self.progress, workdir=workdir,
                                          **self.trainer_kwargs),
            **self.model_kwargs)

    def _entry(self, grid: Grid, covariates: np.ndarray | None) -> dict:
        # to_period: offsets without a Period twin (month start 'MS') map to their base unit ('M')
        start = grid.start if isinstance(grid.start, pd.Period) else to_period(grid.start, to_offset(grid.layout.freq))
        entry = {"start": start, "target": grid.values, "item_id": "0"}
        if covariates is not None:
            entry["feat_dynamic_real"] = covariates
        return entry

    def _train(self, grid: Grid, cov: np.ndarray | None) -> None:
        import lightning.pytorch as pl

        pl.seed_everything(self.seed, workers=True, verbose=False)
        self.backend_ = dict(freq=grid.layout.freq, target_dim=grid.values.shape[0],
                             num_covariates=0 if cov is None else cov.shape[0])
        # GluonTS keeps a best-model checkpoint: in a scratch folder, not the user's working directory
        with tempfile.TemporaryDirectory(prefix="tsdiff-fit-") as workdir, quiet_lightning(self.progress):
            estimator = self._make_estimator(**self.backend_, workdir=workdir)
            self.predictor_ = estimator.train([self._entry(grid, cov)])

    def _sample(self, grid: Grid, cov, num_samples: int, seed: int, sampling: SamplingOptions) -> np.ndarray:
        forecast = next(iter(self.predictor_.predict(
            [self._entry(grid, cov)], num_samples=num_samples, seed=seed, sampling=sampling)))
        return np.asarray(forecast.samples, dtype=np.float64)

    def _save_state(self, directory: Path) -> dict:
        from tsdiff.models.base.recipe import save_weights

        save_weights(directory / "weights.npz", self.predictor_.prediction_net)
        return dict(self.backend_)

    def _load_state(self, directory: Path, state: dict) -> None:
        import torch

        from tsdiff.models.base.recipe import load_weights

        self.backend_ = dict(state)
        estimator = self._make_estimator(**self.backend_)
        with torch.random.fork_rng(devices=[]):  # building the network must not move the user's random stream
            module = estimator.create_lightning_module()
        _, weights = load_weights(directory / "weights.npz")
        module.model.load_state_dict(weights)
        self.predictor_ = estimator.create_predictor(estimator.create_transformation(), module)

    # -- panels: one global univariate network over many series ----------------------------------------------------
    def _train_panel(self, panel) -> None:
        # every series is a (1, T_i) entry of its own start and length; the network has no per-series parameters
        # (target_dim 1), so it forecasts series it never saw
        self.backend_ = dict(freq=panel.layout.freq, target_dim=1, num_covariates=0)
        with tempfile.TemporaryDirectory(prefix="tsdiff-fit-") as workdir, quiet_lightning(self.progress):
            estimator = self._make_estimator(**self.backend_, workdir=workdir)
            self.predictor_ = estimator.train([self._entry(grid, None) for grid in panel.series])

    def _sample_panel(self, panel, num_samples: int, seed: int, sampling: SamplingOptions) -> np.ndarray:
        forecasts = self.predictor_.predict([self._entry(grid, None) for grid in panel.series],
                                            num_samples=num_samples, seed=seed, sampling=sampling)
        return np.stack([np.asarray(f.samples, dtype=np.float64)[:, :, 0] for f in forecasts], axis=-1)
