"""Time handling for the pandas conversion: time-like indexes, their order, frequency inference and the regular
grid that gaps are re-indexed onto."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset


def as_time_index(index: pd.Index, what: str) -> pd.DatetimeIndex | pd.PeriodIndex:
    """``index`` as a DatetimeIndex/PeriodIndex; strings are parsed, anything else is a TypeError."""
    if isinstance(index, (pd.DatetimeIndex, pd.PeriodIndex)):
        out = index
    elif isinstance(index.dtype, pd.PeriodDtype):
        out = pd.PeriodIndex(index)
    elif index.dtype == object or pd.api.types.is_string_dtype(index.dtype):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "could not infer format" is noise here; failures raise below
                out = pd.DatetimeIndex(pd.to_datetime(index), name=index.name)
        except (ValueError, TypeError) as exc:
            raise TypeError(
                f"{what} is not time-like and cannot be converted to datetimes ({type(exc).__name__}: {exc})"
            ) from exc
    else:
        raise TypeError(
            f"{what} is not time-like (got {type(index).__name__} of dtype {index.dtype}); "
            "use a DatetimeIndex or PeriodIndex (or datetime strings)"
        )
    if out.hasnans:
        raise ValueError(f"{what} contains missing timestamps (NaT)")
    return out


def check_order(idx: pd.Index, label: str) -> None:
    dup = idx.duplicated()
    if dup.any():
        raise ValueError(f"duplicate timestamps in {label}: {idx[dup][0]} occurs more than once")
    if not idx.is_monotonic_increasing:
        i = int(np.flatnonzero(np.diff(idx.asi8) < 0)[0]) + 1
        raise ValueError(
            f"timestamps in {label} are not sorted: {idx[i]} comes after {idx[i - 1]} (sort by time first)"
        )


def strict_offset(idx: pd.Index) -> pd.DateOffset | None:
    """The index's own frequency, or ``pd.infer_freq``'s; ``None`` when neither knows (gaps, < 3 points)."""
    if isinstance(idx, pd.PeriodIndex) or idx.freq is not None:
        return idx.freq
    if len(idx) >= 3:
        inferred = pd.infer_freq(idx)
        if inferred is not None:
            return to_offset(inferred)
    return None


def step_offset(idx: pd.Index, label: str) -> pd.DateOffset | None:
    """Fallback for gaps: the smallest step, if every step is a whole multiple of it and at least half of the
    steps are that one (so data switching between two rates is reported, not read as "gaps"); ``None`` for < 2
    points."""
    if len(idx) < 2:
        return None
    steps = np.diff(idx.asi8)
    step = int(steps.min())
    if np.all(steps % step == 0) and 2 * np.count_nonzero(steps == step) >= len(steps):
        return to_offset(pd.Timedelta(step, unit="ns"))
    seen = ", ".join(str(pd.Timedelta(int(s), unit="ns")) for s in np.unique(steps)[:5])
    raise ValueError(
        f"cannot infer a regular frequency for {label}: mixed or irregular steps between timestamps ({seen}); "
        "pass freq=... if the data is regular with gaps, or resample it"
    )


def infer_offset(idx: pd.Index, label: str) -> pd.DateOffset | None:
    """The grid frequency of sorted unique timestamps; ``None`` if there are fewer than two."""
    return strict_offset(idx) or step_offset(idx, label)


def regular_grid(idx: pd.Index, offset: pd.DateOffset, label: str) -> pd.Index:
    """The full ``offset`` grid from the first to the last timestamp; every timestamp must lie on it."""
    if isinstance(idx, pd.PeriodIndex):
        if idx.freq != offset:
            raise ValueError(f"{label} has period frequency {idx.freqstr}, but freq={offset.freqstr} was asked")
        full = pd.period_range(idx[0], idx[-1], freq=offset, name=idx.name)
    else:
        full = pd.date_range(idx[0], idx[-1], freq=offset, name=idx.name)
    on_grid = idx.isin(full)
    if not on_grid.all():
        raise ValueError(
            f"timestamps of {label} are not on one regular {offset.freqstr} grid starting at {idx[0]} (first "
            f"off-grid timestamp: {idx[~on_grid][0]}); mixed frequency? pass the right freq=... or resample"
        )
    return full


_PERIOD_ALIAS = {"MS": "M", "BMS": "M", "QS": "Q", "BQS": "Q", "YS": "Y", "BYS": "Y", "SMS": "D"}


def to_period(start: pd.Timestamp | pd.Period, offset: pd.DateOffset) -> pd.Period:
    """GluonTS wants ``start`` as a Period; "start" offsets (MS, QS, YS) have no Period twin, use the base unit."""
    if isinstance(start, pd.Period):
        return start
    naive = start.tz_localize(None) if start.tzinfo is not None else start  # Periods carry no time zone
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # e.g. "Period with BDay freq is deprecated"
        try:
            return pd.Period(naive, freq=offset)
        except (ValueError, TypeError, AttributeError):
            alias = _PERIOD_ALIAS.get(offset.name.split("-")[0])
            if alias is None:
                raise ValueError(f"frequency {offset.freqstr} has no pandas Period equivalent") from None
            return pd.Period(naive, freq=f"{offset.n if offset.n != 1 else ''}{alias}")
