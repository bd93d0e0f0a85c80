"""`Forecast`: what `predict` returns — samples plus pandas views (mean, median, quantiles, frames, plots)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .plotting import axes_for, fan_chart
from .quantiles import check_levels, level_name, sample_quantile


@dataclass(frozen=True)
class Layout:
    """How the user's data was shaped, so outputs come back in the same shape.

    kind: ``"series"`` (a pd.Series), ``"wide"`` (a column per variable) or ``"long"`` (id/time/target columns).
    columns: variable names (wide) or item ids (long); ``None`` for a series.
    """

    kind: str
    columns: tuple | None = None
    name: object = None
    id_col: str = "item_id"
    time_col: str = "timestamp"
    target_col: str = "target"
    index_name: object = None
    extra: dict = field(default_factory=dict)


class Forecast:
    """Probabilistic forecast of ``horizon`` steps.

    Attributes:
        samples: ndarray (num_samples, horizon) for a univariate series, (num_samples, horizon, D) otherwise.
        index: the forecast timestamps (length horizon).
        layout: the input's :class:`Layout`.
    """

    def __init__(self, samples: np.ndarray, index: pd.Index, layout: Layout, history: pd.DataFrame | None = None):
        self.samples = samples
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

    def _wrap(self, values: np.ndarray, name=None):
        if self.layout.kind == "series":
            return pd.Series(values, index=self.index, name=name if name is not None else self.layout.name)
        frame = pd.DataFrame(values, index=self.index, columns=list(self.layout.columns))
        frame.columns.name = self.layout.id_col if self.layout.kind == "long" else None
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

    def to_frame(self, quantiles=(0.1, 0.5, 0.9)) -> pd.DataFrame:
        """Mean and quantiles in the input's shape.

        - series: columns ``"mean", "0.1", "0.5", "0.9"`` indexed by time;
        - wide: MultiIndex columns (variable, stat);
        - long: one row per (item, timestamp) with columns id, time, ``mean`` and the quantiles.
        """
        levels = check_levels(quantiles)
        stats = {"mean": self.samples.mean(axis=0)}
        stats.update({level_name(q): sample_quantile(self.samples, q) for q in levels})
        if self.layout.kind == "series":
            return pd.DataFrame(stats, index=self.index)
        cols = list(self.layout.columns)
        if self.layout.kind == "wide":
            parts = {(c, s): v[:, j] for j, c in enumerate(cols) for s, v in stats.items()}
            frame = pd.DataFrame(parts, index=self.index)
            frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["variable", "stat"])
            return frame
        rows = []
        for j, item in enumerate(cols):
            part = pd.DataFrame({self.layout.id_col: item, self.layout.time_col: self.index})
            for s, v in stats.items():
                part[s] = v[:, j]
            rows.append(part)
        return pd.concat(rows, ignore_index=True)

    def plot(self, history: int | bool | None = 100, ax=None, variables=None):
        """Fan chart (median, 50 % and 90 % bands) after the last ``history`` fitted steps.

        ``variables``: which columns to draw (default: up to 4). Returns the Axes (a list for several variables).
        """
        samples = self.samples if self.samples.ndim == 3 else self.samples[:, :, None]
        names = list(self.layout.columns) if self.layout.columns is not None else [self.layout.name]
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
