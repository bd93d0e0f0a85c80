"""The pandas fit/predict front end shared by :class:`tsdiff.TimeGrad` and :class:`tsdiff.CSDI`.

A backend subclass trains, samples and persists (``GluonTSForecaster`` for GluonTS estimators); everything else — input conversion and validation,
training, seeded prediction, :class:`Forecast` assembly, save/load — lives here once.
"""
from __future__ import annotations

import io
import logging
import pickle
import shutil
import tempfile
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from tsdiff.data import from_pandas
from tsdiff.data.pandas_time import to_period
from tsdiff.nn import checks

from .forecast import Forecast
from .grid import Grid, covariates_on, grid_from_entries
from .persistence import read_archive, write_archive
from .quantiles import check_levels

MAX_ABS_VALUE = 1e30  # beyond this, float32 arithmetic in the networks overflows


class NotFittedError(ValueError, AttributeError):
    """The model is used before ``fit`` (same bases as scikit-learn's ``NotFittedError``)."""


_positive_int = checks.positive_int  # the models' own check: same messages from the API and the estimators


def _quiet_lightning(progress: bool) -> None:
    """Lightning's banner lines ("GPU available", checkpoint notices) are noise for a pandas user."""
    import lightning.pytorch  # noqa: F401  (configures its loggers on import; override after)

    level = logging.INFO if progress else logging.WARNING
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric"):
        logging.getLogger(name).setLevel(level)


