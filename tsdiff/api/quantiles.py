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


def check_coverage(coverage: float | Iterable[float], name: str = "coverage") -> list[float]:
    """Validated central-interval coverages: fractions strictly inside (0, 1), e.g. 0.9 for a 90 % interval."""
    values = [coverage] if np.isscalar(coverage) else coverage
    if not isinstance(values, (str, bytes)):
        for c in values:
            if isinstance(c, (int, float, np.integer, np.floating)) and not isinstance(c, bool) and 1 < c < 100:
                raise ValueError(f"{name} is a fraction: write {c / 100:g} for a {c:g} % interval")
    return check_levels(coverage, name)


def interval_levels(coverage: float) -> tuple[float, float]:
    """The quantile levels bounding the central interval of ``coverage``: 0.9 -> (0.05, 0.95)."""
    # rounded: (1 - 0.9) / 2 is 0.04999999999999999, and the level 0.05 is meant
    return round((1 - coverage) / 2, 10), round((1 + coverage) / 2, 10)


def interval_names(coverage: float) -> tuple[str, str]:
    """Nixtla's column names of a central interval: 0.9 -> ("lo-90", "hi-90"), 0.975 -> ("lo-97.5", "hi-97.5")."""
    percent = f"{round(100 * coverage, 8):g}"
    return f"lo-{percent}", f"hi-{percent}"


def band_pairs(levels: Iterable[float]) -> list[tuple[float, float]]:
    """Quantile levels paired into plot bands, outside in: the lowest with the highest, and so on, while the lower
    one is below 0.5 and the upper one above. (0.1, 0.5, 0.9) -> [(0.1, 0.9)]."""
    ordered = sorted(set(levels))
    pairs = []
    while len(ordered) >= 2 and ordered[0] < 0.5 < ordered[-1]:
        pairs.append((ordered.pop(0), ordered.pop(-1)))
    return pairs
