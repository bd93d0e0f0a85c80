"""``tsdiff.TimeGrad``: the pandas front end of :class:`tsdiff.models.timegrad.TimeGradEstimator`."""
from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from gluonts.transform.sampler import InstanceSampler
from pandas.tseries.frequencies import to_offset

from tsdiff.data.pandas_time import to_period
from tsdiff.diffusion import SamplingOptions
from tsdiff.quiet import quiet_lightning

from .console import network_calls, sampling_progress
from .covariates import FUTURE, PAST, STATIC, Covariates
from .defaults import EPOCHS, LEARNING_RATE, NUM_BATCHES_PER_EPOCH, SEED, TIMEGRAD_SAMPLING
from .grid import Grid
from .model import RUN_ONLY_PARAMS, DiffusionForecaster
from .panel import validation_cuts
from .params import store_init_arguments
from .training import FitSession, validation_cut


def is_business_daily(freq: str) -> bool:
    """Business-day steps ('B', '2B'): pandas deprecates them as Periods, which GluonTS would build per window."""
    try:
        offset = to_offset(freq)
    except ValueError:
        return False
    return type(offset) is pd.offsets.BusinessDay


class TailSampler(InstanceSampler):
    """Validation windows: split points from ``first`` (the start of the validation tail) to the last one that
    leaves ``min_future`` steps, at most ``max_windows`` of them, evenly spaced. With ``fraction`` (panels), each
    series' tail is its own: its last ``fraction`` of steps, at least ``min_future`` (``validation_cut``'s rule)."""

    first: int = 0
    fraction: float | None = None
    max_windows: int = 64

    def __call__(self, ts: np.ndarray) -> np.ndarray:
        length = ts.shape[self.axis]
        first = self.first
        if self.fraction is not None:
            first = length - max(int(round(self.fraction * length)), self.min_future)
        last = length - self.min_future
        if last < first:
            return np.array([], dtype=int)
        count = min(self.max_windows, last - first + 1)
        return np.unique(np.linspace(first, last, count).round().astype(int))


