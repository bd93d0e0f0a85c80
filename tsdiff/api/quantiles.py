"""Quantile levels: validation and the column names used in output frames."""
from __future__ import annotations

from typing import Iterable

import numpy as np

from tsdiff.evaluation import sample_quantiles


def check_levels(quantiles: float | Iterable[float], name: str = "quantiles") -> list[float]:
    """Validated quantile levels as a list of floats, each strictly inside (0, 1)."""
    if isinstance(quantiles, (str, bytes)):
        raise TypeError(f"{name} must be numbers in (0, 1), got the string {quantiles!r}")
    levels = [quantiles] if np.isscalar(quantiles) else list(quantiles)
    if not levels:
        raise ValueError(f"{name} must not be empty")
    out = []
    for q in levels:
        if isinstance(q, bool) or not isinstance(q, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be numbers in (0, 1), got {q!r}")
        if not 0.0 < float(q) < 1.0 or not np.isfinite(q):
            raise ValueError(f"{name} must lie strictly between 0 and 1, got {q!r}")
        out.append(float(q))
    return out


def level_name(q: float) -> str:
    """Column name of a quantile level: 0.1 -> "0.1", 0.05 -> "0.05"."""
    return f"{q:g}"


def sample_quantile(samples: np.ndarray, q: float) -> np.ndarray:
    """The ``q`` quantile over the sample axis, GluonTS's convention. (S, ...) → (...)."""
    return sample_quantiles(samples, [q])[0]
