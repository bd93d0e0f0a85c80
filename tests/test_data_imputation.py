"""CSDI imputation benchmarks: PhysioNet 2012 and PM2.5 (need the raw files under $TSDIFF_DATA)."""
from __future__ import annotations

import io
import os
import tarfile
import time

import numpy as np
import pandas as pd
import pytest

from tsdiff.data.imputation import (
    PHYSIONET_FEATURES,
    PHYSIONET_SET_A,
    PM25_GROUND,
    PM25_MISSING,
    ImputationData,
    load_physionet,
    load_pm25,
    physionet_raw,
    physionet_split_indices,
)
from tsdiff.data.storage import data_root

pytestmark = pytest.mark.skipif(
    not os.environ.get("TSDIFF_DATA"),
    reason="TSDIFF_DATA is not set: these tests read the raw PhysioNet 2012 / STMVL PM2.5 files from it",
)


def _check_masks(d: ImputationData) -> None:
    assert d.observed_mask.dtype == d.eval_mask.dtype == d.given_mask.dtype == bool
    assert d.values.dtype == np.float32 and np.isfinite(d.values).all()
    assert not (d.eval_mask & ~d.observed_mask).any(), "eval must be a subset of observed"
    assert not (d.eval_mask & d.given_mask).any(), "given and eval must be disjoint"
    assert not (d.given_mask & ~d.observed_mask).any(), "given must be a subset of observed"
    assert (d.values[~d.observed_mask] == 0).all()


# ----------------------------------------------------------------------------------------------- PhysioNet


@pytest.fixture(scope="module")
def physio():
    return load_physionet(missing_ratio=0.1, seed=0)


EMPTY_STAYS = (140501, 140936, 141264)  # no value in any of the 35 variables


def test_physionet_shapes_and_splits(physio):
    assert set(physio) == {"train", "valid", "test"}
    assert {k: len(v) for k, v in physio.items()} == {"train": 2797, "valid": 401, "test": 799}
    ids = np.concatenate([d.ids for d in physio.values()])
    assert len(ids) == len(np.unique(ids)) == 3997 and not set(EMPTY_STAYS) & set(ids)
    assert physio["test"].info["stays"] == "csdi"
    for split, d in physio.items():
        assert d.split == split and d.shape[1:] == (48, 35)
        assert d.feature_names == PHYSIONET_FEATURES and len(set(d.feature_names)) == 35
        _check_masks(d)
        assert (d.given_mask == (d.observed_mask & ~d.eval_mask)).all()


def test_physionet_normalisation_over_all_observed(physio):
    vals = np.concatenate([d.values for d in physio.values()])
    obs = np.concatenate([d.observed_mask for d in physio.values()])
    for k in range(35):  # CSDI: z-scores of all observed values of all stays
        x = vals[:, :, k][obs[:, :, k]]
        assert abs(x.mean()) < 1e-3 and abs(x.std() - 1) < 1e-3
    raw, _ = physionet_raw()
    hr = PHYSIONET_FEATURES.index("HR")
    assert np.isclose(physio["train"].mean[hr], np.nanmean(raw[:, :, hr]))
    assert 60 < physio["train"].mean[hr] < 110  # heart rate in beats/min: the right column was read


@pytest.mark.parametrize("ratio", [0.1, 0.5, 0.9])
def test_physionet_eval_ratio(ratio):
    data = load_physionet(missing_ratio=ratio, seed=0)
    obs = np.concatenate([d.observed_mask for d in data.values()])
    ev = np.concatenate([d.eval_mask for d in data.values()])
    assert abs(ev.sum() / obs.sum() - ratio) < 0.01
    # CSDI hides int(n_observed * ratio) values of every stay
    n_obs, n_eval = obs.sum(axis=(1, 2)), ev.sum(axis=(1, 2))
    assert (n_eval == (n_obs * ratio).astype(int)).all()


