"""Registry, checksum verification and missing-file errors (the network is always mocked)."""
from __future__ import annotations

import dataclasses
import gzip
import shutil
import urllib.request
import warnings
from pathlib import Path

import pytest

from tsdiff.data import (
    ChecksumError, DatasetInfo, DatasetNotFoundError, dataset_info, fetch, list_datasets, load_dataset,
    present_locally,
)
from tsdiff.data import storage
from tsdiff.data.registry import fetch_files
from tsdiff.data.storage import RemoteFile, UnverifiedFileWarning

from data_helpers import DATA, data_file  # noqa: E402




@pytest.fixture
def no_network(monkeypatch):
    """Make every download attempt fail, and record the URLs tried."""
    tried = []

    def urlopen(url, *args, **kwargs):
        tried.append(url)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return tried


@pytest.fixture
def fake_download(monkeypatch):
    """Downloads succeed by copying the given local source files (url -> path)."""
    sources: dict[str, Path] = {}

    def download(url, dest, timeout=60.0):
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sources[url], dest)

    monkeypatch.setattr(storage, "_download", download)
    return sources


FORECAST = {"exchange_rate_nips", "m4_hourly", "ETTh1", "ETTm1", "weather", "exchange_rate", "electricity_nips",
            "solar_nips", "traffic_nips", "taxi_30min", "wiki-rolling_nips"}
IMPUTATION = {"physionet_10", "physionet_50", "physionet_90", "pm25"}


def test_listing_by_kind():
    assert set(list_datasets()) == FORECAST | IMPUTATION
    assert set(list_datasets("forecast")) == FORECAST
    assert set(list_datasets(kind="imputation")) == IMPUTATION
    assert list_datasets() == sorted(list_datasets())
    with pytest.raises(ValueError, match="kind"):
        list_datasets("classification")


@pytest.mark.parametrize("wrong, suggestion", [("exchange_rate_nip", "exchange_rate_nips"), ("etth1", "ETTh1"),
                                               ("m4-hourly", "m4_hourly")])
def test_unknown_name_suggests(wrong, suggestion):
    with pytest.raises(ValueError, match=f"Did you mean '{suggestion}'") as err:
        dataset_info(wrong)
    assert "exchange_rate_nips, m4_hourly" in str(err.value)  # lists the valid names
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset(wrong)


