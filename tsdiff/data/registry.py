"""Registry of the named datasets the project knows: raw files, origin, licence, frequency, horizon and split.

Checksums are those of the project's offline copies (``SHA256SUMS`` of the shared data folder). Some offline copies
are repacked (e.g. re-gzipped) and so are not published byte for byte; for those, ``DatasetInfo.fallbacks`` names
the file as its origin publishes it, which :func:`fetch_files` downloads when the local copy is absent.
"""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

from .imputation.physionet import PHYSIONET_OUTCOMES_A, PHYSIONET_SET_A
from .imputation.pm25 import PM25_GROUND, PM25_LATLNG, PM25_MISSING
from .storage import DatasetNotFoundError, RemoteFile, data_root, fetch

KINDS = ("forecast", "imputation")


@dataclass(frozen=True)
class DatasetInfo:
    """One registered dataset.

    Attributes:
        name: registry name, as passed to ``load_dataset``.
        kind: ``"forecast"`` or ``"imputation"``.
        files: raw files as kept in the data root (``<root>/<folder>/<name>``).
        freq: pandas frequency string of the series (GluonTS's spelling for GluonTS datasets).
        prediction_length: default forecast horizon (None for imputation sets).
        num_test_windows: number of rolling test windows (None for imputation sets).
        split: how train/validation/test are formed.
        licence: licence of the data.
        shape: size of the raw data, in words.
        origin: the public page or repository the data comes from.
        fallbacks: ``(local file name, downloadable equivalent)`` pairs, for local copies that are repacked.
        notes: anything a user should know (irregularities, deviations).
    """

    name: str
    kind: str
    files: tuple[RemoteFile, ...]
    freq: str
    prediction_length: int | None
    num_test_windows: int | None
    split: str
    licence: str
    shape: str
    origin: str
    fallbacks: tuple[tuple[str, RemoteFile], ...] = field(default_factory=tuple)
    notes: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"dataset {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")

    def fallback_for(self, file: RemoteFile) -> RemoteFile | None:
        """The downloadable equivalent of a repacked local file, if any."""
        return dict(self.fallbacks).get(file.name)


_GP_COPULA = "https://raw.githubusercontent.com/mbohlkeschneider/gluon-ts/mv_release/datasets/"
_M4 = ("https://raw.githubusercontent.com/Mcompetitions/M4-methods/master/Dataset",
       "https://github.com/M4Competition/M4-methods/raw/master/Dataset")  # the second is GluonTS's URL
_ETT = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/"
_AUTOFORMER = "Autoformer / Time-Series-Library dataset bundle (thuml, Google Drive 'all_six_datasets')"
_PHYSIONET = "https://physionet.org/files/challenge-2012/1.0.0/"
_STMVL = "https://www.microsoft.com/en-us/research/wp-content/uploads/2016/06/STMVL-Release.zip"

_ETT_SPLIT = ("rows: train 12 months, validation 4 months, test 4 months ({} steps per month); "
              "rest of the file unused (Informer/Autoformer convention)")
_CUSTOM_SPLIT = ("rows: train first int(0.7 n), test last int(0.2 n), validation in between "
                 "(Autoformer convention)")
_ROLLING = "; test = rolling windows of prediction_length from the start of the test rows, stride prediction_length"


def _gp_copula(name: str, freq: str, prediction_length: int, windows: int, num_series: int, shape: str,
               url: str | None = None, sha256: str | None = None) -> DatasetInfo:
    """A dataset of Salinas et al. (2019), as GluonTS's ``_gp_copula_2019`` downloads it."""
    return DatasetInfo(
        name=name,
        kind="forecast",
        files=(RemoteFile(name, f"{name}.tar.gz", sha256, (url or _GP_COPULA + f"{name}.tar.gz",)),),
        freq=freq,
        prediction_length=prediction_length,
        num_test_windows=windows,
        split=f"as published: train series, then {windows} rolling test windows of {prediction_length} steps, "
              f"each test entry the full series up to the window end ({num_series} series per window)",
        licence="Apache-2.0 (GluonTS repository), no separate data licence",
        shape=shape,
        origin="GluonTS repository `_gp_copula_2019` (Salinas et al. 2019 release)",
    )


