"""The command line's file handling: reading the input CSV and checking output paths before any training.

CSV rules (what ``tsdiff forecast/impute data.csv`` accepts):

* the delimiter is sniffed from the first lines: ``,`` ``;`` tab or ``|`` (the first that splits every line into
  the same number of fields, more than one); with ``;``, tab or ``|``, numbers written with a decimal comma
  (``1,5``) are read as decimals when no number in the sample uses a decimal point;
* a first column holding the row numbers 0, 1, 2, ... (or 1, 2, 3, ...), as ``DataFrame.to_csv`` writes them, is
  dropped, with a note, when it has no header or no ``--time-col`` was given;
* the time column (``--time-col``, default: the first remaining column) must hold dates or times as text; a
  numeric column is refused (numbers would otherwise read as nanoseconds after 1970-01-01), naming a column that
  does look like dates if there is one;
* timestamps are parsed by :func:`tsdiff.data.pandas_time.parse_datetimes`: ISO 8601 as is, other dates month-
  or day-first, whichever parses, refused when both do with different results (01/02/2024); timestamps with mixed
  UTC offsets (a daylight-saving change) are converted to UTC, with a note.
"""
from __future__ import annotations

import csv
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path

DELIMITERS = (",", ";", "\t", "|")
_SNIFF_LINES = 50
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_DECIMAL_POINT = re.compile(r"^[+-]?\d*\.\d+$")
_PLOT_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".eps", ".ps")


class CLIError(Exception):
    """An error to report as one line."""


def _name(delimiter: str) -> str:
    return {"\t": "tab"}.get(delimiter, repr(delimiter))


def sniff_format(lines: list[str]) -> tuple[str, str]:
    """``(delimiter, decimal)`` of CSV text from its first non-empty ``lines`` (header first)."""
    delimiter = ","
    for candidate in DELIMITERS:
        widths = {len(row) for row in csv.reader(lines, delimiter=candidate)}
        if len(widths) == 1 and widths.pop() > 1:
            delimiter = candidate
            break
    decimal = "."
    if delimiter != ",":
        fields = [f.strip() for row in csv.reader(lines[1:], delimiter=delimiter) for f in row]
        if any(_DECIMAL_COMMA.match(f) for f in fields) and not any(_DECIMAL_POINT.match(f) for f in fields):
            decimal = ","
    return delimiter, decimal


def _head(path: str) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        lines = [line for _, line in zip(range(_SNIFF_LINES), fh)]
    return [line for line in lines if line.strip()]


def _preview(values) -> str:
    shown = [f"{v:.6g}" if isinstance(v, float) else str(v) for v in list(values[:3])]
    return ", ".join(shown) + (", …" if len(values) > 3 else "")


def _is_row_number(column) -> bool:
    import numpy as np
    import pandas as pd

    if not pd.api.types.is_integer_dtype(column.dtype) or len(column) < 2:
        return False
    values = column.to_numpy()
    return bool(np.array_equal(values, np.arange(len(values))) or np.array_equal(values, np.arange(1, len(values) + 1)))


def _looks_like_value(text: str) -> bool:
    """A number or a timestamp: what a header line should not consist of."""
    import pandas as pd

    text = text.strip()
    if not text:
        return False
    try:
        float(text.replace(",", "."))
        return True
    except ValueError:
        pass
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pd.Timestamp(text)
        return any(ch.isdigit() for ch in text)
    except (ValueError, TypeError, OverflowError):
        return False


def _looks_like_dates(column) -> bool:
    import pandas as pd

    from tsdiff.data.pandas_time import parse_datetimes

    if pd.api.types.is_numeric_dtype(column.dtype) or column.dropna().empty:
        return False
    try:
        parse_datetimes(column.dropna().iloc[:20])
        return True
    except (ValueError, TypeError, OverflowError):
        return False


def read_csv(path: str, time_col: str | None, long_cols: tuple[str, str] | None, note: Callable[[str], None]):
    """Read ``path`` for the CLI: a wide frame indexed by time, or (``long_cols = (id_col, target_col)``) a long
    frame with its time column parsed. Returns ``(frame, time_col)``; raises CLIError naming the problem."""
    frame, delimiter, decimal = _read_table(path)
    frame, time_col = _with_time_column(frame, time_col, path, note)
    if long_cols is not None:
        for role, col in zip(("id", "target"), long_cols):
            if col not in frame.columns:
                raise CLIError(f"{role} column {col!r} not in {path}; columns are {list(frame.columns)}")
        _check_numeric(frame[[long_cols[1]]], path, delimiter, decimal)
        return frame, time_col
    frame = frame.set_index(time_col)
    _check_numeric(frame, path, delimiter, decimal)
    return frame, time_col


