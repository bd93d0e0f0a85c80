"""Imputation benchmarks of CSDI (Tashiro et al., NeurIPS 2021): PhysioNet 2012 and Beijing PM2.5."""
from tsdiff.data.imputation.base import ImputationData
from tsdiff.data.imputation.baselines import feature_means, interpolate_impute, mean_impute
from tsdiff.data.imputation.physionet import (
    PHYSIONET_FEATURES,
    PHYSIONET_OUTCOMES_A,
    PHYSIONET_SET_A,
    load_physionet,
    physionet_raw,
    physionet_split_indices,
)
from tsdiff.data.imputation.pm25 import (
    PM25_ARCHIVE_URL,
    PM25_FILES,
    PM25_GROUND,
    PM25_LATLNG,
    PM25_MISSING,
    PM25_TEST_MONTHS,
    PM25_TRAIN_MONTHS,
    load_pm25,
)

__all__ = [
    "ImputationData",
    "feature_means",
    "interpolate_impute",
    "mean_impute",
    "PHYSIONET_FEATURES",
    "PHYSIONET_OUTCOMES_A",
    "PHYSIONET_SET_A",
    "PM25_ARCHIVE_URL",
    "PM25_FILES",
    "PM25_GROUND",
    "PM25_LATLNG",
    "PM25_MISSING",
    "PM25_TEST_MONTHS",
    "PM25_TRAIN_MONTHS",
    "load_physionet",
    "load_pm25",
    "physionet_raw",
    "physionet_split_indices",
]
