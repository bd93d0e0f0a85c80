"""The fitted data as one aligned multivariate grid, and covariates checked against it."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tsdiff.data import PandasLayout, time_index
from tsdiff.quiet import user_stacklevel


@dataclass
class Grid:
    """All series of the user's data on one regular time grid.

    values: float32 (D, T), NaN where unobserved; start: the first timestamp/period of the grid.
    """

    values: np.ndarray
    start: object
    layout: PandasLayout

    @property
    def length(self) -> int:
        return self.values.shape[1]

    def index(self, extra: int = 0) -> pd.Index:
        """The grid's timestamps, extended by ``extra`` future steps."""
        return time_index(self.layout, self.start, self.length + extra)

    def frame(self) -> pd.DataFrame:
        """The grid as a wide DataFrame (T, D) with the variables as columns (for plots)."""
        names = list(self.layout.ids if self.layout.kind == "long" else self.layout.columns)
        return pd.DataFrame(self.values.T, index=self.index(), columns=names)


def grid_from_entries(entries: list[dict], layout: PandasLayout) -> Grid:
    """Align the entries of :func:`tsdiff.data.from_pandas` (one (D, T) entry, or several (T_i,) ones) on one grid."""
    if len(entries) == 1:
        values = np.atleast_2d(np.asarray(entries[0]["target"], dtype=np.float32))
        return Grid(values, layout.starts[0], layout)
    first = min(e["start"] for e in entries)
    ends = [(e["start"] - first).n + len(e["target"]) for e in entries]
    values = np.full((len(entries), max(ends)), np.nan, dtype=np.float32)
    for row, (entry, end) in enumerate(zip(entries, ends)):
        values[row, end - len(entry["target"]):end] = entry["target"]
    start = min(layout.starts)
    if min(ends) < max(ends):  # the joint model forecasts every series from the grid's end
        last = time_index(layout, start, max(ends))[-1]
        early = [f"{item!r} ends {max(ends) - end} step(s) earlier" for item, end in zip(layout.ids, ends)
                 if end < max(ends)]
        warnings.warn(f"the series end at different times ({', '.join(early[:3])}{', ...' if len(early) > 3 else ''}"
                      f" than the last timestamp {last}); read as one multivariate series they are all forecast "
                      "from that timestamp, their later values missing. fit(..., panel=True) forecasts each series "
                      "from its own end", UserWarning, stacklevel=user_stacklevel())
    return Grid(values, start, layout)


def covariates_on(covariates, index: pd.Index, what: str) -> np.ndarray:
    """Covariates (a Series or DataFrame indexed by time) as float32 (K, len(index)), exactly on ``index``.

    Raises ValueError naming the problem: wrong type, non-numeric or missing values, or timestamps of ``index``
    that the covariates do not cover.
    """
    if isinstance(covariates, pd.Series):
        covariates = covariates.to_frame()
    if not isinstance(covariates, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame or Series indexed by time, "
                        f"got {type(covariates).__name__}")
    if covariates.empty:
        raise ValueError(f"{what} is empty")
    if covariates.columns.has_duplicates:
        raise ValueError(f"{what} have duplicate column names "
                         f"{list(dict.fromkeys(covariates.columns[covariates.columns.duplicated()]))}")
    bad = [c for c in covariates.columns if not pd.api.types.is_numeric_dtype(covariates[c])
           or pd.api.types.is_bool_dtype(covariates[c])]
    if bad:
        raise ValueError(f"{what} columns {bad} are not numeric")
    cov_index = covariates.index
    if isinstance(index, pd.PeriodIndex) and isinstance(cov_index, pd.DatetimeIndex):
        cov_index = cov_index.to_period(index.freq)
    elif isinstance(index, pd.DatetimeIndex) and not isinstance(cov_index, pd.DatetimeIndex):
        try:
            cov_index = pd.DatetimeIndex(cov_index)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{what} must be indexed by timestamps, got a {type(covariates.index).__name__}") from exc
    if isinstance(index, pd.DatetimeIndex) and str(cov_index.tz) != str(index.tz):
        raise ValueError(f"{what} have timestamps in time zone {cov_index.tz}, the data in {index.tz}; "
                         "convert them (tz_convert / tz_localize) to the data's time zone")
    if cov_index.has_duplicates:
        raise ValueError(f"{what} has duplicate timestamps")
    missing = index.difference(cov_index)
    if len(missing):
        raise ValueError(f"{what} do not cover {len(missing)} required timestamps "
                         f"(first missing: {missing[0]}; needed from {index[0]} to {index[-1]})")
    values = covariates.set_axis(cov_index).reindex(index).to_numpy(dtype=np.float64).T
    if not np.isfinite(values).all():
        cols = [c for c, row in zip(covariates.columns, values) if not np.isfinite(row).all()]
        raise ValueError(f"{what} columns {cols} contain NaN or infinite values in the needed range")
    return values.astype(np.float32)
