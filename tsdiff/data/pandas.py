"""pandas <-> GluonTS conversion.

Three input layouts are understood:

* ``series``: a ``pd.Series`` with a time index -> one univariate entry, ``target`` ``(T,)``.
* ``wide``: a ``DataFrame`` with a time index, one column per variable -> one multivariate entry, ``target``
  ``(D, T)`` (GluonTS' multivariate convention: variables first).
* ``long``: a ``DataFrame`` with id, timestamp and target columns (default ``item_id``/``timestamp``/``target``;
  Nixtla's ``unique_id``/``ds``/``y`` by naming them) -> one univariate entry per id, in order of first appearance.

Entries are GluonTS data entries: ``{"start": pd.Period, "target": float32 ndarray, "item_id": ...}``; a list of
them is a GluonTS dataset. Missing timestamps inside a series (gaps on the frequency grid) become NaN. The
returned :class:`PandasLayout` records what :func:`to_pandas` needs to rebuild the same pandas object (same index,
names and dtypes; values pass through float32).
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from .pandas_time import (
    LargeGapWarning,
    as_time_index,
    check_order,
    infer_offset,
    large_gaps,
    regular_grid,
    step_offset,
    strict_offset,
    to_period,
    warn_large_gaps,
)

__all__ = ["LargeGapWarning", "PandasLayout", "from_pandas", "input_kind", "to_pandas"]


@dataclass(frozen=True)
class PandasLayout:
    """How a pandas object maps onto dataset entries, for the way back (:func:`to_pandas`).

    Attributes:
        kind: ``"series"``, ``"wide"`` or ``"long"``.
        freq: pandas frequency string of the time grid (a ``DateOffset`` alias, or the Period frequency when the
            input had a ``PeriodIndex``/period column).
        columns: series: ``(name,)``; wide: the column labels (one per target row); long: ``(id_col, time_col,
            target_col)``.
        ids: the ``item_id`` of each entry (long: the ids in order of first appearance).
        starts: first timestamp (``pd.Timestamp``, tz kept) or period of each entry, as in the input.
        index_kind: ``"datetime"`` or ``"period"``.
        index_name: name of the time index (series/wide); ``None`` for long.
        dtypes: original dtype of each target column (series/long: one).
        had_freq: the input ``DatetimeIndex`` carried a ``.freq`` (restored on the way back).
        columns_name: ``DataFrame.columns.name`` (wide).
        id_dtype: dtype of the id column (long).
    """

    kind: Literal["series", "wide", "long"]
    freq: str
    columns: tuple
    ids: tuple
    starts: tuple
    index_kind: Literal["datetime", "period"] = "datetime"
    index_name: Hashable | None = None
    dtypes: tuple = ()
    had_freq: bool = False
    columns_name: Hashable | None = None
    id_dtype: Any = None


# ---------------------------------------------------------------------------------------------- value handling


def _check_numeric(frame: pd.DataFrame, what: str) -> None:
    types = pd.api.types
    bad = [(c, dtype) for c, dtype in frame.dtypes.items()
           if not types.is_numeric_dtype(dtype) or types.is_bool_dtype(dtype) or types.is_complex_dtype(dtype)]
    if bad:
        kinds = ", ".join(f"{c!r} ({dtype})" for c, dtype in bad)
        raise TypeError(f"{what} must be real numbers; non-numeric column(s): {kinds} (convert with pd.to_numeric)")


def _float_values(frame: pd.DataFrame, what: str) -> np.ndarray:
    """``(T, D)`` float64 with NaN for missing (nullable dtypes' pd.NA too); inf is an error."""
    _check_numeric(frame, what)
    arr = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    inf = np.isinf(arr).any(axis=0)
    if inf.any():
        cols = [c for c, bad in zip(frame.columns, inf) if bad]
        raise ValueError(f"{what} contains inf values in column(s) {cols}; replace them (e.g. with NaN) first")
    with np.errstate(over="ignore"):
        if np.isinf(arr.astype(np.float32)).any():
            raise ValueError(f"{what} has values too large for float32")
    return arr


def _check_not_all_nan(arr: np.ndarray, labels: Sequence, what: str) -> None:
    all_nan = np.isnan(arr).all(axis=0)
    if all_nan.any():
        raise ValueError(f"{what}: all values are NaN for {[lab for lab, b in zip(labels, all_nan) if b]}")


def _restore_dtype(values: np.ndarray, dtype) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """float32 values back in the input's dtype where that is lossless enough (ints only when NaN-free)."""
    values = np.asarray(values, dtype=np.float64)
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        try:
            return pd.array(values, dtype="Float64").astype(dtype)
        except (TypeError, ValueError):
            return values
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return values.astype(dtype)
    if dtype.kind in "iu" and not np.isnan(values).any():
        return np.round(values).astype(dtype)
    return values


# ----------------------------------------------------------------------------------------------- conversions


def _entry(start, values: np.ndarray, offset, item_id) -> dict:
    return {"start": to_period(start, offset), "target": values.astype(np.float32), "item_id": item_id}


def _offset_for(idx: pd.Index, freq: str | pd.DateOffset | None, label: str) -> pd.DateOffset:
    if freq is not None:
        try:
            # Period aliases differ from offset aliases ('M' vs 'ME'): parse by the kind of the index
            return pd.PeriodDtype(freq).freq if isinstance(idx, pd.PeriodIndex) else to_offset(freq)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"invalid freq {freq!r}: {exc}") from exc
    offset = infer_offset(idx, label)
    if offset is None:
        raise ValueError(f"cannot infer the frequency of {label} from a single timestamp; pass freq=...")
    return offset


