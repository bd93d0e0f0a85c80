"""The validation split (``--split valid``): tuning windows cut from the training data, never the test windows."""
from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from gluonts.dataset.common import MetaData, TrainDatasets

from experiments import report, run
from experiments.common import task_from_dataset, validation_task
from tsdiff.data import present_locally

needs_data = pytest.mark.skipif(
    not os.environ.get("TSDIFF_DATA") or not present_locally("exchange_rate_nips"),
    reason="TSDIFF_DATA unset or exchange_rate_nips not present")


def toy_dataset(num_series=2, train_length=50, h=5, windows=2) -> TrainDatasets:
    """Aligned series 0, 1, 2, ... (+1000 per series) with ``windows`` rolling test windows after the train part."""
    start = pd.Period("2020-01-01", freq="D")
    full = [np.arange(train_length + windows * h, dtype=float) + 1000 * i for i in range(num_series)]
    train = [{"start": start, "target": f[:train_length], "item_id": i} for i, f in enumerate(full)]
    test = [{"start": start, "target": f[:train_length + (k + 1) * h], "item_id": i}
            for k in range(windows) for i, f in enumerate(full)]
    return TrainDatasets(metadata=MetaData(freq="D", prediction_length=h), train=train, test=test)


@pytest.mark.parametrize("multivariate", [True, False])
def test_validation_windows_are_the_end_of_the_training_data(multivariate):
    windows = 2 if multivariate else 1
    task = task_from_dataset("toy", toy_dataset(windows=windows), multivariate=multivariate)
    valid = validation_task(task)
    cut = windows * 5
    assert valid.prediction_length == 5 and valid.num_windows == task.num_windows
    assert valid.test_targets.shape == task.test_targets.shape
    for entry in valid.dataset.train:  # training series lose the held-out part
        assert len(entry["target"]) == 50 - cut
    if multivariate:
        for k in range(windows):  # window k forecasts training steps [50 - cut + 5k, 50 - cut + 5k + 5)
            expected = np.stack([np.arange(40 + 5 * k, 45 + 5 * k) + 1000 * i for i in range(2)], axis=1)
            np.testing.assert_array_equal(valid.test_targets[k], expected)
            assert valid.histories[k].shape == (2, 40 + 5 * k)
        assert next(iter(valid.multivariate.train))["target"].shape == (2, 40)
    else:
        np.testing.assert_array_equal(valid.test_targets, [np.arange(45, 50), np.arange(45, 50) + 1000])
    assert np.all(valid.test_targets % 1000 < 50)  # only training steps


def test_validation_needs_long_enough_series():
    task = task_from_dataset("toy", toy_dataset(train_length=12, windows=2), multivariate=True)
    with pytest.raises(ValueError, match="too short to hold out 2 validation window"):
        validation_task(task)


def test_split_is_checked(capsys):
    from experiments.common import load_forecast_task

    with pytest.raises(ValueError, match="split must be one of"):
        load_forecast_task("exchange_rate_nips", split="train")
    with pytest.raises(SystemExit) as exc:
        run.main(["--model", "csdi", "--dataset", "physionet_10", "--split", "train"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err


@needs_data
def test_runner_valid_split_writes_its_own_result(capsys, tmp_path):
    argv = ["--model", "seasonal_naive", "--dataset", "exchange_rate_nips", "--threads", "1", "--out", str(tmp_path)]
    assert run.main(argv) == 0
    assert run.main(argv + ["--split", "valid"]) == 0
    test = json.loads((tmp_path / "seasonal_naive__exchange_rate_nips__quick__seed0.json").read_text())
    valid = json.loads((tmp_path / "seasonal_naive__exchange_rate_nips__quick__seed0__valid.json").read_text())
    assert (test["split"], valid["split"]) == ("test", "valid") and valid["config"]["split"] == "valid"
    assert valid["metrics"]["crps_sum"] != test["metrics"]["crps_sum"]
    capsys.readouterr()
    text = report.render(report.load_results(tmp_path))
    assert "### exchange_rate_nips — valid split (tuning only)" in text
    table = text.split("### exchange_rate_nips — valid split (tuning only)")[1].split("###")[0]
    assert f"{valid['metrics']['crps']:.4f}" in table and "published" not in table  # no anchors beside tuning


@pytest.mark.skipif(not os.environ.get("TSDIFF_DATA") or not present_locally("m4_hourly"),
                    reason="TSDIFF_DATA unset or m4_hourly not present")
def test_runner_valid_split_on_the_univariate_set(capsys, tmp_path):
    """m4_hourly (414 series, one window of 48): the validation window is each series' last 48 training steps."""
    from experiments.common import load_forecast_task

    argv = ["--model", "seasonal_naive", "--dataset", "m4_hourly", "--threads", "1", "--out", str(tmp_path),
            "--split", "valid"]
    assert run.main(argv) == 0
    capsys.readouterr()
    valid = json.loads((tmp_path / "seasonal_naive__m4_hourly__quick__seed0__valid.json").read_text())
    # The same score by hand: repeat the last day before the held-out 48 steps, ND = Σ|error| / Σ|truth|.
    errors, totals = 0.0, 0.0
    for entry in load_forecast_task("m4_hourly").dataset.train:
        target = np.asarray(entry["target"], dtype=float)
        history, truth = target[:-48], target[-48:]
        forecast = np.tile(history[-24:], 2)
        errors += np.abs(truth - forecast).sum()
        totals += np.abs(truth).sum()
    assert valid["metrics"]["nd"] == pytest.approx(errors / totals, rel=1e-5)
    assert valid["split"] == "valid"


@pytest.mark.skipif(not os.environ.get("TSDIFF_DATA") or not present_locally("ETTh1"),
                    reason="TSDIFF_DATA unset or ETTh1 not present")
def test_late_validation_ends_where_the_test_windows_begin(capsys, tmp_path):
    """``valid-late``: the same training rows as the test protocol; 28 windows that end at the first test row."""
    from experiments.common import load_forecast_task

    test, late = load_forecast_task("ETTh1"), load_forecast_task("ETTh1", split="valid-late")
    assert (late.num_windows, late.target_dim, late.prediction_length) == (28, 7, 24)
    for a, b in zip(test.dataset.train, late.dataset.train):
        np.testing.assert_array_equal(a["target"], b["target"])
    first_test_history = test.histories[0]  # (D, T): everything before the first test window
    np.testing.assert_array_equal(late.test_targets[-1], first_test_history[:, -24:].T)
    np.testing.assert_array_equal(late.histories[0], first_test_history[:, :-28 * 24])
    with pytest.raises(ValueError, match="valid-late"):
        load_forecast_task("exchange_rate_nips", split="valid-late")
    with pytest.raises(SystemExit) as exc:
        run.main(["--model", "seasonal_naive", "--dataset", "m4_hourly", "--split", "valid-late"])
    assert exc.value.code == 2 and "valid-late" in capsys.readouterr().err
    assert run.main(["--model", "seasonal_naive", "--dataset", "ETTh1", "--split", "valid-late", "--threads", "1",
                     "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    result = json.loads((tmp_path / "seasonal_naive__ETTh1__quick__seed0__valid-late.json").read_text())
    assert result["split"] == "valid-late"
    # seasonal naive by hand on the 28 windows: MAE of repeating the day before each window
    truth = late.test_targets  # (W, H, D)
    forecast = np.stack([h[:, -24:].T for h in late.histories])
    assert result["metrics"]["mae"] == pytest.approx(np.abs(truth - forecast).mean(), rel=1e-5)