def test_info_entries():
    info = dataset_info("exchange_rate_nips")
    assert isinstance(info, DatasetInfo)
    assert (info.freq, info.prediction_length, info.num_test_windows, info.kind) == ("B", 30, 5, "forecast")
    assert info.files[0].urls == (
        "https://raw.githubusercontent.com/mbohlkeschneider/gluon-ts/mv_release/datasets/exchange_rate_nips.tar.gz",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.freq = "D"
    m4 = dataset_info("m4_hourly")
    assert (m4.freq, m4.prediction_length) == ("H", 48)
    # online-only GluonTS sets: frequency and horizon as GluonTS's _gp_copula_2019 defines them
    expected = {"electricity_nips": ("h", 24, 7), "solar_nips": ("h", 24, 7), "traffic_nips": ("h", 24, 7),
                "taxi_30min": ("30min", 24, 56), "wiki-rolling_nips": ("D", 30, 5)}
    for name, values in expected.items():
        info = dataset_info(name)
        assert (info.freq, info.prediction_length, info.num_test_windows) == values
        assert info.files[0].sha256 is None and info.files[0].urls[0].startswith("https://")
    for name in list_datasets():
        info = dataset_info(name)
        assert info.files and info.licence and info.shape and info.split and info.origin


def test_checksums_match_sha256sums():
    sums = data_file("SHA256SUMS").read_text().split("\n")
    known = {line.split()[1].removeprefix("./"): line.split()[0] for line in sums if line.strip()}
    registered = {}
    for name in list_datasets():
        for file in dataset_info(name).files:
            registered[file.relpath] = file.sha256
    for relpath, sha in registered.items():
        if sha is not None:
            assert known[relpath] == sha, relpath
    # every offline copy is registered, except the LSTNet matrix (same data as exchange_rate.csv)
    assert set(known) - set(registered) == {"lstnet/exchange_rate.txt.gz"}


def test_present_locally(tmp_path):
    data_file("exchange_rate_nips/exchange_rate_nips.tar.gz")
    assert present_locally("exchange_rate_nips")
    assert present_locally("ETTm1", DATA)
    assert not present_locally("electricity_nips")
    assert not present_locally("exchange_rate_nips", tmp_path)


def test_corrupted_copy_raises_checksum_error(tmp_path, no_network):
    raw = data_file("exchange_rate_nips/exchange_rate_nips.tar.gz").read_bytes()
    corrupted = tmp_path / "exchange_rate_nips" / "exchange_rate_nips.tar.gz"
    corrupted.parent.mkdir()
    corrupted.write_bytes(raw[:1000] + bytes([raw[1000] ^ 1]) + raw[1001:])
    with pytest.raises(ChecksumError, match="checksum mismatch") as err:
        load_dataset("exchange_rate_nips", root=tmp_path)
    assert str(corrupted) in str(err.value)
    assert not no_network  # a present (if corrupted) file is never re-downloaded silently


def test_missing_file_names_file_path_and_url(tmp_path, no_network):
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset("exchange_rate_nips", root=tmp_path)
    message = str(err.value)
    url = dataset_info("exchange_rate_nips").files[0].urls[0]
    assert "exchange_rate_nips.tar.gz" in message
    assert str(tmp_path / "exchange_rate_nips" / "exchange_rate_nips.tar.gz") in message
    assert url in message and "network disabled" in message
    assert no_network == [url]
    assert isinstance(err.value, FileNotFoundError)


def test_missing_file_without_download_tries_no_network(tmp_path, no_network):
    with pytest.raises(DatasetNotFoundError, match="Hourly-train.csv"):
        load_dataset("m4_hourly", root=tmp_path, download=False)
    assert no_network == []


def test_online_only_dataset_gives_clear_error(tmp_path, no_network):
    with pytest.raises(DatasetNotFoundError, match="electricity_nips.tar.gz") as err:
        load_dataset("electricity_nips", root=tmp_path)
    assert "mbohlkeschneider/gluon-ts/mv_release/datasets/electricity_nips.tar.gz" in str(err.value)


def test_download_is_verified(tmp_path, fake_download):
    source = data_file("exchange_rate_nips/exchange_rate_nips.tar.gz")
    file = dataset_info("exchange_rate_nips").files[0]
    fake_download[file.urls[0]] = source
    assert fetch(file, tmp_path) == tmp_path / file.relpath
    assert (tmp_path / file.relpath).read_bytes() == source.read_bytes()

    wrong = tmp_path / "wrong.bin"
    wrong.write_bytes(b"not the dataset")
    other = tmp_path / "other"
    fake_download[file.urls[0]] = wrong
    with pytest.raises(ChecksumError):
        fetch(file, other)


def test_repacked_copy_falls_back_to_published_file(tmp_path, fake_download):
    # ETTm1 is kept re-gzipped offline; without it, the plain CSV the origin publishes is downloaded instead
    packed = data_file("ETT/ETTm1.csv.gz")
    plain = tmp_path / "src" / "ETTm1.csv"
    plain.parent.mkdir()
    plain.write_bytes(gzip.decompress(packed.read_bytes()))
    info = dataset_info("ETTm1")
    fallback = info.fallback_for(info.files[0])
    fake_download[fallback.urls[0]] = plain
    root = tmp_path / "root"
    assert not present_locally("ETTm1", root)
    assert fetch_files("ETTm1", root) == {"ETTm1.csv.gz": root / "ETT" / "ETTm1.csv"}
    assert present_locally("ETTm1", root)


def test_repacked_copy_missing_message_names_both(tmp_path, no_network):
    with pytest.raises(DatasetNotFoundError) as err:
        fetch_files("ETTm1", tmp_path)
    message = str(err.value)
    assert "ETT/ETTm1.csv" in message and "ETT/ETTm1.csv.gz" in message
    assert "zhouhaoyi/ETDataset" in message


def test_unknown_checksum_warns(tmp_path):
    file = RemoteFile("some_set", "data.bin", None, ("https://example.invalid/data.bin",))
    (tmp_path / "some_set").mkdir()
    (tmp_path / "some_set" / "data.bin").write_bytes(b"x")
    with pytest.warns(UnverifiedFileWarning, match="no registered sha256"):
        assert fetch(file, tmp_path).read_bytes() == b"x"


def test_known_checksum_does_not_warn(tmp_path):
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "a.txt").write_bytes(b"abc")
    file = RemoteFile("f", "a.txt", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnverifiedFileWarning)
        fetch(file, tmp_path)


def test_imputation_sets_are_registered_but_not_forecast_loadable():
    info = dataset_info("physionet_50")
    assert info.kind == "imputation" and {f.name for f in info.files} == {"set-a.tar.gz", "Outcomes-a.txt"}
    assert {f.name for f in dataset_info("pm25").files} == {"pm25_ground.txt", "pm25_missing.txt",
                                                            "pm25_latlng.txt"}
    with pytest.raises(ValueError, match="imputation"):
        load_dataset("pm25")