def _read_table(path: str):
    """The CSV as read with its sniffed delimiter and decimal: ``(frame, delimiter, decimal)``."""
    import pandas as pd

    if os.path.isdir(path):
        raise CLIError(f"input {path} is a directory, not a CSV file")
    if not os.path.isfile(path):
        raise CLIError(f"input file not found: {path}")
    try:
        lines = _head(path)
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc}") from exc
    if not lines:
        raise CLIError(f"{path} is empty")
    delimiter, decimal = sniff_format(lines)
    header = next(csv.reader(lines[:1], delimiter=delimiter))
    if all(_looks_like_value(h) for h in header):
        raise CLIError(f"the first line of {path} holds values ({_preview(header)}), not column names; add a "
                       "header line such as time,a,b")
    dups = sorted({h for h in header if header.count(h) > 1 and h.strip()})
    if dups:
        raise CLIError(f"{path} has duplicate column names {dups}; give every column its own name")
    try:
        frame = pd.read_csv(path, sep=delimiter, decimal=decimal)
    except UnicodeDecodeError as exc:
        raise CLIError(f"cannot read {path}: it is not UTF-8 text ({exc}); save it as UTF-8") from exc
    except Exception as exc:  # pandas raises many parser error types
        raise CLIError(f"cannot read {path} as CSV (delimiter {_name(delimiter)}): {exc}") from exc
    if frame.shape[1] < 2:
        raise CLIError(f"{path} has a single column ({list(frame.columns)[:1]}) when split at {_name(delimiter)}; "
                       f"expected a time column and value columns separated by one of , ; tab |")
    if frame.empty:
        raise CLIError(f"{path} has no rows")
    return frame, delimiter, decimal


def _with_time_column(frame, time_col: str | None, path: str, note: Callable[[str], None]):
    """Drop a leading row-number column, find the time column and parse it: ``(frame, time_col)``."""
    import pandas as pd

    from tsdiff.data.pandas_time import parse_datetimes

    first, requested = frame.columns[0], time_col
    unnamed = str(first).startswith("Unnamed: 0")
    if first != requested and _is_row_number(frame[first]) and (unnamed or requested is None):
        note(f"ignoring column {first!r} of {path}: it holds row numbers ({_preview(frame[first])})")
        frame = frame.drop(columns=first)
    time_col = time_col or frame.columns[0]
    if time_col not in frame.columns:
        raise CLIError(f"time column {time_col!r} not in {path}; columns are {list(frame.columns)}")
    times = frame[time_col]
    if pd.api.types.is_numeric_dtype(times.dtype):
        dated = [c for c in frame.columns if c != time_col and _looks_like_dates(frame[c])]
        hint = f"; column {dated[0]!r} looks like dates: pass --time-col {dated[0]}" if dated else ""
        what = (f"--time-col {time_col!r} names a numeric column" if requested is not None
                else f"{path} has no time column: its first column {time_col!r} holds numbers")
        raise CLIError(f"{what} ({_preview(times)}), not dates or times{hint}. The time column must hold "
                       "timestamps as text, e.g. 2024-01-31 or 2024-01-31 13:00")
    try:
        parsed, to_utc = parse_datetimes(times, to_utc=True)
    except (ValueError, TypeError, OverflowError) as exc:
        raise CLIError(f"column {time_col!r} of {path} is not a timestamp column ({exc})") from exc
    if parsed.isna().any():
        row = int(parsed.isna().argmax())
        raise CLIError(f"column {time_col!r} of {path} has a missing or unreadable timestamp in data row {row + 1} "
                       f"({times.iloc[row]!r})")
    if to_utc:
        note(f"column {time_col!r} of {path} mixes UTC offsets (daylight saving?); timestamps converted to UTC")
    frame[time_col] = parsed
    return frame, time_col


def _check_numeric(frame, path: str, delimiter: str, decimal: str) -> None:
    import pandas as pd

    for col in frame.columns:
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
            continue
        present = values.dropna().astype(str)
        bad = present[pd.to_numeric(present, errors="coerce").isna()]  # the cells that are not numbers
        examples = _preview((bad if len(bad) else present).unique())
        raise CLIError(f"column {col!r} of {path} is not numeric (values like {examples}); it was read with "
                       f"delimiter {_name(delimiter)} and decimal {decimal!r}")


# ------------------------------------------------------------------------------------------------ output paths


def check_outputs(outputs: dict[str, str | None], input_path: str) -> None:
    """Refuse, before any work, output paths that cannot be written: ``outputs`` maps a flag to its path (or None)."""
    seen: dict[str, str] = {}
    for flag, path in outputs.items():
        if path is None:
            continue
        target = Path(path)
        if target.is_dir():
            raise CLIError(f"{flag} {path} is a directory; give a file name")
        parent = target.parent
        if not parent.exists():
            raise CLIError(f"{flag} {path}: directory {str(parent)!r} does not exist")
        if not parent.is_dir():
            raise CLIError(f"{flag} {path}: {str(parent)!r} is not a directory")
        if not os.access(parent, os.W_OK | os.X_OK) or (target.exists() and not os.access(target, os.W_OK)):
            raise CLIError(f"{flag} {path}: not writable (permission denied)")
        if flag == "--plot" and target.suffix.lower() not in _PLOT_SUFFIXES:
            raise CLIError(f"--plot {path}: the file name must end in one of {', '.join(_PLOT_SUFFIXES)}")
        resolved = os.path.realpath(target)
        if resolved == os.path.realpath(input_path):
            raise CLIError(f"{flag} {path} would overwrite the input file")
        if resolved in seen:
            raise CLIError(f"{flag} and {seen[resolved]} name the same file {path}")
        seen[resolved] = flag


