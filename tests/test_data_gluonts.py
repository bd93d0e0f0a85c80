"""Loaders against GluonTS's own (run offline on the same raw files), long-horizon splits, multivariate grouping."""
from __future__ import annotations

import copy
import functools
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from gluonts.dataset.common import ListDataset, TrainDatasets
from gluonts.dataset.multivariate_grouper import MultivariateGrouper
from gluonts.dataset.repository import _gp_copula_2019, _m4, get_dataset

from tsdiff.data import from_multivariate, load_dataset, present_locally, to_multivariate
from tsdiff.data.entries import make_metadata
from tsdiff.data.long_horizon import split_borders

from data_helpers import DATA, data_file  # noqa: E402
# GluonTS's reference code uses "B" periods and "H", which pandas 2.x deprecates
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")




@functools.lru_cache(maxsize=None)
def ours(name: str, **kwargs) -> TrainDatasets:
    # loaded once per session: the tests only read the result
    data_file("")
    if not present_locally(name, DATA):
        pytest.skip(f"raw files of {name} not found under TSDIFF_DATA={DATA}")
    return load_dataset(name, root=DATA, **kwargs)


class _OfflinePandas:
    """Stands in for ``pandas`` inside GluonTS's ``_m4``: ``read_csv(url)`` reads the local copy instead."""

    def __init__(self, folder: Path):
        self.folder = folder

    def __getattr__(self, attr):
        return getattr(pd, attr)

    def read_csv(self, url, **kwargs):
        return pd.read_csv(self.folder / url.rsplit("/", 1)[1], **kwargs)


class _OfflineRequest:
    """Stands in for ``urllib.request`` inside GluonTS's ``_gp_copula_2019``: copies the local tarball."""

    def __init__(self, tarball: Path):
        self.tarball = tarball

    def urlretrieve(self, url, dest):
        assert url.endswith(self.tarball.name), url
        shutil.copyfile(self.tarball, dest)


@pytest.fixture(scope="module")
def gluonts_reference(tmp_path_factory):
    """GluonTS's ``get_dataset`` run offline: only its download step is redirected to the local raw files."""
    built = {}

    def build(name: str, **kwargs) -> TrainDatasets:
        if (name, tuple(kwargs.items())) not in built:
            with pytest.MonkeyPatch.context() as mp:
                if name == "m4_hourly":
                    mp.setattr(_m4, "pd", _OfflinePandas(data_file("m4_hourly/Hourly-train.csv").parent))
                else:
                    mp.setattr(_gp_copula_2019, "request", _OfflineRequest(data_file(f"{name}/{name}.tar.gz")))
                path = tmp_path_factory.mktemp("gluonts")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FutureWarning)
                    ds = get_dataset(name, path=path, regenerate=True, **kwargs)
                    # materialise: GluonTS's FileDataset reads lazily
                    built[name, tuple(kwargs.items())] = TrainDatasets(ds.metadata, list(ds.train), list(ds.test))
        return built[name, tuple(kwargs.items())]

    return build


def assert_same_entries(expected, actual):
    expected, actual = list(expected), list(actual)
    assert len(expected) == len(actual)
    for i, (a, b) in enumerate(zip(expected, actual)):
        assert list(a) == list(b), f"entry {i}: fields {list(a)} != {list(b)}"
        for key in a:
            if isinstance(a[key], np.ndarray):
                assert a[key].dtype == b[key].dtype, f"entry {i} {key}: dtype"
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"entry {i} {key}")
            else:
                assert type(a[key]) is type(b[key]) and a[key] == b[key], f"entry {i} {key}: {a[key]!r} != {b[key]!r}"
        assert a["start"].freq == b["start"].freq


@pytest.mark.parametrize("name", ["exchange_rate_nips", "m4_hourly"])
def test_identical_to_gluonts(name, gluonts_reference):
    expected = gluonts_reference(name)
    actual = ours(name)
    assert actual.metadata == expected.metadata
    assert_same_entries(expected.train, actual.train)
    assert_same_entries(expected.test, actual.test)


