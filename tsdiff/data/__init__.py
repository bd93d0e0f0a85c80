"""Datasets: registry, GluonTS loaders, imputation benchmarks, pandas conversion."""
from .gluonts_loaders import load_dataset
from .imputation import (
    PHYSIONET_FEATURES,
    ImputationData,
    load_physionet,
    load_pm25,
    physionet_raw,
    physionet_split_indices,
)
from .multivariate import from_multivariate, to_multivariate
from .pandas import PandasLayout, from_pandas, time_index, to_pandas
from .registry import DatasetInfo, dataset_info, list_datasets, present_locally
from .storage import ChecksumError, DatasetNotFoundError, cache_dir, data_root, fetch

__all__ = [
    "ChecksumError",
    "DatasetInfo",
    "DatasetNotFoundError",
    "ImputationData",
    "PHYSIONET_FEATURES",
    "PandasLayout",
    "cache_dir",
    "data_root",
    "dataset_info",
    "fetch",
    "from_multivariate",
    "from_pandas",
    "list_datasets",
    "load_dataset",
    "load_physionet",
    "load_pm25",
    "physionet_raw",
    "physionet_split_indices",
    "present_locally",
    "time_index",
    "to_multivariate",
    "to_pandas",
]
