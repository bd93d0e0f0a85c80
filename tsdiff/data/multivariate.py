"""Grouping univariate GluonTS datasets into multivariate ones and back.

:func:`to_multivariate` gives the same entries as GluonTS's ``MultivariateGrouper`` (one grouper for train,
one with ``num_test_dates`` for test), computed with array slicing instead of per-series pandas reindexing.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
from gluonts.dataset.common import TrainDatasets
from gluonts.dataset.field_names import FieldName

from tsdiff.quiet import quiet_freq_deprecations

from .entries import process_entries

START, TARGET, FDR = FieldName.START, FieldName.TARGET, FieldName.FEAT_DYNAMIC_REAL


def _as_series(entry: dict) -> pd.Series:
    # what MultivariateGrouper hands to its fill rules
    start = entry[START]
    return pd.Series(entry[TARGET], index=pd.period_range(start=start, periods=len(entry[TARGET]), freq=start.freq))


def _steps(a: pd.Period, b: pd.Period) -> int:
    """Number of periods from ``b`` to ``a``. ``(a - b).n`` counts base units (minutes for "15min"), not steps."""
    return (a - b).n // b.freq.n


def _place(entry: dict, first: pd.Period, last: pd.Period, fill_rule: Callable) -> np.ndarray:
    """The target on the period grid ``[first, last]``, cells outside the series set to ``fill_rule(series)``."""
    target = np.asarray(entry[TARGET])
    offset = _steps(entry[START], first)
    length = _steps(last, first) + 1
    if offset == 0 and len(target) == length:
        return target
    out = np.full(length, fill_rule(_as_series(entry)), dtype=np.float64)
    out[offset:offset + len(target)] = target
    return out


def _check_univariate(entries: list[dict], what: str) -> None:
    if not entries:
        raise ValueError(f"{what} is empty")
    for e in entries:
        if np.ndim(e[TARGET]) != 1:
            raise ValueError(f"{what}: expected univariate targets of shape (T,), got shape {np.shape(e[TARGET])}")
        if not isinstance(e[START], pd.Period):
            raise TypeError(f"{what}: 'start' must be a pd.Period (a processed GluonTS entry), "
                            f"got {type(e[START]).__name__}")


def _group(entries: list[dict], first: pd.Period, last_of: Callable[[dict], pd.Period],
           fill_rule: Callable, max_target_dim: int | None) -> dict:
    rows = [_place(e, first, last_of(e), fill_rule) for e in entries]
    if len({len(r) for r in rows}) > 1:
        raise ValueError("test entries of one window end at different times, so they cannot be stacked "
                         f"(lengths {sorted({len(r) for r in rows})}); check num_test_dates and the entry order")
    target = np.vstack(rows)
    grouped = {TARGET: target}
    if FDR in entries[0]:
        grouped[FDR] = np.vstack([e[FDR] for e in entries])
    if max_target_dim is not None:  # GluonTS keeps the *last* dimensions
        grouped = {k: v[-max_target_dim:, :] for k, v in grouped.items()}
    grouped[START] = first
    grouped[FieldName.FEAT_STATIC_CAT] = [0]
    return grouped


@quiet_freq_deprecations
def to_multivariate(
    dataset: TrainDatasets,
    num_test_dates: int | None = None,
    max_target_dim: int | None = None,
    train_fill_rule: Callable[[pd.Series], float] = np.mean,
    test_fill_rule: Callable[[pd.Series], float] = lambda x: 0.0,
) -> TrainDatasets:
    """Group a univariate dataset into multivariate entries, as GluonTS's ``MultivariateGrouper``.

    Train: one entry, target shape (D, T), every series aligned on the earliest start and latest end, gaps
    filled with ``train_fill_rule(series)``. Test: entries are taken in consecutive groups of
    ``len(test) / num_test_dates`` (window-major order), one entry per group with target shape (D, T_k), left
    padded from the earliest test start with ``test_fill_rule(series)``. Both have ``feat_static_cat = [0]``.
    ``max_target_dim`` keeps the last D' series. Metadata is returned unchanged (its cardinality is D).

    Args:
        num_test_dates: number of rolling test windows; default ``len(test) // len(train)``.
    """
    train = list(dataset.train)
    _check_univariate(train, "train")
    first = min(e[START] for e in train)
    last = max(e[START] + len(e[TARGET]) - 1 for e in train)
    freq = first.freqstr
    grouped_train = process_entries(
        [_group(train, first, lambda e: last, train_fill_rule, max_target_dim)], freq, one_dim_target=False)

    grouped_test = None
    if dataset.test is not None:
        test = list(dataset.test)
        _check_univariate(test, "test")
        if num_test_dates is None:
            num_test_dates = len(test) // len(train)
        if num_test_dates <= 0 or len(test) % num_test_dates:
            raise ValueError(f"test has {len(test)} entries, not a positive multiple of "
                             f"num_test_dates={num_test_dates}")
        size = len(test) // num_test_dates
        test_first = min(e[START] for e in test)
        grouped_test = process_entries([
            _group(test[i:i + size], test_first, lambda e: e[START] + len(e[TARGET]) - 1, test_fill_rule,
                   max_target_dim)
            for i in range(0, len(test), size)
        ], freq, one_dim_target=False)
    return TrainDatasets(metadata=dataset.metadata.copy(deep=True), train=grouped_train, test=grouped_test)


def _split(entries: Iterable[dict], item_ids: Sequence | None) -> list[dict]:
    out = []
    for entry in entries:
        target = np.asarray(entry[TARGET])
        if target.ndim != 2:
            raise ValueError(f"expected multivariate targets of shape (D, T), got shape {target.shape}")
        if item_ids is not None and len(item_ids) != target.shape[0]:
            raise ValueError(f"{len(item_ids)} item_ids for {target.shape[0]} dimensions")
        for d in range(target.shape[0]):
            out.append({START: entry[START], TARGET: target[d].copy(), FieldName.FEAT_STATIC_CAT: [d],
                        FieldName.ITEM_ID: d if item_ids is None else item_ids[d]})
    return out


@quiet_freq_deprecations
def from_multivariate(dataset: TrainDatasets, item_ids: Sequence | None = None) -> TrainDatasets:
    """Split multivariate entries (target (D, T)) into D univariate entries each, dimension-minor.

    Each univariate entry gets ``feat_static_cat = [d]`` and ``item_id = item_ids[d]`` (default ``d``); test
    entries stay window-major, so ``to_multivariate(from_multivariate(ds))`` gives ``ds`` back. Padding added
    by :func:`to_multivariate` is not removed, and ``feat_dynamic_real`` is dropped.
    """
    train = _split(dataset.train, item_ids)
    freq = train[0][START].freqstr if train else dataset.metadata.freq
    return TrainDatasets(
        metadata=dataset.metadata.copy(deep=True),
        train=process_entries(train, freq),
        test=None if dataset.test is None else process_entries(_split(dataset.test, item_ids), freq),
    )