class DiffusionForecaster:
    """Base of the pandas models: validation, the data grid, Forecast assembly and the model file.

    Backends implement ``_train``, ``_sample``, ``_save_state`` and ``_load_state``.
    """

    name = "model"
    supports_covariates = False

    def __init__(self, prediction_length: int, freq: str | None = None, context_length: int | None = None,
                 epochs: int = 20, batch_size: int = 64, num_batches_per_epoch: int = 50, lr: float = 1e-3,
                 sampler: str = "ddpm", num_steps: int | None = None, device: str = "auto", seed: int = 0,
                 progress: bool = True, **model_kwargs):
        self.prediction_length = _positive_int(prediction_length, "prediction_length")
        self.context_length = None if context_length is None else _positive_int(context_length, "context_length")
        self.epochs = _positive_int(epochs, "epochs")
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.num_batches_per_epoch = _positive_int(num_batches_per_epoch, "num_batches_per_epoch")
        if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not 0 < lr < 1:
            raise ValueError(f"lr must be a number in (0, 1), got {lr!r}")
        self.lr = float(lr)
        if freq is not None and not isinstance(freq, str):
            raise TypeError(f"freq must be a pandas frequency string such as 'h' or 'D', got {freq!r}")
        self.freq = freq
        if sampler not in ("ddpm", "ddim"):
            raise ValueError(f"sampler must be 'ddpm' or 'ddim', got {sampler!r}")
        self.sampler = sampler
        self.num_steps = None if num_steps is None else _positive_int(num_steps, "num_steps")
        if device not in ("auto", "cpu", "cuda", "gpu", "mps"):
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'mps', got {device!r}")
        self.device = device
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an integer, got {seed!r}")
        self.seed = int(seed)
        self.progress = bool(progress)
        self.model_kwargs = model_kwargs
        self.predictor_ = None
        self.grid_: Grid | None = None
        self.covariates_: np.ndarray | None = None

    # -- hooks: how a backend trains, samples and persists ------------------------------------------------------
    def _train(self, grid: Grid, cov: np.ndarray | None) -> None:
        """Fit on the (D, T) grid (and covariates (K, T)); set ``self.predictor_`` to something non-None."""
        raise NotImplementedError

    def _sample(self, grid: Grid, cov, num_samples: int, seed: int, sampler: str, num_steps) -> np.ndarray:
        """Samples (num_samples, prediction_length, D) following the grid's end."""
        raise NotImplementedError

    def _save_state(self, directory: Path) -> None:
        raise NotImplementedError

    def _load_state(self, directory: Path) -> None:
        raise NotImplementedError

    @property
    def effective_context_length(self) -> int:
        return self.context_length or self.prediction_length

    def get_params(self) -> dict:
        """Constructor arguments (scikit-learn style)."""
        return dict(prediction_length=self.prediction_length, freq=self.freq, context_length=self.context_length,
                    epochs=self.epochs, batch_size=self.batch_size, num_batches_per_epoch=self.num_batches_per_epoch,
                    lr=self.lr, sampler=self.sampler, num_steps=self.num_steps, device=self.device, seed=self.seed,
                    progress=self.progress, **self.model_kwargs)

    def __repr__(self) -> str:
        fitted = "fitted" if self.predictor_ is not None else "not fitted"
        return f"{type(self).__name__}(prediction_length={self.prediction_length}, epochs={self.epochs}; {fitted})"

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

    def _check_time_axis(self, grid: Grid) -> None:
        """New data must share the fitted frequency and time zone: 15-minute data fed to an hourly model, or UTC
        data to a model fitted on local time (its hour-of-day features would shift), are refused."""
        new, fitted = grid.layout.freq, self.grid_.layout.freq
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # period aliases ('M') are deprecated as offsets
            try:
                same = new == fitted or to_offset(new) == to_offset(fitted)
            except ValueError:  # not an offset alias: the strings already differ
                same = False
        if not same:
            raise ValueError(f"y has frequency {new!r}, but the model was fitted on {fitted!r} data; "
                             f"resample y to {fitted!r} (or fit a model on {new!r} data)")
        new_tz, fitted_tz = (str(getattr(g.start, "tz", None)) for g in (grid, self.grid_))
        if new_tz != fitted_tz:
            raise ValueError(f"y has timestamps in time zone {new_tz}, but the model was fitted on {fitted_tz} "
                             "timestamps; convert y (tz_convert / tz_localize) to the fitted time zone")

    def _covariates(self, covariates, grid: Grid, extra: int, what: str) -> np.ndarray | None:
        if covariates is None:
            return None
        if not self.supports_covariates:
            raise ValueError(f"{self.name} does not take covariates")
        return covariates_on(covariates, grid.index(extra), what)

    def _entry(self, grid: Grid, covariates: np.ndarray | None) -> dict:
        # to_period: offsets without a Period twin (month start 'MS') map to their base unit ('M')
        entry = {"start": to_period(grid.start, to_offset(grid.layout.freq)) if not isinstance(
            grid.start, pd.Period) else grid.start, "target": grid.values, "item_id": "0"}
        if covariates is not None:
            entry["feat_dynamic_real"] = covariates
        return entry

    # -- fit / predict ----------------------------------------------------------------------------------------------
    def fit(self, y, covariates=None, id_col: str = "item_id", time_col: str = "timestamp",
            target_col: str = "target"):
        """Train on ``y``: a Series, a wide DataFrame (a column per variable) or a long DataFrame
        (``id_col``/``time_col``/``target_col``). NaNs are unobserved values; timestamp gaps become NaN.
        ``covariates``: a DataFrame of real-valued features indexed by time, covering the fitted range (they must
        also cover the forecast horizon at ``predict``). Returns ``self``; ``y`` is not modified."""
        long_cols = dict(id_col=id_col, time_col=time_col, target_col=target_col)
        grid = self._grid(y, long_cols)
        self._check_length(grid, "y")
        cov = self._covariates(covariates, grid, 0, "covariates")
        self._train(grid, cov)
        self.grid_, self.covariates_ = grid, cov
        self.long_cols_ = long_cols
        self.data_ = y.copy()  # the exact fitted values (the grid holds float32)
        return self

    def _require_fitted(self):
        if self.predictor_ is None:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(y) first")

    def predict(self, y=None, num_samples: int = 100, quantiles=(0.1, 0.5, 0.9), covariates=None,
                sampler: str | None = None, num_steps: int | None = None, seed: int | None = None) -> Forecast:
        """Forecast ``prediction_length`` steps past the end of the fitted data (or of ``y``).

        Args:
            y: new history in the fitted layout (same variables); default: the data given to ``fit``.
            num_samples: sample paths to draw.
            quantiles: levels checked here and used by ``Forecast.to_frame`` by default.
            covariates: must cover the history and the horizon (required if the model was fitted with them).
            sampler, num_steps: override the reverse process (``"ddim"`` with few steps is faster).
            seed: equal seeds give identical samples (default: the model's seed).
        """
        self._require_fitted()
        num_samples = _positive_int(num_samples, "num_samples")
        levels = check_levels(quantiles)
        if sampler is not None and sampler not in ("ddpm", "ddim"):
            raise ValueError(f"sampler must be 'ddpm' or 'ddim', got {sampler!r}")
        if num_steps is not None:
            num_steps = _positive_int(num_steps, "num_steps")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(f"seed must be an integer, got {seed!r}")
        grid = self.grid_ if y is None else self._grid(y, self.long_cols_)
        if y is not None:
            fitted_vars = list(self.grid_.frame().columns)
            if list(grid.frame().columns) != fitted_vars:
                raise ValueError(f"y has variables {list(grid.frame().columns)}; the model was fitted on "
                                 f"{fitted_vars}")
            self._check_time_axis(grid)
            self._check_length(grid, "y")
        if self.covariates_ is not None and covariates is None:
            raise ValueError("the model was fitted with covariates: pass covariates covering history and horizon")
        if self.covariates_ is None and covariates is not None:
            raise ValueError("the model was fitted without covariates; it cannot use them at predict time")
        cov = self._covariates(covariates, grid, self.prediction_length, "covariates")
        sampler = sampler or self.sampler
        steps = num_steps if num_steps is not None else (self.num_steps if sampler == self.sampler else None)
        if sampler == "ddpm" and steps is not None:
            raise ValueError("num_steps applies to sampler='ddim'; ddpm always runs every diffusion step")
        samples = self._sample(grid, cov, num_samples=num_samples, seed=self.seed if seed is None else int(seed),
                               sampler=sampler, num_steps=steps)  # (S, H, D)
        if not np.isfinite(samples).all():
            raise RuntimeError(f"{self.name} produced non-finite forecasts; the training likely diverged — "
                               "try a lower lr or more epochs")
        if grid.layout.kind == "series":
            samples = samples[:, :, 0]
        index = grid.index(self.prediction_length)[-self.prediction_length:]
        return Forecast(samples, index, grid.layout, history=grid.frame(), quantiles=levels)

    # -- persistence ------------------------------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write the fitted model to one file (see :mod:`tsdiff.api.persistence` for the format)."""
        self._require_fitted()
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            self._save_state(tmp)
            arrays = {"values": self.grid_.values}
            if self.covariates_ is not None:
                arrays["covariates"] = self.covariates_
            buf = io.BytesIO()
            np.savez(buf, **arrays)
            (tmp / "history.npz").write_bytes(buf.getvalue())
            meta = {"layout": self.grid_.layout, "start": self.grid_.start, "long_cols": self.long_cols_,
                    "data": self.data_}
            (tmp / "layout.pkl").write_bytes(pickle.dumps(meta))
            manifest = {"model": type(self).__name__, "tsdiff_version": _version(), "params": self.get_params()}
            return write_archive(path, manifest, tmp)

    @classmethod
    def _load(cls, manifest: dict, directory: Path):
        model = cls(**manifest["params"])
        try:
            model._load_state(directory)
            with np.load(directory / "history.npz") as arrays:
                values = arrays["values"]
                model.covariates_ = arrays["covariates"] if "covariates" in arrays.files else None
            meta = pickle.loads((directory / "layout.pkl").read_bytes())
        except (OSError, KeyError, ValueError, pickle.UnpicklingError, EOFError) as exc:
            raise ValueError(f"the model file is incomplete or corrupted ({exc})") from exc
        model.grid_ = Grid(values, meta["start"], meta["layout"])
        model.long_cols_ = meta["long_cols"]
        model.data_ = meta["data"]
        return model


