"""The speed study (experiments.speed) end to end on tiny synthetic tasks and tiny networks (seconds)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from gluonts.dataset.common import ListDataset, TrainDatasets

from experiments import speed
from experiments.common import task_from_dataset
from tsdiff.diffusion import SamplingOptions
from tsdiff.data.entries import make_metadata
from tsdiff.data.imputation.base import ImputationData

H, D, W = 4, 3, 2
TINY = {
    "timegrad": dict(epochs=1, num_batches_per_epoch=2, batch_size=8, num_samples=8, context_length=8, num_layers=1,
                     hidden_size=8, residual_layers=2, residual_channels=4, num_diffusion_steps=20, lags_seq=[1]),
    "csdi": dict(epochs=1, num_batches_per_epoch=2, batch_size=8, lr=1e-3, num_samples=8, context_length=8,
                 residual_channels=8, residual_layers=1, heads=1, dim_feedforward=8,
                 num_diffusion_steps=20, max_test=3),
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def forecast_task():
    """D aligned series, W rolling test windows of H steps (test entries window-major, as the benchmarks)."""
    rng = np.random.default_rng(0)
    t = np.arange(80 + W * H)
    full = np.stack([np.sin(2 * np.pi * (t + 3 * d) / 12) + 2 + 0.1 * rng.standard_normal(t.size) for d in range(D)])
    train = [{"start": "2021-01-01", "target": full[d, :80], "feat_static_cat": [d]} for d in range(D)]
    test = [{"start": "2021-01-01", "target": full[d, :80 + (w + 1) * H], "feat_static_cat": [d]}
            for w in range(W) for d in range(D)]
    ds = TrainDatasets(make_metadata(D, "h", H), ListDataset(train, freq="h"), ListDataset(test, freq="h"))
    return task_from_dataset("tiny_forecast", ds, multivariate=True)


def imputation_splits(n: int = 8, L: int = 12, K: int = 3) -> dict:
    rng = np.random.default_rng(1)
    values = np.sin(np.arange(L)[None, :, None] / 2 + rng.uniform(0, 6, (n, 1, K))).astype(np.float32)
    observed = np.ones((n, L, K), dtype=bool)
    eval_mask = rng.random((n, L, K)) < 0.2

    def split(name):
        return ImputationData(values, observed, eval_mask, observed & ~eval_mask, name, np.zeros(K), np.ones(K),
                              tuple("abc"[:K]))

    return {"train": split("train"), "test": split("test")}


def tiny_data(dataset, config):
    return imputation_splits() if dataset == "tiny_imputation" else forecast_task()


def test_speed_study_tiny_end_to_end(tmp_path):
    plan = [("timegrad", "tiny_forecast"), ("csdi", "tiny_forecast"), ("csdi", "tiny_imputation")]
    result = speed.run_all(plan, lambda model, dataset: dict(TINY[model]), seed=0, loop_samples=2,
                           data_loader=tiny_data)
    result.update(preset="tiny", settings=dict(torch_threads=1, omp_wait_policy="PASSIVE", device="cpu"),
                  machine={"cpu": "test"}, date="today", command="pytest")
    paths = speed.write_outputs(result, tmp_path)

    # T = 20: ddpm over all 20 steps, then ddim and dpm-solver++ at 20, 10 and 5 steps, for every study
    few = [(s, n) for s in ("ddim", "dpm-solver++") for n in (20, 10, 5)]
    assert [(r["model"], r["dataset"], r["sampler"], r["steps"]) for r in result["rows"]] == [
        (m, d, s, n) for m, d in plan for s, n in [("ddpm", 20)] + few]
    assert {r["spacing"] for r in result["rows"] if r["sampler"] == "dpm-solver++"} == {"logsnr"}
    for r in result["rows"]:
        assert r["meets_3pct"] == (r["crps"] <= 1.03 * next(
            x["crps"] for x in result["rows"] if (x["model"], x["dataset"], x["sampler"]) ==
            (r["model"], r["dataset"], "ddpm")))
    for r in result["rows"]:
        assert r["sample_seconds"] > 0 and np.isfinite(r["crps"]) and r["crps"] > 0
        assert ("crps_sum" in r) == (r["kind"] == "forecast") and ("mae" in r)
    assert [s["num_units"] for s in result["studies"]] == [W, W, 3]
    assert {s["num_samples"] for s in result["studies"]} == {8}
    for loop in result["loops"]:
        assert loop["extrapolated"] and loop["looped_samples_timed"] == 2 and "extrapolated linearly" in loop["note"]
        assert loop["looped_seconds_extrapolated"] == pytest.approx(loop["looped_seconds_per_sample"] * 8 *
                                                                    (3 if loop["dataset"] == "tiny_imputation" else W))
        assert loop["speedup"] > 0  # a measured ratio; its size is for RESULTS.md, not for a test

    saved = json.loads(paths["json"].read_text())
    assert saved["rows"] == json.loads(json.dumps(result["rows"]))
    assert paths["png"].stat().st_size > 1000
    table = paths["md"].read_text()
    assert table.count("| timegrad | tiny_forecast | ddim |") == 3 and "looped times are extrapolated" in table
    assert table.count("fewest steps within 3 %") == 3


def test_settings_and_overrides():
    settings = speed.sampler_settings(100, ("ddim", "dpm-solver++"), (50, 10))
    assert [(s.sampler, s.sampling_steps, s.spacing) for s in settings] == [
        ("ddpm", 100, "linspace"), ("ddim", 50, "linspace"), ("ddim", 10, "linspace"),
        ("dpm-solver++", 50, "logsnr"), ("dpm-solver++", 10, "logsnr")]
    assert [s.sampling_steps for s in speed.sampler_settings(8, ("ddim",), (20, 10, 5))] == [8, 5]
    spaced = speed.sampler_settings(20, ("ddim",), (5,), spacings=("linspace", "trailing"))
    assert [s.spacing for s in spaced[1:]] == ["linspace", "trailing"]
    noisy = speed.sampler_settings(20, ("dpm-solver++",), (10, 5), etas=(0.0, 1.0))
    assert [(s.sampler, s.eta, s.sampling_steps) for s in noisy] == [
        ("ddpm", 0.0, 20), ("dpm-solver++", 0.0, 10), ("dpm-solver++", 0.0, 5), ("dpm-solver++", 1.0, 10),
        ("dpm-solver++", 1.0, 5)]
    with pytest.raises(ValueError, match="eta"):
        speed.sampler_settings(20, ("ddim",), (5,), etas=(2.0,))
    assert speed.study_plan(["timegrad", "csdi"], None) == list(speed.STUDIES)
    assert speed.study_plan(["timegrad"], None) == [("timegrad", "exchange_rate_nips")]
    assert speed.study_plan(["timegrad", "csdi"], ["ETTh1", "physionet_10"]) == [
        ("timegrad", "ETTh1"), ("csdi", "ETTh1"), ("csdi", "physionet_10")]
    sets = speed.parse_sets(["epochs=1", "csdi:num_samples=4", "csdi/physionet_10:max_test=2"])
    assert sets == [(None, "epochs", 1), ("csdi", "num_samples", 4), ("csdi/physionet_10", "max_test", 2)]
    tg = speed.study_config("timegrad", "exchange_rate_nips", "quick", sets)
    assert tg["epochs"] == 1 and tg["num_samples"] == 100 and "max_test" not in tg
    ex = speed.study_config("csdi", "exchange_rate_nips", "quick", sets)
    assert (ex["epochs"], ex["num_samples"]) == (1, 4) and "max_test" not in ex
    assert speed.study_config("csdi", "physionet_10", "quick", sets)["max_test"] == 2


def test_batched_sampling_makes_T_calls_where_the_loop_makes_T_per_sample(monkeypatch):
    """What makes batching fast, counted instead of timed: the whole test set goes through the network once per
    reverse step (T calls per forecast step); the reference implementations' loop calls it once per step per sample."""
    from tsdiff.diffusion import GaussianDiffusion

    runs = []  # (batch, steps) of every reverse run
    original = GaussianDiffusion.sample

    def counting(self, denoiser, shape, cond=None, sampling=None, **kwargs):
        out = original(self, denoiser, shape, cond, sampling, **kwargs)
        runs.append((shape[0], self.num_diffusion_steps))
        return out

    monkeypatch.setattr(GaussianDiffusion, "sample", counting)
    T, S = 20, 8
    for model, dataset in (("timegrad", "tiny_forecast"), ("csdi", "tiny_forecast"), ("csdi", "tiny_imputation")):
        study = speed.build_study(model, dataset, tiny_data(dataset, None), dict(TINY[model]), seed=0)
        steps_per_run = H if model == "timegrad" else 1  # TimeGrad runs one reverse diffusion per forecast step
        units = study.num_units
        runs.clear()
        study.sample(SamplingOptions("ddpm"))
        assert sum(n for _, n in runs) == T * steps_per_run  # every window and sample in one batch
        assert {b for b, _ in runs} == {units * S}
        runs.clear()
        for i in range(3):
            study.sample_one(i)
        assert sum(n for _, n in runs) == 3 * T * steps_per_run and {b for b, _ in runs} == {1}


def test_imputation_study_scores_the_validation_series_when_asked():
    """``split="valid"`` (for choosing a default sampler without the test set) imputes the validation series."""
    splits = imputation_splits()
    valid = imputation_splits(n=5)["test"]
    splits["valid"] = valid
    config = dict(TINY["csdi"], max_test=None)
    test_study = speed.build_study("csdi", "tiny_imputation", splits, config, seed=0)
    valid_study = speed.build_study("csdi", "tiny_imputation", splits, dict(config, split="valid"), seed=0)
    assert (test_study.num_units, valid_study.num_units) == (8, 5)
    samples = valid_study.sample(SamplingOptions("ddim", 5))
    assert samples.shape[:2] == (8, 5)  # (samples, series, ...)
