"""Covariates of the pandas models, checked and laid out on the data's grid.

Three kinds, one argument each in ``fit``/``predict`` (and one CLI option each):

- ``covariates``: real features known for the history *and* the horizon (calendar effects, planned prices;
  Nixtla's ``futr_exog``, AutoGluon's ``known_covariates``): a DataFrame indexed by time; at ``predict`` it must
  also cover the ``prediction_length`` steps after the history. For a panel: a long frame (the fit's id and time
  columns and the covariate columns, each series on its own steps) or a frame indexed by time, shared by all.
- ``past_covariates``: real features known only up to the last timestamp of the history (measured weather,
  other sensors; Nixtla's ``hist_exog``, AutoGluon's ``past_covariates``): indexed by time, covering the history.
  TimeGrad reads them on the context and, on the horizon, their last known value with an indicator (see
  :mod:`tsdiff.models.timegrad.covariates`).
- ``static_covariates``: one row per variable of a wide frame or per series id of a panel (Nixtla's
  ``static_df``, AutoGluon's ``static_features``), indexed by the variable/id (or with the long frame's id
  column). Numeric columns are reals (standardised with their mean and spread over the fitted rows); columns of
  dtype object, string, bool or ``category`` are categories, each level embedded (a level not seen in training
  maps to a shared "unknown" code). Cast integer codes to ``"category"`` to have them read as categories.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .grid import covariates_on
from .persistence import decode_label, encode_label

FUTURE, PAST, STATIC = "covariates", "past_covariates", "static_covariates"


@dataclass
class Covariates:
    """The covariates of one fit or forecast as arrays.

    Attributes:
        future: float32 (K, T) at fit, (K, T + H) at predict, or None (a panel: one per series, a list).
        past: float32 (K_p, T) or None (a panel: a list).
        static_real: float32 (N, R) standardised reals per variable/series, or None.
        static_codes: int64 (N, C) category codes per variable/series (0: a level unseen in training), or None.
    """

    future: np.ndarray | None = None
    past: np.ndarray | None = None
    static_real: np.ndarray | None = None
    static_codes: np.ndarray | None = None

    def series(self, j: int) -> "Covariates":
        """Series ``j`` of a panel's covariates (the dynamic ones are lists of (K, T_i) arrays there)."""
        def pick(values):
            return None if values is None else values[j] if isinstance(values, list) else values
        rows = slice(j, j + 1)
        return Covariates(pick(self.future), pick(self.past),
                          None if self.static_real is None else self.static_real[rows],
                          None if self.static_codes is None else self.static_codes[rows])

    def count(self, name: str) -> int:
        """Features of the dynamic kind ``name`` (0 without)."""
        values = self.future if name == FUTURE else self.past
        if values is None:
            return 0
        return (values[0] if isinstance(values, list) else values).shape[0]

    def static_of(self, rows) -> dict:
        """GluonTS ``feat_static_real``/``feat_static_cat`` of the variables/series ``rows`` (flattened, row-major)."""
        out = {}
        if self.static_real is not None:
            out["feat_static_real"] = self.static_real[rows].reshape(-1)
        if self.static_codes is not None:
            out["feat_static_cat"] = self.static_codes[rows].reshape(-1)
        return out


def dynamic_columns(frame, what: str) -> list:
    """The column names of a dynamic covariate frame (a Series is one column)."""
    if isinstance(frame, pd.Series):
        return [frame.name if frame.name is not None else 0]
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame or Series indexed by time, got {type(frame).__name__}")
    return list(frame.columns)


def check_same_columns(fitted: list, given: list, what: str) -> None:
    if list(given) != list(fitted):
        missing = [c for c in fitted if c not in given]
        detail = f"missing {missing}" if missing else f"got {list(given)}"
        raise ValueError(f"{what} must have the columns the model was fitted with, {list(fitted)} ({detail})")