class GluonTSForecaster(DiffusionForecaster):
    """A pandas model backed by a GluonTS estimator (``_make_estimator``) and its seedable predictor."""

    def _make_estimator(self, freq: str, target_dim: int, num_covariates: int, trainer_kwargs: dict):
        raise NotImplementedError

    def _trainer_kwargs(self, workdir: str) -> dict:
        accelerator = {"auto": "auto", "cpu": "cpu", "cuda": "gpu", "gpu": "gpu", "mps": "mps"}[self.device]
        # GluonTS adds its own best-model checkpoint; keep it in a scratch folder, not the user's cwd.
        return dict(max_epochs=self.epochs, accelerator=accelerator, devices=1, enable_progress_bar=self.progress,
                    enable_model_summary=False, logger=False, default_root_dir=workdir)

    def _train(self, grid: Grid, cov: np.ndarray | None) -> None:
        _quiet_lightning(self.progress)
        import lightning.pytorch as pl

        pl.seed_everything(self.seed, workers=True, verbose=False)
        with tempfile.TemporaryDirectory(prefix="tsdiff-fit-") as workdir, warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".*does not have many workers.*")
            warnings.filterwarnings("ignore", ".*GPU available but not used.*")
            warnings.filterwarnings("ignore", ".*no `val_dataloader`.*")
            warnings.filterwarnings("ignore", ".*LeafSpec.*")
            estimator = self._make_estimator(grid.layout.freq, grid.values.shape[0],
                                             0 if cov is None else cov.shape[0], self._trainer_kwargs(workdir))
            self.predictor_ = estimator.train([self._entry(grid, cov)])

    def _sample(self, grid: Grid, cov, num_samples: int, seed: int, sampler: str, num_steps) -> np.ndarray:
        forecast = next(iter(self.predictor_.predict(
            [self._entry(grid, cov)], num_samples=num_samples, seed=seed, sampler=sampler,
            sampling_steps=num_steps)))
        return np.asarray(forecast.samples, dtype=np.float64)

    def _save_state(self, directory: Path) -> None:
        (directory / "predictor").mkdir()
        self.predictor_.serialize(directory / "predictor")

    def _load_state(self, directory: Path) -> None:
        from gluonts.model.predictor import Predictor

        self.predictor_ = Predictor.deserialize(directory / "predictor")


def _version() -> str:
    try:
        return metadata.version("tsdiff")
    except metadata.PackageNotFoundError:
        return "unknown"


_MODEL_MODULES = {"TimeGrad": "tsdiff.api.timegrad", "CSDI": "tsdiff.api.csdi"}


def load(path):
    """Load a model saved with ``model.save(path)``; a truncated or foreign file raises ValueError.

    Like ``torch.load``, loading unpickles Python objects: load only files you trust.
    """
    import importlib

    manifest, directory = read_archive(path)
    try:
        module = _MODEL_MODULES.get(manifest.get("model"))
        if module is None:
            raise ValueError(f"{path} holds an unknown model type {manifest.get('model')!r}")
        cls = getattr(importlib.import_module(module), manifest["model"])
        return cls._load(manifest, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
