"""Forecasting datasets as GluonTS ``TrainDatasets``, built from the raw files of the registry.

``exchange_rate_nips`` (and the other Salinas et al. 2019 sets) and ``m4_hourly`` reproduce, entry by entry,
what ``gluonts.dataset.repository.get_dataset`` returns for the same raw files (see ``_gp_copula_2019.py`` and
``_m4.py`` of GluonTS), without its download step and without writing into the data root. Entries are processed
exactly like GluonTS's reader does: ``start`` is a ``pd.Period``, ``target`` a float32 array, ``feat_static_cat``
an int32 array, ``item_id`` an int.
"""
from __future__ import annotations

import gzip
import json
import os
import tarfile
from pathlib import PurePosixPath

import numpy as np
import pandas as pd
from gluonts.dataset.common import TrainDatasets

from .entries import make_metadata, process_entries
from .long_horizon import load_long_horizon
from .registry import DatasetInfo, dataset_info, fetch_files

# `num_series` of GluonTS's `_gp_copula_2019.datasets_info` (cardinality and feat_static_cat modulus)
_GP_COPULA_NUM_SERIES = {"exchange_rate_nips": 8, "electricity_nips": 370, "traffic_nips": 963, "solar_nips": 137,
                         "wiki-rolling_nips": 9535, "taxi_30min": 1214}
_JSON_SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")  # what GluonTS's FileDataset reads


def _read_tar_split(tar: tarfile.TarFile, split: str) -> list[dict]:
    """JSON-lines entries of ``<top>/<split>/*`` in a GluonTS dataset tarball, files in name order."""
    members = []
    for m in tar.getmembers():
        parts = PurePosixPath(m.name).parts
        # GluonTS reads every non-hidden JSON file below <top>/<split>/ (the top folder is the dataset's name)
        if m.isfile() and len(parts) >= 3 and parts[1] == split and not parts[-1].startswith(".") \
                and parts[-1].endswith(_JSON_SUFFIXES):
            members.append(m)
    if not members:
        raise ValueError(f"no '{split}/' JSON files in {tar.name}: not a GluonTS dataset archive")
    entries = []
    for m in sorted(members, key=lambda m: m.name):
        raw = tar.extractfile(m).read()
        if m.name.endswith(".gz"):
            raw = gzip.decompress(raw)
        entries.extend(json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip())
    return entries


def load_gp_copula(info: DatasetInfo, path: os.PathLike, prediction_length: int | None = None) -> TrainDatasets:
    """A Salinas et al. (2019) dataset from its tarball, as ``get_dataset`` builds it.

    Train: one entry per series; test: ``num_test_windows x num_series`` entries, window-major, each the full
    series up to the end of its window. ``item_id`` is the running index within the split and
    ``feat_static_cat = [item_id % num_series]`` (GluonTS's ``get_data``). ``prediction_length`` only changes
    the metadata, as in GluonTS: the windows are fixed by the published files.
    """
    with tarfile.open(path) as tar:
        raw = {split: _read_tar_split(tar, split) for split in ("train", "test")}
    # GluonTS hard-codes the number of series per dataset; it is the train size for an unknown tarball
    num_series = _GP_COPULA_NUM_SERIES.get(info.name, len(raw["train"]))
    splits = {
        split: process_entries([
            {"target": e["target"], "start": e["start"], "feat_static_cat": [cat % num_series], "item_id": cat}
            for cat, e in enumerate(entries)
        ], info.freq)
        for split, entries in raw.items()
    }
    meta = make_metadata(num_series, info.freq, prediction_length or info.prediction_length)
    return TrainDatasets(metadata=meta, train=splits["train"], test=splits["test"])


def load_m4(info: DatasetInfo, train_path: os.PathLike, test_path: os.PathLike,
            prediction_length: int | None = None) -> TrainDatasets:
    """An M4 subset as GluonTS's ``generate_m4_dataset`` builds it.

    Train: the train rows without their NaN padding; test: train + test values (one window). All series start at
    1750-01-01 00:00 (M4 has no timestamps). ``prediction_length`` only changes the metadata.
    """
    train_df = pd.read_csv(train_path, index_col=0)
    test_df = pd.read_csv(test_path, index_col=0)
    if len(train_df) != len(test_df):
        raise ValueError(f"M4 train/test row counts differ: {len(train_df)} vs {len(test_df)}")
    train_values = [ts[~np.isnan(ts)] for ts in train_df.values]
    test_values = [np.hstack([tr, te]) for tr, te in zip(train_values, test_df.values)]
    start = "1750-01-01 00:00:00"  # earliest date pandas can represent, as GluonTS uses

    def entries(values):
        return process_entries(
            [dict(target=t, start=start, feat_static_cat=[cat], item_id=cat) for cat, t in enumerate(values)],
            info.freq)

    meta = make_metadata(len(train_df), info.freq, prediction_length or info.prediction_length)
    return TrainDatasets(metadata=meta, train=entries(train_values), test=entries(test_values))


def load_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    prediction_length: int | None = None,
    num_test_windows: int | None = None,
    split: str = "test",
    download: bool = True,
) -> TrainDatasets:
    """Load a registered forecasting dataset as GluonTS ``TrainDatasets`` (univariate entries).

    Args:
        name: a forecasting name of :func:`list_datasets`.
        root: data root (default ``$TSDIFF_DATA``, else the user cache).
        prediction_length: horizon; default the registry's. For the published GluonTS sets it only changes the
            metadata (as in GluonTS); for the long-horizon CSVs it also sets the window length.
        num_test_windows: long-horizon CSVs only: number of rolling windows (default the registry's).
        split: long-horizon CSVs only: ``"test"`` (windows in the test rows), ``"val"`` (the first windows of the
            validation rows) or ``"val_end"`` (their last windows, ending where the test rows begin).
        download: whether a missing raw file may be downloaded from its origin.

    Returns:
        ``TrainDatasets``: ``train`` has one entry per series (target shape (T,)); ``test`` has one entry per
        series and window, window-major, each target the series up to the end of its window.

    Raises:
        ValueError: unknown name, imputation dataset, or arguments that do not apply.
        DatasetNotFoundError, ChecksumError: raw files missing (and not downloadable) or corrupted.
    """
    info = dataset_info(name)
    if info.kind != "forecast":
        raise ValueError(f"{name!r} is an imputation dataset; load it with tsdiff.data.imputation")
    if prediction_length is not None and (not isinstance(prediction_length, int) or prediction_length <= 0):
        raise ValueError(f"prediction_length must be a positive int, got {prediction_length!r}")
    paths = fetch_files(name, root, download=download)
    if name in ("ETTh1", "ETTm1", "weather", "exchange_rate"):
        return load_long_horizon(info, paths[info.files[0].name], prediction_length, num_test_windows, split)
    if num_test_windows is not None or split != "test":
        raise ValueError(f"{name!r}: test windows are fixed by the published files; "
                         "num_test_windows and split apply to the long-horizon CSVs only")
    if name == "m4_hourly":
        return load_m4(info, paths["Hourly-train.csv"], paths["Hourly-test.csv"], prediction_length)
    return load_gp_copula(info, paths[info.files[0].name], prediction_length)