def test_physionet_seeds(physio):
    again = load_physionet(missing_ratio=0.1, seed=0)
    for split in physio:
        np.testing.assert_array_equal(again[split].ids, physio[split].ids)
        np.testing.assert_array_equal(again[split].eval_mask, physio[split].eval_mask)
        np.testing.assert_array_equal(again[split].values, physio[split].values)
    other = load_physionet(missing_ratio=0.1, seed=1)
    assert not np.array_equal(other["test"].ids, physio["test"].ids)
    # the same stays get different hidden values
    assert not np.array_equal(_eval_by_record(other), _eval_by_record(physio))


def test_physionet_all_stays_split_keeps_every_stay_and_the_same_targets(physio):
    full = load_physionet(missing_ratio=0.1, seed=0, stays="all")
    assert {k: len(v) for k, v in full.items()} == {"train": 2800, "valid": 400, "test": 800}
    ids = np.concatenate([d.ids for d in full.values()])
    assert len(np.unique(ids)) == 4000 and set(EMPTY_STAYS) <= set(ids)
    empty = np.isin(ids, EMPTY_STAYS)
    assert not np.concatenate([d.observed_mask for d in full.values()])[empty].any()
    # the same stay gets the same targets and values under both splits; only the split differs
    by_id = {i: (d.eval_mask[k], d.values[k]) for d in full.values() for k, i in enumerate(d.ids)}
    for d in physio.values():
        for k in range(0, len(d), 97):
            np.testing.assert_array_equal(by_id[d.ids[k]][0], d.eval_mask[k])
            np.testing.assert_array_equal(by_id[d.ids[k]][1], d.values[k])
    np.testing.assert_array_equal(full["test"].mean, physio["test"].mean)
    assert not np.array_equal(np.sort(full["test"].ids)[:50], np.sort(physio["test"].ids)[:50])
    with pytest.raises(ValueError, match="stays"):
        load_physionet(missing_ratio=0.1, stays="paper")


def _eval_by_record(data):
    ids = np.concatenate([d.ids for d in data.values()])
    return np.concatenate([d.eval_mask for d in data.values()])[np.argsort(ids)]


def test_physionet_folds_partition_the_stays():
    tests = [physionet_split_indices(4000, seed=3, fold=f)["test"] for f in range(5)]
    assert np.array_equal(np.sort(np.concatenate(tests)), np.arange(4000))
    split = physionet_split_indices(4000, seed=3, fold=2)
    assert np.array_equal(np.sort(np.concatenate(list(split.values()))), np.arange(4000))
    with pytest.raises(ValueError, match="fold"):
        physionet_split_indices(4000, fold=5)
    with pytest.raises(ValueError, match="missing_ratio"):
        load_physionet(missing_ratio=1.0)


def _csdi_reference_stay(text: str) -> np.ndarray:
    """CSDI's pandas parse of one stay (hour = HH, last value per hour and variable)."""
    df = pd.read_csv(io.StringIO(text))
    df["Time"] = df["Time"].map(lambda t: int(t.split(":")[0]))
    out = np.full((48, 35), np.nan)
    for h in range(48):
        last = df[df["Time"] == h].set_index("Parameter")["Value"].to_dict()  # a dict keeps the last duplicate
        out[h] = [last.get(a, np.nan) for a in PHYSIONET_FEATURES]
    return out


def test_physionet_parser_matches_csdi_reference():
    raw, ids = physionet_raw()
    assert raw.shape == (4000, 48, 35) and (np.diff(ids) > 0).all()
    picked = {str(i) for i in ids[[0, 1, 777, 2024, 3999]]}
    with tarfile.open(data_root() / PHYSIONET_SET_A.relpath, "r:gz") as tar:
        for member in tar:
            stay = os.path.basename(member.name)[:-4]
            if stay in picked:
                ref = _csdi_reference_stay(tar.extractfile(member).read().decode())
                np.testing.assert_array_equal(raw[np.searchsorted(ids, int(stay))], ref)


