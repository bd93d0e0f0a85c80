"""Vectorised, NaN-aware sample-based metrics matching GluonTS.

Shapes (see :mod:`tsdiff.evaluation.quantiles`): ``samples`` ``(S, *B)``,
``target`` ``B``, ``mask`` ``B`` (truthy = scored).  A *point* is one target
value.  Points whose target is NaN/inf or whose mask is 0 are ignored
exactly (as if they were absent).  All axes of ``B`` are pooled the way
GluonTS pools series and windows:

* ratio-of-sums metrics (``crps``, ``crps_sum``, ``nd``) sum numerator and
  denominator over every scored point -- identical to GluonTS's
  ``Evaluator`` for any layout;
* mean-type metrics (``mse``, ``rmse``, ``nrmse``, ``coverage``,
  ``interval_coverage``) average over all scored points by default
  (``time_axis=None``, the ``gluonts.ev`` convention).  GluonTS's
  ``Evaluator`` instead averages *per-series* means over series; pass
  ``time_axis`` (the time axis of ``target``) to get that exactly.  Both
  agree whenever every series has the same number of scored points.

Forecast quantiles use GluonTS's ``SampleForecast.quantile`` rule (nearest
order statistic, see :func:`~tsdiff.evaluation.quantiles.quantile_indices`);
the median is the 0.5 quantile and the mean forecast is
``np.mean(samples, axis=0)``.  Samples containing NaN at a scored point raise
``ValueError`` (GluonTS: "Forecast contains NaN values").
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from .quantiles import (
    DEFAULT_QUANTILES,
    as_numpy,
    check_levels,
    sample_quantiles,
)

__all__ = [
    "crps",
    "crps_sum",
    "energy_crps",
    "nd",
    "mae",
    "mse",
    "rmse",
    "nrmse",
    "coverage",
    "interval_coverage",
    "quantile_losses",
    "aggregate_sum",
]

ArrayLike = Any
_CHUNK = 1 << 18  # sample values per chunk in energy_crps (2 MiB of float64)


# --------------------------------------------------------------------------- #
# input handling
# --------------------------------------------------------------------------- #
def _as_mask(mask: ArrayLike) -> np.ndarray:
    if hasattr(mask, "detach") and hasattr(mask, "cpu"):
        mask = mask.detach().cpu().numpy()
    elif hasattr(mask, "to_numpy"):
        mask = mask.to_numpy()
    return np.asarray(mask) != 0


def _check_shapes(x: np.ndarray, y: np.ndarray) -> None:
    if x.ndim != y.ndim + 1 or x.shape[1:] != y.shape:
        raise ValueError(
            f"samples shape {tuple(x.shape)} does not match target shape "
            f"{tuple(y.shape)}: expected samples of shape (S, *{tuple(y.shape)})"
        )
    if x.shape[0] < 1:
        raise ValueError(f"samples shape {tuple(x.shape)} has no samples")


def _prepare(
    samples: ArrayLike, target: ArrayLike, mask: Optional[ArrayLike]
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> samples ``(S, *B)`` (own dtype), target ``B`` float64, valid ``B`` bool."""
    x = as_numpy(samples)
    y = as_numpy(target, dtype=np.float64)
    _check_shapes(x, y)
    valid = np.isfinite(y)
    if mask is not None:
        m = _as_mask(mask)
        if m.shape != y.shape:
            raise ValueError(
                f"mask shape {tuple(m.shape)} does not match target shape {tuple(y.shape)}"
            )
        valid &= m
    return x, y, valid


def _series_ids(valid: np.ndarray, time_axis: Optional[int]) -> Tuple[Optional[np.ndarray], int]:
    """Series index of every scored point (in ``valid[valid]`` order)."""
    if time_axis is None:
        return None, 1
    if valid.ndim == 0:
        raise ValueError("time_axis given but target is a scalar")
    ax = time_axis % valid.ndim if -valid.ndim <= time_axis < valid.ndim else None
    if ax is None:
        raise ValueError(f"time_axis={time_axis} out of range for target shape {valid.shape}")
    other = [d for d in range(valid.ndim) if d != ax]
    shape = tuple(valid.shape[d] for d in other)
    n_series = int(np.prod(shape)) if shape else 1
    if not other:
        return np.zeros(int(valid.sum()), dtype=np.intp), 1
    idx = np.nonzero(valid)
    sid = np.ravel_multi_index(tuple(idx[d] for d in other), shape)
    return sid, n_series


