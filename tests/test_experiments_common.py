"""The shared forecasting protocol (experiments.common) against GluonTS's evaluators."""
from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from gluonts.dataset.common import ListDataset, TrainDatasets
from gluonts.env import env
from gluonts.evaluation import Evaluator, MultivariateEvaluator
from gluonts.model.forecast import SampleForecast

from experiments.common import QUANTILES, load_forecast_task, score_forecasts, task_from_dataset
from tsdiff.data import load_dataset, present_locally, to_multivariate
from tsdiff.data.entries import make_metadata

needs_data = pytest.mark.skipif(
    not os.environ.get("TSDIFF_DATA") or not present_locally("exchange_rate_nips"),
    reason="TSDIFF_DATA unset or exchange_rate_nips not present")


def synthetic(multivariate: bool = True, freq: str = "D") -> TrainDatasets:
    """3 series; multivariate: aligned, 2 windows of 5 (test window-major); else 3 ragged series, 1 window."""
    rng = np.random.default_rng(0)
    h = 5
    if multivariate:
        full = rng.normal(10, 2, size=(3, 50 + 2 * h))
        train = [{"start": "2021-01-01", "target": full[d, :50], "feat_static_cat": [d]} for d in range(3)]
        test = [{"start": "2021-01-01", "target": full[d, :50 + (w + 1) * h], "feat_static_cat": [d]}
                for w in range(2) for d in range(3)]
    else:
        lengths = [30, 41, 52]
        train = [{"start": "2021-01-01", "target": rng.normal(5, 1, n)} for n in lengths]
        test = [{"start": "2021-01-01", "target": np.r_[e["target"], rng.normal(5, 1, h)]} for e in train]
    return TrainDatasets(make_metadata(3, freq, h), ListDataset(train, freq=freq), ListDataset(test, freq=freq))


def gluonts_multivariate(ds: TrainDatasets, samples: np.ndarray) -> dict:
    """GluonTS's own path: MultivariateGrouper-style test entries -> DataFrames + SampleForecasts."""
    h = ds.metadata.prediction_length
    grouped = to_multivariate(ds)
    series, forecasts = [], []
    with warnings.catch_warnings(), env._let(use_tqdm=False):
        warnings.simplefilter("ignore")
        for entry, s in zip(grouped.test, samples):
            target = entry["target"]  # (D, T)
            index = pd.period_range(entry["start"], periods=target.shape[1], freq=entry["start"].freq)
            series.append(pd.DataFrame(target.T, index=index))
            forecasts.append(SampleForecast(samples=s, start_date=index[-h]))
        evaluator = MultivariateEvaluator(quantiles=(np.arange(20) / 20.0)[1:], target_agg_funcs={"sum": np.sum})
        agg, _ = evaluator(iter(series), iter(forecasts), num_series=len(series))
    return agg