def is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def static_frame(frame, ids, id_col: str | None, what: str = STATIC) -> pd.DataFrame:
    """``frame`` as one row per id of ``ids`` (in that order); ValueError naming missing or repeated ids."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame with one row per variable or series id, "
                        f"got {type(frame).__name__}")
    if id_col is not None and id_col in frame.columns:
        frame = frame.set_index(id_col)
    if frame.shape[1] == 0:
        raise ValueError(f"{what} has no columns")
    if frame.index.has_duplicates:
        raise ValueError(f"{what} has several rows for the ids "
                         f"{list(dict.fromkeys(frame.index[frame.index.duplicated()]))[:5]}")
    missing = [i for i in ids if i not in frame.index]
    if missing:
        raise ValueError(f"{what} has no row for the id(s) {missing[:5]}{' ...' if len(missing) > 5 else ''}; it "
                         f"needs one row per variable/series id (its index, or an {id_col!r} column), has "
                         f"{list(frame.index[:5])}{' ...' if len(frame.index) > 5 else ''}")
    return frame.loc[list(ids)]


@dataclass
class StaticCovariates:
    """The static covariates a model was fitted with.

    Attributes:
        ids: the fitted variables/series ids, in the order of ``real``/``codes``' rows.
        real_columns, category_columns: the column names of each kind.
        levels: per category column, its levels seen in training (code ``k + 1`` is ``levels[k]``; 0 unknown).
        loc, scale: (R,) the standardisation of the reals.
        real: float32 (N, R) standardised; codes: int64 (N, C).
    """

    ids: list
    real_columns: list
    category_columns: list
    levels: list
    loc: np.ndarray
    scale: np.ndarray
    real: np.ndarray = field(repr=False)
    codes: np.ndarray = field(repr=False)

    @property
    def cardinality(self) -> list[int]:
        return [len(levels) + 1 for levels in self.levels]

    @property
    def columns(self) -> list:
        return self.real_columns + self.category_columns

    @classmethod
    def fit(cls, frame, ids, id_col: str | None = None, what: str = STATIC) -> "StaticCovariates":
        """Read the static covariates of ``ids`` from ``frame`` (see the module docstring)."""
        rows = static_frame(frame, ids, id_col, what)
        if rows.columns.has_duplicates:
            raise ValueError(f"{what} has duplicate column names")
        categories = [c for c in rows.columns if is_categorical(rows[c])]
        reals = [c for c in rows.columns if c not in categories]
        values = _real_values(rows, reals, what)
        loc = values.mean(axis=0) if len(reals) else np.zeros(0)
        spread = values.std(axis=0) if len(reals) else np.zeros(0)
        scale = np.where(spread > 1e-8 * np.maximum(np.abs(loc), 1.0), spread, 1.0)  # one row or equal rows
        levels = []
        for c in categories:
            _check_labels(rows[c], c, what)
            levels.append(sorted(pd.unique(rows[c]).tolist(), key=lambda v: (type(v).__name__, str(v))))
        static = cls(list(ids), reals, categories, levels, loc, scale, np.zeros(0), np.zeros(0))
        static.real, static.codes = static.encode(rows, what)
        return static

    def encode(self, rows: pd.DataFrame, what: str = STATIC) -> tuple[np.ndarray, np.ndarray]:
        """(real (N, R), codes (N, C)) of ``rows`` (one per id, the fitted columns)."""
        missing = [c for c in self.columns if c not in rows.columns]
        extra = [c for c in rows.columns if c not in self.columns]
        if missing or extra:
            raise ValueError(f"{what} must have the columns the model was fitted with, {self.columns}"
                             f"{f'; missing {missing}' if missing else ''}{f'; new {extra}' if extra else ''}")
        for c in self.real_columns:
            if is_categorical(rows[c]):
                raise ValueError(f"{what} column {c!r} was numeric (a static real) when the model was fitted; it "
                                 f"now holds non-numeric values such as {rows[c].iloc[0]!r}")
        real = ((_real_values(rows, self.real_columns, what) - self.loc) / self.scale).astype(np.float32)
        codes = np.zeros((len(rows), len(self.category_columns)), dtype=np.int64)
        for j, (c, levels) in enumerate(zip(self.category_columns, self.levels)):
            _check_labels(rows[c], c, what)
            lookup = {label: k + 1 for k, label in enumerate(levels)}
            codes[:, j] = [lookup.get(label, 0) for label in rows[c].tolist()]
        return real.reshape(len(rows), len(self.real_columns)), codes

    def rows_for(self, ids, frame, id_col: str | None, what: str = STATIC) -> tuple[np.ndarray, np.ndarray]:
        """(real, codes) of ``ids``: from ``frame`` if given, else the fitted rows (ValueError for an id the model
        has no static covariates of)."""
        if frame is not None:
            return self.encode(static_frame(frame, ids, id_col, what), what)
        known = {i: k for k, i in enumerate(self.ids)}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise ValueError(f"the model was fitted with static covariates; the id(s) {unknown[:5]} are new: pass "
                             f"{what} with a row for each")
        rows = [known[i] for i in ids]
        return self.real[rows], self.codes[rows]

    # -- persistence -----------------------------------------------------------------------------------------------
    def state(self) -> tuple[dict, dict]:
        """(JSON-able manifest entry, arrays for history.npz)."""
        data = {"ids": [encode_label(i) for i in self.ids],
                "real_columns": [encode_label(c) for c in self.real_columns],
                "category_columns": [encode_label(c) for c in self.category_columns],
                "levels": [[encode_label(v) for v in levels] for levels in self.levels],
                "loc": self.loc.tolist(), "scale": self.scale.tolist()}
        return data, {"static_real": self.real, "static_codes": self.codes}

    @classmethod
    def from_state(cls, data: dict, arrays) -> "StaticCovariates":
        decode = lambda items: [decode_label(v) for v in items]  # noqa: E731
        return cls(decode(data["ids"]), decode(data["real_columns"]), decode(data["category_columns"]),
                   [decode(levels) for levels in data["levels"]], np.asarray(data["loc"], dtype=np.float64),
                   np.asarray(data["scale"], dtype=np.float64), arrays["static_real"], arrays["static_codes"])


def _real_values(rows: pd.DataFrame, columns: list, what: str) -> np.ndarray:
    values = rows[columns].to_numpy(dtype=np.float64) if columns else np.zeros((len(rows), 0))
    bad = [c for c, ok in zip(columns, np.isfinite(values).all(axis=0)) if not ok]
    if bad:
        raise ValueError(f"{what} columns {bad} have missing (NaN) or infinite values; static reals must be given "
                         "for every variable/series")
    return values


def _check_labels(column: pd.Series, name, what: str) -> None:
    if column.isna().any():
        raise ValueError(f"{what} column {name!r} (a category) has missing values; give every variable/series a "
                         "level (e.g. 'unknown')")
    try:
        [encode_label(v) for v in pd.unique(column)]
    except ValueError as exc:
        raise ValueError(f"{what} column {name!r}: {exc}") from None


# -- what fit and predict do with them --------------------------------------------------------------------------------
def _refuse_unsupported(model, given: dict, panel: bool) -> None:
    takes = model.panel_covariates if panel else model.supported_covariates
    for name, value in given.items():
        if value is None or name in takes:
            continue
        if panel and name in model.supported_covariates:
            raise ValueError(f"{model.name} takes no {name} for a panel; fit a wide frame (panel=False) to use them")
        what = f"it takes {', '.join(takes)}" if takes else "it takes no covariates"
        raise ValueError(f"{model.name} does not take {name}; {what}")


def _dynamic(frame, grids, horizon: int, long_cols: dict, name: str, ids) -> tuple[list, object]:
    """(columns, values) of a dynamic covariate frame on ``grids`` (a Grid: one series, float32 (K, T + horizon);
    a list: a panel, one such array per series). A panel's frame is long (the id and time columns, one row per
    series and step) or indexed by time (the same covariates for every series)."""
    if not isinstance(grids, list):
        return dynamic_columns(frame, name), covariates_on(frame, grids.index(horizon), name)
    id_col, time_col = long_cols["id_col"], long_cols["time_col"]
    if not (isinstance(frame, pd.DataFrame) and {id_col, time_col} <= set(frame.columns)):
        return dynamic_columns(frame, name), [covariates_on(frame, g.index(horizon), name) for g in grids]
    columns = [c for c in frame.columns if c not in (id_col, time_col)]
    groups = dict(list(frame.groupby(id_col, sort=False)))
    values = []
    for item, grid in zip(ids, grids):
        if item not in groups:
            raise ValueError(f"{name} has no rows for the series id {item!r} (its {id_col!r} column)")
        rows = groups[item].set_index(time_col)[columns]
        values.append(covariates_on(rows, grid.index(horizon), f"{name} of series {item!r}"))
    return columns, values


def fit_covariates(model, ids: list, grids, long_cols: dict, covariates=None, past_covariates=None,
                   static_covariates=None) -> Covariates:
    """Check the covariates given to ``fit`` and lay them out on the fitted data (``grids``: its Grid, or a panel's
    list of Grids); sets ``model.covariate_columns_`` and ``model.static_covariates_``."""
    given = {FUTURE: covariates, PAST: past_covariates, STATIC: static_covariates}
    _refuse_unsupported(model, given, isinstance(grids, list))
    columns, arrays = {}, {}
    for name in (FUTURE, PAST):
        if given[name] is not None:
            columns[name], arrays[name] = _dynamic(given[name], grids, 0, long_cols, name, ids)
    static = None if static_covariates is None else StaticCovariates.fit(static_covariates, ids,
                                                                         long_cols["id_col"])
    model.covariate_columns_, model.static_covariates_ = columns, static
    if static is None:
        return Covariates(arrays.get(FUTURE), arrays.get(PAST))
    return Covariates(arrays.get(FUTURE), arrays.get(PAST), *_static_arrays(static, static.real, static.codes))


def _static_arrays(static, real, codes) -> tuple:
    return (real if static.real_columns else None), (codes if static.category_columns else None)


def predict_covariates(model, ids: list, grids, horizon: int, long_cols: dict, covariates=None,
                       past_covariates=None, static_covariates=None, fitted: Covariates | None = None) -> Covariates:
    """The covariates of a forecast of the series ``ids`` whose history is ``grids`` (a Grid, or a panel's list),
    checked against what the model was fitted with. ``fitted``: the fitted dynamic covariates, used for a kind not
    given (when the history is the fitted one and they cover what is needed)."""
    columns = getattr(model, "covariate_columns_", None) or {}
    panel = isinstance(grids, list)
    given = {FUTURE: covariates, PAST: past_covariates}
    arrays = {}
    for name, frame in given.items():
        if name in columns and frame is None:
            known = None if fitted is None else {FUTURE: fitted.future, PAST: fitted.past}[name]
            if known is not None:
                arrays[name] = known
                continue
            cover = "the history and the horizon" if name == FUTURE else "the history"
            raise ValueError(f"the model was fitted with {name}: pass {name} covering {cover}")
        if name not in columns and frame is not None:
            what = "on a panel without" if panel else "without"
            raise ValueError(f"the model was fitted {what} {name}; it cannot use them at predict time")
        if frame is not None:
            steps = 0 if name == PAST else horizon
            names, arrays[name] = _dynamic(frame, grids, steps, long_cols, name, ids)
            if columns[name] is not None:  # None: a file of an older tsdiff, which did not record the names
                check_same_columns(columns[name], names, name)
    static = getattr(model, "static_covariates_", None)
    if static is None:
        if static_covariates is not None:
            raise ValueError(f"the model was fitted without {STATIC}; it cannot use them at predict time")
        return Covariates(arrays.get(FUTURE), arrays.get(PAST))
    real, codes = static.rows_for(ids, static_covariates, long_cols["id_col"])
    return Covariates(arrays.get(FUTURE), arrays.get(PAST), *_static_arrays(static, real, codes))


# -- persistence ------------------------------------------------------------------------------------------------------
def covariates_state(model) -> tuple[dict, dict]:
    """(manifest entry, arrays for history.npz) of a fitted model's covariates: the fitted dynamic ones
    (``covariates`` (K, T), ``past_covariates`` (K_p, T); a panel's series one after another along time, with
    ``<name>_lengths``), their column names and the static ones."""
    columns = getattr(model, "covariate_columns_", None) or {}
    data = {"columns": {name: [encode_label(c) for c in cols] for name, cols in columns.items() if cols is not None}}
    arrays = {}
    for name, values in ((FUTURE, model.covariates_), (PAST, getattr(model, "past_covariates_", None))):
        if isinstance(values, list):
            arrays[f"{name}_lengths"] = np.array([v.shape[1] for v in values], dtype=np.int64)
            values = np.concatenate(values, axis=1)
        if values is not None:
            arrays[name] = values
    static = getattr(model, "static_covariates_", None)
    if static is not None:
        data["static"], static_arrays = static.state()
        arrays.update(static_arrays)
    return data, arrays


def restore_covariates(model, data: dict | None, arrays) -> None:
    """Inverse of :func:`covariates_state` (``data`` None: a file of an older tsdiff)."""
    data = data or {}
    for name, attribute in ((FUTURE, "covariates_"), (PAST, "past_covariates_")):
        values = arrays[name] if name in arrays.files else None
        if f"{name}_lengths" in arrays.files:
            values = np.split(values, np.cumsum(arrays[f"{name}_lengths"])[:-1], axis=1)
        setattr(model, attribute, values)
    columns = {name: [decode_label(c) for c in cols] for name, cols in data.get("columns", {}).items()}
    if model.covariates_ is not None and FUTURE not in columns:
        columns[FUTURE] = None  # an older file did not record the names
    model.covariate_columns_ = columns
    model.static_covariates_ = StaticCovariates.from_state(data["static"], arrays) if "static" in data else None
