"""Calibration of probabilistic forecasts: PIT histogram, coverage per nominal level, reliability plot.

A forecast is calibrated when the actuals behave like draws from it. Then the probability integral transform
``PIT = F(y)`` is uniform on (0, 1) (Dawid 1984; Gneiting, Balabdaoui & Raftery 2007), a fraction ``tau`` of the
actuals lies at or below each ``tau``-quantile, and each central interval of nominal coverage ``c`` holds a fraction
``c`` of them. A U-shaped PIT histogram (coverage below nominal) means an overconfident forecast, a hump-shaped one
an underconfident forecast, a sloped one a biased forecast.

Two entry points return the same :class:`CalibrationReport`:

* :func:`calibration` from samples ``(S, *B)`` and actuals ``B`` (PIT from the rank of ``y`` among the samples);
* :func:`calibration_from_frame` from a frame with an ``actual`` column and quantile columns (``"0.1"``, ``"0.9"``,
  ...), such as ``model.cross_validation(...)`` returns: the PIT histogram then has one bin between each pair of
  neighbouring quantile levels, which is exact for those bins.

Quantiles follow GluonTS's sample-quantile rule (:func:`~tsdiff.evaluation.quantiles.sample_quantiles`), so the
coverages equal :func:`~tsdiff.evaluation.metrics.coverage` and :func:`~tsdiff.evaluation.metrics.interval_coverage`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from .metrics import _flatten
from .quantiles import DEFAULT_QUANTILES, check_levels, sample_quantiles

__all__ = ["CalibrationReport", "calibration", "calibration_from_frame", "pit_values", "quantile_level_columns"]

#: Nominal coverages of the central intervals reported by default.
DEFAULT_NOMINAL = tuple(k / 10 for k in range(1, 10))


@dataclass(frozen=True)
class CalibrationReport:
    """How well forecast probabilities match outcomes, over ``n`` scored points.

    Attributes:
        n: number of scored points (finite actuals).
        pit: ``(n,)`` PIT values in (0, 1), or None when built from quantile columns.
        bin_edges: ``(B + 1,)`` edges of the PIT histogram, from 0 to 1.
        bin_counts: ``(B,)`` actuals per PIT bin.
        quantile_levels: ``(Q,)`` levels ``tau``; quantile_coverage: ``(Q,)`` fraction of actuals ``<= q_tau``.
        nominal: ``(A,)`` nominal central-interval coverages; interval_coverage: ``(A,)`` fraction of actuals inside
            ``[q_{(1-c)/2}, q_{(1+c)/2}]``.
    """

    n: int
    pit: Optional[np.ndarray]
    bin_edges: np.ndarray
    bin_counts: np.ndarray
    quantile_levels: np.ndarray
    quantile_coverage: np.ndarray
    nominal: np.ndarray
    interval_coverage: np.ndarray

    @property
    def pit_density(self) -> np.ndarray:
        """``(B,)`` histogram as a density: 1 everywhere for a calibrated forecast."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.bin_counts / (self.n * np.diff(self.bin_edges))

    @property
    def calibration_error(self) -> float:
        """Mean absolute gap between observed and nominal quantile coverage (0 for perfect calibration)."""
        return float(np.mean(np.abs(self.quantile_coverage - self.quantile_levels)))

    def to_frame(self):
        """A DataFrame with one row per level: ``kind`` (``"quantile"`` or ``"interval"``), ``nominal``,
        ``observed``."""
        import pandas as pd

        rows = [("quantile", t, c) for t, c in zip(self.quantile_levels, self.quantile_coverage)]
        rows += [("interval", t, c) for t, c in zip(self.nominal, self.interval_coverage)]
        return pd.DataFrame(rows, columns=["kind", "nominal", "observed"])

    def __repr__(self) -> str:
        shown = ", ".join(f"{c:g}: {o:.3f}" for c, o in zip(self.nominal, self.interval_coverage))
        return (f"CalibrationReport(n={self.n}, calibration_error={self.calibration_error:.4f}, "
                f"interval coverage {{{shown}}})")

    def plot(self, axes=None):
        """Two panels: the PIT histogram (density, with the uniform line and its ±2 s.d. sampling band) and the
        reliability diagram (observed against nominal coverage, quantiles and central intervals).

        ``axes``: two matplotlib Axes to draw on (default: a new figure). Returns the two Axes.
        """
        import matplotlib.pyplot as plt

        if axes is None:
            _, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        hist, rel = axes
        widths = np.diff(self.bin_edges)
        hist.bar(self.bin_edges[:-1], self.pit_density, width=widths, align="edge", color="C0", alpha=0.7,
                 edgecolor="white", label="PIT histogram")
        # a uniform count per bin is binomial(n, width): its density varies by sqrt(width (1 - width) / n) / width
        band = 2 * np.sqrt(widths * (1 - widths) / max(self.n, 1)) / widths
        hist.fill_between(self.bin_edges, np.r_[1 - band, 1 - band[-1]], np.r_[1 + band, 1 + band[-1]],
                          step="post", color="grey", alpha=0.25, lw=0, label="uniform ±2 s.d.")
        hist.axhline(1.0, color="black", lw=1)
        hist.set(xlim=(0, 1), xlabel="PIT", ylabel="density", title=f"PIT histogram (n={self.n})")
        hist.legend(loc="best", fontsize=8)
        rel.plot([0, 1], [0, 1], color="black", lw=1, label="ideal")
        rel.plot(self.quantile_levels, self.quantile_coverage, "o-", ms=4, label="y ≤ quantile τ")
        if len(self.nominal):
            rel.plot(self.nominal, self.interval_coverage, "s-", ms=4, label="inside central interval")
        rel.set(xlim=(0, 1), ylim=(0, 1), xlabel="nominal", ylabel="observed",
                title=f"reliability (error {self.calibration_error:.3f})")
        rel.legend(loc="upper left", fontsize=8)
        return axes


