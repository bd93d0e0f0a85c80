"""The pandas fit/predict front end shared by :class:`tsdiff.TimeGrad` and :class:`tsdiff.CSDI`.

A backend subclass trains, samples and persists its network; everything else — input conversion and validation,
seeded prediction, :class:`Forecast` assembly, the model file — lives here once.
"""
from __future__ import annotations

import dataclasses
import io
import os
import shutil
import tempfile
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

from tsdiff import checks
from tsdiff.data import from_pandas
from tsdiff.diffusion import SamplingOptions

from .console import check_console
from .covariates import Covariates, covariates_state, fit_covariates, predict_covariates, restore_covariates
from .forecast import Forecast
from .grid import Grid, grid_from_entries
from .panel import fit_panel, panel_from_state, panel_state, predict_panel, use_panel
from .params import param_names, renamed_argument, upgrade_saved_params  # noqa: F401  (renamed_argument: re-export)
from .persistence import (check_model_path, decode_label, decode_layout, decode_params, encode_label, encode_layout,
                          encode_params, read_archive, write_archive)
from .quantiles import check_levels
from .training import check_budget, warn_if_spread_implausible

MAX_ABS_VALUE = 1e30  # beyond this, float32 arithmetic in the networks overflows
#: Constructor arguments that change how a fit runs or reports, not what it learns (left out of a resume check).
RUN_ONLY_PARAMS = ("verbose", "device", "trainer_kwargs", "logger", "log_dir", "time_limit")
DEVICES = ("auto", "cpu", "cuda", "gpu", "mps")


class NotFittedError(_SklearnNotFittedError):
    """The model is used before ``fit`` (a scikit-learn ``NotFittedError``: a ValueError and an AttributeError)."""