_ENTRIES = (
    _gp_copula("exchange_rate_nips", "B", 30, 5, 8,
               "8 series x 6071 business days from 1990-01-01; test 40 entries (5 windows x 8)",
               sha256="83f3cf364ae7854b0a74ef9825c47b8314896de820de877fd466cdffd94027d1"),
    _gp_copula("electricity_nips", "h", 24, 7, 370, "370 hourly series (UCI ElectricityLoadDiagrams)"),
    _gp_copula("solar_nips", "h", 24, 7, 137, "137 hourly series (solar power, Alabama 2006)"),
    _gp_copula("traffic_nips", "h", 24, 7, 963, "963 hourly series (PEMS-SF occupancy)"),
    _gp_copula("taxi_30min", "30min", 24, 56, 1214, "1214 series at 30 minutes (NYC taxi pick-ups)"),
    _gp_copula("wiki-rolling_nips", "D", 30, 5, 9535, "9535 daily series (Wikipedia page views)",
               url="https://github.com/awslabs/gluonts/raw/1553651ca1fca63a16e012b8927bd9ce72b8e79e/datasets/"
                   "wiki-rolling_nips.tar.gz"),
    DatasetInfo(
        name="m4_hourly",
        kind="forecast",
        files=(
            RemoteFile("m4_hourly", "Hourly-train.csv",
                       "ea59b7783573c49077a835ab6465c7d66f1474783360f310988a9a737fbca62f",
                       tuple(f"{u}/Train/Hourly-train.csv" for u in _M4)),
            RemoteFile("m4_hourly", "Hourly-test.csv",
                       "71a57fccb15e534d973626ada4fb87febf789e9317715b7cc6dd3b5f90db6f42",
                       tuple(f"{u}/Test/Hourly-test.csv" for u in _M4)),
        ),
        freq="H",  # GluonTS's spelling; pandas >= 2.2 prefers "h" (same offset)
        prediction_length=48,
        num_test_windows=1,
        split="as published: train = M4 train part (NaN padding removed); test = train + the 48 test values",
        licence="M4 competition data (free for research use)",
        shape="414 series, train length 700 or 960, horizon 48; mock start 1750-01-01 00:00 (no timestamps)",
        origin="M4 competition, github.com/Mcompetitions/M4-methods (Dataset/)",
    ),
    DatasetInfo(
        name="ETTh1",
        kind="forecast",
        files=(RemoteFile("ETT", "ETTh1.csv", "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066",
                          (_ETT + "ETTh1.csv",)),),
        freq="h",
        prediction_length=24,
        num_test_windows=7,
        split=_ETT_SPLIT.format(30 * 24) + _ROLLING,
        licence="CC BY-ND 4.0",
        shape="17420 hourly rows x 7 variables (target OT), from 2016-07-01",
        origin="github.com/zhouhaoyi/ETDataset (ETT-small/)",
    ),
    DatasetInfo(
        name="ETTm1",
        kind="forecast",
        files=(RemoteFile("ETT", "ETTm1.csv.gz", "73c18304514c26a5cddba02e6538513a0e23b2fbb59752535adbf541c9edc672"),),
        fallbacks=(("ETTm1.csv.gz", RemoteFile(
            "ETT", "ETTm1.csv", "6ce1759b1a18e3328421d5d75fadcb316c449fcd7cec32820c8dafda71986c9e",
            (_ETT + "ETTm1.csv",))),),
        freq="15min",
        prediction_length=24,
        num_test_windows=7,
        split=_ETT_SPLIT.format(4 * 30 * 24) + _ROLLING,
        licence="CC BY-ND 4.0",
        shape="69680 15-minute rows x 7 variables (target OT), from 2016-07-01",
        origin="github.com/zhouhaoyi/ETDataset (ETT-small/); offline copy re-gzipped",
    ),
    DatasetInfo(
        name="weather",
        kind="forecast",
        files=(RemoteFile("weather", "weather.csv.gz",
                          "862e9b447a3933f14b6f2d3d686a35d3adb5a486f97acfa46869be0e4bb682db"),),
        fallbacks=(("weather.csv.gz", RemoteFile(
            "weather", "weather.csv", "34ee981d07313e51da2a50bb600072c8ae4a69cb4b0651f4cb93a069d7a2ba63",
            ("https://huggingface.co/datasets/pkr7098/time-series-forecasting-datasets/resolve/main/weather.csv",))),),
        freq="10min",
        prediction_length=24,
        num_test_windows=7,
        split=_CUSTOM_SPLIT + _ROLLING,
        licence="data from the MPI-BGC Jena weather station",
        shape="52696 10-minute rows x 21 variables (target OT), 2020",
        origin=_AUTOFORMER + "; raw data www.bgc-jena.mpg.de/wetter/",
        notes="timestamps are not perfectly regular (one duplicate, one 100-minute gap); rows are treated as "
              "consecutive 10-minute steps from the first timestamp, as the literature does",
    ),
    DatasetInfo(
        name="exchange_rate",
        kind="forecast",
        files=(RemoteFile("exchange_rate", "exchange_rate.csv",
                          "d55e7aa2641009814a18ba3279431b13f6d413b0eab195b9ff21988d8cf94e97",
                          ("https://huggingface.co/datasets/AutonLab/Timeseries-PILE/resolve/main/forecasting/"
                           "autoformer/exchange_rate.csv",)),),
        freq="D",
        prediction_length=30,
        num_test_windows=7,
        split=_CUSTOM_SPLIT + _ROLLING,
        licence="none stated (LSTNet release)",
        shape="7588 daily rows x 8 currencies (target OT), from 1990-01-01",
        origin=_AUTOFORMER + "; raw data github.com/laiguokun/multivariate-time-series-data",
    ),
)

