"""CSDI training along the way (fit callback) and the imputation benchmark runner on tiny settings."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from tsdiff.data import present_locally
from tsdiff.models.csdi import CSDIImputer

needs_physionet = pytest.mark.skipif(not os.environ.get("TSDIFF_DATA") or not present_locally("physionet_10"),
                                     reason="TSDIFF_DATA unset or PhysioNet not present")


def test_fit_callback_sees_every_epoch_and_leaves_training_unchanged():
    rng = np.random.default_rng(0)
    values = np.cumsum(rng.normal(size=(24, 10, 3)), axis=1)
    observed = rng.random(values.shape) > 0.2
    small = {"residual_channels": 8, "residual_layers": 1, "heads": 2, "num_diffusion_steps": 5}
    seen = []

    def callback(imputer, record):
        assert not imputer.model.training
        seen.append(record["epoch"])
        imputer.impute(values[:2], observed[:2], num_samples=2)  # draws from the global RNG on purpose
        torch.rand(3)

    plain = CSDIImputer(**small).fit(values, observed, epochs=3, batch_size=8, seed=1, progress=False)
    watched = CSDIImputer(**small).fit(values, observed, epochs=3, batch_size=8, seed=1, progress=False,
                                       callback=callback)
    assert seen == [1, 2, 3]
    assert [h["epoch"] for h in watched.history] == [1, 2, 3] and all(h["seconds"] > 0 for h in watched.history)
    for a, b in zip(plain.model.state_dict().values(), watched.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)

TINY = {"residual_channels": 8, "residual_layers": 1, "heads": 2, "num_diffusion_steps": 4, "epochs": 1, "batch_size": 8, "lr": 1e-3,
        "max_train": 16, "max_test": 2, "num_samples": 3, "impute_batch_size": 2, "progress": False,
        "speed_loop_samples": 1, "ddim_steps": [2], "threads": 1}


@needs_physionet
def test_physionet_run_reports_model_and_baselines():
    from experiments.models.csdi import run

    result = run("physionet_10", {**TINY, "epochs": 2, "curve": {"max_test": 1, "num_samples": 2}}, seed=0)
    assert {"crps", "mae", "rmse", "mean_imputation_mae", "interpolation_mae", "train_seconds", "sample_seconds",
            "speed", "device"} <= result.keys()
    assert result["train_size"] == 16 and result["test_size"] == 2 and result["num_samples"] == 3
    # on z-scored data the naive imputers are far from free: both errors are of order one standard deviation
    assert 0.2 < result["interpolation_mae"] < 1.5 and 0.2 < result["mean_imputation_mae"] < 1.5
    assert result["interpolation_mae"] != result["mean_imputation_mae"]
    assert result["speed"]["ddim2"]["mae"] > 0 and result["speed"]["speedup"] > 0
    assert [c["epoch"] for c in result["curve"]] == [1, 2]
    assert all(c["mae"] > 0 and c["eval_seconds"] > 0 for c in result["curve"])
    # evaluation time is not training time
    assert result["train_seconds"] == pytest.approx(result["curve"][-1]["train_seconds"], abs=0.5)