def pit_values(samples: Any, actuals: Any, mask: Any = None, seed: int = 0) -> np.ndarray:
    """Randomised PIT of each scored point from its forecast samples: ``(r + U) / (S + 1)`` where ``r`` is the
    rank of ``y`` among the ``S`` samples (ties broken uniformly at random) and ``U ~ Uniform(0, 1)``.

    If ``y`` and the samples are exchangeable draws of one distribution, ``r`` is uniform on ``{0, ..., S}`` and the
    PIT exactly uniform on (0, 1), for any ``S``.

    Args:
        samples: ``(S, *B)``; actuals: ``B`` (NaN/inf are not scored); mask: ``B``, truthy = scored.
        seed: seeds the randomisation (the result is deterministic for a given seed).
    Returns:
        ``(n,)`` PIT values of the scored points, in row-major order of ``B``.
    """
    xs, ys, _, _ = _flatten(samples, actuals, mask)
    if np.isnan(xs).any():
        raise ValueError("forecast samples contain NaN values at scored points")
    below = (xs < ys).sum(axis=0)
    ties = (xs == ys).sum(axis=0)
    rng = np.random.default_rng(seed)
    rank = below + np.floor(rng.random(ys.shape) * (ties + 1))
    return (rank + rng.random(ys.shape)) / (xs.shape[0] + 1)


def _interval_coverage(qhat: dict, ys: np.ndarray, nominal: np.ndarray) -> np.ndarray:
    out = []
    for c in nominal:
        lo, hi = qhat[_round((1 - c) / 2)], qhat[_round((1 + c) / 2)]
        out.append(np.mean((lo <= ys) & (ys <= hi)) if ys.size else np.nan)
    return np.asarray(out, dtype=np.float64)


def _round(level: float) -> float:
    return round(float(level), 10)  # (1 - 0.9) / 2 = 0.04999999999999999: the level 0.05 is meant