# ------------------------------------------------------------------------------------------------ output tables


def check_float_format(fmt: str) -> str:
    """A printf-style float format (``%.7g``, ``%.3f``) for ``DataFrame.to_csv``; CLIError otherwise."""
    try:
        text = fmt % 1.5
    except (TypeError, ValueError) as exc:
        raise CLIError(f"--float-format {fmt!r} is not a printf format for one number, such as %.7g or %.3f "
                       f"({exc})") from None
    if not isinstance(text, str) or "1" not in text:
        raise CLIError(f"--float-format {fmt!r} does not print the number (1.5 gives {text!r})")
    return fmt


def long_rows(frame):
    """A wide forecast table (time index; columns (variable, stat)) as one row per variable and time: columns
    ``variable``, the time column, then the statistics; one header row."""
    import pandas as pd

    time_name = frame.index.name or "timestamp"
    parts = []
    for variable in frame.columns.get_level_values(0).unique():
        part = frame[variable].rename_axis(time_name).reset_index()
        part.columns.name = None
        part.insert(0, "variable", variable)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


# ------------------------------------------------------------------------------------------------ covariate columns

COVARIATE_OPTIONS = {"covariates": "--covariates", "past_covariates": "--past-covariates",
                     "static_covariates": "--static-covariates"}


def split_covariates(frame, names: dict, path: str, roles: dict):
    """Take the covariate columns named by the options out of the CSV's frame: ``(y, covariate arguments)``.

    ``names``: ``fit``/``predict`` argument → column names (or None); ``roles``: column → what it already is
    (``"the time column"``, ...), which no covariate may be. A wide frame (time index) keeps its value columns as the
    target; when ``--covariates`` are given, its trailing rows without any target value are the horizon's
    covariates (they must cover ``--horizon`` steps). A long frame (``roles`` names its id and target columns) gives
    the dynamic covariates per id and step (the rows after an id's last target value: the horizon's), the static
    ones as one value per id. Raises CLIError naming an unknown, repeated or unusable column.
    """
    seen: dict = {}
    for arg, cols in names.items():
        for col in cols or []:
            flag = COVARIATE_OPTIONS[arg]
            if col in roles:
                raise CLIError(f"{flag} column {col!r} is {roles[col]}, not a covariate")
            if col not in frame.columns:
                raise CLIError(f"{flag} column {col!r} not in {path}; columns are {list(frame.columns)}")
            if col in seen:
                raise CLIError(f"column {col!r} is named twice ({seen[col]} and {flag}); a column is one kind of "
                               "covariate")
            seen[col] = flag
    given = {arg: cols for arg, cols in names.items() if cols}
    if not given:
        return frame, {}
    role_of = {role: col for col, role in roles.items()}
    y = frame.drop(columns=list(seen))
    if "the series-id column" in role_of:
        id_col, time_col = role_of["the series-id column"], role_of["the time column"]
        out = {arg: frame[[id_col, time_col, *cols]] for arg, cols in given.items() if arg != "static_covariates"}
        if "static_covariates" in given:
            out["static_covariates"] = _static_per_id(frame, id_col, given["static_covariates"], path)
        if "covariates" in given:  # each id's rows after its last target value give the horizon's covariates
            y = y.sort_values([id_col, time_col], kind="stable")
            observed = y[role_of["the target column"]].notna().astype(int)[::-1]
            y = y[observed.groupby(y[id_col][::-1]).cummax()[::-1].astype(bool)]
        return y, out
    if "static_covariates" in given:
        raise CLIError("--static-covariates need a long CSV (--id-col): one value per series id, repeated on its rows")
    if y.shape[1] == 0:
        raise CLIError(f"no target column left in {path}: every value column is named as a covariate")
    out = {arg: frame[cols] for arg, cols in given.items()}
    if "covariates" in given:  # the rows after the last target value give the horizon's covariates only
        has_target = y.notna().any(axis=1).to_numpy()
        if has_target.any():
            y = y.iloc[:int(has_target.nonzero()[0][-1]) + 1]
    return y, out


def _static_per_id(frame, id_col: str, cols: list, path: str):
    """One row per id (indexed by id) of the static columns; CLIError if a column changes within an id."""
    grouped = frame.groupby(id_col, sort=False)[cols]
    changing = grouped.nunique(dropna=False) > 1
    for col in cols:
        if changing[col].any():
            item = changing.index[changing[col].to_numpy()][0]
            raise CLIError(f"--static-covariates column {col!r} of {path} takes several values for id {item!r}; a "
                           "static covariate has one value per series")
    return grouped.first()
