"""``evaluate``: all metrics for a list of forecasts, pooled like GluonTS.

Each forecast is one item (one series and window): a GluonTS
``SampleForecast`` (``.samples`` of shape ``(S, T)`` or ``(S, T, D)``), or
an array/tensor of that shape.  Its target has shape ``(T,)`` / ``(T, D)``
(array, tensor, or pandas object; see :func:`align_target`).

Pooling reproduces GluonTS's ``Evaluator`` (univariate) and the plain,
all-dimension metrics of ``MultivariateEvaluator`` (multivariate), where a
*series* is one item (univariate) or one ``(item, dimension)`` pair:

=====================  =====================================================
key                    definition
=====================  =====================================================
``crps``               ``mean_wQuantileLoss``: per level, sum of quantile
                       losses over all scored points / sum |y|; mean over
                       levels
``crps_sum``           (multivariate only) ``m_sum_mean_wQuantileLoss``:
                       ``crps`` of target and samples summed over D
``energy_crps``        exact sample CRPS, mean over all scored points
``nd``                 ``ND`` = sum |median - y| / sum |y|
``mae``                sum |median - y| / number of scored points
``mse``                ``MSE``: mean over series of per-series MSE of the
                       mean forecast
``rmse``               ``RMSE`` = sqrt(mse)
``nrmse``              ``NRMSE`` = rmse / mean over series of mean |y|
``coverage_{q}``       ``Coverage[q]``: mean over series of the fraction of
                       ``y <= qhat_q`` (``q`` formatted with ``:g``)
``coverage_central_{c}``  fraction of ``y`` in ``[qhat_{a/2}, qhat_{1-a/2}]``,
                       ``c = 1 - a`` (mean over series as above)
=====================  =====================================================

NaN/inf targets and points with ``mask == 0`` are ignored; a series with no
scored point is skipped by the mean-over-series metrics (GluonTS's default
``aggregate_no_nan``).
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .metrics import (
    _as_mask,
    _check_shapes,
    _energy_terms,
    _nan_check,
    _ratio,
    aggregate_sum,
    quantile_losses,
)
from .quantiles import DEFAULT_QUANTILES, as_numpy, check_levels, quantile_indices

__all__ = ["evaluate", "evaluate_gluonts", "align_target", "forecast_samples"]

_BATCH_VALUES = 1 << 24  # sample values stacked per batch


def forecast_samples(forecast: Any) -> np.ndarray:
    """``(S, T)`` / ``(S, T, D)`` samples of a ``SampleForecast``, array or tensor."""
    if hasattr(forecast, "samples"):
        return as_numpy(forecast.samples)
    if type(forecast).__name__ == "QuantileForecast":
        raise TypeError("QuantileForecast is not supported: samples are needed")
    return as_numpy(forecast)


def _forecast_index(forecast: Any):
    import pandas as pd

    idx = getattr(forecast, "index", None)
    return idx if isinstance(idx, pd.Index) else None


def align_target(forecast: Any, ts: Any, prediction_length: Optional[int] = None) -> np.ndarray:
    """Target values of ``ts`` on the forecast's prediction range.

    * pandas ``ts`` with a Period/Datetime index and a forecast with an
      ``index`` (GluonTS ``Forecast.index``): the rows at that index (like
      GluonTS's ``Evaluator.extract_pred_target``); ``ValueError`` if any
      forecast timestamp is missing from ``ts``.
    * other pandas ``ts``: its last ``prediction_length`` rows.
    * arrays/tensors: returned as is (must already be aligned).

    A single-column DataFrame is returned as ``(T,)``; otherwise ``(T, D)``.
    """
    import pandas as pd

    if not isinstance(ts, (pd.Series, pd.DataFrame)):
        return as_numpy(ts, dtype=np.float64)
    if prediction_length is None:
        prediction_length = forecast_samples(forecast).shape[1]
    fidx = _forecast_index(forecast)
    if fidx is not None and isinstance(ts.index, (pd.PeriodIndex, pd.DatetimeIndex)):
        tidx = ts.index
        if isinstance(tidx, pd.DatetimeIndex) and isinstance(fidx, pd.PeriodIndex):
            tidx = tidx.to_period(fidx.freq)
        elif isinstance(tidx, pd.PeriodIndex) and isinstance(fidx, pd.DatetimeIndex):
            tidx = tidx.to_timestamp()
        pos = tidx.get_indexer(fidx)
        if (pos < 0).any():
            raise ValueError(
                f"forecast range {fidx[0]}..{fidx[-1]} is not contained in the "
                f"target index {ts.index[0]}..{ts.index[-1]}"
            )
        vals = ts.iloc[pos].to_numpy(dtype=np.float64)
    else:
        if len(ts) < prediction_length:
            raise ValueError(
                f"target has {len(ts)} rows, fewer than prediction_length={prediction_length}"
            )
        vals = ts.iloc[len(ts) - prediction_length:].to_numpy(dtype=np.float64)
    if vals.ndim == 2 and vals.shape[1] == 1:
        vals = vals[:, 0]
    return vals


class _Acc:
    """Running sums (pooled) and per-series sums (mean-over-series metrics)."""

    def __init__(self, levels, cov_levels, alphas):
        self.levels, self.cov_levels, self.alphas = levels, cov_levels, alphas
        q, qc, a = len(levels), len(cov_levels), len(alphas)
        self.ql = np.zeros(q)
        self.abs_err = self.abs_y = self.energy = 0.0
        self.n = 0
        self.per = {k: [] for k in ("cnt", "se", "ay", "cov", "int")}
        self.sum_ql = np.zeros(q)
        self.sum_abs_y = 0.0
        self.sum_n = 0
        self._q, self._qc, self._a = q, qc, a

    def add(self, x: np.ndarray, y: np.ndarray, valid: np.ndarray) -> None:
        """x ``(S, N, T[, D])``, y/valid ``(N, T[, D])``; time axis is 1."""
        if y.ndim == 3:  # series = (item, dim): move D next to N
            x = np.moveaxis(x, 3, 2)
            y = np.moveaxis(y, 2, 1)
            valid = np.moveaxis(valid, 2, 1)
        n_series = int(np.prod(y.shape[:-1]))
        idx = np.nonzero(valid)
        sid = np.ravel_multi_index(idx[:-1], y.shape[:-1])
        mean_fc = np.mean(x, axis=0)[valid].astype(np.float64)
        xs = x[:, valid]
        ys = y[valid]
        cnt = np.bincount(sid, minlength=n_series).astype(np.float64)
        self.per["cnt"].append(cnt)
        if ys.size == 0:
            zeros = np.zeros(n_series)
            self.per["se"].append(zeros)
            self.per["ay"].append(zeros)
            self.per["cov"].append(np.zeros((self._qc, n_series)))
            self.per["int"].append(np.zeros((self._a, n_series)))
            return
        _nan_check(mean_fc)
        xs = np.sort(xs, axis=0)
        _nan_check(xs[-1])
        s = xs.shape[0]
        q, qc, a = self._q, self._qc, self._a
        all_levels = np.concatenate(
            [self.levels, [0.5], self.cov_levels, self.alphas / 2, 1 - self.alphas / 2]
        )
        qh = xs[quantile_indices(s, all_levels)]
        self.ql += quantile_losses(qh[:q], ys, self.levels)
        absy = np.abs(ys)
        self.abs_err += float(np.abs(qh[q].astype(np.float64) - ys).sum())
        self.abs_y += float(absy.sum())
        self.energy += float(_energy_terms(xs, ys).sum())
        self.n += ys.size

        def per_series(v):
            return np.bincount(sid, weights=v, minlength=n_series)

        self.per["se"].append(per_series(np.square(ys - mean_fc)))
        self.per["ay"].append(per_series(absy))
        cov = (ys <= qh[q + 1:q + 1 + qc]).astype(np.float64)
        self.per["cov"].append(self._rows(per_series, cov, n_series))
        lo, hi = qh[q + 1 + qc:q + 1 + qc + a], qh[q + 1 + qc + a:]
        inside = ((lo <= ys) & (ys <= hi)).astype(np.float64)
        self.per["int"].append(self._rows(per_series, inside, n_series))

    @staticmethod
    def _rows(per_series, v: np.ndarray, n_series: int) -> np.ndarray:
        out = np.zeros((v.shape[0], n_series))
        for k, row in enumerate(v):
            out[k] = per_series(row)
        return out

    def add_sum(self, x: np.ndarray, y: np.ndarray, mask: Optional[np.ndarray]) -> None:
        """crps_sum part: x ``(S, N, T, D)``, y ``(N, T, D)``."""
        xa, ya, ma = aggregate_sum(x, y, mask)
        valid = np.isfinite(ya) if ma is None else np.isfinite(ya) & ma
        xs, ys = xa[:, valid], ya[valid]
        if ys.size == 0:
            return
        idx = quantile_indices(xs.shape[0], self.levels)
        uniq = np.unique(idx)
        qh = np.sort(xs, axis=0)[idx] if uniq.size > 2 else np.partition(xs, uniq, axis=0)[idx]
        _nan_check(qh)
        self.sum_ql += quantile_losses(qh, ys, self.levels)
        self.sum_abs_y += float(np.abs(ys).sum())
        self.sum_n += ys.size

    def result(self, multivariate: bool) -> Dict[str, float]:
        per = {k: np.concatenate(v, axis=-1) for k, v in self.per.items()}
        ok = per["cnt"] > 0
        with np.errstate(divide="ignore", invalid="ignore"):

            def smean(v):  # mean over series of per-series means (NaN if none)
                return float(np.mean(v[..., ok] / per["cnt"][ok])) if ok.any() else float("nan")

            def smean_rows(v):
                return [smean(r) for r in v]

            out: Dict[str, float] = {}
            out["crps"] = float(np.mean(self.ql / self.abs_y)) if self.n else float("nan")
            if multivariate:
                out["crps_sum"] = (
                    float(np.mean(self.sum_ql / self.sum_abs_y)) if self.sum_n else float("nan")
                )
            out["energy_crps"] = _ratio(self.energy, self.n)
            out["nd"] = _ratio(self.abs_err, self.abs_y) if self.n else float("nan")
            mse = smean(per["se"])
            out["nrmse"] = _ratio(np.sqrt(mse), smean(per["ay"]))
            out["mae"] = _ratio(self.abs_err, self.n)
            out["rmse"] = float(np.sqrt(mse))
            out["mse"] = mse
        for lv, c in zip(self.cov_levels, smean_rows(per["cov"])):
            out[f"coverage_{lv:g}"] = c
        for al, c in zip(self.alphas, smean_rows(per["int"])):
            out[f"coverage_central_{round(1 - al, 12):g}"] = c
        return out


def _batches(shapes: List[Tuple[tuple, Any]]) -> Iterable[List[int]]:
    """Consecutive runs of items with equal (shape, dtype), capped in size."""
    cur: List[int] = []
    for i, key in enumerate(shapes):
        size = int(np.prod(key[0]))
        if cur and (shapes[cur[0]] != key or (len(cur) + 1) * size > _BATCH_VALUES):
            yield cur
            cur = []
        cur.append(i)
    if cur:
        yield cur


def evaluate(
    forecasts: Sequence[Any],
    targets: Sequence[Any],
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    *,
    masks: Optional[Sequence[Any]] = None,
    coverage_levels: Optional[Sequence[float]] = None,
    interval_alphas: Sequence[float] = (0.5, 0.1),
) -> Dict[str, float]:
    """All metrics for a list of forecasts, pooled over the list like GluonTS.

    Parameters
    ----------
    forecasts
        ``SampleForecast``\\ s or arrays/tensors of shape ``(S, T)``
        (univariate) or ``(S, T, D)`` (multivariate); all items must agree
        on uni/multivariate (and on D).  S and T may vary between items.
    targets
        One per forecast: ``(T,)`` / ``(T, D)`` arrays or tensors, or pandas
        Series/DataFrames (aligned with :func:`align_target`).
    quantiles
        Levels for ``crps``/``crps_sum`` (default 0.05, ..., 0.95).
    masks
        Optional, one per item, shape of the (aligned) target; truthy =
        scored (e.g. imputation evaluation points).  ``crps_sum`` treats
        masked entries as in :func:`~tsdiff.evaluation.metrics.aggregate_sum`.
    coverage_levels
        Levels for ``coverage_{q}`` keys (default: ``quantiles``).
    interval_alphas
        ``alpha`` of the ``coverage_central_{1-alpha}`` keys.

    Returns
    -------
    dict
        Keys documented in the module docstring; ``crps_sum`` only when the
        forecasts are multivariate.
    """
    forecasts, targets = list(forecasts), list(targets)
    if len(forecasts) != len(targets):
        raise ValueError(f"{len(forecasts)} forecasts but {len(targets)} targets")
    if masks is not None:
        masks = list(masks)
        if len(masks) != len(forecasts):
            raise ValueError(f"{len(forecasts)} forecasts but {len(masks)} masks")
    if not forecasts:
        raise ValueError("no forecasts to evaluate")
    levels = check_levels(quantiles)
    cov_levels = levels if coverage_levels is None else check_levels(coverage_levels)
    alphas = np.atleast_1d(np.asarray(interval_alphas, dtype=np.float64))
    if alphas.size:
        alphas = check_levels(alphas, name="interval_alphas")

    xs: List[np.ndarray] = []
    ys: List[np.ndarray] = []
    ms: List[Optional[np.ndarray]] = []
    for i, (f, t) in enumerate(zip(forecasts, targets)):
        x = forecast_samples(f)
        if x.ndim not in (2, 3):
            raise ValueError(f"item {i}: samples must be (S, T) or (S, T, D), got shape {x.shape}")
        y = align_target(f, t, x.shape[1])
        _check_shapes(x, y)
        m = None
        if masks is not None and masks[i] is not None:
            m = _as_mask(masks[i])
            if m.shape != y.shape:
                raise ValueError(
                    f"item {i}: mask shape {m.shape} does not match target shape {y.shape}"
                )
        xs.append(x)
        ys.append(y)
        ms.append(m)
    ndims = {x.ndim for x in xs}
    if len(ndims) > 1:
        raise ValueError("forecasts mix univariate (S, T) and multivariate (S, T, D) samples")
    multivariate = ndims.pop() == 3
    if multivariate and len({x.shape[2] for x in xs}) > 1:
        raise ValueError(f"forecasts have different D: {sorted({x.shape[2] for x in xs})}")

    acc = _Acc(levels, cov_levels, alphas)
    keys = [(x.shape, x.dtype) for x in xs]
    for batch in _batches(keys):
        x = np.stack([xs[i] for i in batch], axis=1)  # (S, N, T[, D])
        y = np.stack([ys[i] for i in batch])
        any_mask = any(ms[i] is not None for i in batch)
        m = (
            np.stack([ms[i] if ms[i] is not None else np.ones(ys[i].shape, bool) for i in batch])
            if any_mask
            else None
        )
        valid = np.isfinite(y) if m is None else np.isfinite(y) & m
        acc.add(x, y, valid)
        if multivariate:
            acc.add_sum(x, y, m)
    return acc.result(multivariate)


def evaluate_gluonts(
    forecasts: Iterable[Any],
    tss: Iterable[Any],
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    **kwargs: Any,
) -> Dict[str, float]:
    """:func:`evaluate` on the output of ``gluonts.evaluation
    .make_evaluation_predictions``: ``forecasts`` (``SampleForecast``) and
    ``tss`` (DataFrames with the whole history).  Each target is cut to the
    forecast's index (``forecast.index``), i.e. the last ``prediction_length``
    rows of the series returned by ``make_evaluation_predictions``.
    Consumes both iterators; ``kwargs`` go to :func:`evaluate`.
    """
    forecasts = list(forecasts)
    tss = list(tss)
    if len(forecasts) != len(tss):
        raise ValueError(f"{len(forecasts)} forecasts but {len(tss)} time series")
    targets = [align_target(f, ts) for f, ts in zip(forecasts, tss)]
    return evaluate(forecasts, targets, quantiles, **kwargs)
