"""The CSDI imputation benchmark runner on tiny settings: metrics, naive baselines, speed block."""
from __future__ import annotations

import os

import pytest

from tsdiff.data import present_locally

pytestmark = pytest.mark.skipif(not os.environ.get("TSDIFF_DATA") or not present_locally("physionet_10"),
                                reason="TSDIFF_DATA unset or PhysioNet not present")

TINY = {"channels": 8, "layers": 1, "heads": 2, "num_steps": 4, "epochs": 1, "batch_size": 8, "lr": 1e-3,
        "max_train": 16, "max_test": 2, "num_samples": 3, "impute_batch_size": 2, "progress": False,
        "speed_loop_samples": 1, "ddim_steps": [2], "threads": 1}


def test_physionet_run_reports_model_and_baselines():
    from experiments.models.csdi import run

    result = run("physionet_10", dict(TINY), seed=0)
    assert {"crps", "mae", "rmse", "mean_imputation_mae", "interpolation_mae", "train_seconds", "sample_seconds",
            "speed", "device"} <= result.keys()
    assert result["train_size"] == 16 and result["test_size"] == 2 and result["num_samples"] == 3
    # on z-scored data the naive imputers are far from free: both errors are of order one standard deviation
    assert 0.2 < result["interpolation_mae"] < 1.5 and 0.2 < result["mean_imputation_mae"] < 1.5
    assert result["interpolation_mae"] != result["mean_imputation_mae"]
    assert result["speed"]["ddim2"]["mae"] > 0 and result["speed"]["speedup"] > 0