def _layout_freq(start, offset: pd.DateOffset) -> str:
    """Frequency string that rebuilds the index: the Period alias for periods ('M'), else the offset's ('ME')."""
    return start.freqstr if isinstance(start, pd.Period) else offset.freqstr


def _from_indexed(y: pd.Series | pd.DataFrame, freq, kind: str) -> tuple[list[dict], PandasLayout]:
    what = "series" if kind == "series" else "DataFrame"
    if len(y) == 0 or (kind == "wide" and y.shape[1] == 0):
        raise ValueError(f"empty {what}: nothing to convert")
    frame = y.to_frame() if kind == "series" else y
    idx = as_time_index(y.index, f"the index of the {what}")
    check_order(idx, f"the {what} index")
    offset = _offset_for(idx, freq, f"the {what} index")
    full = regular_grid(idx, offset, f"the {what} index")
    label = "DataFrame" if kind == "wide" else "series" if y.name is None else f"series {y.name!r}"
    arr = _float_values(frame, f"the values of the {label}")  # (T, D)
    _check_not_all_nan(arr, list(frame.columns), label)
    if len(full) != len(idx):  # gaps: spread the rows onto the full grid, NaN elsewhere
        warn_large_gaps([(label, large_gaps(full, idx))], offset)
        grid = np.full((len(full), arr.shape[1]), np.nan)
        grid[full.get_indexer(idx)] = arr
        arr = grid
    if kind == "series":
        item_id = y.name if y.name is not None else "0"
        target = arr[:, 0]
    else:
        item_id = "0"
        target = arr.T  # (D, T)
    is_period = isinstance(idx, pd.PeriodIndex)
    layout = PandasLayout(
        kind=kind,
        freq=_layout_freq(idx[0], offset),
        columns=(y.name,) if kind == "series" else tuple(y.columns),
        ids=(item_id,),
        starts=(idx[0],),
        index_kind="period" if is_period else "datetime",
        index_name=y.index.name,
        dtypes=tuple(frame.dtypes),
        had_freq=is_period or (isinstance(y.index, pd.DatetimeIndex) and y.index.freq is not None),
        columns_name=None if kind == "series" else y.columns.name,
    )
    return [_entry(idx[0], target, offset, item_id)], layout


