"""Fan charts: median line, 50 % and 90 % bands, optional history."""
from __future__ import annotations

import warnings

import numpy as np


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


def fan_chart(ax, index, samples: np.ndarray, history=None, label: str | None = None, color: str = "C0"):
    """Draw one fan: ``samples`` (S, H) over ``index`` (H timestamps); ``history`` a pd.Series drawn in black."""
    x = index.to_timestamp() if hasattr(index, "to_timestamp") else index
    if history is not None and len(history):
        hx = history.index.to_timestamp() if hasattr(history.index, "to_timestamp") else history.index
        ax.plot(hx, history.to_numpy(), color="black", lw=1, label="observed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: observed cells of an imputation plot
        lo90, lo50, med, hi50, hi90 = np.nanquantile(samples, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
    ax.fill_between(x, lo90, hi90, color=color, alpha=0.2, lw=0, label="90 % interval")
    ax.fill_between(x, lo50, hi50, color=color, alpha=0.4, lw=0, label="50 % interval")
    ax.plot(x, med, color=color, lw=1.5, label="median" if label is None else f"{label} median")
    return ax
