"""Fan charts (median line and quantile bands, optional history and actuals) and markers for imputed cells."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .quantiles import sample_quantile


def _select_backend() -> None:
    """Fall back to the headless Agg backend when no display is available (CLI, CI)."""
    import os

    import matplotlib

    if not os.environ.get("DISPLAY") and "inline" not in matplotlib.get_backend().lower():
        matplotlib.use("Agg")


def axes_for(names: list, chosen, ax):
    """Validated variable selection and one Axes per chosen variable (a new figure unless ``ax`` is given)."""
    chosen = names[:4] if chosen is None else list(chosen)
    unknown = [v for v in chosen if v not in names]
    if unknown:
        raise ValueError(f"unknown variables {unknown}; available: {names}")
    if ax is not None:
        if len(chosen) != 1:
            raise ValueError(f"ax= draws one variable; choose one with variables=[...] (got {len(chosen)})")
        return chosen, [ax]
    _select_backend()
    import matplotlib.pyplot as plt

    _, axes = plt.subplots(len(chosen), 1, figsize=(9, 2.6 * len(chosen)), sharex=True, squeeze=False)
    return chosen, list(axes[:, 0])


def plot_x(index):
    """Timestamps matplotlib can draw (periods become their start times)."""
    return index.to_timestamp() if hasattr(index, "to_timestamp") else index


def band_label(lower: float, upper: float) -> str:
    if abs(lower + upper - 1) < 1e-9:
        return f"{round(100 * (upper - lower), 8):g} % interval"
    return f"{lower:g}–{upper:g} quantiles"


def fan_chart(ax, index, samples: np.ndarray, history=None, label: str | None = None, color: str = "C0",
              bands=((0.05, 0.95), (0.25, 0.75))):
    """Draw one fan: ``samples`` (S, H) over ``index`` (H timestamps), one shaded band per (lower, upper) pair of
    quantile levels (outermost first) and the median; ``history`` a pd.Series drawn in black.

    Quantiles follow the same rule as ``Forecast.to_frame`` (GluonTS's sample quantile); all-NaN columns (observed
    cells of an imputation plot) stay empty.
    """
    x = plot_x(index)
    if history is not None and len(history):
        ax.plot(plot_x(history.index), history.to_numpy(), color="black", lw=1, label="observed")
    bands = sorted(bands, key=lambda pair: pair[0])  # outermost first, so inner bands are drawn on top
    for k, (lower, upper) in enumerate(bands):
        alpha = 0.15 + 0.25 * k / max(len(bands) - 1, 1)
        ax.fill_between(x, sample_quantile(samples, lower), sample_quantile(samples, upper), color=color,
                        alpha=alpha, lw=0, label=band_label(lower, upper))
    ax.plot(x, sample_quantile(samples, 0.5), color=color, lw=1.5,
            label="median" if label is None else f"{label} median")
    return ax


def mark_cells(ax, index, samples: np.ndarray, cells: np.ndarray, band: tuple[float, float], color: str = "C0"):
    """Imputed cells as markers at their median with a vertical bar over ``band``, so that a single filled cell
    between two observed ones is as visible as a long gap. ``samples`` (S, T); ``cells`` bool (T,)."""
    if not cells.any():
        return ax
    x = plot_x(index)[cells]
    median = sample_quantile(samples[:, cells], 0.5)
    lower, upper = (sample_quantile(samples[:, cells], q) for q in band)
    ax.vlines(x, lower, upper, color=color, lw=1.2, alpha=0.6)
    ax.plot(x, median, "D", color=color, ms=4, label=f"imputed (median, {band_label(*band)})")
    return ax


def draw_actuals(ax, actual: pd.Series, color: str = "C3"):
    """Overlay the observed values of the forecast horizon (a Series indexed by time)."""
    actual = actual[np.isfinite(actual.to_numpy(dtype=np.float64))]
    if len(actual):
        ax.plot(plot_x(actual.index), actual.to_numpy(dtype=np.float64), "o-", color=color, ms=3, lw=1,
                label="actual")
    return ax