def test_physionet_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TSDIFF_CACHE", str(tmp_path))
    t0 = time.perf_counter()
    cold, cold_ids = physionet_raw()
    t_cold = time.perf_counter() - t0
    cached = list(tmp_path.rglob("*.npz"))
    assert len(cached) == 1 and PHYSIONET_SET_A.sha256[:16] in cached[0].name
    t0 = time.perf_counter()
    warm, warm_ids = physionet_raw()
    t_warm = time.perf_counter() - t0
    np.testing.assert_array_equal(warm, cold)
    np.testing.assert_array_equal(warm_ids, cold_ids)
    assert t_warm < max(2.0, t_cold / 2), (t_cold, t_warm)
    assert not any(data_root().joinpath(PHYSIONET_SET_A.folder).glob("*.npz"))  # never writes into the data root


# ----------------------------------------------------------------------------------------------- PM2.5


@pytest.fixture(scope="module")
def pm25():
    return load_pm25()


def _raw_pm25():
    ground = pd.read_csv(data_root() / PM25_GROUND.relpath, index_col="datetime", parse_dates=True)
    missing = pd.read_csv(data_root() / PM25_MISSING.relpath, index_col="datetime", parse_dates=True)
    return ground, missing


def test_pm25_shapes_and_splits(pm25):
    ground, _ = _raw_pm25()
    assert ground.shape == (8759, 36)
    month_len = ground.index.month.value_counts()
    train_months = [2, 4, 5, 7, 8, 10, 11]
    assert len(pm25["train"]) == sum(month_len[m] - 35 for m in train_months)  # stride-1 windows
    assert len(pm25["valid"]) == month_len[1] - 35
    assert len(pm25["test"]) == sum(-(-month_len[m] // 36) for m in (3, 6, 9, 12))  # non-overlapping + tail
    for split, d in pm25.items():
        assert d.shape[1:] == (36, 36) and len(d.feature_names) == 36 and d.split == split
        _check_masks(d)
        months = pd.DatetimeIndex(d.starts).month
        assert set(months) == set({"train": train_months, "valid": [1], "test": [3, 6, 9, 12]}[split])


def test_pm25_masks_and_values_match_the_files(pm25):
    ground, missing = _raw_pm25()
    test = pm25["test"]
    in_test = ground.index.month.isin([3, 6, 9, 12])
    # every evaluation cell of the test months is scored exactly once
    assert test.eval_mask.sum() == (ground.notna() & missing.isna())[in_test].to_numpy().sum()
    assert 0.05 < test.eval_ratio < 0.4
    # a window's contents are the ground truth, normalised with the non-test months' statistics
    w = 5
    rows = ground.index.get_indexer(pd.DatetimeIndex(test.starts[w : w + 1]))[0]
    block = ground.iloc[rows : rows + 36]
    np.testing.assert_array_equal(test.observed_mask[w], block.notna().to_numpy())
    np.testing.assert_array_equal(test.given_mask[w], missing.iloc[rows : rows + 36].notna().to_numpy())
    mean, std = ground[~in_test].mean().to_numpy(), ground[~in_test].std().to_numpy()
    np.testing.assert_allclose(test.mean, mean)
    np.testing.assert_allclose(test.std, std)
    back = test.denormalize(test.values[w])
    np.testing.assert_allclose(back[test.observed_mask[w]], block.to_numpy()[test.observed_mask[w]], rtol=1e-4)
    # outside the overlap of tail windows, eval and given make up the observed values
    full = test.info["cut_length"] == 0
    assert ((test.eval_mask | test.given_mask) == test.observed_mask)[full].all()


def test_pm25_options_and_determinism(pm25):
    again = load_pm25()
    np.testing.assert_array_equal(again["test"].eval_mask, pm25["test"].eval_mask)
    other = load_pm25(valid_index=3, window=24)
    assert pd.DatetimeIndex(other["valid"].starts).month.unique().tolist() == [5]
    assert other["test"].shape[1:] == (24, 36)
    with pytest.raises(ValueError, match="valid_index"):
        load_pm25(valid_index=8)
