"""Datasets: registry, GluonTS loaders, imputation benchmarks, pandas conversion."""
from .gluonts_loaders import load_dataset
from .multivariate import from_multivariate, to_multivariate
from .registry import DatasetInfo, dataset_info, list_datasets, present_locally
from .storage import ChecksumError, DatasetNotFoundError, cache_dir, data_root, fetch

__all__ = [
    "ChecksumError",
    "DatasetInfo",
    "DatasetNotFoundError",
    "cache_dir",
    "data_root",
    "dataset_info",
    "fetch",
    "from_multivariate",
    "list_datasets",
    "load_dataset",
    "present_locally",
    "to_multivariate",
]
