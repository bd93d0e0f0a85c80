"""Time handling for the pandas conversion: time-like indexes, their order, frequency inference and the regular
grid that gaps are re-indexed onto."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from tsdiff.quiet import user_stacklevel


class AmbiguousDatesError(ValueError):
    """Dates such as 01/02/2024 that read as valid, different dates month-first and day-first."""


def _to_datetime(values, **kwargs) -> pd.DatetimeIndex:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": failures raise
        out = pd.DatetimeIndex(pd.to_datetime(pd.Index(values), **kwargs))
    return out


def parse_datetimes(values, to_utc: bool = False) -> tuple[pd.DatetimeIndex, bool]:
    """Timestamps from text (or datetime objects): ``(DatetimeIndex, converted_to_utc)``.

    ISO 8601 (2024-01-31, 2024-01-31T13:00+01:00) is read as is. Other text is read month-first and day-first;
    if only one parses it is used, if both parse to different dates (01/02/2024 with no day above 12) the order is
    ambiguous and :class:`AmbiguousDatesError` is raised. Mixed UTC offsets (a daylight-saving change) are converted
    to UTC when ``to_utc``, else refused. Other failures raise ValueError/TypeError with a one-line message.
    """
    attempts = [dict(format="ISO8601"), dict(dayfirst=False), dict(dayfirst=True)]
    parsed, errors = [], []
    for kwargs in attempts:
        try:
            parsed.append(_to_datetime(values, **kwargs))
        except (ValueError, TypeError, OverflowError) as exc:
            errors.append(exc)
            continue
        if kwargs.get("format") == "ISO8601":
            return parsed[0], False
    if not parsed:
        message = str(errors[-1]).splitlines()[0].split(". You might")[0]  # pandas appends advice on format=
        if "utc=True" in message or "offset" in message:
            if to_utc:
                return _to_datetime(values, utc=True), True
            message = "the timestamps mix UTC offsets (daylight saving?); parse them with pd.to_datetime(..., utc=True)"
        raise ValueError(message)
    if len(parsed) == 2 and not parsed[0].equals(parsed[1]):
        i = int(np.argmax(parsed[0] != parsed[1]))
        raise AmbiguousDatesError(
            f"the order of day and month is ambiguous ({pd.Index(values)[i]!r} reads as {parsed[0][i]:%Y-%m-%d} "
            f"month-first and {parsed[1][i]:%Y-%m-%d} day-first); write the dates as YYYY-MM-DD")
    return parsed[0], False


def as_time_index(index: pd.Index, what: str) -> pd.DatetimeIndex | pd.PeriodIndex:
    """``index`` as a DatetimeIndex/PeriodIndex; strings are parsed, anything else is a TypeError."""
    if isinstance(index, (pd.DatetimeIndex, pd.PeriodIndex)):
        out = index
    elif isinstance(index.dtype, pd.PeriodDtype):
        out = pd.PeriodIndex(index)
    elif index.dtype == object or pd.api.types.is_string_dtype(index.dtype):
        try:
            out = parse_datetimes(index)[0].rename(index.name)
        except AmbiguousDatesError as exc:
            raise AmbiguousDatesError(f"{what}: {exc}") from None
        except (ValueError, TypeError) as exc:
            raise TypeError(f"{what} is not time-like and cannot be converted to datetimes ({exc})") from exc
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


# ------------------------------------------------------------------------------------------------ gap warnings

# Re-indexing onto the grid fills missing timestamps with NaN rows. That is right for a few dropped readings, but a
# large share of NaN rows usually means a wrong grid (a mis-inferred frequency, data that stopped for a year) and
# trains a model mostly on nothing, so it is reported. Warn when the inserted rows exceed 10 % of the grid, or when
# one gap alone spans more than 1,000 steps (six weeks of hourly data), which can be under 10 % of a long series.
GAP_WARN_FRACTION = 0.10
GAP_WARN_ROWS = 1000


class LargeGapWarning(UserWarning):
    """Re-indexing onto the frequency grid inserted many NaN rows (see :func:`large_gaps`)."""


@dataclass(frozen=True)
class GapReport:
    """The NaN rows re-indexing inserted: ``inserted`` of ``length`` grid rows, in ``gaps`` runs; the largest run
    has ``largest`` rows, from ``first`` to ``last`` (inclusive)."""

    inserted: int
    length: int
    gaps: int
    largest: int
    first: object
    last: object

    def describe(self, label: str, freqstr: str) -> str:
        return (f"{label}: re-indexing onto the regular {freqstr} grid inserted {self.inserted} NaN rows "
                f"({self.inserted / self.length:.0%} of {self.length}) in {self.gaps} gap(s); the largest gap runs "
                f"from {self.first} to {self.last} ({self.largest} rows). If these timestamps were not meant to be "
                "missing, check the frequency (freq=...) or cut the series")


def large_gaps(full: pd.Index, idx: pd.Index) -> GapReport | None:
    """The gaps of ``idx`` (sorted, on the grid ``full``) if they exceed the warning thresholds, else ``None``."""
    inserted = len(full) - len(idx)
    if inserted == 0:
        return None
    pos = full.get_indexer(idx)
    missing = np.diff(pos) - 1  # NaN rows between consecutive observed timestamps
    k = int(np.argmax(missing))
    if inserted <= GAP_WARN_FRACTION * len(full) and missing[k] <= GAP_WARN_ROWS:
        return None
    return GapReport(inserted=inserted, length=len(full), gaps=int(np.count_nonzero(missing)),
                     largest=int(missing[k]), first=full[pos[k] + 1], last=full[pos[k + 1] - 1])


def warn_large_gaps(reports: list[tuple[str, object]], offset: pd.DateOffset) -> None:
    """One :class:`LargeGapWarning` for the worst of ``(label, GapReport | None)`` pairs, if any is not None."""
    found = [(label, r) for label, r in reports if r is not None]
    if not found:
        return
    label, worst = max(found, key=lambda pair: pair[1].inserted / pair[1].length)
    if len(found) > 1:
        label += f" (one of {len(found)} items with large gaps)"
    warnings.warn(worst.describe(label, offset.freqstr), LargeGapWarning, stacklevel=user_stacklevel())
