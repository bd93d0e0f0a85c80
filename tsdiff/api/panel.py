"""Panels: many univariate series of one frequency, each with its own start, length and end, trained as one global
model (univariate per series) and each forecast from its own last timestamp.

A long frame (id, timestamp, target: Nixtla's ``unique_id/ds/y``, AutoGluon's ``item_id/timestamp/target``) is a
panel by default; a Series or wide frame is one (multivariate) series, the joint model, unless ``fit(...,
panel=True)`` reads its columns as a panel (each column then runs from its first to its last non-missing value).
``fit(long_frame, panel=False)`` aligns the ids into one multivariate series instead.

A fitted panel model forecasts any panel of the same frequency, including series it never saw (``predict(y=...)``):
the network is shared by all series and holds nothing per id.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from tsdiff.data import PandasLayout, from_pandas
from tsdiff.data.pandas import input_kind

from .covariates import Covariates, fit_covariates, predict_covariates
from .grid import Grid
from .persistence import decode_layout, encode_layout
from .training import validation_cut, warn_if_spread_implausible


@dataclass
class Panel:
    """Univariate series on one frequency grid.

    Attributes:
        series: one :class:`Grid` per series, values float32 (1, T_i), NaN where unobserved, from its own start.
        layout: a long layout: ``columns`` (id, time, target column names), ``ids``, ``starts``, the frequency and
            index kind (outputs use it).
        source: how the input was laid out (``"long"``, ``"wide"`` or ``"series"``).
    """

    series: list
    layout: PandasLayout
    source: str

    @property
    def ids(self) -> tuple:
        return self.layout.ids

    @property
    def lengths(self) -> np.ndarray:
        return np.array([g.length for g in self.series])

    def history(self, j: int) -> pd.Series:
        """Series ``j`` as a pd.Series on its own time index (for plots)."""
        grid = self.series[j]
        return pd.Series(grid.values[0].astype(np.float64), index=grid.index(), name=self.ids[j])

    def values(self) -> list:
        """The series as float64 arrays (T_i,)."""
        return [g.values[0].astype(np.float64) for g in self.series]


def use_panel(y, panel, long_cols: dict) -> bool:
    """Whether ``fit`` reads ``y`` as a panel: ``panel`` if given, else for long frames only."""
    if panel is not None:
        if not isinstance(panel, (bool, np.bool_)):
            raise TypeError(f"panel must be True, False or None, got {panel!r}")
        return bool(panel)
    return isinstance(y, pd.DataFrame) and input_kind(y, **long_cols) == "long"


def read_panel(y, freq, long_cols: dict, what: str = "y") -> Panel:
    """``y`` (long frame, wide frame or Series) as a :class:`Panel`; validation as in :func:`tsdiff.from_pandas`."""
    if y is None:
        raise TypeError(f"{what} is required")
    entries, layout = from_pandas(y, freq=freq, **long_cols)
    if layout.kind == "long":
        series = [Grid(np.asarray(e["target"], np.float32)[None, :], start, layout)
                  for e, start in zip(entries, layout.starts)]
        return Panel(series, layout, "long")
    values = np.atleast_2d(np.asarray(entries[0]["target"], dtype=np.float32))  # (D, T)
    index = Grid(values, layout.starts[0], layout).index()
    long_layout = PandasLayout(
        kind="long", freq=layout.freq,
        columns=(layout.columns_name or long_cols["id_col"], layout.index_name or long_cols["time_col"],
                 long_cols["target_col"]),
        ids=tuple(layout.ids if layout.kind == "series" else layout.columns), starts=(),
        index_kind=layout.index_kind, dtypes=(np.dtype(np.float64),))
    series, starts = [], []
    for row in values:  # each column from its first to its last observed value
        observed = np.flatnonzero(np.isfinite(row))
        first, last = observed[0], observed[-1]
        starts.append(index[first])
        series.append(row[first:last + 1][None, :])
    long_layout = replace(long_layout, starts=tuple(starts))
    return Panel([Grid(v, s, long_layout) for v, s in zip(series, starts)], long_layout, layout.kind)


def validation_cuts(model, panel: Panel) -> list:
    """The first step of each series' validation tail (``validation_cut``), None for a series too short to hold
    one (it is trained on whole) or when the model holds out nothing; ValueError if no series can hold one."""
    if model.validation_fraction is None:
        return [None] * len(panel.series)
    cuts = []
    for grid in panel.series:
        try:
            cuts.append(validation_cut(model, grid.length))
        except ValueError:
            cuts.append(None)
    if all(cut is None for cut in cuts):
        validation_cut(model, int(panel.lengths.max()))  # raises, naming the numbers of the longest series
    return cuts


def check_trainable(panel: Panel, needed: int) -> None:
    if panel.lengths.max() < needed:
        raise ValueError(f"every series is shorter than context_length + prediction_length = {needed} steps (the "
                         f"longest has {panel.lengths.max()}); lower context_length or prediction_length")


def fit_panel(model, y, given: dict, long_cols: dict, checkpoint_dir=None, resume: bool = False):
    """``model.fit`` for a panel: one global univariate network over every series. ``given``: the covariate
    arguments of ``fit`` (a panel takes ``static_covariates``, one row per series id)."""
    panel = read_panel(y, model.freq, long_cols)
    cov = fit_covariates(model, list(panel.ids), list(panel.series), long_cols, **given)
    check_trainable(panel, model.effective_context_length + model.prediction_length)
    model.long_cols_ = long_cols
    model._train_panel(panel, cov=cov, checkpoint_dir=checkpoint_dir, resume=resume)
    model.panel_, model.grid_, model.history_ = panel, None, None
    model.covariates_, model.past_covariates_ = cov.future, cov.past  # lists: one (K, T_i) array per series
    return model


def predict_panel(model, y, num_samples: int, levels, given: dict, seed: int, sampling):
    """``model.predict`` for a panel model: every series of ``y`` (default: the fitted panel) from its own end."""
    from .panel_forecast import PanelForecast

    panel = model.panel_ if y is None else read_panel(y, model.freq, model.long_cols_)
    fitted = Covariates(past=model.past_covariates_) if y is None else None
    cov = predict_covariates(model, list(panel.ids), list(panel.series), model.prediction_length, model.long_cols_,
                             fitted=fitted, **given)
    if y is not None:
        model._check_time_axis(panel.series[0], model.panel_.series[0])
    samples = model._sample_panel(panel, cov=cov, num_samples=num_samples, seed=seed, sampling=sampling)  # (S, H, N)
    if not np.isfinite(samples).all():
        raise RuntimeError(f"{model.name} produced non-finite forecasts; the training likely diverged — "
                           "try a lower lr or more epochs")
    warn_if_spread_implausible(model.name, samples, padded_history(panel), list(panel.ids))
    return PanelForecast(samples, panel, quantiles=levels)


def padded_history(panel: Panel) -> np.ndarray:
    """(N, longest length) float32: each series' values, NaN after its end."""
    out = np.full((len(panel.series), int(panel.lengths.max())), np.nan, dtype=np.float32)
    for row, grid in zip(out, panel.series):
        row[:grid.length] = grid.values[0]
    return out


