"""Naive imputers, the yardsticks an imputation model must beat.

Both take ``values`` and ``given_mask`` of shape ``(N, L, K)`` (samples × time × features; entries where
``given_mask`` is 0 are ignored and may be NaN) and return a completed ``(N, L, K)`` float64 array in which the given
entries are unchanged.
"""
from __future__ import annotations

import numpy as np


def _check(values, given_mask) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(values, dtype=np.float64)
    given = np.asarray(given_mask).astype(bool)
    if values.ndim != 3 or given.shape != values.shape:
        raise ValueError(f"values and given_mask must both have shape (N, L, K); got {values.shape} and "
                         f"{given.shape}")
    given &= np.isfinite(values)
    return values, given


def feature_means(values, given_mask) -> np.ndarray:
    """Per-feature mean of all given values, shape (K,); 0 for a feature with no given value."""
    values, given = _check(values, given_mask)
    count = given.sum((0, 1))
    total = np.where(given, values, 0.0).sum((0, 1))
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def mean_impute(values, given_mask, means=None) -> np.ndarray:
    """Fill every missing entry with its feature's mean (``means`` (K,), default :func:`feature_means` of the input)."""
    values, given = _check(values, given_mask)
    means = feature_means(values, given) if means is None else np.asarray(means, dtype=np.float64)
    return np.where(given, values, means)


def interpolate_impute(values, given_mask, means=None) -> np.ndarray:
    """Linear interpolation over time within each (sample, feature), constant beyond the first/last given value.

    A (sample, feature) with no given value at all gets the feature's mean (``means`` (K,), default
    :func:`feature_means` of the input).
    """
    values, given = _check(values, given_mask)
    means = feature_means(values, given) if means is None else np.asarray(means, dtype=np.float64)
    out = np.where(given, values, np.nan)
    t = np.arange(values.shape[1])
    for i, k in zip(*np.nonzero(given.any(axis=1))):  # every (sample, feature) with something given
        g = given[i, :, k]
        out[i, :, k] = np.interp(t, t[g], values[i, g, k])
    return np.where(np.isnan(out), means, out)