_PHYSIONET_FILES = (PHYSIONET_SET_A, PHYSIONET_OUTCOMES_A)
# The offline set-a.tar.gz is repacked; PhysioNet's own archive is downloaded under another name, unverified.
_PHYSIONET_FALLBACK = (("set-a.tar.gz", RemoteFile("physionet2012", "set-a.physionet.tar.gz", None,
                                                   (_PHYSIONET + "set-a.tar.gz",))),)

_ENTRIES += tuple(
    DatasetInfo(
        name=f"physionet_{rate}",
        kind="imputation",
        files=_PHYSIONET_FILES,
        fallbacks=_PHYSIONET_FALLBACK,
        freq="h",
        prediction_length=None,
        num_test_windows=None,
        split=f"CSDI protocol: {rate}% of the observed values hidden at random as imputation targets; "
              "patients split into train/validation/test folds (see tsdiff.data.imputation)",
        licence="ODC-BY 1.0 (PhysioNet)",
        shape="4000 ICU stays x 48 hours x 35 variables",
        origin="PhysioNet/CinC Challenge 2012, set-a (physionet.org/content/challenge-2012/1.0.0/)",
    )
    for rate in (10, 50, 90)
) + (
    DatasetInfo(
        name="pm25",
        kind="imputation",
        files=(PM25_GROUND, PM25_MISSING, PM25_LATLNG),
        freq="h",
        prediction_length=None,
        num_test_windows=None,
        split="BRITS/CSDI protocol: evaluation cells are those missing in pm25_missing.txt but observed in "
              "pm25_ground.txt (see tsdiff.data.imputation)",
        licence="Microsoft Research sample data",
        shape="8759 hourly rows x 36 stations, 2014-05-01 to 2015-04-30",
        origin=f"Microsoft Research STMVL release ({_STMVL}, SampleData/)",
        notes="not downloadable file by file: extract SampleData/pm25_*.txt of the STMVL zip into pm25_stmvl/",
    ),
)

_REGISTRY: dict[str, DatasetInfo] = {info.name: info for info in _ENTRIES}


def list_datasets(kind: str | None = None) -> list[str]:
    """Names of the registered datasets (sorted), optionally only those of one kind ("forecast"/"imputation")."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS} or None, got {kind!r}")
    return sorted(name for name, info in _REGISTRY.items() if kind is None or info.kind == kind)


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry of ``name``; an unknown name raises ValueError listing the valid ones."""
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a str, got {type(name).__name__}")
    try:
        return _REGISTRY[name]
    except KeyError:
        # compare case-insensitively: "etth1" should suggest "ETTh1"
        lowered = {n.lower(): n for n in _REGISTRY}
        close = [lowered[c] for c in difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.5)]
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown dataset {name!r}.{hint} Valid names: {', '.join(list_datasets())}") from None


def _local_candidates(info: DatasetInfo, file: RemoteFile) -> list[RemoteFile]:
    fallback = info.fallback_for(file)
    return [file] if fallback is None else [file, fallback]


def present_locally(name: str, root: str | os.PathLike | None = None) -> bool:
    """Whether every raw file of ``name`` (or its downloadable equivalent) exists in the data root (unverified)."""
    info = dataset_info(name)
    base = data_root(root)
    return all(any((base / f.relpath).exists() for f in _local_candidates(info, file)) for file in info.files)


def fetch_files(name: str, root: str | os.PathLike | None = None, download: bool = True) -> dict[str, Path]:
    """Verified paths of the raw files of ``name``, keyed by the registered file name.

    A present local copy is used first; a missing repacked copy is replaced by its published equivalent
    (downloaded if needed), so e.g. ``files["ETTm1.csv.gz"]`` may point at ``ETT/ETTm1.csv``: readers must
    accept both (pandas infers compression from the suffix).

    Raises:
        DatasetNotFoundError: a file is missing and could not be downloaded (message: file, path, origin).
        ChecksumError: a file has the wrong sha256.
    """
    info = dataset_info(name)
    base = data_root(root)
    paths: dict[str, Path] = {}
    for file in info.files:
        candidates = _local_candidates(info, file)
        present = [f for f in candidates if (base / f.relpath).exists()]
        # the published equivalent (last candidate) is the one that can be downloaded
        chosen = present[0] if present else candidates[-1]
        try:
            paths[file.name] = fetch(chosen, root, download=download)
        except DatasetNotFoundError as exc:
            also = f" (or its repacked copy {file.relpath!r})" if chosen is not file else ""
            raise DatasetNotFoundError(f"{exc}{also}. Dataset {name!r} comes from {info.origin}."
                                       + (f" Note: {info.notes}" if info.notes else "")) from None
    return paths
