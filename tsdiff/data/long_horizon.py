"""Long-horizon benchmark CSVs (ETT, Weather, Exchange) with the literature's row splits, GluonTS style.

Splits follow Informer/Autoformer (``data_loader.py``): ETT uses 12/4/4 months of rows (30-day months), the
others 70%/10%/20% of the rows. The multivariate series is exposed as one univariate GluonTS entry per column
(``item_id`` = column name, ``feat_static_cat = [column index]``) so that :func:`to_multivariate` can group it.
"""
from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np
import pandas as pd
from gluonts.dataset.common import TrainDatasets

from .entries import make_metadata, process_entries
from .registry import DatasetInfo

_ETT_MONTH = {"ETTh1": 30 * 24, "ETTm1": 4 * 30 * 24}  # rows per 30-day month


class Borders(NamedTuple):
    """Row boundaries: train ``[0, train_end)``, validation ``[train_end, val_end)``, test ``[val_end, test_end)``."""

    train_end: int
    val_end: int
    test_end: int


def split_borders(name: str, num_rows: int) -> Borders:
    """The literature's row split of a long-horizon dataset with ``num_rows`` rows."""
    if name in _ETT_MONTH:
        month = _ETT_MONTH[name]
        borders = Borders(12 * month, 16 * month, 20 * month)
        if borders.test_end > num_rows:
            raise ValueError(f"{name}: needs {borders.test_end} rows for the 12/4/4-month split, has {num_rows}")
        return borders
    num_train, num_test = int(num_rows * 0.7), int(num_rows * 0.2)
    return Borders(num_train, num_rows - num_test, num_rows)


def read_long_horizon_csv(path: os.PathLike) -> pd.DataFrame:
    """The raw table: a ``date`` column (datetime) and one float column per variable; shape (rows, 1 + D)."""
    frame = pd.read_csv(path)  # compression inferred from the suffix (.csv or .csv.gz)
    if "date" not in frame.columns:
        raise ValueError(f"{path}: expected a 'date' column, got {list(frame.columns)[:5]}...")
    return frame.assign(date=pd.to_datetime(frame["date"]))


LONG_HORIZON_SPLITS = ("test", "val", "val_end")


def window_ends(start: int, stop: int, prediction_length: int, num_windows: int) -> list[int]:
    """Ends of ``num_windows`` consecutive windows of ``prediction_length`` rows from ``start``, within ``stop``."""
    available = (stop - start) // prediction_length
    if not 1 <= num_windows <= available:
        raise ValueError(f"num_test_windows must be in [1, {available}] for prediction_length="
                         f"{prediction_length} and {stop - start} rows, got {num_windows}")
    return [start + (k + 1) * prediction_length for k in range(num_windows)]


def load_long_horizon(
    info: DatasetInfo,
    path: os.PathLike,
    prediction_length: int | None = None,
    num_test_windows: int | None = None,
    split: str = "test",
) -> TrainDatasets:
    """A long-horizon CSV as GluonTS ``TrainDatasets`` with D univariate entries per split.

    Train: D entries, rows ``[0, train_end)``. Test (``split="test"``): ``num_test_windows x D`` entries,
    window-major; window k covers rows ``[val_end + k*pl, val_end + (k+1)*pl)`` and its entries hold rows
    ``[0, val_end + (k+1)*pl)``. ``split="val"`` draws the windows from the validation rows instead, from their
    first row; ``split="val_end"`` takes the last windows of the validation rows, which end where the test rows
    begin: forecast from as far after the training rows as the test windows are, one test period earlier.
    Rows are taken as regular steps of ``info.freq`` from the first timestamp, as the literature does.
    """
    if split not in LONG_HORIZON_SPLITS:
        raise ValueError(f"split must be one of {LONG_HORIZON_SPLITS}, got {split!r}")
    pl = prediction_length or info.prediction_length
    num_windows = info.num_test_windows if num_test_windows is None else num_test_windows
    frame = read_long_horizon_csv(path)
    columns = [c for c in frame.columns if c != "date"]
    values = frame[columns].to_numpy(dtype=np.float64).astype(np.float32)  # (rows, D)
    borders = split_borders(info.name, len(frame))
    start = str(frame["date"].iloc[0])

    seg = (borders.val_end, borders.test_end) if split == "test" else (borders.train_end, borders.val_end)
    ends = window_ends(*seg, pl, num_windows)
    if split == "val_end":  # the same windows slid to the end of the validation rows
        ends = [end + borders.val_end - ends[-1] for end in ends]

    def entries(end_rows: list[int]) -> list[dict]:
        return [
            # copies: entries must not share memory with each other
            {"start": start, "target": values[:end, j].copy(), "feat_static_cat": [j], "item_id": col}
            for end in end_rows for j, col in enumerate(columns)
        ]

    return TrainDatasets(
        metadata=make_metadata(len(columns), info.freq, pl),
        train=process_entries(entries([borders.train_end]), info.freq),
        test=process_entries(entries(ends), info.freq),
    )