def _time_column(df: pd.DataFrame, time_col: Hashable) -> pd.Index:
    col = df[time_col]
    if isinstance(col.dtype, pd.PeriodDtype):
        return as_time_index(pd.PeriodIndex(col), f"column {time_col!r}")
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        return as_time_index(pd.DatetimeIndex(col), f"column {time_col!r}")
    return as_time_index(pd.Index(col), f"column {time_col!r}")


def _from_long(df: pd.DataFrame, freq, id_col, time_col, target_col) -> tuple[list[dict], PandasLayout]:
    if len(df) == 0:
        raise ValueError("empty DataFrame: nothing to convert")
    if df[id_col].isna().any():
        raise ValueError(f"column {id_col!r} has missing ids")
    times = _time_column(df, time_col)
    values = _float_values(df[[target_col]], f"column {target_col!r}")[:, 0]
    ids = pd.unique(df[id_col])
    positions = df.groupby(id_col, sort=False).indices  # id -> row positions, in row order

    groups = []
    for item in ids:
        rows = positions[item]
        idx = times[rows]
        check_order(idx, f"item {item!r}")
        groups.append((item, rows, idx))
    if freq is not None:
        offset = _offset_for(times, freq, "")
    else:
        # items without gaps decide (they must agree); only if none can, fall back to the smallest common step
        strict = {item: strict_offset(idx) for item, _, idx in groups}
        found = {o for o in strict.values() if o is not None}
        if not found:
            found = {o for item, _, idx in groups if (o := step_offset(idx, f"item {item!r}")) is not None}
            if found and all(isinstance(o, pd.offsets.Tick) for o in found):
                found = {min(found, key=lambda o: o.nanos)}  # grid check below catches incompatible items
        if not found:
            raise ValueError("cannot infer the frequency of the items (single timestamps or no common step); "
                             "pass freq=...")
        if len(found) > 1:
            per_item = {item: o.freqstr for item, o in list(strict.items())[:10] if o is not None}
            raise ValueError(f"mixed frequencies across items ({per_item or sorted(o.freqstr for o in found)}); "
                             "pass freq=... or resample")
        offset = found.pop()

    entries, nan_items, gaps = [], [], []
    for item, rows, idx in groups:
        full = regular_grid(idx, offset, f"item {item!r}")
        gaps.append((f"item {item!r}", large_gaps(full, idx)))
        target = np.full(len(full), np.nan)
        target[full.get_indexer(idx)] = values[rows]
        if np.isnan(target).all():
            nan_items.append(item)
        entries.append(_entry(idx[0], target, offset, item))
    if nan_items:
        raise ValueError(f"column {target_col!r}: all values are NaN for item(s) {nan_items[:10]}")
    warn_large_gaps(gaps, offset)
    layout = PandasLayout(
        kind="long",
        freq=_layout_freq(groups[0][2][0], offset),
        columns=(id_col, time_col, target_col),
        ids=tuple(ids),
        starts=tuple(idx[0] for _, _, idx in groups),
        index_kind="period" if isinstance(times, pd.PeriodIndex) else "datetime",
        dtypes=(df[target_col].dtype,),
        id_dtype=df[id_col].dtype,
    )
    return entries, layout


def _parses_as_time(index: pd.Index) -> bool:
    try:
        as_time_index(index, "index")
        return True
    except (TypeError, ValueError):
        return False


