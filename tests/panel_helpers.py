"""Panels for the panel, backtest and output tests: series of different lengths, ends and scales."""
import numpy as np
import pandas as pd

# (id, length, hours before the latest end, level, amplitude): s1 ends 51 h before s0, as in issue 16
SERIES = (("s0", 120, 0, 5.0, 1.0), ("s1", 90, 51, 50.0, 10.0), ("s2", 70, 10, 1000.0, 100.0))
LATEST_END = pd.Timestamp("2024-01-10 23:00")


def ragged_panel(series=SERIES, id_col="unique_id", time_col="ds", target_col="y", seed=0):
    """A long frame (Nixtla's names by default): daily sinusoids, each series on its own stretch and scale."""
    rng = np.random.default_rng(seed)
    parts = []
    for item, length, before, level, amplitude in series:
        end = LATEST_END - pd.Timedelta(hours=before)
        index = pd.date_range(end=end, periods=length, freq="h")
        hours = index.hour.to_numpy()
        values = level + amplitude * np.sin(2 * np.pi * hours / 24) + 0.05 * amplitude * rng.standard_normal(length)
        parts.append(pd.DataFrame({id_col: item, time_col: index, target_col: values}))
    return pd.concat(parts, ignore_index=True)


def ends(frame, id_col="unique_id", time_col="ds") -> dict:
    return frame.groupby(id_col)[time_col].max().to_dict()


NIXTLA = dict(id_col="unique_id", time_col="ds", target_col="y")
