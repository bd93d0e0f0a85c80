"""Backtesting: ``model.cross_validation(y, n_windows, step_size, refit)`` (Nixtla's ``cross_validation``, darts'
``historical_forecasts``).

Window ``k`` of ``n_windows`` cuts each series ``H + (n_windows - 1 - k) * step_size`` steps before its end (``H`` =
``prediction_length``; ``step_size`` defaults to ``H``): the model sees the data up to that cutoff and forecasts the
next ``H`` steps, which are then compared with the actuals. A panel's series are cut relative to their own ends;
one multivariate series (the joint model) at the same timestamps for all variables.

Training never sees a window's actuals: ``refit=False`` trains one copy of the model on the data before the first
cutoff and forecasts every window with it; ``refit=True`` trains a copy at every cutoff; ``refit=k`` every ``k``
windows. The model ``cross_validation`` is called on is not changed (it need not be fitted).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone

from tsdiff import checks
from tsdiff.data.pandas import input_kind
from tsdiff.data.pandas_time import as_time_index
from tsdiff.evaluation import DEFAULT_QUANTILES, seasonal_error

from .panel import read_panel, use_panel

#: Quantiles of the backtest frame: the 19 levels of GluonTS's CRPS and the 95 % interval of MSIS.
BACKTEST_QUANTILES = tuple(sorted({*DEFAULT_QUANTILES, 0.025, 0.975}))


def _row_times(y, kind: str, time_col) -> pd.Index:
    """Timestamps of the rows of ``y`` (index, or the time column of a long frame), parsed as fit parses them."""
    if kind != "long":
        return as_time_index(y.index, "the index of y")
    col = y[time_col]
    if isinstance(col.dtype, pd.PeriodDtype):
        return pd.PeriodIndex(col)
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        return pd.DatetimeIndex(col)
    return as_time_index(pd.Index(col), f"column {time_col!r}")


class _Data:
    """The user's ``y`` with parsed timestamps: cut at cutoffs (in ``y``'s own layout) and looked up exactly."""

    def __init__(self, y, kind: str, long_cols: dict, panel: bool):
        self.y, self.kind, self.long_cols, self.panel = y, kind, long_cols, panel
        self.times = _row_times(y, kind, long_cols["time_col"])
        if kind == "long":
            ids = y[long_cols["id_col"]].to_numpy()
            values = y[long_cols["target_col"]].to_numpy(dtype=np.float64, na_value=np.nan)
            self.lookup = pd.Series(values, index=pd.MultiIndex.from_arrays([ids, self.times]))
        else:
            frame = y.to_frame() if isinstance(y, pd.Series) else y
            names = ["0" if y.name is None else y.name] if isinstance(y, pd.Series) else list(frame.columns)
            values = frame.to_numpy(dtype=np.float64, na_value=np.nan)  # (T, D)
            times = self.times[np.tile(np.arange(len(frame)), len(names))]  # indexing keeps the time zone
            self.lookup = pd.Series(values.T.reshape(-1), index=pd.MultiIndex.from_arrays(
                [np.repeat(np.array(names, dtype=object), len(frame)), times]))
        self.lookup = self.lookup[~self.lookup.index.duplicated()]

    def exact(self, item, index: pd.Index) -> np.ndarray:
        """The user's values of ``item`` on ``index`` (NaN where absent)."""
        keys = pd.MultiIndex.from_arrays([np.repeat(np.array([item], dtype=object), len(index)), index])
        return self.lookup.reindex(keys).to_numpy(dtype=np.float64)

    def cut(self, cutoffs: dict):
        """``y`` up to ``cutoffs[id]`` (one timestamp for all under the key None), each series ending exactly there
        (a NaN row where the cutoff row itself is missing, so the forecast starts right after the cutoff)."""
        if self.kind == "long":
            return self._cut_long(cutoffs)
        y = self.y.set_axis(self.times)
        return self._cut_columns(y, cutoffs) if self.panel else self._cut_joint(y, cutoffs[None])

    def _cut_long(self, cutoffs: dict) -> pd.DataFrame:
        id_col, time_col, target_col = (self.long_cols[k] for k in ("id_col", "time_col", "target_col"))
        if None in cutoffs:
            keep = np.asarray(self.times <= cutoffs[None])
        else:
            keep = np.asarray(self.times <= pd.Index(list(self.y[id_col].map(cutoffs))))
        cut = self.y.loc[keep].copy()
        cut[time_col] = self.times[keep]
        last = cut.groupby(id_col, sort=False, observed=True)[time_col].max()
        wanted = cutoffs if None not in cutoffs else {last.idxmax(): cutoffs[None]}
        short = [item for item, end in wanted.items() if item in last.index and last[item] < end]
        if short:
            extra = pd.DataFrame({id_col: short, time_col: [wanted[i] for i in short], target_col: np.nan})
            cut = pd.concat([cut, extra.astype({id_col: cut[id_col].dtype}, errors="ignore")], ignore_index=True)
        return cut

    @staticmethod
    def _cut_joint(y, end):
        cut = y[y.index <= end]
        if cut.index[-1] < end:
            if isinstance(cut, pd.DataFrame):
                row = pd.DataFrame(np.nan, index=pd.Index([end]), columns=cut.columns)
            else:
                row = pd.Series([np.nan], index=pd.Index([end]), name=cut.name)
            cut = pd.concat([cut, row])
        return cut

    @staticmethod
    def _cut_columns(y, cutoffs: dict):
        """A wide frame read as a panel: each column up to its own cutoff (NaN after it; the panel reader ends a
        column at its last observed value)."""
        frame = y.to_frame() if isinstance(y, pd.Series) else y
        names = ["0" if y.name is None else y.name] if isinstance(y, pd.Series) else list(frame.columns)
        keep = np.stack([y.index <= cutoffs[name] for name in names], axis=1)  # (T, D)
        cut = frame.where(keep)[keep.any(axis=1)]
        return cut.iloc[:, 0].rename(y.name) if isinstance(y, pd.Series) else cut


