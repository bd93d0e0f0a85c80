"""The one evaluation protocol for the forecasting benchmarks, shared by every model's runner.

A runner does::

    task = load_forecast_task(dataset)            # data, horizon, windows, targets
    samples = <model forecasts for task>          # (W, S, H, D) multivariate / list of (S, H) for m4_hourly
    metrics = score_forecasts(task, samples)      # crps, crps_sum, nd, nrmse, mae, rmse, coverage_80, num_samples

Two kinds of tasks:

* **multivariate** (``exchange_rate_nips``, ``ETTh1``, ``ETTm1``, ``weather``, ``exchange_rate``): D aligned series,
  W rolling test windows of H steps. Samples: array (W, S, H, D) or a list of W arrays (S, H, D).
* **univariate set** (``m4_hourly``): N ragged series, one window of H steps each (D = 1 per entry).
  Samples: array (N, S, H) or a list of N arrays (S, H).

Metrics come from :mod:`tsdiff.evaluation`, which reproduces GluonTS's ``MultivariateEvaluator(quantiles=0.05..0.95,
target_agg_funcs={'sum': np.sum})`` (``Evaluator`` for the univariate set) exactly; see :func:`score_forecasts`.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np
import pandas as pd
from gluonts.dataset.common import TrainDatasets

from experiments.models import LATE_VALIDATION_DATASETS, LATE_VALIDATION_WINDOWS, SPLITS
from tsdiff.data import load_dataset, to_multivariate
from tsdiff.quiet import quiet_freq_deprecations

QUANTILES = tuple((np.arange(20) / 20.0)[1:])  # 0.05, 0.10, ..., 0.95: CRPS as the mean weighted quantile loss
MULTIVARIATE_DATASETS = ("exchange_rate_nips", "ETTh1", "ETTm1", "weather", "exchange_rate")
UNIVARIATE_DATASETS = ("m4_hourly",)

Samples = Union[np.ndarray, Sequence[np.ndarray]]


#: Config keys that choose the reverse process (fields of :class:`tsdiff.diffusion.SamplingOptions`).
SAMPLING_KEYS = ("sampler", "sampling_steps", "eta", "variance", "spacing", "order", "clip")


def sampling_options(config: dict):
    """The reverse process a preset asks for, as one :class:`~tsdiff.diffusion.SamplingOptions` (keys it leaves
    out: the model's defaults)."""
    from tsdiff.diffusion import SamplingOptions

    return SamplingOptions(**{k: config.get(k) for k in SAMPLING_KEYS})


class ConfigError(ValueError):
    """A config value a runner refuses; ``experiments.run`` reports it as a usage error (exit status 2)."""


def parse_sampling(text: str):
    """``NAME[:STEPS[:ETA]]`` (e.g. ``ddpm``, ``dpm-solver++:10:1``) as :class:`~tsdiff.diffusion.SamplingOptions`
    (the studies' ``--samplers`` lists)."""
    from tsdiff.diffusion import SamplingOptions

    name, *rest = text.split(":")
    steps = int(rest[0]) if rest and rest[0] else None
    eta = float(rest[1]) if len(rest) > 1 else None
    return SamplingOptions(name, steps, eta)


@contextmanager
def config_errors(model: str):
    """Turn a ValueError/TypeError raised inside (a model constructor refusing a hyperparameter) into a
    :class:`ConfigError` naming ``model``. Wrap construction only, never training, so a bug is not mistaken for a
    bad config."""
    try:
        yield
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{model}: {exc}") from exc


@dataclass(frozen=True)
class ForecastTask:
    """A forecasting benchmark: data and test windows.

    Attributes:
        name: dataset name.
        dataset: univariate GluonTS ``TrainDatasets`` (train: one entry per series; test: window-major entries,
            each the series up to the end of its window).
        multivariate: ``to_multivariate(dataset)`` (train target (D, T); one test entry (D, T_w) per window) for
            multivariate tasks, None for the univariate set.
        freq: pandas frequency string (GluonTS's spelling).
        prediction_length: H.
        num_windows: W (1 for the univariate set).
        target_dim: D (1 for the univariate set).
        test_targets: the values to forecast: (W, H, D) for multivariate tasks, (N, H) for the univariate set.
        histories: what precedes each window: W arrays (D, T_w) for multivariate tasks, N arrays (T_n,) otherwise.
        starts: ``pd.Period`` of the first value of each history (W or N of them).
    """

    name: str
    dataset: TrainDatasets
    multivariate: TrainDatasets | None
    freq: str
    prediction_length: int
    num_windows: int
    target_dim: int
    test_targets: np.ndarray
    histories: list[np.ndarray]
    starts: list[pd.Period]

    @property
    def is_multivariate(self) -> bool:
        return self.multivariate is not None

    @property
    def num_test_entries(self) -> int:
        """Number of univariate test entries: W * D, or N."""
        return len(self.histories) * (self.target_dim if self.is_multivariate else 1)

    @quiet_freq_deprecations
    def forecast_starts(self) -> list[pd.Period]:
        """First forecast period of each window (multivariate) or series (univariate set)."""
        return [s + h.shape[-1] for s, h in zip(self.starts, self.histories)]

    def test_inputs(self) -> list[dict]:
        """Univariate GluonTS entries to forecast from, in the order of ``dataset.test`` (window-major).

        Each is the test entry with its last H values removed: ``start``, ``target`` (T,), ``feat_static_cat``,
        ``item_id``. A predictor's forecasts of these, stacked with :meth:`stack_entry_samples`, are what
        :func:`score_forecasts` takes.
        """
        out = []
        for entry in self.dataset.test:
            out.append({**entry, "target": np.asarray(entry["target"])[:-self.prediction_length]})
        return out

    def window_inputs(self) -> list[dict]:
        """Multivariate tasks: one GluonTS entry per test window, the history before it (``start``, ``target`` (D, T_w)).

        A multivariate predictor's forecasts of these, in order (a list of W arrays (S, H, D)), are what
        :func:`score_forecasts` takes.
        """
        if not self.is_multivariate:
            raise ValueError(f"{self.name} is a univariate set; use test_inputs()")
        return [{"start": start, "target": history} for start, history in zip(self.starts, self.histories)]

    def stack_entry_samples(self, per_entry: Sequence[np.ndarray]) -> Samples:
        """Per-entry samples (S, H), in ``test_inputs()`` order -> (W, S, H, D), or (N, S, H) for the univariate set."""
        if len(per_entry) != self.num_test_entries:
            raise ValueError(f"{self.name}: expected samples for {self.num_test_entries} test entries, "
                             f"got {len(per_entry)}")
        arr = np.stack([np.asarray(s, dtype=np.float64) for s in per_entry])  # (W*D or N, S, H)
        if not self.is_multivariate:
            return arr
        w, d = self.num_windows, self.target_dim
        return arr.reshape(w, d, *arr.shape[1:]).transpose(0, 2, 3, 1)  # (W, S, H, D)


def _check_aligned(name: str, test: list[dict], num_windows: int, dim: int) -> None:
    for w in range(num_windows):
        group = test[w * dim:(w + 1) * dim]
        if len({(e["start"], len(e["target"])) for e in group}) != 1:
            raise ValueError(f"{name}: the {dim} test entries of window {w} do not share start and length; "
                             "the multivariate protocol needs aligned series")


@quiet_freq_deprecations
def load_forecast_task(dataset: str, prediction_length: int | None = None,
                       num_test_windows: int | None = None, split: str = "test") -> ForecastTask:
    """The benchmark task of a forecasting dataset (data from ``tsdiff.data.load_dataset``).

    Args:
        dataset: one of ``MULTIVARIATE_DATASETS`` (aligned series) or ``UNIVARIATE_DATASETS`` (ragged series).
        prediction_length, num_test_windows: passed to ``load_dataset`` (registry defaults when None).
        split: ``"test"`` (the benchmark's test windows), ``"valid"`` (:func:`validation_task`: windows cut from
            the end of the training data, for tuning without looking at the test windows) or ``"valid-late"``
            (long-horizon sets only: the last ``LATE_VALIDATION_WINDOWS`` windows of the validation rows, which
            end where the test windows begin; training on the same rows as for the test windows, so the
            forecasts are as far from the training data as the test windows' are: a split the size of one test
            period right after the training data had ranked models differently from the test windows).

    Raises:
        ValueError: unknown or non-forecasting dataset; misaligned series.
        tsdiff.data.DatasetNotFoundError: raw files missing.
    """
    if dataset not in MULTIVARIATE_DATASETS + UNIVARIATE_DATASETS:
        raise ValueError(f"{dataset!r} is not a forecasting benchmark; choose one of "
                         f"{', '.join(MULTIVARIATE_DATASETS + UNIVARIATE_DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if split == "valid-late":
        if dataset not in LATE_VALIDATION_DATASETS:
            raise ValueError(f"split 'valid-late' needs validation rows between training and test data, which "
                             f"only {', '.join(LATE_VALIDATION_DATASETS)} have; use 'valid' for {dataset!r}")
        windows = num_test_windows or LATE_VALIDATION_WINDOWS[dataset]
        ds = load_dataset(dataset, prediction_length=prediction_length, num_test_windows=windows, split="val_end")
        return task_from_dataset(f"{dataset} (late validation)", ds, multivariate=True)
    ds = load_dataset(dataset, prediction_length=prediction_length, num_test_windows=num_test_windows)
    task = task_from_dataset(dataset, ds, multivariate=dataset in MULTIVARIATE_DATASETS)
    return validation_task(task) if split == "valid" else task


@quiet_freq_deprecations
def validation_task(task: ForecastTask) -> ForecastTask:
    """The same protocol one test period earlier, inside the training data: for tuning.

    The training series lose their last ``W * H`` values (multivariate tasks; W rolling windows of H steps) or
    their last H values (the univariate set), and those held-out values become the windows to forecast, laid out
    exactly as the test windows are. Nothing of the test windows is seen.
    """
    h, w = task.prediction_length, task.num_windows
    cut = w * h
    train, test = [], []
    for entry in task.dataset.train:
        target = np.asarray(entry["target"])
        if len(target) <= cut + h:
            raise ValueError(f"{task.name}: a training series of length {len(target)} is too short to hold out "
                             f"{w} validation window(s) of {h} steps")
        train.append({**entry, "target": target[:-cut]})
    for k in range(w):  # window-major, like the test set
        for entry in task.dataset.train:
            target = np.asarray(entry["target"])
            test.append({**entry, "target": target[:len(target) - cut + (k + 1) * h]})
    ds = TrainDatasets(metadata=task.dataset.metadata, train=train, test=test)
    return task_from_dataset(f"{task.name} (validation)", ds, multivariate=task.is_multivariate)


@quiet_freq_deprecations
def task_from_dataset(name: str, ds: TrainDatasets, multivariate: bool) -> ForecastTask:
    """A task from univariate ``TrainDatasets`` (test window-major, H = ``ds.metadata.prediction_length``).

    ``multivariate=True``: the train entries are the D series and every group of D consecutive test entries is
    one window (same start and length required). ``False``: every test entry is its own series and window.
    """
    h = int(ds.metadata.prediction_length)
    freq = ds.metadata.freq
    train, test = list(ds.train), list(ds.test)
    if not multivariate:
        targets = np.stack([np.asarray(e["target"])[-h:] for e in test]).astype(np.float64)  # (N, H)
        histories = [np.asarray(e["target"])[:-h] for e in test]
        return ForecastTask(name, ds, None, freq, h, 1, 1, targets, histories, [e["start"] for e in test])
    dim = len(train)
    if len(test) % dim:
        raise ValueError(f"{name}: {len(test)} test entries is not a multiple of {dim} series")
    num_windows = len(test) // dim
    _check_aligned(name, test, num_windows, dim)
    mv = to_multivariate(ds, num_test_dates=num_windows)
    full = [np.asarray(e["target"], dtype=np.float64) for e in mv.test]  # W x (D, T_w)
    targets = np.stack([f[:, -h:].T for f in full])  # (W, H, D)
    return ForecastTask(name, ds, mv, freq, h, num_windows, dim, targets, [f[:, :-h] for f in full],
                        [e["start"] for e in mv.test])


def _as_sample_array(task: ForecastTask, samples: Samples) -> np.ndarray:
    """Validate and stack: (W, S, H, D) for multivariate tasks, (N, S, H) for the univariate set."""
    h = task.prediction_length
    if task.is_multivariate:
        expected, what = (task.num_windows, None, h, task.target_dim), "(W, S, H, D)"
    else:
        expected, what = (len(task.histories), None, h), "(N, S, H)"
    try:
        arr = np.stack([np.asarray(s, dtype=np.float64) for s in samples])
    except ValueError as exc:
        raise ValueError(f"{task.name}: samples must stack to {what}, all windows with the same S: {exc}") from exc
    if arr.ndim != len(expected) or any(e is not None and e != a for e, a in zip(expected, arr.shape)):
        shape = tuple("S" if e is None else e for e in expected)
        raise ValueError(f"{task.name}: samples must have shape {what} = {shape}, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{task.name}: samples contain NaN or inf")
    return arr


def _scores(task: ForecastTask, arr: np.ndarray) -> dict:
    """The metrics of ``tsdiff.evaluation`` (GluonTS-identical) on samples ``arr`` (see ``_as_sample_array``)."""
    from tsdiff import evaluation as ev

    x = np.moveaxis(arr, 1, 0)  # (S, W, H, D) or (S, N, H): sample axis first
    y = task.test_targets  # (W, H, D) or (N, H)
    levels = list(QUANTILES)
    scores = {"crps": ev.crps(x, y, levels)}
    if task.is_multivariate:
        scores["crps_sum"] = ev.crps_sum(x, y, levels)
    # every window/series has H points, so pooled means equal GluonTS's mean of per-series means
    scores.update(nd=ev.nd(x, y), nrmse=ev.nrmse(x, y), mae=ev.mae(x, y), rmse=ev.rmse(x, y),
                  coverage_80=ev.interval_coverage(x, y, alpha=0.2))
    # calibration of every run: mean |observed − nominal| quantile coverage over 0.05..0.95, the PIT histogram
    # (10 bins, as fractions: 0.1 each when calibrated) and the central-interval coverages 10..90 %
    report = ev.calibration(x, y)
    scores.update(calibration_error=report.calibration_error,
                  pit_histogram=[round(float(c) / max(report.n, 1), 4) for c in report.bin_counts],
                  interval_coverage={f"{c:.1f}": round(float(v), 4)
                                     for c, v in zip(report.nominal, report.interval_coverage)})
    return scores


@quiet_freq_deprecations
def score_forecasts(task: ForecastTask, samples: Samples) -> dict:
    """Score forecast samples on the task's test windows.

    Args:
        samples: multivariate tasks: (W, S, H, D) array or list of W arrays (S, H, D); univariate set: (N, S, H)
            or list of N arrays (S, H). A point forecast is S = 1 (its CRPS is then its absolute error / ND).

    Returns:
        ``crps``: mean weighted quantile loss over levels 0.05..0.95 (GluonTS ``mean_wQuantileLoss``), normalised
        by sum |target| over all series and windows; ``crps_sum`` (multivariate only): the same on the sum over
        the D series (``m_sum_mean_wQuantileLoss``); ``nd``: sum |y - median| / sum |y|; ``nrmse``: RMSE of the
        sample mean / mean |y|; ``mae``: mean |y - median|; ``rmse``: sqrt(mean (y - sample mean)^2);
        ``coverage_80``: fraction of targets in [q0.1, q0.9] (GluonTS's sample quantiles); ``calibration_error``,
        ``pit_histogram`` and ``interval_coverage``: the :func:`tsdiff.evaluation.calibration` report;
        ``num_samples``: S.
    """
    arr = _as_sample_array(task, samples)
    scores = {k: v if isinstance(v, (list, dict)) else float(v) for k, v in _scores(task, arr).items()}
    scores["num_samples"] = int(arr.shape[1])
    return scores