def test_exchange_rate_nips_layout():
    ds = ours("exchange_rate_nips")
    assert (ds.metadata.freq, ds.metadata.prediction_length) == ("B", 30)
    assert ds.metadata.feat_static_cat[0].cardinality == "8"
    assert [len(e["target"]) for e in ds.train] == [6071] * 8
    # 5 rolling windows of 30, window-major
    assert [len(e["target"]) for e in ds.test] == [6071 + 30 * (k + 1) for k in range(5) for _ in range(8)]
    assert [int(e["feat_static_cat"][0]) for e in ds.test] == list(range(8)) * 5
    for e in ds.test:  # test entries extend the train series
        np.testing.assert_array_equal(e["target"][:6071], ds.train[e["item_id"] % 8]["target"])


def test_m4_hourly_layout():
    ds = ours("m4_hourly")
    assert (ds.metadata.freq, ds.metadata.prediction_length, len(ds.train), len(ds.test)) == ("H", 48, 414, 414)
    assert ds.train[0]["start"] == pd.Period("1750-01-01 00:00", "h")
    assert {len(e["target"]) for e in ds.train} == {700, 960}
    assert all(len(te["target"]) == len(tr["target"]) + 48 for tr, te in zip(ds.train, ds.test))
    assert not any(np.isnan(e["target"]).any() for e in ds.train)


def test_prediction_length_only_changes_metadata_like_gluonts(gluonts_reference):
    expected = gluonts_reference("exchange_rate_nips", prediction_length=10)
    actual = ours("exchange_rate_nips", prediction_length=10)
    assert actual.metadata == expected.metadata and actual.metadata.prediction_length == 10
    assert [len(e["target"]) for e in actual.test] == [len(e["target"]) for e in ours("exchange_rate_nips").test]
    with pytest.raises(ValueError, match="long-horizon"):
        load_dataset("exchange_rate_nips", root=DATA, num_test_windows=3)


LONG_HORIZON = {
    # name: (file, freq, default prediction length, D, (train_end, val_end, test_end))
    "ETTh1": ("ETT/ETTh1.csv", "h", 24, 7, (8640, 11520, 14400)),
    "ETTm1": ("ETT/ETTm1.csv.gz", "15min", 24, 7, (34560, 46080, 57600)),
    "weather": ("weather/weather.csv.gz", "10min", 24, 21, (36887, 42157, 52696)),
    "exchange_rate": ("exchange_rate/exchange_rate.csv", "D", 30, 8, (5311, 6071, 7588)),
}


@pytest.mark.parametrize("name", list(LONG_HORIZON))
def test_long_horizon_split(name):
    relpath, freq, pl, dim, borders = LONG_HORIZON[name]
    raw = pd.read_csv(data_file(relpath))
    assert tuple(split_borders(name, len(raw))) == borders
    ds = ours(name)
    assert (ds.metadata.freq, ds.metadata.prediction_length) == (freq, pl)
    assert ds.metadata.feat_static_cat[0].cardinality == str(dim)
    columns = list(raw.columns[1:])
    assert [e["item_id"] for e in ds.train] == columns
    assert [len(e["target"]) for e in ds.train] == [borders[0]] * dim
    assert ds.train[0]["start"] == pd.Period(raw["date"].iloc[0], freq)
    # 7 windows of prediction_length from the first test row, window-major
    assert len(ds.test) == 7 * dim
    assert [e["item_id"] for e in ds.test] == columns * 7
    assert [len(e["target"]) for e in ds.test] == [borders[1] + pl * (k + 1) for k in range(7) for _ in range(dim)]
    last = ds.test[-1]
    np.testing.assert_array_equal(last["target"], raw[columns[-1]].to_numpy()[:borders[1] + 7 * pl].astype(np.float32))
    assert last["target"].dtype == np.float32


def test_long_horizon_options():
    ds = ours("ETTh1", prediction_length=96, num_test_windows=3, split="val")
    assert ds.metadata.prediction_length == 96
    assert [len(e["target"]) for e in ds.test[::7]] == [8640 + 96, 8640 + 192, 8640 + 288]
    assert len(ds.train[0]["target"]) == 8640
    late = ours("ETTh1", prediction_length=96, num_test_windows=3, split="val_end")  # ends where the test rows begin
    assert [len(e["target"]) for e in late.test[::7]] == [11520 - 192, 11520 - 96, 11520]
    assert len(late.train[0]["target"]) == 8640
    test = ours("ETTh1", prediction_length=96, num_test_windows=1)
    np.testing.assert_array_equal(late.test[-1]["target"], test.test[-1]["target"][:-96])
    with pytest.raises(ValueError, match="num_test_windows must be in"):
        load_dataset("ETTh1", root=DATA, num_test_windows=1000)
    with pytest.raises(ValueError, match="split"):
        load_dataset("ETTh1", root=DATA, split="train")
    with pytest.raises(ValueError, match="prediction_length"):
        load_dataset("ETTh1", root=DATA, prediction_length=0)