class TimeGrad(DiffusionForecaster):
    """TimeGrad (Rasul et al., ICML 2021) on pandas data: an RNN over the history conditions a diffusion model of
    each next multivariate observation.

    >>> model = tsdiff.TimeGrad(prediction_length=24, epochs=20).fit(df)      # doctest: +SKIP
    >>> forecast = model.predict(num_samples=100, quantiles=(0.1, 0.5, 0.9))   # doctest: +SKIP
    >>> forecast.to_frame()                                                    # doctest: +SKIP

    Args:
        prediction_length: forecast horizon (steps).
        freq: pandas frequency (default: inferred from the index).
        context_length: steps the RNN reads before forecasting (default: ``prediction_length``).
        epochs, batch_size, num_batches_per_epoch, lr: the training budget and optimiser (Adam, peak lr).
        time_limit: stop training after this many seconds (Lightning ``max_time``).
        validation_fraction: hold out this last fraction of the time steps (at least one horizon) as a validation
            tail; the weights of the epoch with the lowest validation loss are kept.
        early_stopping_patience: stop after this many epochs without a better validation loss (needs
            ``validation_fraction``).
        num_layers, hidden_size, dropout_rate, cell_type: the RNN (2 × 40 LSTM, dropout 0.1).
        univariate: a wide frame's columns are modelled one by one by one shared network (a global univariate model,
            as GluonTS's DeepAR trains; the default): each forecast from its own history, the samples of different
            columns independent. ``False``: one joint model of all columns (the paper's TimeGrad), whose samples
            keep the columns' dependence (what CRPS-sum scores) but which learns less per CPU-second (RESULTS.md,
            "pandas defaults"). A panel (``fit(df, panel=True)``, a long frame) is always modelled the first way.
        embedding_dim: size of the learned per-series embedding; conditioning_length: width of the RNN state given
            to the denoiser; category_embedding_dim: size of each static category's embedding (default
            min(50, (levels + 1) // 2)).
        scaling: ``"std"`` (per window: mean and s.d., the default), ``"mean"`` (TimeGrad's), ``"robust"``,
            ``"diff"`` or ``"none"``; increments: diffuse one-step changes instead of levels (with ``scaling="diff"``
            for random-walk-like series; it sets ``difference_lag`` to 1).
        difference_lag: s > 0 makes the model generate the residual over the cheap forecast x_{t−s} (1: the last
            value; ``"season"``, the default: the frequency's season, i.e. seasonal naive); 0: levels (the paper).
            The defaults depart from the paper's TimeGrad there (``tsdiff.api.defaults.TIMEGRAD_RECIPE``).
        prediction: what the network predicts, ``"epsilon"`` (TimeGrad), ``"x0"`` or ``"v"``.
        ema_decay: sample with a moving average of the weights (e.g. 0.999); ``None``: the trained weights.
        lags_seq: target lags (default: GluonTS's lags for the frequency); time_features: GluonTS time features
            (default: those of the frequency; a saved model stores them by name, so only GluonTS's own can be saved).
        num_diffusion_steps, beta_schedule, beta_start, beta_end: the noise schedule (linear 1e-4 → 0.1, 100 steps).
        residual_layers, residual_channels, dilation_cycle_length: the ε-network (8, 8, 2); cond_upsampler_dim: the
            width between the RNN and the denoiser's per-series conditioning (32; ``None``: D // 2, the paper's,
            which leaves a single series one number).
        weight_decay, lr_schedule: Adam's weight decay (1e-6) and the learning-rate schedule (``"onecycle"``).
        sampler, sampling_steps, eta: default reverse process for ``predict``. Unset: DPM-Solver++ with 10 network
            calls and fresh noise (η = 1), about 8× faster than ``"ddpm"`` over all 100 steps and as accurate on the
            validation windows measured (``tsdiff.api.defaults.TIMEGRAD_SAMPLING``); ``sampler="ddpm"`` is the
            paper's. A sampler given alone gets its own step count and η (ddim: all steps, η = 0).
        device: ``"auto"`` (GPU if present), ``"cpu"``, ``"cuda"``/``"gpu"`` or ``"mps"``.
        seed: seeds training (in a fork: the caller's random streams are left as they were) and, by default,
            sampling; equal seeds give identical forecasts on CPU.
        verbose: 0 silent, 1 a progress bar for fitting and one for sampling (stderr), 2 also per-epoch losses and
            Lightning's notices.
        logger, log_dir: ``"csv"`` or ``"tensorboard"`` writes the loss curve under ``log_dir``.
        trainer_kwargs: more ``lightning.Trainer`` arguments (precision, callbacks, ...); they win over the above.

    Covariates (``fit``/``predict`` arguments, see :mod:`tsdiff.api.covariates`): ``covariates`` (known for the
    horizon too) and ``past_covariates`` (known up to the forecast start; on the horizon the RNN reads their last
    value and a "not known" indicator) are read by the RNN at every step; ``static_covariates`` (a row per
    variable or panel id; reals, and categories embedded in ``category_embedding_dim`` dimensions) beside the
    per-series embedding.

    Fitted attributes: ``predictor_``, ``grid_``, ``history_``, ``covariates_``, ``past_covariates_``,
    ``static_covariates_``, ``covariate_columns_``, ``loss_curve_`` (per-epoch
    ``train_loss``/``val_loss``), ``stop_reason_`` (``"max_epochs"``, ``"time_limit"`` or ``"early_stopping"``),
    ``log_dir_``.
    """

    name = "TimeGrad"
    DEFAULT_SAMPLING = TIMEGRAD_SAMPLING
    supported_covariates = panel_covariates = (FUTURE, PAST, STATIC)
    ADDED_PARAMS = {"univariate": False}  # files from before it modelled a wide frame jointly

    def __init__(self, prediction_length: int, *, freq: str | None = None, context_length: int | None = None,
                 # training budget
                 epochs: int = EPOCHS, batch_size: int = 64, num_batches_per_epoch: int = NUM_BATCHES_PER_EPOCH,
                 lr: float = LEARNING_RATE, time_limit: float | None = None,
                 validation_fraction: float | None = None, early_stopping_patience: int | None = None,
                 # the RNN
                 num_layers: int = 2, hidden_size: int = 40, dropout_rate: float = 0.1, cell_type: str = "LSTM",
                 univariate: bool = True, embedding_dim: int = 1, conditioning_length: int = 100,
                 category_embedding_dim: int | None = None,
                 scaling: str = "std",
                 increments: bool = False, difference_lag: int | str = "season", prediction: str = "epsilon",
                 lags_seq: list[int] | None = None, time_features: list | None = None,
                 # the diffusion model and its ε-network
                 num_diffusion_steps: int = 100, beta_schedule: str = "linear", beta_start: float = 1e-4,
                 beta_end: float = 0.1, residual_layers: int = 8, residual_channels: int = 8,
                 dilation_cycle_length: int = 2, cond_upsampler_dim: int | None = 32,
                 weight_decay: float = 1e-6, lr_schedule: str = "onecycle", ema_decay: float | None = None,
                 # the reverse process predict uses by default
                 sampler: str | None = None, sampling_steps: int | None = None, eta: float | None = None,
                 # running
                 device: str = "auto", seed: int = SEED, verbose: int = 1, logger: str | None = None,
                 log_dir: str = "tsdiff_logs", trainer_kwargs: dict | None = None, **deprecated) -> None:
        store_init_arguments(self, locals())
        self._validate()

    def _check_model(self) -> None:
        if not isinstance(self.univariate, (bool, np.bool_)):
            raise TypeError(f"univariate must be True or False, got {self.univariate!r}")
        try:  # building an estimator checks every argument; it builds no network
            self._make_estimator(self.freq or "D", 2, 0)
        except TypeError as exc:  # an argument TimeGradEstimator does not take
            raise TypeError(f"TimeGrad: {exc}") from None

    def _time_features(self, freq: str) -> list:
        from gluonts.time_feature import time_features_from_frequency_str

        return self.time_features if self.time_features is not None else time_features_from_frequency_str(freq)

    def _make_estimator(self, freq: str, target_dim: int, num_covariates: int, num_past_covariates: int = 0,
                        num_static_real: int = 0, cardinality: list | None = None, workdir=None, extra=None,
                        validation_sampler=None, callbacks=()):
        """The estimator; the arguments before ``workdir`` come from the data (the ``backend`` of a model file)."""
        from tsdiff.models.base import trainer_kwargs
        from tsdiff.models.timegrad import TimeGradEstimator

        params, sampling = self._model_params(), self.default_sampling()
        del params["univariate"]  # how the data are laid out (see _entries), not a network argument
        if params["increments"] and params["difference_lag"] == "season":
            params["difference_lag"] = 1  # increments=True is the residual over the last value
        num_dynamic = num_covariates
        if is_business_daily(freq):  # calendar features come precomputed with the covariates (see _entry)
            num_dynamic += len(self._time_features(freq))
            params["time_features"] = []
        extra = dict(extra or {})
        if callbacks:
            extra["callbacks"] = list(callbacks) + list(extra.get("callbacks", []))
        return TimeGradEstimator(
            freq=freq, prediction_length=self.prediction_length, target_dim=target_dim,
            context_length=self.context_length, num_feat_dynamic_real=num_dynamic,
            num_past_feat_dynamic_real=num_past_covariates, num_feat_static_real=num_static_real,
            cardinality=cardinality, lr=self.lr,
            batch_size=self.batch_size, num_batches_per_epoch=self.num_batches_per_epoch, seed=self.seed,
            validation_sampler=validation_sampler, sampler=sampling.sampler, sampling_steps=sampling.sampling_steps,
            eta=sampling.eta,
            trainer_kwargs=trainer_kwargs(self.epochs, device=self.device, workdir=workdir, **(extra or {})),
            **params)

    def _backend(self, target_dim: int, cov: Covariates, freq: str) -> dict:
        """What the network's shape depends on besides the settings (saved as the model file's ``backend``; the
        covariate counts only when there are some, so files and checkpoints without them are as before)."""
        backend = dict(freq=freq, target_dim=target_dim, num_covariates=cov.count(FUTURE))
        if cov.past is not None:
            backend["num_past_covariates"] = cov.count(PAST)
        if cov.static_real is not None:
            backend["num_static_real"] = cov.static_real.shape[1]
        if cov.static_codes is not None:
            backend["cardinality"] = self.static_covariates_.cardinality
        return backend

    def _entries(self, grid: Grid, cov: Covariates, future: int = 0, end: int | None = None) -> list:
        """The GluonTS entries of a wide frame's grid: one per variable (``univariate``, each with its own static
        covariates), or one of all variables together."""
        if not self.univariate:
            return [self._entry(grid, cov, future, end)]
        return [self._entry(grid, cov.series(j), future, end, rows=slice(j, j + 1))
                for j in range(grid.values.shape[0])]

    def _entry(self, grid: Grid, cov: Covariates | None, future: int = 0, end: int | None = None,
               rows: slice = slice(None)) -> dict:
        """The GluonTS entry of the grid's first ``end`` steps of the variables ``rows``; ``future``: steps of
        covariates past the data."""
        cov = Covariates() if cov is None else cov
        entry = self._dynamic_entry(grid, cov.future, future, end, rows)
        if cov.past is not None:  # (K_p, T): the estimator pads the horizon, which the model does not read
            entry["past_feat_dynamic_real"] = cov.past[:, :end]
        entry.update(cov.static_of(slice(None)))
        return entry

    def _dynamic_entry(self, grid: Grid, covariates: np.ndarray | None, future: int = 0, end: int | None = None,
                       rows: slice = slice(None)):
        freq = grid.layout.freq
        target = grid.values[rows, :end]
        if not is_business_daily(freq):
            # to_period: offsets without a Period twin (month start 'MS') map to their base unit ('M')
            start = grid.start if isinstance(grid.start, pd.Period) else to_period(grid.start, to_offset(freq))
            entry = {"start": start, "target": target, "item_id": "0"}
            if covariates is not None:
                entry["feat_dynamic_real"] = covariates[:, :end]
            return entry
        # Business days: GluonTS would build a deprecated Period[B] for every training window (thousands of pandas
        # FutureWarnings per fit). The calendar features are computed here once, on the real business days, and
        # GluonTS sees plain day steps; it never uses the dates themselves (the forecast index comes from the grid).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # the one conversion to Period[B], made once
            index = grid.index(future)
            if isinstance(index, pd.DatetimeIndex):
                index = index.tz_localize(None).to_period(freq)  # Periods carry no time zone
            calendar = np.vstack([f(index) for f in self._time_features(freq)]).astype(np.float32)
        dynamic = calendar if covariates is None else np.concatenate([calendar, covariates])
        return {"start": pd.Period("2000-01-03", freq="D"), "target": target, "item_id": "0",
                "feat_dynamic_real": dynamic[:, :end] if end is not None else dynamic}

    def _train(self, grid: Grid, cov: Covariates, checkpoint_dir=None, resume: bool = False) -> None:
        backend = self._backend(1 if self.univariate else grid.values.shape[0], cov, grid.layout.freq)
        cut = validation_cut(self, grid.length)
        training = self._entries(grid, cov, end=cut)
        validation = None if cut is None else self._entries(grid, cov)
        sampler = None if cut is None else TailSampler(first=cut, min_future=self.prediction_length)
        self._fit_entries(backend, training, validation, sampler, checkpoint_dir, resume,
                          identity=([grid.values, cov.future, cov.past, cov.static_real, cov.static_codes],
                                    str(grid.start)))

    def _fit_entries(self, backend: dict, training: list, validation: list | None, sampler, checkpoint_dir,
                     resume: bool, identity: tuple) -> None:
        """Train the estimator of ``backend`` on GluonTS entries (``validation`` with its instance ``sampler``, or
        None); ``identity``: (arrays, start) that identify the data of a resumable fit."""
        from tsdiff.models.base.resume import checkpoint_callbacks, fingerprint, prepare_checkpoint_dir

        ckpt_path, callbacks = None, []
        if checkpoint_dir is not None:
            params = {k: v for k, v in self.get_params(deep=False).items() if k not in RUN_ONLY_PARAMS}
            arrays, start = identity
            fit_id = fingerprint(*arrays, model=self.name, start=start, backend=backend, **params)
            ckpt_path = prepare_checkpoint_dir(checkpoint_dir, resume, fit_id)
            callbacks = checkpoint_callbacks(checkpoint_dir)
        self.backend_ = backend
        session = FitSession(self, self.epochs * self.num_batches_per_epoch, validating=validation is not None)
        # GluonTS keeps a best-model checkpoint: in a scratch folder (not the user's working directory), or beside
        # the resume checkpoint, which refers to it. The estimator seeds the training in a fork of the random
        # streams (models/base/seeding.py).
        with tempfile.TemporaryDirectory(prefix="tsdiff-fit-") as scratch, quiet_lightning(self.verbose >= 2):
            workdir = scratch if checkpoint_dir is None else checkpoint_dir
            estimator = self._make_estimator(**self.backend_, workdir=workdir, extra=session.trainer_kwargs(),
                                             validation_sampler=sampler, callbacks=callbacks)
            self.predictor_ = self._placed(estimator.train(training, validation_data=validation, ckpt_path=ckpt_path))
        session.finish()

    def _sample(self, grid: Grid, cov: Covariates, num_samples: int, seed: int,
                sampling: SamplingOptions) -> np.ndarray:
        entries = self._entries(grid, cov, future=self.prediction_length)
        return np.concatenate(self._sample_entries(entries, num_samples, seed, sampling), axis=-1)  # (S, H, D)

    def _sample_entries(self, entries: list, num_samples: int, seed: int, sampling: SamplingOptions) -> list:
        """Samples (S, H, D) per entry; one progress bar over every network call."""
        net = self.predictor_.prediction_net
        calls = network_calls(self.predictor_.sampling_options(sampling), net.diffusion.num_diffusion_steps)
        batches = -(-len(entries) // self.predictor_.batch_size)
        with sampling_progress(net.diffusion, batches * self.prediction_length * calls, f"{self.name} sampling",
                               self.verbose):
            forecasts = self.predictor_.predict(entries, num_samples=num_samples, seed=seed, sampling=sampling)
            return [np.asarray(f.samples, dtype=np.float64) for f in forecasts]

    # -- panels: one global univariate network over many series ----------------------------------------------------
    def _train_panel(self, panel, cov: Covariates, checkpoint_dir=None, resume: bool = False) -> None:
        # every series is a (1, T_i) entry of its own start and length; the network has no per-series parameters
        # (target_dim 1; static covariates are features, not parameters), so it forecasts series it never saw
        backend = self._backend(1, cov, panel.layout.freq)
        cuts = validation_cuts(self, panel)
        training = [self._entry(grid, cov.series(j), end=cut) for j, (grid, cut) in enumerate(zip(panel.series, cuts))]
        validation, sampler = None, None
        if self.validation_fraction is not None:  # the tail of each series long enough to hold one
            validation = [self._entry(grid, cov.series(j)) for j, (grid, cut) in enumerate(zip(panel.series, cuts))
                          if cut is not None]
            sampler = TailSampler(fraction=self.validation_fraction, min_future=self.prediction_length)
        values = np.concatenate([grid.values[0] for grid in panel.series])
        self._fit_entries(backend, training, validation, sampler, checkpoint_dir, resume,
                          identity=([values, panel.lengths, cov.static_real, cov.static_codes,
                                     *(np.concatenate(c, axis=1) for c in (cov.future, cov.past) if c is not None)],
                                    str([str(s) for s in panel.layout.starts])))

    def _sample_panel(self, panel, cov: Covariates, num_samples: int, seed: int,
                      sampling: SamplingOptions) -> np.ndarray:
        entries = [self._entry(grid, cov.series(j), future=self.prediction_length)
                   for j, grid in enumerate(panel.series)]
        return np.stack([s[:, :, 0] for s in self._sample_entries(entries, num_samples, seed, sampling)], axis=-1)

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
        module.sampling_model.load_state_dict(weights)  # the saved weights are those that sample (the EMA if any)
        self.predictor_ = self._placed(estimator.create_predictor(estimator.create_transformation(), module))

    def _placed(self, predictor):
        """The predictor on the model's ``device`` (GluonTS's picks a GPU whenever there is one)."""
        if self.device != "auto":
            predictor.to({"gpu": "cuda"}.get(self.device, self.device))
        return predictor
