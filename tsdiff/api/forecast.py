"""`Forecast`: what `predict` returns — samples plus pandas views (mean, median, quantiles, frames, plots)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from tsdiff.data import PandasLayout

from .plotting import axes_for, fan_chart
from .quantiles import check_levels, level_name, sample_quantile


class Forecast:
    """Probabilistic forecast of ``horizon`` steps.

    Attributes:
        samples: ndarray (num_samples, horizon) for a univariate series, (num_samples, horizon, D) otherwise.
        index: the forecast timestamps (length horizon).
        layout: the input's :class:`~tsdiff.data.PandasLayout` (outputs come back in the input's shape).
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

    def to_frame(self, quantiles=None) -> pd.DataFrame:
        """Mean and quantiles (default: those given to ``predict``) in the input's shape.

        - series: columns ``"mean", "0.1", "0.5", "0.9"`` indexed by time;
        - wide: MultiIndex columns (variable, stat);
        - long: one row per (item, timestamp) with columns id, time, ``mean`` and the quantiles.
        """
        levels = self.quantiles if quantiles is None else check_levels(quantiles)
        stats = {"mean": self.samples.mean(axis=0)}
        stats.update({level_name(q): sample_quantile(self.samples, q) for q in levels})
        if self.layout.kind == "series":
            return pd.DataFrame(stats, index=self.index)
        cols = self.variables
        if self.layout.kind == "wide":
            parts = {(c, s): v[:, j] for j, c in enumerate(cols) for s, v in stats.items()}
            frame = pd.DataFrame(parts, index=self.index)
            frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["variable", "stat"])
            return frame
        id_col, time_col = self.layout.columns[0], self.layout.columns[1]
        rows = []
        for j, item in enumerate(cols):
            part = pd.DataFrame({id_col: item, time_col: self.index})
            for s, v in stats.items():
                part[s] = v[:, j]
            rows.append(part)
        return pd.concat(rows, ignore_index=True)

    def plot(self, history: int | bool | None = 100, ax=None, variables=None):
        """Fan chart (median, 50 % and 90 % bands) after the last ``history`` fitted steps.

        ``variables``: which columns to draw (default: up to 4). Returns the Axes (a list for several variables).
        """
        samples = self.samples if self.samples.ndim == 3 else self.samples[:, :, None]
        names = self.variables
        chosen, axes = axes_for(names, variables, ax)
        for a, var in zip(axes, chosen):
            j = names.index(var)
            hist = None
            if history and self._history is not None:
                hist = self._history.iloc[-(100 if history is True else int(history)):, j]
            fan_chart(a, self.index, samples[:, :, j], history=hist)
            a.set_title(str(var))
        axes[0].legend(loc="upper left", fontsize=8)
        return axes[0] if len(axes) == 1 else axes