def _frame_kind(df: pd.DataFrame, id_col, time_col, target_col) -> Literal["wide", "long"]:
    """Wide or long, decided by the frame alone (column names can coincide, so a name is never enough):

    * long: all three long-format columns are present, nothing else, and the index is not a time index;
    * wide: the index is a DatetimeIndex/PeriodIndex (or dates as text), whatever the columns are called;
    * anything else is refused, naming what is missing. A time index together with all three long-format columns
      is ambiguous and refused too.
    """
    duplicated = df.columns[df.columns.duplicated()]
    if len(duplicated):
        raise ValueError(f"the DataFrame has duplicate column names {list(dict.fromkeys(duplicated))}; "
                         "give every column its own name")
    long_cols = (id_col, time_col, target_col)
    present = [c for c in long_cols if c in df.columns]
    time_indexed = isinstance(df.index, (pd.DatetimeIndex, pd.PeriodIndex))
    if len(present) == 3:
        if time_indexed:
            raise ValueError(
                f"ambiguous DataFrame: it has a time index (wide format) and the long-format columns {present}. "
                "For long format drop the index (reset_index(drop=True)); for wide format rename the columns")
        extra = [c for c in df.columns if c not in long_cols]
        if extra:
            raise ValueError(
                f"long-format DataFrame has column(s) {extra} besides {list(long_cols)}; one target column is read "
                "per id, so drop the others (give covariates as their own frames: covariates=, past_covariates=, "
                "static_covariates=)")
        return "long"
    if time_indexed:
        return "wide"
    if df.index.dtype == object or pd.api.types.is_string_dtype(df.index.dtype):  # dates as text, perhaps
        if not present or _parses_as_time(df.index):
            return "wide"
    if present:
        missing = [c for c in long_cols if c not in df.columns]
        raise ValueError(
            f"long-format DataFrame lacks column(s) {missing}; it has columns {list(df.columns)}. Name them with "
            f"id_col=, time_col=, target_col= (now {id_col!r}, {time_col!r}, {target_col!r}; Nixtla: "
            "'unique_id', 'ds', 'y'), or give a wide frame a DatetimeIndex")
    raise TypeError(
        f"the DataFrame index is not time-like (got {type(df.index).__name__} of dtype {df.index.dtype}). A "
        f"wide frame needs a DatetimeIndex/PeriodIndex; a long frame needs columns {id_col!r}, {time_col!r}, "
        f"{target_col!r} (pass id_col=, time_col=, target_col=); it has columns {list(df.columns)}")


def input_kind(y, id_col: Hashable = "item_id", time_col: Hashable = "timestamp",
               target_col: Hashable = "target") -> Literal["series", "wide", "long"]:
    """The layout :func:`from_pandas` reads ``y`` as (raising as it would for a frame it refuses)."""
    if isinstance(y, pd.Series):
        return "series"
    if not isinstance(y, pd.DataFrame):
        raise TypeError(f"expected a pandas Series or DataFrame, got {type(y).__name__}")
    return _frame_kind(y, id_col, time_col, target_col)


def from_pandas(
    y: pd.Series | pd.DataFrame,
    freq: str | pd.DateOffset | None = None,
    id_col: Hashable = "item_id",
    time_col: Hashable = "timestamp",
    target_col: Hashable = "target",
) -> tuple[list[dict], PandasLayout]:
    """Convert a pandas series/frame to a GluonTS dataset (a list of data entries) and its layout.

    A DataFrame is read as *long* when it has exactly the columns ``id_col``, ``time_col`` and ``target_col`` and
    no time index; as *wide* when its index is time-like (DatetimeIndex, PeriodIndex, datetime strings), whatever
    its columns are called. Other frames are refused (see ``_frame_kind``). Timestamps missing from the grid become
    NaN rows; when they are more than 10 % of the grid, or one gap exceeds 1,000 steps, a
    :class:`LargeGapWarning` names the largest gap.

    Args:
        y: the data; never modified.
        freq: pandas frequency alias; default: the index's own ``freq``, else ``pd.infer_freq``, else (gaps) the
            smallest step when all steps are multiples of it.
        id_col, time_col, target_col: long-format column names.

    Returns:
        ``(entries, layout)``: ``entries[i] = {"start": pd.Period, "target": float32 (T,) [series, long] or
        (D, T) [wide], "item_id": ...}``, gaps on the frequency grid as NaN; ``layout`` for :func:`to_pandas`.

    Raises:
        TypeError: not a Series/DataFrame; non-numeric (or boolean) target column(s); an index/time column that
            is not time-like.
        ValueError: empty input; duplicate column names; unsorted or duplicate timestamps (per id for long);
            uninferable or mixed frequency; missing or extra long-format columns, or a time index with them; an
            all-NaN series/column/id; inf values.
    """
    if isinstance(y, pd.Series):
        return _from_indexed(y, freq, "series")
    if not isinstance(y, pd.DataFrame):
        raise TypeError(f"expected a pandas Series or DataFrame, got {type(y).__name__}")
    if _frame_kind(y, id_col, time_col, target_col) == "long":
        return _from_long(y, freq, id_col, time_col, target_col)
    return _from_indexed(y, freq, "wide")


