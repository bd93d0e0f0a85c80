"""Scores of a backtest frame: one row per (series, cutoff, timestamp) with the actual and forecast quantiles.

``model.cross_validation(...)`` returns such a frame (columns: id, ``cutoff``, timestamp, ``actual``, ``mean``, the
quantile columns ``"0.05"`` ... and ``seasonal_error``). A *window* is one (series, cutoff) pair.

=================  ===================================================================================================
key                definition
=================  ===================================================================================================
``crps``           GluonTS ``mean_wQuantileLoss`` over the frame's quantile levels: per level, the sum over all scored
                   rows of ``2 |(q - y)(1[y <= q] - tau)|`` divided by the sum of ``|y|``; mean over levels. With the
                   19 levels 0.05 ... 0.95 it equals :func:`tsdiff.evaluation.crps` of the samples.
``mase``           mean over windows of GluonTS ``mase``: ``mean |y - q_0.5| / seasonal_error``
``scaled_crps``    mean over windows of the window's CRPS (``mean`` over rows and levels of ``2 |(q - y)(1[y <= q]
                   - tau)|``) divided by its ``seasonal_error``: CRPS on MASE's scale (scale-free across series)
``msis``           mean over windows of GluonTS ``msis`` with ``alpha = msis_alpha`` (quantiles ``alpha / 2`` and
                   ``1 - alpha / 2``)
``coverage_{c}``   fraction of scored rows inside the central interval of nominal coverage ``c``
``windows``,       the number of windows and of scored rows
``points``
=================  ===================================================================================================

``seasonal_error`` is GluonTS's in-sample scale ``mean |y_t - y_{t-m}|`` of each window's history (before the
cutoff), see :func:`seasonal_error`. Rows with a missing actual are not scored; windows whose seasonal error is
zero or missing are left out of ``mase``, ``scaled_crps`` and ``msis`` (GluonTS would give them an infinite score).
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from .calibration import quantile_level_columns
from .quantiles import DEFAULT_QUANTILES, as_numpy

__all__ = ["evaluate_backtest", "seasonal_error"]


def seasonal_error(past: Any, season_length: int = 1) -> float:
    """``mean |y_t - y_{t-m}|`` over the history ``past`` (T,), GluonTS's ``calculate_seasonal_error``.

    As in GluonTS, ``m`` falls back to 1 when the history is not longer than ``m``. NaN-aware: pairs with a missing
    value are skipped (GluonTS masks them); NaN when no pair is left.
    """
    if isinstance(season_length, bool) or not isinstance(season_length, (int, np.integer)) or season_length < 1:
        raise ValueError(f"season_length must be a positive integer, got {season_length!r}")
    y = as_numpy(past, dtype=np.float64).reshape(-1)
    m = int(season_length) if season_length < len(y) else 1
    diff = np.abs(y[m:] - y[:-m]) if len(y) > m else np.zeros(0)
    diff = diff[np.isfinite(diff)]
    return float(diff.mean()) if diff.size else float("nan")


def _levels(frame, quantiles: Optional[Sequence[float]]) -> dict:
    columns = quantile_level_columns(frame)
    if quantiles is None:
        standard = [round(q, 10) for q in DEFAULT_QUANTILES]
        chosen = standard if all(q in columns for q in standard) else list(columns)
    else:
        chosen = [round(float(q), 10) for q in quantiles]
    missing = [q for q in chosen if q not in columns]
    if missing or not chosen:
        raise ValueError(f"the frame lacks quantile columns for levels {missing or 'any'}; it has "
                         f"{[columns[q] for q in columns]}")
    return {q: columns[q] for q in chosen}


def _quantile_loss(qhat: np.ndarray, y: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """``2 |(q - y)(1[y <= q] - tau)|`` per (level, row): ``qhat`` (Q, n), ``y`` (n,) → (Q, n)."""
    return 2.0 * np.abs((qhat - y) * ((y <= qhat) - levels[:, None]))


def _scores(frame, levels: dict, coverage: Sequence[float], msis_alpha: float, windows_by: list) -> dict:
    y = frame["actual"].to_numpy(dtype=np.float64)
    scored = np.isfinite(y)
    taus = np.array(list(levels))
    qhat = np.stack([frame[c].to_numpy(dtype=np.float64) for c in levels.values()])  # (Q, n)
    if np.isnan(qhat[:, scored]).any():
        raise ValueError("quantile columns contain NaN where the actual is known")
    loss = _quantile_loss(qhat[:, scored], y[scored], taus)  # (Q, n_scored)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {"crps": float(np.mean(loss.sum(axis=1) / np.abs(y[scored]).sum())) if scored.any() else np.nan}
    columns = quantile_level_columns(frame)
    if "seasonal_error" in frame.columns:
        out.update(_scaled_scores(frame, y, scored, columns, taus, loss, msis_alpha, windows_by))
    for c in coverage:
        lo, hi = round((1 - c) / 2, 10), round((1 + c) / 2, 10)
        if lo in columns and hi in columns:
            low, high = (frame[columns[q]].to_numpy(dtype=np.float64)[scored] for q in (lo, hi))
            out[f"coverage_{c:g}"] = float(np.mean((low <= y[scored]) & (y[scored] <= high))) if scored.any() \
                else np.nan
    out["windows"] = int(frame.loc[scored].groupby(windows_by, sort=False).ngroups) if windows_by else int(
        scored.any())
    out["points"] = int(scored.sum())
    return out


def _scaled_scores(frame, y, scored, columns, taus, loss, msis_alpha, windows_by) -> dict:
    """mase, scaled_crps and msis: per window, then the mean over windows with a positive seasonal error."""
    window = (frame.groupby(windows_by, sort=False).ngroup().to_numpy() if windows_by
              else np.zeros(len(frame), np.intp))[scored]
    scale = frame["seasonal_error"].to_numpy(dtype=np.float64)[scored]
    n_windows = int(window.max()) + 1 if window.size else 0
    count = np.bincount(window, minlength=n_windows)
    per_window_scale = np.bincount(window, weights=scale, minlength=n_windows) / np.maximum(count, 1)
    usable = (count > 0) & np.isfinite(per_window_scale) & (per_window_scale > 0)

    def window_mean(values: np.ndarray) -> float:  # values (n_scored,): mean per window / scale, then over windows
        per = np.bincount(window, weights=values, minlength=n_windows) / np.maximum(count, 1)
        return float(np.mean(per[usable] / per_window_scale[usable])) if usable.any() else np.nan

    out = {"scaled_crps": window_mean(loss.mean(axis=0))}
    if 0.5 in columns:
        out["mase"] = window_mean(np.abs(y[scored] - frame[columns[0.5]].to_numpy(dtype=np.float64)[scored]))
    lo, hi = round(msis_alpha / 2, 10), round(1 - msis_alpha / 2, 10)
    if lo in columns and hi in columns:
        low, high = (frame[columns[q]].to_numpy(dtype=np.float64)[scored] for q in (lo, hi))
        t = y[scored]
        penalty = (high - low + 2.0 / msis_alpha * (low - t) * (t < low)
                   + 2.0 / msis_alpha * (t - high) * (t > high))
        out["msis"] = window_mean(penalty)
    return out


def evaluate_backtest(frame, quantiles: Optional[Sequence[float]] = None,
                      coverage: Sequence[float] = (0.5, 0.8, 0.9), msis_alpha: float = 0.05,
                      id_col: Any = None, by: Any = None):
    """Score a backtest frame (see the module docstring for each key).

    Args:
        frame: one row per forecast step with ``actual`` and quantile columns named by level (``"0.1"``); optional
            ``cutoff`` and ``seasonal_error`` (needed for ``mase``, ``scaled_crps``, ``msis``).
        quantiles: levels that ``crps`` averages over (default: 0.05 ... 0.95 when the frame has them all, else every
            quantile column).
        coverage: nominal coverages of the central intervals to report (skipped when their columns are missing).
        msis_alpha: MSIS's ``alpha`` (0.05: the M4 competition's 95 % interval, quantiles 0.025 and 0.975).
        id_col: the series-id column (default: the first column); windows are (id, ``cutoff``) pairs.
        by: ``None`` for one set of scores, or a column (e.g. the id column, or ``"cutoff"``) to score each group.
    Returns:
        a ``pd.Series`` of scores, or (``by``) a ``DataFrame`` with one row per group.
    """
    import pandas as pd

    if "actual" not in frame.columns:
        raise ValueError(f"the frame has no 'actual' column (columns: {list(frame.columns)})")
    if not 0 < msis_alpha < 1:
        raise ValueError(f"msis_alpha must lie in (0, 1), got {msis_alpha!r}")
    levels = _levels(frame, quantiles)
    id_col = frame.columns[0] if id_col is None else id_col
    if id_col not in frame.columns:
        raise ValueError(f"id_col {id_col!r} is not a column of the frame")
    windows_by = [id_col] + (["cutoff"] if "cutoff" in frame.columns else [])
    if by is None:
        return pd.Series(_scores(frame, levels, coverage, msis_alpha, windows_by), name="score")
    if by not in frame.columns:
        raise ValueError(f"by={by!r} is not a column of the frame")
    rows = {key: _scores(part, levels, coverage, msis_alpha, windows_by)
            for key, part in frame.groupby(by, sort=False)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(by)
