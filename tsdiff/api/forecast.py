"""`Forecast`: what `predict` returns — samples plus pandas views (mean, median, quantiles, intervals, frames,
plots)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from tsdiff.data import PandasLayout
from tsdiff.data.pandas_time import as_time_index

from .plotting import axes_for, draw_actuals, fan_chart
from .quantiles import (
    band_pairs,
    check_coverage,
    check_levels,
    interval_levels,
    interval_names,
    level_name,
    sample_quantile,
)


class Forecast:
    """Probabilistic forecast of ``horizon`` steps.

    Attributes:
        samples: ndarray (num_samples, horizon) for a univariate series, (num_samples, horizon, D) otherwise.
        index: the forecast timestamps (length horizon).
        layout: the input's :class:`~tsdiff.data.PandasLayout` (outputs come back in the input's shape).
        quantiles: the levels asked for at ``predict``: ``to_frame``'s default columns and ``plot``'s bands.
    """

    def __init__(self, samples: np.ndarray, index: pd.Index, layout: PandasLayout,
                 history: pd.DataFrame | None = None, quantiles=(0.1, 0.5, 0.9)):
        self.samples = samples
        self.quantiles = check_levels(quantiles)
        self.index = index
        self.layout = layout
        self._history = history  # wide frame of the fitted data, for plots

    def __repr__(self) -> str:
        return (f"Forecast(num_samples={self.num_samples}, horizon={len(self.index)}, "
                f"start={self.index[0]}, variables={self.num_variables})")

    @property
    def num_samples(self) -> int:
        return self.samples.shape[0]

    @property
    def num_variables(self) -> int:
        return 1 if self.samples.ndim == 2 else self.samples.shape[2]

    @property
    def variables(self) -> list:
        """Names of the forecast variables: the series name, the wide columns, or the long ids."""
        return list(self.layout.ids if self.layout.kind == "long" else self.layout.columns)

    def _wrap(self, values: np.ndarray):
        if self.layout.kind == "series":
            return pd.Series(values, index=self.index, name=self.layout.columns[0])
        frame = pd.DataFrame(values, index=self.index, columns=self.variables)
        frame.columns.name = self.layout.columns[0] if self.layout.kind == "long" else self.layout.columns_name
        return frame

    @property
    def mean(self):
        """Sample mean: a Series (univariate) or a DataFrame (a column per variable or item), indexed by time."""
        return self._wrap(self.samples.mean(axis=0))

    @property
    def median(self):
        """The 0.5 quantile (GluonTS convention)."""
        return self.quantile(0.5)

    def quantile(self, q: float):
        """The ``q`` quantile of the samples, GluonTS's ``SampleForecast.quantile`` convention."""
        (q,) = check_levels(q, "q")
        return self._wrap(sample_quantile(self.samples, q))

    # -- frames -----------------------------------------------------------------------------------------------------
    def _stats(self, quantiles, coverage, mean: bool = True) -> dict:
        """Column name -> values (H,) or (H, D): the mean, the quantiles, then ``lo-c``/``hi-c`` per coverage."""
        stats = {"mean": self.samples.mean(axis=0)} if mean else {}
        stats.update({level_name(q): sample_quantile(self.samples, q) for q in quantiles})
        for c in coverage:
            for name, q in zip(interval_names(c), interval_levels(c)):
                stats[name] = sample_quantile(self.samples, q)
        return stats

    def to_frame(self, quantiles=None, coverage=None, long: bool = False) -> pd.DataFrame:
        """Mean, quantiles (default: those given to ``predict``) and, per ``coverage`` (e.g. ``(0.8, 0.9)``), the
        central interval as Nixtla's ``lo-80``/``hi-80`` columns (the quantiles 0.1 and 0.9, same rule).

        In the input's shape, or in the long layout (``long=True``; panels always):

        - series: columns ``"mean", "0.1", "0.5", "0.9"`` indexed by time;
        - wide: MultiIndex columns (variable, stat);
        - long: one row per (item, timestamp) with columns id, time, ``mean``, the quantiles and the intervals (a
          series or wide forecast names them ``variable`` and its index name, else ``timestamp``).
        """
        levels = self.quantiles if quantiles is None else check_levels(quantiles)
        coverage = [] if coverage is None else check_coverage(coverage)
        return self._frame(self._stats(levels, coverage), long)

    def interval(self, coverage=(0.8, 0.9), long: bool = False) -> pd.DataFrame:
        """Central prediction intervals only: ``lo-80``, ``hi-80``, ``lo-90``, ``hi-90``, ... (shaped as
        :meth:`to_frame`). ``coverage``: fractions, 0.9 for a 90 % interval."""
        return self._frame(self._stats([], check_coverage(coverage), mean=False), long)

    def _frame(self, stats: dict, long: bool) -> pd.DataFrame:
        if long or self.layout.kind == "long":
            return self._long_frame(stats)
        if self.layout.kind == "series":
            return pd.DataFrame(stats, index=self.index)
        parts = {(c, s): v[:, j] for j, c in enumerate(self.variables) for s, v in stats.items()}
        frame = pd.DataFrame(parts, index=self.index)
        frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["variable", "stat"])
        return frame

    def long_names(self) -> tuple:
        """(id column, time column) of the long layout."""
        if self.layout.kind == "long":
            return self.layout.columns[0], self.layout.columns[1]
        id_col = self.layout.columns_name if self.layout.kind == "wide" and self.layout.columns_name else "variable"
        return id_col, self.layout.index_name or "timestamp"

    def _index_of(self, j: int) -> pd.Index:
        """The forecast timestamps of variable ``j`` (one index for all, except in a panel)."""
        return self.index

    def _history_index(self, j: int) -> pd.Index:
        """The timestamps of the history variable ``j`` was forecast from (its last one is the cutoff)."""
        return self._history.index

    def _long_frame(self, stats: dict) -> pd.DataFrame:
        id_col, time_col = self.long_names()
        ids = [v if v is not None else "0" for v in self.variables]
        H = len(self._index_of(0))
        id_values = pd.Series(np.repeat(np.array(ids, dtype=object), H))
        if self.layout.kind == "long" and self.layout.id_dtype is not None:
            try:
                id_values = id_values.astype(self.layout.id_dtype)
            except (TypeError, ValueError):
                pass
        indexes = [self._index_of(j) for j in range(len(ids))]
        frame = pd.DataFrame({id_col: id_values, time_col: indexes[0].append(indexes[1:]) if len(indexes) > 1
                              else indexes[0]})
        for name, values in stats.items():
            frame[name] = np.asarray(values).reshape(H, -1).T.reshape(-1)  # (H, D) -> item-major rows
        return frame

    # -- plots ------------------------------------------------------------------------------------------------------
    def _plot_parts(self, j: int, history):
        """(forecast index, samples (S, H), history Series or None) of variable ``j``."""
        samples = self.samples if self.samples.ndim == 3 else self.samples[:, :, None]
        hist = None
        if history and self._history is not None:
            hist = self._history.iloc[-(100 if history is True else int(history)):, j]
        return self.index, samples[:, :, j], hist

    def _actual(self, actuals, variable) -> pd.Series | None:
        """The observed values of ``variable`` from ``actuals``: a Series (one variable), a wide DataFrame (a column
        per variable) or a long DataFrame (the fitted id/time/target columns)."""
        if isinstance(actuals, pd.Series):
            if self.num_variables != 1:
                raise ValueError("actuals is a Series but the forecast has several variables; pass a DataFrame")
            return actuals.set_axis(as_time_index(actuals.index, "the index of actuals"))
        if not isinstance(actuals, pd.DataFrame):
            raise TypeError(f"actuals must be a pandas Series or DataFrame, got {type(actuals).__name__}")
        if self.layout.kind == "long" and not isinstance(actuals.index, (pd.DatetimeIndex, pd.PeriodIndex)):
            id_col, time_col, target_col = self.layout.columns
            missing = [c for c in (id_col, time_col, target_col) if c not in actuals.columns]
            if missing:
                raise ValueError(f"actuals lacks the long-format column(s) {missing}")
            rows = actuals[actuals[id_col] == variable]
            return pd.Series(rows[target_col].to_numpy(dtype=np.float64),
                             index=as_time_index(pd.Index(rows[time_col]), f"column {time_col!r} of actuals"))
        if variable not in actuals.columns:
            return None
        return actuals[variable].set_axis(as_time_index(actuals.index, "the index of actuals"))

    def plot(self, history: int | bool | None = 100, ax=None, variables=None, actuals=None, coverage=None):
        """Fan chart after the last ``history`` fitted steps: the median and one band per pair of the quantiles
        given to ``predict`` (0.1 and 0.9: an 80 % band), or per ``coverage`` (e.g. ``(0.5, 0.9)``).

        ``variables``: which series to draw (default: up to 4). ``actuals``: the observed values of the horizon
        (shaped like the input), drawn over the fan. Returns the Axes (a list for several variables).
        """
        if coverage is None:
            bands = band_pairs(self.quantiles)
        else:
            bands = [interval_levels(c) for c in check_coverage(coverage)]
        names = self.variables
        chosen, axes = axes_for(names, variables, ax)
        for a, var in zip(axes, chosen):
            j = names.index(var)
            index, samples, hist = self._plot_parts(j, history)
            fan_chart(a, index, samples, history=hist, bands=bands)
            if actuals is not None:
                actual = self._actual(actuals, var)
                if actual is not None:
                    draw_actuals(a, actual)
            a.set_title(str(var))
        axes[0].legend(loc="upper left", fontsize=8)
        return axes[0] if len(axes) == 1 else axes
