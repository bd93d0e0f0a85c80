"""`Imputation`: what `CSDI.impute` returns — samples on the input's grid plus pandas views."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .plotting import axes_for, fan_chart, mark_cells, plot_x
from .quantiles import check_coverage, check_levels, interval_levels, level_name, sample_quantile


class Imputation:
    """Samples of the full input grid; observed values are identical in every sample.

    Attributes:
        samples: ndarray (num_samples, T) for a Series input, (num_samples, T, D) for a DataFrame.
        observed: bool ndarray (T,) or (T, D), True where the input had a value.
        original: the input object (a copy), whose index and columns the outputs reuse.
    """

    def __init__(self, samples: np.ndarray, observed: np.ndarray, original):
        self.samples = samples
        self.observed = observed
        self.original = original

    def __repr__(self) -> str:
        return (f"Imputation(num_samples={self.samples.shape[0]}, shape={self.original.shape}, "
                f"imputed_values={int((~self.observed).sum())})")

    def _wrap(self, values: np.ndarray):
        if isinstance(self.original, pd.Series):
            return pd.Series(values, index=self.original.index, name=self.original.name)
        return pd.DataFrame(values, index=self.original.index, columns=self.original.columns)

    @property
    def median(self):
        """The input with its gaps filled by the sample median; observed values untouched."""
        return self.quantile(0.5)

    @property
    def mean(self):
        values = np.where(self.observed, self.samples[0], self.samples.mean(axis=0))
        return self._wrap(values)

    def quantile(self, q: float):
        """The ``q`` quantile of each cell (observed cells keep their value)."""
        (q,) = check_levels(q, "q")
        return self._wrap(np.where(self.observed, self.samples[0], sample_quantile(self.samples, q)))

    def to_frame(self, quantiles=(0.1, 0.5, 0.9)) -> pd.DataFrame:
        """Long frame: one row per cell with columns time, variable, ``observed``, ``value`` (observed value or
        median), ``mean`` and the quantile columns."""
        levels = check_levels(quantiles)
        samples = self.samples if self.samples.ndim == 3 else self.samples[:, :, None]
        observed = self.observed if self.observed.ndim == 2 else self.observed[:, None]
        names = list(self.original.columns) if isinstance(self.original, pd.DataFrame) else [
            self.original.name if self.original.name is not None else "value"]
        T, D = observed.shape
        time_name = self.original.index.name or "timestamp"
        frame = pd.DataFrame({
            time_name: np.repeat(self.original.index.to_numpy(), D),
            "variable": np.tile(np.array(names, dtype=object), T),
            "observed": observed.reshape(-1),
        })
        stats = {"value": sample_quantile(samples, 0.5), "mean": samples.mean(axis=0)}
        stats.update({level_name(q): sample_quantile(samples, q) for q in levels})
        for key, values in stats.items():
            frame[key] = values.reshape(-1)
        return frame

    def plot(self, variables=None, ax=None, coverage=(0.5, 0.9)):
        """Observed points; over the imputed stretches a fan (median and one band per ``coverage``), and on every
        imputed cell a marker at its median with a bar over the widest band — a single missing value between two
        observed ones is as visible as a long gap."""
        bands = [interval_levels(c) for c in check_coverage(coverage)]
        samples = self.samples if self.samples.ndim == 3 else self.samples[:, :, None]
        observed = self.observed if self.observed.ndim == 2 else self.observed[:, None]
        names = list(self.original.columns) if isinstance(self.original, pd.DataFrame) else [self.original.name]
        chosen, axes = axes_for(names, variables, ax)
        index = self.original.index
        for a, var in zip(axes, chosen):
            j = names.index(var)
            fan_chart(a, index, np.where(observed[:, j], np.nan, samples[:, :, j]), bands=bands)
            mark_cells(a, index, samples[:, :, j], ~observed[:, j], band=min(bands))
            x = plot_x(index)
            a.plot(x[observed[:, j]], samples[0, observed[:, j], j], ".", color="black", ms=3, label="observed")
            a.set_title(str(var))
        axes[0].legend(loc="upper left", fontsize=8)
        return axes[0] if len(axes) == 1 else axes
