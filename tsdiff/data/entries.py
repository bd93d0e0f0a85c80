"""Helpers shared by the loaders: GluonTS metadata and GluonTS's own entry processing."""
from __future__ import annotations

import warnings

from gluonts.dataset.common import ListDataset, MetaData


def make_metadata(cardinality: int, freq: str, prediction_length: int) -> MetaData:
    """GluonTS metadata as its repository writes it (one static categorical feature of the given cardinality)."""
    return MetaData(
        freq=freq,
        prediction_length=prediction_length,
        feat_static_cat=[{"name": "feat_static_cat_0", "cardinality": str(cardinality)}],
    )


def process_entries(entries: list[dict], freq: str, one_dim_target: bool = True) -> list[dict]:
    """Apply GluonTS's ``ProcessDataEntry``: Period ``start``, float32 ``target``, int32 static features.

    ``target`` has shape (T,) (``one_dim_target``) or (D, T).
    """
    with warnings.catch_warnings():
        # GluonTS's historical spellings ("H") are deprecated aliases in pandas >= 2.2; same offsets
        warnings.simplefilter("ignore", FutureWarning)
        return ListDataset(entries, freq=freq, one_dim_target=one_dim_target)