def _flatten(
    samples: ArrayLike,
    target: ArrayLike,
    mask: Optional[ArrayLike],
    time_axis: Optional[int] = None,
):
    """-> xs ``(S, n)``, ys ``(n,)``, sid ``(n,)``/None, n_series over scored points."""
    x, y, valid = _prepare(samples, target, mask)
    sid, n_series = _series_ids(valid, time_axis)
    if valid.all():
        xs = x.reshape(x.shape[0], -1)
        ys = y.reshape(-1)
    else:
        xs = x[:, valid]
        ys = y[valid]
    return xs, ys, sid, n_series


def _sorted(xs: np.ndarray) -> np.ndarray:
    xs = np.sort(xs, axis=0)
    if xs.shape[1] and np.issubdtype(xs.dtype, np.floating) and np.isnan(xs[-1]).any():
        raise ValueError("forecast samples contain NaN values at scored points")
    return xs


def _nan_check(v: np.ndarray) -> None:
    if np.isnan(v).any():
        raise ValueError("forecast samples contain NaN values at scored points")


def _ratio(a, b) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(a) / np.float64(b))


def _pooled_mean(v: np.ndarray, sid: Optional[np.ndarray], n_series: int) -> np.ndarray:
    """Mean of ``v`` (``(..., n)``) over points, or mean over series of
    per-series means (series without scored points are skipped)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if sid is None:
            return np.asarray(v.sum(axis=-1) / v.shape[-1]) if v.shape[-1] else np.full(v.shape[:-1], np.nan)
        counts = np.bincount(sid, minlength=n_series)
        ok = counts > 0
        if not ok.any():
            return np.full(v.shape[:-1], np.nan)
        flat = v.reshape(-1, v.shape[-1])
        out = np.array([
            np.mean(np.bincount(sid, weights=row, minlength=n_series)[ok] / counts[ok])
            for row in flat
        ])
        return out.reshape(v.shape[:-1])


# --------------------------------------------------------------------------- #
# quantile-based metrics
# --------------------------------------------------------------------------- #
def quantile_losses(qhat: np.ndarray, y: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """GluonTS ``quantile_loss`` per level: ``2 * sum |(qhat - y)(1[y <= qhat] - q)|``.

    ``qhat`` ``(Q, n)``, ``y`` ``(n,)``, ``levels`` ``(Q,)`` -> ``(Q,)`` sums.
    """
    qhat = qhat.astype(np.float64, copy=False)
    ind = (y <= qhat).astype(np.float64)
    ind -= levels[:, None]
    ind *= qhat - y
    return 2.0 * np.abs(ind).sum(axis=-1)


#: How sample quantiles are read off: GluonTS's order statistic, or linear interpolation between order statistics
#: (``numpy.quantile``'s default, which CSDI's evaluation uses through ``torch.quantile``).
QUANTILE_METHODS = ("gluonts", "linear")


def _qhat(xs: np.ndarray, levels: np.ndarray, method: str = "gluonts") -> np.ndarray:
    """Sample quantiles (Q, ...) of ``xs`` (S, ...) by ``method``, refusing NaN where scored."""
    if method not in QUANTILE_METHODS:
        raise ValueError(f"quantile_method must be one of {QUANTILE_METHODS}, got {method!r}")
    if method == "gluonts":
        q = sample_quantiles(xs, levels)
    else:
        q = np.quantile(np.asarray(xs, dtype=np.float64), levels, axis=0)
    _nan_check(q)
    return q


def crps(
    samples: ArrayLike,
    target: ArrayLike,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    mask: Optional[ArrayLike] = None,
    quantile_method: str = "gluonts",
) -> float:
    """Quantile-loss CRPS approximation = GluonTS ``mean_wQuantileLoss``.

    ``mean_q [ 2 * sum |(qhat_q - y)(1[y <= qhat_q] - q)| / sum |y| ]`` with
    sums over every scored point of all pooled axes.

    Parameters
    ----------
    samples
        ``(S, *B)`` forecast samples (numpy or torch).
    target
        ``B`` observations; NaN/inf are ignored.
    quantiles
        Levels in (0, 1); default the 19 levels 0.05, ..., 0.95.
    mask
        ``B``, truthy = scored (e.g. imputation evaluation points).
    quantile_method
        ``"gluonts"`` (GluonTS's sample quantiles) or ``"linear"`` (interpolated, as CSDI's published
        imputation scores are computed).

    Returns
    -------
    float
        NaN if nothing is scored; inf if ``sum |y| == 0``.
    """
    levels = check_levels(quantiles)
    xs, ys, _, _ = _flatten(samples, target, mask)
    if ys.size == 0:
        return float("nan")
    ql = quantile_losses(_qhat(xs, levels, quantile_method), ys, levels)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.mean(ql / np.abs(ys).sum()))


def aggregate_sum(
    samples: ArrayLike, target: ArrayLike, mask: Optional[ArrayLike] = None
) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """Sum samples and target over the series (last) axis, GluonTS style.

    ``samples`` ``(S, *B, D)``, ``target`` ``(*B, D)`` -> ``(S, *B)``,
    ``B``, mask ``B`` or None.  The target is summed like pandas'
    ``DataFrame.sum(axis=1)`` (what GluonTS's ``MultivariateEvaluator``
    uses): NaN counts as 0, an all-NaN row sums to 0, while the forecast
    still sums *all* D samples.  Entries with ``mask == 0`` are dropped from
    both sums; an aggregated point is scored iff any of its entries is.
    """
    x = as_numpy(samples)
    y = as_numpy(target, dtype=np.float64)
    _check_shapes(x, y)
    if y.ndim < 1:
        raise ValueError(f"crps_sum needs a series (last) axis, got target shape {y.shape}")
    y0 = np.where(np.isnan(y), 0.0, y)
    agg_mask = None
    if mask is not None:
        m = _as_mask(mask)
        if m.shape != y.shape:
            raise ValueError(
                f"mask shape {tuple(m.shape)} does not match target shape {tuple(y.shape)}"
            )
        y0 = np.where(m, y0, 0.0)
        x = np.where(m, x, np.zeros((), dtype=x.dtype))
        agg_mask = m.any(axis=-1)
    return np.sum(x, axis=-1), y0.sum(axis=-1), agg_mask


def crps_sum(
    samples: ArrayLike,
    target: ArrayLike,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    mask: Optional[ArrayLike] = None,
) -> float:
    """CRPS of the sum over series = GluonTS ``m_sum_mean_wQuantileLoss``.

    ``samples`` ``(S, *B, D)``, ``target`` ``(*B, D)``, ``mask`` ``(*B, D)``.
    Sums over the last axis (see :func:`aggregate_sum` for the NaN rule,
    which reproduces ``MultivariateEvaluator(target_agg_funcs={'sum':
    np.sum})``: NaN targets count as 0 in the summed target and every time
    step stays scored), then applies :func:`crps`.
    """
    levels = check_levels(quantiles)
    xs, ys, m = aggregate_sum(samples, target, mask)
    return crps(xs, ys, levels, mask=m)


def coverage(
    samples: ArrayLike,
    target: ArrayLike,
    levels: Sequence[float] = DEFAULT_QUANTILES,
    mask: Optional[ArrayLike] = None,
    time_axis: Optional[int] = None,
) -> np.ndarray:
    """Fraction of scored targets ``y <= qhat_q`` per level (GluonTS ``Coverage[q]``).

    Returns shape ``(Q,)``.  See the module docstring for ``time_axis``.
    """
    lv = check_levels(levels)
    xs, ys, sid, ns = _flatten(samples, target, mask, time_axis)
    if ys.size == 0:
        return np.full(lv.shape, np.nan)
    hit = (ys <= _qhat(xs, lv)).astype(np.float64)
    return _pooled_mean(hit, sid, ns)


def interval_coverage(
    samples: ArrayLike,
    target: ArrayLike,
    alpha: Union[float, Sequence[float]] = 0.1,
    mask: Optional[ArrayLike] = None,
    time_axis: Optional[int] = None,
) -> Union[float, np.ndarray]:
    """Fraction of scored targets inside the central band
    ``[qhat_{alpha/2}, qhat_{1 - alpha/2}]`` (closed; nominal ``1 - alpha``).

    ``alpha`` scalar -> float; sequence of ``A`` -> array ``(A,)``.
    """
    scalar = np.ndim(alpha) == 0
    al = check_levels(np.atleast_1d(alpha), name="alpha")
    xs, ys, sid, ns = _flatten(samples, target, mask, time_axis)
    if ys.size == 0:
        out = np.full(al.shape, np.nan)
    else:
        q = _qhat(xs, np.concatenate([al / 2, 1 - al / 2]))
        a = al.size
        inside = ((q[:a] <= ys) & (ys <= q[a:])).astype(np.float64)
        out = _pooled_mean(inside, sid, ns)
    return float(out[0]) if scalar else out


# --------------------------------------------------------------------------- #
# exact sample CRPS
# --------------------------------------------------------------------------- #
def _energy_terms(xs_sorted: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Per-point exact CRPS of the empirical distribution, ``(n,)``.

    ``E|X - y| - 1/2 E|X - X'|`` with ``1/2 E|X - X'| = sum_i w_i x_(i)``,
    ``w_i = (2i - S - 1) / S^2`` (i = 1..S, V-statistic, i.e. the integral
    of ``(F_hat(x) - 1[x >= y])^2``).  Chunked: O(S) extra memory per point.
    """
    s, n = xs_sorted.shape
    w = (2.0 * np.arange(1, s + 1) - s - 1) / float(s * s)
    out = np.empty(n, dtype=np.float64)
    step = max(1, _CHUNK // max(s, 1))
    for a in range(0, n, step):
        b = min(n, a + step)
        blk = xs_sorted[:, a:b].astype(np.float64, copy=False)
        out[a:b] = np.abs(blk - ys[a:b]).mean(axis=0) - w @ blk
    return out


def energy_crps(
    samples: ArrayLike,
    target: ArrayLike,
    mask: Optional[ArrayLike] = None,
) -> float:
    """Exact CRPS of the empirical sample distribution, mean over scored points.

    ``CRPS(F_hat, y) = E|X - y| - 1/2 E|X - X'| = int (F_hat(x) - 1[x >= y])^2 dx``
    computed in O(S log S) per point by sorting (no S x S memory).
    ``samples`` ``(S, *B)``, ``target`` ``B``, ``mask`` ``B``.
    Unnormalised (same units as ``y``); NaN if nothing is scored.
    """
    xs, ys, _, _ = _flatten(samples, target, mask)
    if ys.size == 0:
        return float("nan")
    return float(_energy_terms(_sorted(xs), ys).mean())


# --------------------------------------------------------------------------- #
# point metrics
# --------------------------------------------------------------------------- #
def _median_abs_err(samples, target, mask) -> Tuple[float, float, int]:
    xs, ys, _, _ = _flatten(samples, target, mask)
    if ys.size == 0:
        return float("nan"), float("nan"), 0
    med = _qhat(xs, np.array([0.5]))[0].astype(np.float64)
    return float(np.abs(med - ys).sum()), float(np.abs(ys).sum()), ys.size


def nd(samples: ArrayLike, target: ArrayLike, mask: Optional[ArrayLike] = None) -> float:
    """Normalised deviation ``sum |median - y| / sum |y|`` (GluonTS ``ND``)."""
    err, tot, _ = _median_abs_err(samples, target, mask)
    return _ratio(err, tot)


def mae(samples: ArrayLike, target: ArrayLike, mask: Optional[ArrayLike] = None) -> float:
    """Mean absolute error of the median forecast over all scored points
    (GluonTS ``abs_error / number of points``; ``gluonts.ev`` ``MAE``)."""
    err, _, n = _median_abs_err(samples, target, mask)
    return _ratio(err, n)


def _mean_forecast_stats(samples, target, mask, time_axis):
    x, y, valid = _prepare(samples, target, mask)
    sid, ns = _series_ids(valid, time_axis)
    mean_fc = np.mean(x, axis=0)  # GluonTS SampleForecast.mean (sample dtype)
    mf = np.asarray(mean_fc)[valid].astype(np.float64)
    ys = y[valid]
    _nan_check(mf)
    if ys.size == 0:
        return np.nan, np.nan
    se = np.square(ys - mf)
    mse_ = _pooled_mean(se, sid, ns)
    aty = _pooled_mean(np.abs(ys), sid, ns)
    return float(mse_), float(aty)


def mse(
    samples: ArrayLike,
    target: ArrayLike,
    mask: Optional[ArrayLike] = None,
    time_axis: Optional[int] = None,
) -> float:
    """Mean squared error of the mean forecast (GluonTS ``MSE``)."""
    return _mean_forecast_stats(samples, target, mask, time_axis)[0]


def rmse(
    samples: ArrayLike,
    target: ArrayLike,
    mask: Optional[ArrayLike] = None,
    time_axis: Optional[int] = None,
) -> float:
    """``sqrt(MSE)`` of the mean forecast (GluonTS ``RMSE``)."""
    return float(np.sqrt(mse(samples, target, mask, time_axis)))


def nrmse(
    samples: ArrayLike,
    target: ArrayLike,
    mask: Optional[ArrayLike] = None,
    time_axis: Optional[int] = None,
) -> float:
    """``sqrt(MSE) / mean |y|`` (GluonTS ``NRMSE = RMSE / abs_target_mean``)."""
    m, aty = _mean_forecast_stats(samples, target, mask, time_axis)
    return _ratio(np.sqrt(m), aty)