def time_index(layout: PandasLayout, start, length: int) -> pd.Index:
    """``length`` timestamps (or periods) of the layout's grid from ``start``, in the input's index kind."""
    if layout.index_kind == "period":
        return pd.period_range(start=start, periods=length, freq=layout.freq)
    idx = pd.date_range(start=start, periods=length, freq=layout.freq)
    return idx if layout.had_freq else pd.DatetimeIndex(idx, freq=None)


def _time_index_for(layout: PandasLayout, i: int, length: int) -> pd.Index:
    return time_index(layout, layout.starts[i], length)


def _targets(data: Any, n: int) -> list[np.ndarray]:
    if isinstance(data, np.ndarray):
        data = [data]
    out = [np.asarray(d["target"] if isinstance(d, dict) else d) for d in data]
    if len(out) != n:
        raise ValueError(f"got {len(out)} series for a layout of {n} item(s)")
    return out


def to_pandas(data: Iterable[dict] | Sequence[np.ndarray] | np.ndarray, layout: PandasLayout):
    """Rebuild the pandas object :func:`from_pandas` read (the inverse, up to float32 rounding).

    Args:
        data: the entries (dicts with ``"target"``) or their target arrays, one per ``layout.ids`` (a single
            array is accepted for series/wide). Lengths may differ from the input's (e.g. with forecasts
            appended): the time index continues from each entry's original start.
        layout: from :func:`from_pandas`.

    Returns:
        series: ``pd.Series`` ``(T,)``; wide: ``DataFrame`` ``(T, D)``; long: ``DataFrame`` with the three columns,
        items in order of first appearance, each sorted by time, a fresh RangeIndex. Gaps that were filled stay as
        NaN rows; a string time index/column comes back as datetimes.
    """
    targets = _targets(data, len(layout.ids))
    if layout.kind == "series":
        t = targets[0]
        idx = _time_index_for(layout, 0, t.shape[-1]).rename(layout.index_name)
        return pd.Series(_restore_dtype(t, layout.dtypes[0]), index=idx, name=layout.columns[0])
    if layout.kind == "wide":
        t = np.atleast_2d(targets[0])  # (D, T)
        idx = _time_index_for(layout, 0, t.shape[-1]).rename(layout.index_name)
        cols = pd.Index(layout.columns, name=layout.columns_name)
        if len(cols) != t.shape[0]:
            raise ValueError(f"target has {t.shape[0]} rows, the layout {len(cols)} columns")
        return pd.DataFrame(
            {c: _restore_dtype(row, dt) for c, row, dt in zip(cols, t, layout.dtypes)}, index=idx
        ).set_axis(cols, axis=1)
    id_col, time_col, target_col = layout.columns
    frames = []
    for i, (item, t) in enumerate(zip(layout.ids, targets)):
        t = np.asarray(t).reshape(-1)
        frames.append(pd.DataFrame({
            id_col: pd.Series([item] * len(t), dtype=layout.id_dtype),
            time_col: _time_index_for(layout, i, len(t)),
            target_col: _restore_dtype(t, layout.dtypes[0]),
        }))  # fmt: skip
    return pd.concat(frames, ignore_index=True)
