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


@needs_physionet
def test_physionet_valid_split_scores_validation_stays_with_the_residual_recipe():
    from experiments.models.csdi import run
    from tsdiff.data import load_physionet
    from tsdiff.data.imputation import feature_means, interpolate_impute

    config = {**TINY, "split": "valid", "speed_loop_samples": 0, "num_batches": 3, "prediction": "x0",
              "baseline": "interpolation", "baseline_channel": True, "ema_decay": 0.9, "clip": 20.0, "sampler": "ddim",
              "sampling_steps": 2, "ddim_steps": []}
    result = run("physionet_10", config, seed=0)
    assert result["split"] == "valid" and result["test_size"] == 2 and result["batches_run"] == 3
    assert result["data"]["stays"] == "csdi" and result["speed"] == {} and result["sampling"]["clip"] == 20.0
    assert result["samples_nonfinite"] == 0 and result["num_targets"] > 0 and result["train_cpu_seconds"] > 0
    assert [h["batches"] for h in result["history"]] == [2, 3]  # max_train 16: two batches of 8 per pass
    # the naive imputers' CRPS is their normalised absolute error (a point forecast)
    splits = load_physionet(missing_ratio=0.1, seed=1)
    valid, train = splits["valid"], splits["train"]
    filled = interpolate_impute(valid.values[:2], valid.given_mask[:2],
                                feature_means(train.values, train.observed_mask))
    m = valid.eval_mask[:2]
    err = np.abs(valid.values[:2] - filled)[m]
    assert result["interpolation_mae"] == pytest.approx(err.mean(), rel=1e-6)
    assert result["interpolation_crps"] == pytest.approx(err.sum() / np.abs(valid.values[:2][m]).sum(), rel=1e-6)


@needs_physionet
def test_train_cache_trains_once_for_the_three_physionet_ratios_and_loading_scores_as_training_does(tmp_path):
    from experiments.common import ConfigError
    from experiments.models.csdi import run

    config = {**TINY, "speed_loop_samples": 0, "ddim_steps": [], "num_batches": 3, "ema_decay": 0.9,
              "prediction": "x0", "baseline": "interpolation", "sampler": "ddim", "sampling_steps": 2}
    first = run("physionet_10", {**config, "train_cache": str(tmp_path)}, seed=0)
    assert first["train_cache"]["loaded"] is False and len(list(tmp_path.glob("*.npz"))) == 1
    # another ratio and other evaluation entries: the same training data and recipe, so the stored network is used
    cached = run("physionet_90", {**config, "train_cache": str(tmp_path), "num_samples": 4}, seed=0)
    assert cached["train_cache"] == {**first["train_cache"], "loaded": True}
    assert cached["train_cpu_seconds"] == first["train_cpu_seconds"] and cached["history"] == first["history"]
    fresh = run("physionet_90", {**config, "num_samples": 4}, seed=0)
    assert "train_cache" not in fresh
    for key in ("mae", "crps", "rmse", "max_abs_sample"):
        assert cached[key] == fresh[key], key
    # a training entry or the seed changes the key: those train anew
    assert run("physionet_90", {**config, "train_cache": str(tmp_path), "lr": 2e-3}, seed=0)["train_cache"][
        "loaded"] is False
    assert run("physionet_90", {**config, "train_cache": str(tmp_path)}, seed=1)["train_cache"]["loaded"] is False
    assert len(list(tmp_path.glob("*.npz"))) == 3
    with pytest.raises(ConfigError, match="curve"):
        run("physionet_10", {**config, "train_cache": str(tmp_path), "curve": {"max_test": 1, "num_samples": 2}},
            seed=0)


def test_sample_health_counts_runaway_samples():
    from experiments.models.csdi import sample_health

    target = torch.zeros(2, 3)
    eval_mask = torch.tensor([[True, True, False], [False, True, False]])
    samples = torch.zeros(4, 2, 3)
    samples[0, 0, 0] = float("nan")
    samples[1, 0, 1] = 12.0
    samples[:, 1, 1] = -7.0  # every sample misses: the median is 7 sd off
    samples[2, 0, 2] = 1e6  # not a target: not counted
    health = sample_health(samples, target, eval_mask)
    assert health == {"samples_nonfinite": 1, "samples_beyond_10sd": 1, "max_abs_sample": 12.0,
                      "targets_median_beyond_5sd": 2, "num_targets": 3}  # a NaN median misses too


@pytest.mark.skipif(not os.environ.get("TSDIFF_DATA") or not present_locally("pm25"), reason="PM2.5 not present")
def test_pm25_valid_split_takes_windows_of_the_validation_month_every_eval_stride_hours():
    from experiments.models.csdi import evaluation_split, load_imputation

    splits = load_imputation("pm25", {})
    valid = splits["valid"]  # every start of the validation month (stride 1)
    assert evaluation_split(splits, "pm25", {}) is splits["test"]
    default = evaluation_split(splits, "pm25", {"split": "valid"})
    assert len(default) == len(range(0, len(valid), 36))  # non-overlapping windows by default
    np.testing.assert_array_equal(default.values[1], valid.values[36])
    np.testing.assert_array_equal(default.eval_mask[1], valid.eval_mask[36])
    every12 = evaluation_split(splits, "pm25", {"split": "valid", "eval_stride": 12})
    assert every12.starts[1] == valid.starts[12] and len(every12) == len(range(0, len(valid), 12))


@pytest.mark.skipif(not os.environ.get("TSDIFF_DATA") or not present_locally("m4_hourly"), reason="m4 not present")
def test_m4_hourly_runs_as_one_by_t_grids_and_an_untrained_seasonal_residual_model_is_seasonal_naive():
    from experiments.common import load_forecast_task, score_forecasts
    from experiments.models.csdi import run


    config = dict(context_length=48, residual_channels=8, residual_layers=1, heads=2, num_diffusion_steps=4,
                  epochs=1, num_batches_per_epoch=1, batch_size=8, lr=1e-12, num_samples=2, progress=False,
                  speed_loop_samples=0, ddim_steps=[], scaling="window", prediction="x0", baseline="seasonal",
                  season=24, split="valid", threads=1)
    had_seed = "PL_GLOBAL_SEED" in os.environ
    try:
        result = run("m4_hourly", config, seed=0)
    finally:  # the runner's pl.seed_everything sets it; later tests check that fits leave it unset
        if not had_seed:
            os.environ.pop("PL_GLOBAL_SEED", None)
    task = load_forecast_task("m4_hourly", split="valid")
    P = task.prediction_length
    naive = [np.tile(np.asarray(h, dtype=np.float64)[-24:], P // 24 + 1)[:P][None] for h in task.histories]
    expected = score_forecasts(task, naive)
    assert result["num_test_series"] == 414 and result["target_dim"] == 1 and result["samples_nonfinite"] == 0
    assert result["crps"] == pytest.approx(expected["crps"], rel=1e-4)
    assert result["mae"] == pytest.approx(expected["mae"], rel=1e-4)