class DiffusionForecaster(BaseEstimator):
    """Base of the pandas models (scikit-learn estimators): validation, the data grid, Forecast assembly and the
    model file.

    A subclass lists every constructor argument explicitly and stores them with
    :func:`~tsdiff.api.params.store_init_arguments`; backends implement ``_check_model``, ``_train``, ``_sample``,
    ``_save_state`` and ``_load_state``. Fitted attributes end in ``_``. ``DEPRECATED``: old argument names still
    accepted for one release (with a FutureWarning; see :data:`tsdiff.api.params.RENAMED`).
    """

    name = "model"
    #: Which of ``covariates``, ``past_covariates`` and ``static_covariates`` (:mod:`tsdiff.api.covariates`) the
    #: model takes.
    supported_covariates: tuple = ()
    #: Those it takes for a panel (a long frame).
    panel_covariates: tuple = ()
    DEPRECATED = ("num_steps", "progress")
    #: The arguments every model has; the rest of a model's signature are its network's (``_model_params``).
    COMMON = ("prediction_length", "freq", "context_length", "epochs", "batch_size", "num_batches_per_epoch", "lr",
              "time_limit", "validation_fraction", "early_stopping_patience", "sampler", "sampling_steps", "eta",
              "device", "seed", "verbose", "logger", "log_dir", "trainer_kwargs")
    #: The reverse process used when ``sampler``, ``sampling_steps`` and ``eta`` are left unset (``tsdiff.api.defaults``).
    DEFAULT_SAMPLING: dict = {}
    #: Arguments added since model files were first written, with the value that reproduces an older file's model
    #: (a file without one was saved before it existed).
    ADDED_PARAMS: dict = {}

    def _validate(self) -> None:
        """Check every constructor argument (TypeError/ValueError naming it); builds no network, moves no RNG."""
        checks.positive_int(self.prediction_length, "prediction_length")
        checks.optional_positive_int(self.context_length, "context_length")
        checks.positive_int(self.epochs, "epochs")
        checks.positive_int(self.batch_size, "batch_size")
        checks.positive_int(self.num_batches_per_epoch, "num_batches_per_epoch")
        lr = self.lr
        if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not 0 < lr < 1:
            raise ValueError(f"lr must be a number in (0, 1), got {lr!r}")
        if self.freq is not None and not isinstance(self.freq, str):
            raise TypeError(f"freq must be a pandas frequency string such as 'h' or 'D', got {self.freq!r}")
        checks.one_of(self.device, "device", DEVICES)
        checks.seed(self.seed)
        if self.trainer_kwargs is not None and not isinstance(self.trainer_kwargs, dict):
            raise TypeError("trainer_kwargs must be a dict of lightning.Trainer arguments, got "
                            f"{self.trainer_kwargs!r}")
        check_budget(self)
        check_console(self)
        self._check_model()  # every model argument (the sampler defaults too) fails here, not in fit()

    def set_params(self, **params):
        """Set constructor arguments (scikit-learn style); they are checked at once, and left unchanged if one is
        refused."""
        before = self.get_params(deep=False)
        super().set_params(**params)
        try:
            self._validate()
        except (TypeError, ValueError):
            super().set_params(**before)
            raise
        return self

    def _model_params(self) -> dict:
        """The network's constructor arguments (the signature's arguments beyond :attr:`COMMON`)."""
        return {name: getattr(self, name) for name in param_names(type(self)) if name not in self.COMMON}

    def __sklearn_is_fitted__(self) -> bool:
        return getattr(self, "predictor_", None) is not None

    # -- hooks: how a backend trains, samples and persists ------------------------------------------------------
    def _check_model(self) -> None:
        """Raise TypeError/ValueError naming a bad model argument; builds no network."""
        raise NotImplementedError

    def _train(self, grid: Grid, cov: Covariates, checkpoint_dir=None, resume: bool = False) -> None:
        """Fit on the (D, T) grid and its covariates; set ``self.predictor_`` to something non-None.
        ``checkpoint_dir`` (a checked Path or None) and ``resume``: as in :meth:`fit`."""
        raise NotImplementedError

    def _sample(self, grid: Grid, cov: Covariates, num_samples: int, seed: int,
                sampling: SamplingOptions) -> np.ndarray:
        """Samples (num_samples, prediction_length, D) following the grid's end."""
        raise NotImplementedError

    def _save_state(self, directory: Path) -> dict:
        """Write the network under ``directory``; return what ``_load_state`` needs besides it (JSON-able)."""
        raise NotImplementedError

    def _load_state(self, directory: Path, state: dict) -> None:
        raise NotImplementedError

    def _train_panel(self, panel, cov: Covariates, checkpoint_dir=None, resume: bool = False) -> None:
        """Fit one global univariate network on every series of a :class:`~tsdiff.api.panel.Panel` (``cov``: their
        static covariates, one row per series)."""
        raise NotImplementedError

    def _sample_panel(self, panel, cov: Covariates, num_samples: int, seed: int,
                      sampling: SamplingOptions) -> np.ndarray:
        """Samples (num_samples, prediction_length, N) following each series' own end."""
        raise NotImplementedError

    @property
    def effective_context_length(self) -> int:
        return self.context_length or self.prediction_length

    # -- data -------------------------------------------------------------------------------------------------------
    def _grid(self, y, long_cols: dict, what: str = "y") -> Grid:
        if y is None:
            raise TypeError(f"{what} is required")
        entries, layout = from_pandas(y, freq=self.freq, **long_cols)
        grid = grid_from_entries(entries, layout)
        finite = np.isfinite(grid.values)
        if np.isinf(grid.values).any():
            raise ValueError(f"{what} contains infinite values")
        if finite.any() and np.abs(grid.values[finite]).max() > MAX_ABS_VALUE:
            raise ValueError(f"{what} has values beyond ±{MAX_ABS_VALUE:g}; rescale the data")
        return grid

    def _check_length(self, grid: Grid, what: str) -> None:
        needed = self.effective_context_length + self.prediction_length
        if grid.length < needed:
            raise ValueError(f"{what} has {grid.length} time steps; {self.name} needs at least context_length + "
                             f"prediction_length = {needed} (lower context_length or prediction_length)")

    def _check_time_axis(self, grid: Grid, fitted_grid: Grid | None = None) -> None:
        """New data must share the fitted frequency and time zone: 15-minute data fed to an hourly model, or UTC
        data to a model fitted on local time (its hour-of-day features would shift), are refused."""
        fitted_grid = self.grid_ if fitted_grid is None else fitted_grid
        new, fitted = grid.layout.freq, fitted_grid.layout.freq
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # period aliases ('M') are deprecated as offsets
            try:
                same = new == fitted or to_offset(new) == to_offset(fitted)
            except ValueError:  # not an offset alias: the strings already differ
                same = False
        if not same:
            raise ValueError(f"y has frequency {new!r}, but the model was fitted on {fitted!r} data; "
                             f"resample y to {fitted!r} (or fit a model on {new!r} data)")
        new_tz, fitted_tz = (str(getattr(g.start, "tz", None)) for g in (grid, fitted_grid))
        if new_tz != fitted_tz:
            raise ValueError(f"y has timestamps in time zone {new_tz}, but the model was fitted on {fitted_tz} "
                             "timestamps; convert y (tz_convert / tz_localize) to the fitted time zone")

    def _wide_frame(self, y, grid: Grid) -> pd.DataFrame:
        """The user's data as a wide float64 frame (T, D) on the grid's index, with the grid's variable names."""
        if grid.layout.kind == "long":
            cols = self.long_cols_
            y = y.pivot(index=cols["time_col"], columns=cols["id_col"], values=cols["target_col"])
        frame = y.to_frame() if isinstance(y, pd.Series) else y
        index = grid.index()
        if isinstance(index, pd.DatetimeIndex) and not isinstance(frame.index, pd.DatetimeIndex):
            frame = frame.set_axis(pd.DatetimeIndex(frame.index))
        frame = frame.reindex(index).astype(np.float64)
        return frame.set_axis(grid.frame().columns, axis=1) if grid.layout.kind == "long" else frame

    # -- fit / predict ----------------------------------------------------------------------------------------------
    def fit(self, y: pd.Series | pd.DataFrame, covariates: pd.DataFrame | pd.Series | None = None,
            past_covariates: pd.DataFrame | pd.Series | None = None, static_covariates: pd.DataFrame | None = None,
            id_col: str = "item_id", time_col: str = "timestamp", target_col: str = "target",
            panel: bool | None = None, checkpoint_dir: str | os.PathLike | None = None,
            resume: bool = False) -> DiffusionForecaster:
        """Train on ``y``: a Series, a wide DataFrame (a column per variable) or a long DataFrame
        (``id_col``/``time_col``/``target_col``). NaNs are unobserved values; timestamp gaps become NaN.
        Returns ``self``; ``y`` and the covariates are not modified.

        Covariates (see :mod:`tsdiff.api.covariates`; TimeGrad takes all three, also for panels, CSDI the first
        two for one series):
        ``covariates``: real features indexed by time and known in advance, covering the fitted range (and the
        horizon at ``predict``); ``past_covariates``: real features indexed by time, known only up to the last
        timestamp of the history; ``static_covariates``: one row per variable (wide frame) or series id (panel),
        numeric columns read as reals, the others (str, bool, ``category``) as categories. A panel's dynamic
        covariates are a long frame (id, time and covariate columns) or a time-indexed frame shared by all series.

        ``panel``: a long frame is a panel (default): one global univariate model over series of any lengths and
        ends, each forecast from its own last timestamp (see :mod:`tsdiff.api.panel`). A Series or wide frame is
        one multivariate series (the joint model); ``panel=True`` reads its columns as a panel instead,
        ``panel=False`` reads a long frame's ids as the variables of one multivariate series.

        ``checkpoint_dir``: write a checkpoint there at the end of every epoch (checked before any work);
        ``resume=True`` continues from it if there is one, ending with the same weights as an uninterrupted fit on
        the same device (see :mod:`tsdiff.models.base.resume`). A checkpoint of other data or settings is refused.
        A loss that turns NaN or infinite stops training with :class:`~tsdiff.models.base.guards.NonFiniteLossError`.
        """
        from tsdiff.models.base.resume import check_checkpoint_dir  # imports Lightning: only when fitting

        self._validate()  # set_params or attribute assignment may have changed an argument since construction
        checkpoint_dir = check_checkpoint_dir(checkpoint_dir, resume)
        long_cols = dict(id_col=id_col, time_col=time_col, target_col=target_col)
        given = dict(covariates=covariates, past_covariates=past_covariates, static_covariates=static_covariates)
        if use_panel(y, panel, long_cols):
            return fit_panel(self, y, given, long_cols, checkpoint_dir=checkpoint_dir, resume=resume)
        self.panel_ = None
        grid = self._grid(y, long_cols)
        self._check_length(grid, "y")
        cov = fit_covariates(self, list(grid.frame().columns), grid, long_cols, **given)
        self.long_cols_ = long_cols
        self._train(grid, cov, checkpoint_dir=checkpoint_dir, resume=resume)
        self.grid_, self.covariates_, self.past_covariates_ = grid, cov.future, cov.past
        self.history_ = self._wide_frame(y, grid)  # the exact fitted values (the grid holds float32)
        return self

    def _require_fitted(self):
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(y) first")

    def default_sampling(self) -> SamplingOptions:
        """The model's default reverse process: the constructor's ``sampler``/``sampling_steps``/``eta`` laid over
        :attr:`DEFAULT_SAMPLING` (a sampler given alone keeps its own defaults: all steps, η = 0). The default step
        count is capped at ``num_diffusion_steps``, so a short schedule alone is never refused."""
        options = SamplingOptions(self.sampler, self.sampling_steps, self.eta).resolve(
            SamplingOptions(**self.DEFAULT_SAMPLING))
        T, steps = self.num_diffusion_steps, options.sampling_steps
        if self.sampling_steps is None and type(T) is int and steps is not None and 0 < T < steps:
            steps = T
        return dataclasses.replace(options, sampling_steps=steps, eta=0.0 if options.eta is None else options.eta)

    def _sampling(self, sampling, sampler, sampling_steps, eta, kwargs: dict) -> SamplingOptions:
        """Per-call sampling options: the fields over ``sampling`` (``num_steps`` is the deprecated name of
        ``sampling_steps``); the backend lays them over the model's defaults and checks them."""
        sampling_steps = renamed_argument(kwargs, "num_steps", "sampling_steps", sampling_steps)
        if kwargs:
            raise TypeError(f"unexpected arguments {sorted(kwargs)}")
        if sampling is not None and not isinstance(sampling, SamplingOptions):
            raise TypeError(f"sampling must be a tsdiff.diffusion.SamplingOptions, got {type(sampling).__name__}")
        return SamplingOptions(sampler, sampling_steps, eta).resolve(sampling)

    def predict(self, y: pd.Series | pd.DataFrame | None = None, num_samples: int = 100,
                quantiles: float | tuple[float, ...] = (0.1, 0.5, 0.9),
                covariates: pd.DataFrame | pd.Series | None = None,
                past_covariates: pd.DataFrame | pd.Series | None = None,
                static_covariates: pd.DataFrame | None = None, sampler: str | None = None,
                sampling_steps: int | None = None, eta: float | None = None,
                seed: int | None = None, sampling: SamplingOptions | None = None, **deprecated) -> Forecast:
        """Forecast ``prediction_length`` steps past the end of the fitted data (or of ``y``).

        Args:
            y: new history in the fitted layout (same variables); default: the data given to ``fit``.
            num_samples: sample paths to draw.
            quantiles: levels checked here and used by ``Forecast.to_frame`` by default.
            covariates: must cover the history and the horizon (required if the model was fitted with them).
            past_covariates: must cover the history (default: the fitted ones when ``y`` is None).
            static_covariates: a row per variable/series (default: the fitted rows; needed for new series).
            sampler, sampling_steps, eta: override the model's reverse process for this call (``"dpm-solver++"`` or
                ``"ddim"`` with few steps is faster); ``sampling``: a whole :class:`tsdiff.diffusion.SamplingOptions`
                (spacing, order, clip, ...), which those fields override.
            seed: equal seeds give identical samples (default: the model's seed).
        """
        self._require_fitted()
        sampling = self._sampling(sampling, sampler, sampling_steps, eta, deprecated)
        num_samples = checks.positive_int(num_samples, "num_samples")
        levels = check_levels(quantiles)
        seed = self.seed if seed is None else checks.seed(seed)
        if getattr(self, "panel_", None) is not None:  # every series from its own end (and new series too)
            given = dict(covariates=covariates, past_covariates=past_covariates, static_covariates=static_covariates)
            return predict_panel(self, y, num_samples, levels, given, seed, sampling)
        grid = self.grid_ if y is None else self._grid(y, self.long_cols_)
        if y is not None:
            fitted_vars = list(self.grid_.frame().columns)
            if list(grid.frame().columns) != fitted_vars:
                raise ValueError(f"y has variables {list(grid.frame().columns)}; the model was fitted on "
                                 f"{fitted_vars}")
            self._check_time_axis(grid)
            self._check_length(grid, "y")
        cov = predict_covariates(self, list(grid.frame().columns), grid, self.prediction_length,
                                 self.long_cols_, covariates, past_covariates, static_covariates,
                                 fitted=Covariates(past=self.past_covariates_) if y is None else None)
        samples = self._sample(grid, cov, num_samples=num_samples, seed=seed, sampling=sampling)  # (S, H, D)
        if not np.isfinite(samples).all():
            raise RuntimeError(f"{self.name} produced non-finite forecasts; the training likely diverged — "
                               "try a lower lr or more epochs")
        warn_if_spread_implausible(self.name, samples, grid.values, list(grid.frame().columns))
        if grid.layout.kind == "series":
            samples = samples[:, :, 0]
        index = grid.index(self.prediction_length)[-self.prediction_length:]
        return Forecast(samples, index, grid.layout, history=grid.frame(), quantiles=levels)

    def predict_interval(self, y: pd.Series | pd.DataFrame | None = None,
                         coverage: float | tuple[float, ...] = (0.8, 0.9), **predict_kwargs) -> pd.DataFrame:
        """Central prediction intervals (sktime's ``predict_interval``): columns ``lo-80``, ``hi-80``, ``lo-90``,
        ``hi-90`` (Nixtla's names) in the layout of ``predict(...).to_frame()``. ``coverage``: fractions (0.9 for a
        90 % interval); the bounds are the sample quantiles (1 - c) / 2 and (1 + c) / 2. ``predict_kwargs``: as in
        :meth:`predict` (``num_samples``, ``seed``, ``sampler``, ...)."""
        return self.predict(y, **predict_kwargs).interval(coverage)

    def cross_validation(self, y: pd.Series | pd.DataFrame, n_windows: int = 1, step_size: int | None = None,
                         refit: bool | int = False, **kwargs) -> pd.DataFrame:
        """Backtest on ``y``: ``n_windows`` forecasts of ``prediction_length`` steps, cut every ``step_size`` steps
        (default ``prediction_length``) back from each series' end, compared with the actuals.

        ``refit=False`` trains one copy of this model on the data before the first cutoff; ``True`` a copy at every
        cutoff; an int ``k`` every ``k`` windows. This model is not changed and need not be fitted.

        Keyword args: ``covariates``, ``past_covariates``, ``static_covariates`` (as in :meth:`fit`; the frames may
        reach past every cutoff, only the steps each window needs are read); ``num_samples`` (100); ``quantiles``
        (0.025, 0.05, ..., 0.95, 0.975: the 19 levels of CRPS and MSIS's 95 % interval); ``season_length`` (of the
        MASE scale; default from the frequency, 24 for hourly data); ``seed``; ``id_col``/``time_col``/
        ``target_col``/``panel`` as in :meth:`fit`; and ``sampler``/``sampling_steps``/``eta``/``sampling`` as in
        :meth:`predict`.

        Returns:
            a long DataFrame, one row per (series, cutoff, timestamp): id, ``cutoff`` (the last timestamp the
            forecast saw), time, ``actual``, ``mean``, the quantile columns, ``seasonal_error`` (the window
            history's ``mean |y_t - y_{t-m}|``). Score it with :func:`tsdiff.evaluation.evaluate_backtest` and
            :func:`tsdiff.evaluation.calibration_from_frame`.
        """
        from .backtest import cross_validation

        return cross_validation(self, y, n_windows=n_windows, step_size=step_size, refit=refit, **kwargs)

    # -- persistence ------------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted model to one file (see :mod:`tsdiff.api.persistence` for the format). The file is
        written beside ``path`` and renamed over it, so a failure part-way leaves a previous file there intact."""
        self._require_fitted()
        check_model_path(path)  # a directory or an unwritable place fails before anything is serialised
        params = encode_params(self.get_params(deep=False))  # ValueError naming an argument JSON cannot hold
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            backend = self._save_state(tmp)
            if getattr(self, "panel_", None) is not None:
                state, arrays = panel_state(self.panel_)
                data = {"panel": state}
            else:
                arrays = {"values": self.grid_.values, "observed": self.history_.to_numpy(np.float64)}
                data = {"layout": encode_layout(self.grid_.layout), "grid_start": encode_label(self.grid_.start),
                        "columns": [encode_label(c) for c in self.history_.columns]}
            data["covariates"], covariate_arrays = covariates_state(self)
            arrays.update(covariate_arrays)
            buffer = io.BytesIO()
            np.savez(buffer, **arrays)
            (tmp / "history.npz").write_bytes(buffer.getvalue())
            manifest = {"model": type(self).__name__, "tsdiff_version": _version(), "params": params,
                        "backend": backend, "long_cols": self.long_cols_, **data}
            return write_archive(path, manifest, tmp)

    @classmethod
    def _load(cls, manifest: dict, directory: Path, device: str | None = None):
        try:
            params = {**cls.ADDED_PARAMS, **decode_params(upgrade_saved_params(manifest["params"]))}
            params["device"] = device or available_device(params.get("device", "auto"))
            model = cls(**params)
            model._load_state(directory, manifest["backend"])
            model.long_cols_, model.panel_ = manifest["long_cols"], None
            if "panel" in manifest:
                with np.load(directory / "history.npz", allow_pickle=False) as arrays:
                    model.panel_ = panel_from_state(manifest["panel"], arrays)
                    restore_covariates(model, manifest.get("covariates"), arrays)
                model.grid_ = model.history_ = None
                return model
            with np.load(directory / "history.npz", allow_pickle=False) as arrays:
                values, observed = arrays["values"], arrays["observed"]
                restore_covariates(model, manifest.get("covariates"), arrays)
            layout = decode_layout(manifest["layout"])
            model.grid_ = Grid(values, decode_label(manifest["grid_start"]), layout)
            columns = pd.Index([decode_label(c) for c in manifest["columns"]], name=layout.columns_name)
            if layout.kind == "long":
                columns.name = None
            model.history_ = pd.DataFrame(observed, index=model.grid_.index(), columns=columns)
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"the model file is incomplete or corrupted ({exc})") from exc
        return model


def _version() -> str:
    try:
        return metadata.version("tsdiff")
    except metadata.PackageNotFoundError:
        return "unknown"


_MODEL_MODULES = {"TimeGrad": "tsdiff.api.timegrad", "CSDI": "tsdiff.api.csdi"}


def available_device(device: str) -> str:
    """``device`` if this machine has it, else ``"cpu"`` (a model saved on a GPU machine loads on a CPU-only one)."""
    import torch

    if device in ("cuda", "gpu") and not torch.cuda.is_available():
        return "cpu"
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        return "cpu"
    return device


def load(path: str | os.PathLike, device: str | None = None) -> DiffusionForecaster:
    """Load a model saved with ``model.save(path)``; a truncated, foreign or outdated file raises ValueError.

    Loading reads JSON and numeric arrays only (no pickle), so a model file cannot run code. The weights are stored
    as plain arrays, whatever device trained them. ``device``: where the loaded model runs (one of ``"auto"``,
    ``"cpu"``, ``"cuda"``, ...); default: the saved setting, or ``"cpu"`` when that names an accelerator this
    machine lacks.
    """
    if device is not None:
        checks.one_of(device, "device", DEVICES)
    import importlib

    manifest, directory = read_archive(path)
    try:
        module = _MODEL_MODULES.get(manifest.get("model"))
        if module is None:
            raise ValueError(f"{path} holds an unknown model type {manifest.get('model')!r}")
        cls = getattr(importlib.import_module(module), manifest["model"])
        return cls._load(manifest, directory, device)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