def group_with_gluonts(ds: TrainDatasets, num_test_dates: int, **kwargs) -> tuple[list, list]:
    # separate groupers: MultivariateGrouper keeps first/last timestamps as state
    return (list(MultivariateGrouper(**kwargs)(ds.train)),
            list(MultivariateGrouper(num_test_dates=num_test_dates, **kwargs)(ds.test)))


def synthetic(freq: str = "D") -> TrainDatasets:
    """Three series with different starts and ends (so grouping pads), 2 test windows of 5.

    ``freq="15min"``: same layout on a multiple-of-a-unit frequency (period differences count minutes, not steps).
    """
    rng = np.random.default_rng(0)
    starts = ["2020-01-01", "2020-01-04", "2019-12-30"]
    if freq != "D":
        starts = [str(pd.Timestamp("2020-01-01") + k * pd.Timedelta(freq)) for k in (0, 3, -2)]
    train = [{"start": s, "target": rng.normal(size=n).astype(np.float32), "item_id": f"s{i}"}
             for i, (s, n) in enumerate(zip(starts, [20, 10, 15]))]
    ends = [25, 22, 27]  # all end on the same step
    test = [{"start": s, "target": rng.normal(size=ends[i] + 5 * k), "item_id": f"s{i}"}
            for k in range(2) for i, s in enumerate(starts)]
    return TrainDatasets(make_metadata(3, freq, 5), ListDataset(train, freq=freq), ListDataset(test, freq=freq))


@pytest.mark.parametrize("name, kwargs", [("synthetic", {}), ("synthetic", {"max_target_dim": 2}),
                                          ("synthetic_15min", {}), ("exchange_rate_nips", {}), ("ETTh1", {})])
def test_to_multivariate_equals_multivariate_grouper(name, kwargs):
    ds = synthetic() if name == "synthetic" else synthetic("15min") if name == "synthetic_15min" else ours(name)
    before = copy.deepcopy(list(ds.train)), copy.deepcopy(list(ds.test))
    windows = len(ds.test) // len(ds.train)
    expected_train, expected_test = group_with_gluonts(ds, windows, **kwargs)
    grouped = to_multivariate(ds, num_test_dates=windows, **kwargs)
    assert_same_entries(expected_train, grouped.train)
    assert_same_entries(expected_test, grouped.test)
    assert grouped.metadata == ds.metadata
    # default num_test_dates = len(test) / len(train)
    assert_same_entries(grouped.test, to_multivariate(ds, **kwargs).test)
    # the input is untouched
    assert_same_entries(before[0], ds.train)
    assert_same_entries(before[1], ds.test)


def test_multivariate_shapes_and_round_trip():
    ds = ours("ETTh1")
    grouped = to_multivariate(ds)
    assert len(grouped.train) == 1 and grouped.train[0]["target"].shape == (7, 8640)
    assert [e["target"].shape for e in grouped.test] == [(7, 11520 + 24 * (k + 1)) for k in range(7)]
    columns = [e["item_id"] for e in ds.train]
    back = from_multivariate(grouped, item_ids=columns)
    assert [e["item_id"] for e in back.test] == columns * 7
    assert_same_entries(ds.test, back.test)  # no padding here, so the round trip is exact
    assert_same_entries(to_multivariate(back).test, grouped.test)
    with pytest.raises(ValueError, match="item_ids"):
        from_multivariate(grouped, item_ids=["a"])
    with pytest.raises(ValueError, match="univariate"):
        to_multivariate(grouped)


def test_to_multivariate_rejects_ragged_windows():
    ds = ours("m4_hourly")  # one "window", but the series end at different times
    assert to_multivariate(TrainDatasets(ds.metadata, ds.train)).train[0]["target"].shape == (414, 960)
    with pytest.raises(ValueError, match="end at different times"):
        to_multivariate(ds)
    with pytest.raises(ValueError, match="num_test_dates"):
        to_multivariate(ours("exchange_rate_nips"), num_test_dates=3)