def calibration(samples: Any, actuals: Any, mask: Any = None, quantiles: Sequence[float] = DEFAULT_QUANTILES,
                nominal: Sequence[float] = DEFAULT_NOMINAL, bins: int = 10, seed: int = 0) -> CalibrationReport:
    """Calibration report of sample forecasts.

    Args:
        samples: ``(S, *B)`` forecast samples (numpy, torch or pandas); actuals: ``B``; mask: ``B``, truthy =
            scored. NaN/inf actuals are not scored.
        quantiles: levels ``tau`` of the reliability curve (default 0.05, ..., 0.95).
        nominal: coverages ``c`` of the central intervals (default 0.1, ..., 0.9).
        bins: equal-width bins of the PIT histogram.
        seed: seeds the PIT randomisation.
    """
    levels = check_levels(quantiles)
    nominal = check_levels(nominal, "nominal coverages")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    pit = pit_values(samples, actuals, mask, seed)
    xs, ys, _, _ = _flatten(samples, actuals, mask)
    edges = np.linspace(0.0, 1.0, int(bins) + 1)
    counts = np.histogram(pit, bins=edges)[0]
    needed = np.unique(np.r_[levels, [_round((1 - c) / 2) for c in nominal], [_round((1 + c) / 2) for c in nominal]])
    qhat = dict(zip((_round(q) for q in needed), sample_quantiles(xs, needed))) if ys.size else {}
    cover = np.array([np.mean(ys <= qhat[_round(t)]) if ys.size else np.nan for t in levels])
    inside = _interval_coverage(qhat, ys, nominal) if ys.size else np.full(nominal.shape, np.nan)
    return CalibrationReport(n=int(ys.size), pit=pit, bin_edges=edges, bin_counts=counts, quantile_levels=levels,
                             quantile_coverage=cover, nominal=nominal, interval_coverage=inside)


def quantile_level_columns(frame) -> dict:
    """``{level: column}`` for the columns of ``frame`` whose names read as a level in (0, 1) (``"0.1"``, 0.9)."""
    out = {}
    for col in frame.columns:
        if isinstance(col, bool):
            continue
        try:
            level = float(col)
        except (TypeError, ValueError):
            continue
        if 0.0 < level < 1.0:
            out[_round(level)] = col
    return dict(sorted(out.items()))


def calibration_from_frame(frame, actual_col: str = "actual") -> CalibrationReport:
    """Calibration report from quantile columns, e.g. the frame of ``model.cross_validation(...)``.

    The PIT histogram has a bin between each pair of neighbouring levels (and below the lowest, above the
    highest): the count of a bin is the number of actuals between those two quantiles, the PIT histogram exactly
    at that resolution. The nominal intervals are the symmetric pairs of levels present (0.1 and 0.9 → 0.8).
    Rows whose actual is missing are not scored.
    """
    if actual_col not in frame.columns:
        raise ValueError(f"the frame has no {actual_col!r} column (columns: {list(frame.columns)})")
    columns = quantile_level_columns(frame)
    if not columns:
        raise ValueError("the frame has no quantile columns (named by their level, such as '0.1' and '0.9')")
    ys = frame[actual_col].to_numpy(dtype=np.float64)
    keep = np.isfinite(ys)
    ys = ys[keep]
    qhat = {level: frame[col].to_numpy(dtype=np.float64)[keep] for level, col in columns.items()}
    if any(np.isnan(q).any() for q in qhat.values()):
        raise ValueError("quantile columns contain NaN where the actual is known")
    levels = np.array(list(qhat))
    # bin of a point: how many quantiles lie strictly below it (0 .. Q)
    position = sum((ys > q).astype(np.intp) for q in qhat.values()) if ys.size else np.zeros(0, np.intp)
    counts = np.bincount(position, minlength=len(levels) + 1)
    cover = np.array([np.mean(ys <= qhat[t]) if ys.size else np.nan for t in levels])
    nominal = np.array([_round(1 - 2 * t) for t in levels if t < 0.5 and _round(1 - t) in qhat])[::-1]
    inside = _interval_coverage(qhat, ys, nominal) if ys.size else np.full(nominal.shape, np.nan)
    return CalibrationReport(n=int(ys.size), pit=None, bin_edges=np.r_[0.0, levels, 1.0], bin_counts=counts,
                             quantile_levels=levels, quantile_coverage=cover, nominal=nominal,
                             interval_coverage=inside)