def random_samples(task, num_samples: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = task.test_targets  # (W, H, D)
    noise = rng.normal(size=(y.shape[0], num_samples, *y.shape[1:])) * np.abs(y).mean() * 0.05
    return y[:, None] * 1.01 + noise  # (W, S, H, D)


def check_equal_to_gluonts(task, ds):
    samples = random_samples(task)
    ours = score_forecasts(task, samples)
    agg = gluonts_multivariate(ds, samples)
    assert ours["crps"] == pytest.approx(agg["mean_wQuantileLoss"], rel=1e-6)
    assert ours["crps_sum"] == pytest.approx(agg["m_sum_mean_wQuantileLoss"], rel=1e-6)
    assert ours["nd"] == pytest.approx(agg["ND"], rel=1e-6)
    assert ours["nrmse"] == pytest.approx(agg["NRMSE"], rel=1e-6)
    assert ours["rmse"] == pytest.approx(agg["RMSE"], rel=1e-6)
    assert ours["num_samples"] == 16
    return ours, samples


def test_score_equals_gluonts_multivariate_synthetic():
    ds = synthetic()
    task = task_from_dataset("synthetic", ds, multivariate=True)
    assert task.test_targets.shape == (2, 5, 3) and task.num_windows == 2 and task.target_dim == 3
    ours, samples = check_equal_to_gluonts(task, ds)
    # list of windows == array; mae by hand (median = GluonTS's sorted sample round((S-1)/2))
    assert score_forecasts(task, list(samples)) == ours
    median = np.sort(samples, axis=1)[:, int(np.round(15 * 0.5))]
    assert ours["mae"] == pytest.approx(np.abs(task.test_targets - median).mean())


@needs_data
def test_score_equals_gluonts_multivariate_exchange_rate_nips():
    task = load_forecast_task("exchange_rate_nips")
    assert (task.num_windows, task.prediction_length, task.target_dim, task.freq) == (5, 30, 8, "B")
    assert task.test_targets.shape == (5, 30, 8) and [h.shape for h in task.histories][0] == (8, 6071)
    check_equal_to_gluonts(task, load_dataset("exchange_rate_nips"))


def test_univariate_set_equals_gluonts_evaluator():
    ds = synthetic(multivariate=False, freq="h")
    task = task_from_dataset("ragged", ds, multivariate=False)
    assert task.test_targets.shape == (3, 5) and not task.is_multivariate
    rng = np.random.default_rng(1)
    samples = [t[None] + rng.normal(size=(8, 5)) for t in task.test_targets]  # N x (S, H)
    ours = score_forecasts(task, samples)
    assert "crps_sum" not in ours
    with warnings.catch_warnings(), env._let(use_tqdm=False):
        warnings.simplefilter("ignore")
        series = [pd.Series(e["target"], index=pd.period_range(e["start"], periods=len(e["target"]), freq="h"))
                  for e in ds.test]
        forecasts = [SampleForecast(samples=s, start_date=ts.index[-5]) for s, ts in zip(samples, series)]
        agg, _ = Evaluator(quantiles=QUANTILES, num_workers=0)(iter(series), iter(forecasts))
    assert ours["crps"] == pytest.approx(agg["mean_wQuantileLoss"], rel=1e-6)
    assert ours["nd"] == pytest.approx(agg["ND"], rel=1e-6)
    assert ours["mae"] == pytest.approx(agg["abs_error"] / 15, rel=1e-6)


def test_entry_order_and_perfect_forecast():
    task = task_from_dataset("synthetic", synthetic(), multivariate=True)
    inputs = task.test_inputs()
    assert len(inputs) == task.num_test_entries == 6
    # a "predictor" that knows the answer, entry by entry in test_inputs() order
    truth = [np.asarray(e["target"])[-5:][None] for e in task.dataset.test]
    scores = score_forecasts(task, task.stack_entry_samples(truth))
    assert scores["crps"] == 0 and scores["crps_sum"] == 0 and scores["nd"] == 0 and scores["coverage_80"] == 1
    assert all(len(i["target"]) == len(e["target"]) - 5 for i, e in zip(inputs, task.dataset.test))


def test_window_inputs_are_the_multivariate_histories():
    task = task_from_dataset("synthetic", synthetic(), multivariate=True)
    windows = task.window_inputs()
    grouped = list(task.multivariate.test)
    assert len(windows) == task.num_windows == 2
    for w, g in zip(windows, grouped):  # each window's entry minus its last H steps
        assert w["start"] == g["start"] and np.array_equal(w["target"], np.asarray(g["target"])[:, :-5])
    with pytest.raises(ValueError, match="univariate"):
        task_from_dataset("synthetic", synthetic(multivariate=False), multivariate=False).window_inputs()


def test_bad_samples_are_rejected():
    task = task_from_dataset("synthetic", synthetic(), multivariate=True)
    good = random_samples(task)
    with pytest.raises(ValueError, match=r"\(W, S, H, D\)"):
        score_forecasts(task, good[..., :2])
    with pytest.raises(ValueError, match="same S"):
        score_forecasts(task, [good[0], good[1, :3]])
    bad = good.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        score_forecasts(task, bad)
    with pytest.raises(ValueError, match="not a forecasting benchmark"):
        load_forecast_task("physionet_10")


def test_every_run_scores_its_calibration():
    """Samples drawn from the distribution the targets came from are calibrated (flat PIT, small error); samples
    with a tenth of the spread are overconfident: the PIT piles up in the outer bins and the error is large."""
    task = task_from_dataset("synthetic", synthetic(), multivariate=True)
    rng = np.random.default_rng(1)
    y = task.test_targets  # (W, H, D), drawn from N(10, 2²)
    calibrated = score_forecasts(task, rng.normal(10, 2, size=(y.shape[0], 400, *y.shape[1:])))
    narrow = score_forecasts(task, rng.normal(10, 0.2, size=(y.shape[0], 400, *y.shape[1:])))
    assert calibrated["calibration_error"] < 0.08 < 0.15 < narrow["calibration_error"]
    assert sum(calibrated["pit_histogram"]) == pytest.approx(1.0, abs=1e-3)
    assert narrow["pit_histogram"][0] + narrow["pit_histogram"][-1] > 0.6
    assert abs(calibrated["interval_coverage"]["0.8"] - 0.8) < 0.12 and narrow["interval_coverage"]["0.8"] < 0.3


def test_presets_can_set_every_sampling_option():
    """A preset's ``--set`` reaches every field of SamplingOptions (``variance`` was once missing from the list)."""
    import dataclasses

    from experiments.common import SAMPLING_KEYS, sampling_options
    from tsdiff.diffusion import SamplingOptions

    assert set(SAMPLING_KEYS) == {f.name for f in dataclasses.fields(SamplingOptions)}
    config = dict(sampler="ddpm", sampling_steps=20, eta=0.5, variance="beta", spacing="leading", order=1, clip=3.0)
    assert sampling_options(config) == SamplingOptions(**config)