# -- persistence ------------------------------------------------------------------------------------------------------
def panel_state(panel: Panel) -> tuple[dict, dict]:
    """(JSON-able manifest entry, arrays for history.npz) of a panel."""
    arrays = {"panel_values": np.concatenate([g.values[0] for g in panel.series]).astype(np.float32),
              "panel_lengths": panel.lengths.astype(np.int64)}
    return {"source": panel.source, "layout": encode_layout(panel.layout)}, arrays


def panel_from_state(state: dict, arrays) -> Panel:
    """Inverse of :func:`panel_state`."""
    layout = decode_layout(state["layout"])
    bounds = np.cumsum(np.r_[0, arrays["panel_lengths"]])
    values = arrays["panel_values"]
    series = [Grid(values[a:b][None, :].copy(), start, layout)
              for a, b, start in zip(bounds[:-1], bounds[1:], layout.starts)]
    return Panel(series, layout, state["source"])


# -- windows for window-based models (CSDI) ---------------------------------------------------------------------------
def standardise(values: list) -> tuple[list, np.ndarray, np.ndarray]:
    """Each series minus its mean over its standard deviation (observed values; 1 for a constant series), so one
    network serves series of any scale. Returns (standardised series, loc (N,), scale (N,))."""
    loc = np.array([np.nanmean(v) for v in values])
    scale = np.array([np.nanstd(v) for v in values])
    scale = np.where(scale > 1e-8 * np.maximum(np.abs(loc), 1.0), scale, 1.0)
    return [(v - m) / s for v, m, s in zip(values, loc, scale)], loc, scale


def spread_windows(values: list, length: int, count: int) -> np.ndarray:
    """Up to ``count`` windows (n, length) spread evenly over every start position of every series (so a series
    contributes in proportion to its length); a series shorter than ``length`` gives one window, NaN-padded in
    front."""
    per_series = np.array([max(1, len(v) - length + 1) for v in values])
    first = np.cumsum(np.r_[0, per_series[:-1]])
    total = int(per_series.sum())
    picks = np.unique(np.linspace(0, total - 1, min(count, total)).round().astype(np.int64))
    series = np.searchsorted(first, picks, side="right") - 1
    out = np.empty((len(picks), length), dtype=np.float32)
    for k, (i, pick) in enumerate(zip(series, picks)):
        v = values[i]
        if len(v) < length:
            out[k] = np.r_[np.full(length - len(v), np.nan), v]
        else:
            start = pick - first[i]
            out[k] = v[start:start + length]
    return out


def forecast_windows(values: list, context: int, horizon: int) -> np.ndarray:
    """(N, context + horizon): each series' last ``context`` values (NaN-padded in front), then ``horizon`` NaNs."""
    out = np.full((len(values), context + horizon), np.nan, dtype=np.float32)
    for k, v in enumerate(values):
        tail = v[-context:]
        out[k, context - len(tail):context] = tail
    return out