def _units(model, y, long_cols: dict, panel: bool) -> tuple[list, str]:
    """((item, regular time index) per series cut on its own (panel), or one (None, index) for the joint model;
    the frequency)."""
    if panel:
        read = read_panel(y, model.freq, long_cols)
        return [(item, grid.index()) for item, grid in zip(read.ids, read.series)], read.layout.freq
    grid = model._grid(y, long_cols)
    return [(None, grid.index())], grid.layout.freq


def _check_refit(refit) -> int:
    """Windows between trainings: 0 (once), 1 (every window) or k."""
    if isinstance(refit, (bool, np.bool_)):
        return 1 if refit else 0
    return checks.positive_int(refit, "refit")


def cross_validation(model, y, n_windows: int = 1, step_size: int | None = None, refit=False, covariates=None,
                     past_covariates=None, static_covariates=None, num_samples: int = 100,
                     quantiles=BACKTEST_QUANTILES, season_length: int | None = None,
                     seed: int | None = None, id_col: str = "item_id", time_col: str = "timestamp",
                     target_col: str = "target", panel: bool | None = None, **predict_kwargs) -> pd.DataFrame:
    """See :meth:`tsdiff.api.model.DiffusionForecaster.cross_validation`."""
    H = model.prediction_length
    n_windows = checks.positive_int(n_windows, "n_windows")
    step = H if step_size is None else checks.positive_int(step_size, "step_size")
    every = _check_refit(refit)
    long_cols = dict(id_col=id_col, time_col=time_col, target_col=target_col)
    is_panel = use_panel(y, panel, long_cols)
    kind = input_kind(y, **long_cols)
    data = _Data(y, kind, long_cols, is_panel)
    units, freq = _units(model, y, long_cols, is_panel)
    span = H + (n_windows - 1) * step
    least = 1 if is_panel else model.effective_context_length + H
    short = [item for item, index in units if len(index) - span < least]
    if short:
        what = f"series {short[:5]}{' ...' if len(short) > 5 else ''} are" if is_panel else "y is"
        raise ValueError(f"{what} too short for {n_windows} window(s) of {H} steps every {step} steps: that needs "
                         f"{span + least} steps ({least} before the first cutoff)")
    if season_length is None:
        from gluonts.time_feature import get_seasonality

        season_length = get_seasonality(freq)
    fitted, parts = None, []
    for k in range(n_windows):
        back = H + (n_windows - 1 - k) * step  # steps after the cutoff
        cutoffs = {item: index[len(index) - back - 1] for item, index in units}
        history = data.cut(cutoffs)
        if fitted is None or (every and k % every == 0):
            # the covariate frames may run past the cutoff: fit and predict read only the steps they need
            fitted = clone(model).fit(history, covariates=covariates, past_covariates=past_covariates,
                                      static_covariates=static_covariates, panel=is_panel, **long_cols)
        forecast = fitted.predict(history, num_samples=num_samples, quantiles=quantiles, covariates=covariates,
                                  past_covariates=past_covariates, static_covariates=static_covariates, seed=seed,
                                  **predict_kwargs)
        parts.append(_window_frame(forecast, data, k, season_length))
    frame = pd.concat(parts, ignore_index=True)
    order = np.lexsort((frame.pop("_step").to_numpy(), frame.pop("_window").to_numpy(), frame.pop("_item")))
    return frame.iloc[order].reset_index(drop=True)


def _window_frame(forecast, data: _Data, window: int, season_length: int) -> pd.DataFrame:
    """One window's rows: id, cutoff, time, actual, mean, quantiles, seasonal_error."""
    frame = forecast.to_frame(long=True)
    id_col, time_col = frame.columns[:2]
    H = len(forecast._index_of(0))
    cutoffs, scales = [], []
    for j, item in enumerate(forecast.variables):
        item = "0" if item is None else item
        history = forecast._history_index(j)  # the timestamps the forecast started from
        cutoffs.append(history[-1])
        scales.append(seasonal_error(data.exact(item, history), season_length))
    frame.insert(1, "cutoff", pd.Index([c for c in cutoffs for _ in range(H)]))
    keys = pd.MultiIndex.from_arrays([frame[id_col].to_numpy(dtype=object), pd.Index(frame[time_col])])
    frame.insert(3, "actual", data.lookup.reindex(keys).to_numpy(dtype=np.float64))
    frame["seasonal_error"] = np.repeat(scales, H)
    frame["_item"] = np.repeat(np.arange(len(cutoffs)), H)
    frame["_window"] = window
    frame["_step"] = np.tile(np.arange(H), len(cutoffs))
    return frame
