"""Backtest-frame scores against GluonTS's Evaluator (MASE, MSIS, mean_wQuantileLoss, coverage) and metrics."""
import warnings

import numpy as np
import pandas as pd
import pytest
from gluonts.evaluation import Evaluator
from gluonts.evaluation.metrics import calculate_seasonal_error
from gluonts.model.forecast import SampleForecast

from tsdiff.evaluation import (
    DEFAULT_QUANTILES,
    crps,
    evaluate_backtest,
    interval_coverage,
    sample_quantiles,
    seasonal_error,
)

LEVELS = sorted({*DEFAULT_QUANTILES, 0.025, 0.975})
RTOL = 1e-9


def windows(seed=0, n_series=3, n_windows=2, H=6, m=4, nan_frac=0.0):
    """Rolling windows of several series: the GluonTS inputs and the equivalent backtest frame."""
    rng = np.random.default_rng(seed)
    tss, forecasts, rows, all_samples, all_targets = [], [], [], [], []
    for i in range(n_series):
        T = 40 + 5 * i
        values = 10 + 3 * np.sin(np.arange(T) * 2 * np.pi / m) + rng.gamma(2.0, 1.0 + i, T)
        if nan_frac:
            values[rng.random(T) < nan_frac] = np.nan
        index = pd.period_range("2024-01-01", periods=T, freq="h")
        for k in range(n_windows):
            end = T - (n_windows - 1 - k) * H
            cutoff = end - H
            samples = np.nanmean(values[cutoff - m:cutoff]) + rng.normal(0, 2 + i, size=(50, H))
            tss.append(pd.DataFrame(values[:end], index=index[:end]))
            forecasts.append(SampleForecast(samples=samples, start_date=index[cutoff], item_id=str(i)))
            q = sample_quantiles(samples, LEVELS)
            part = pd.DataFrame({"unique_id": f"s{i}", "cutoff": index[cutoff - 1], "ds": index[cutoff:end],
                                 "actual": values[cutoff:end], "mean": samples.mean(axis=0)})
            for j, level in enumerate(LEVELS):
                part[f"{level:g}"] = q[j]
            part["seasonal_error"] = seasonal_error(values[:cutoff], m)
            rows.append(part)
            all_samples.append(samples)
            all_targets.append(values[cutoff:end])
    frame = pd.concat(rows, ignore_index=True)
    return tss, forecasts, frame, np.stack(all_samples, axis=1), np.stack(all_targets)


def gluonts_scores(tss, forecasts, m):
    evaluator = Evaluator(quantiles=DEFAULT_QUANTILES, num_workers=0, seasonality=m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agg, _ = evaluator(iter(tss), iter(forecasts))
    return agg


@pytest.mark.parametrize("m", [1, 4, 100])  # 100: longer than the history, GluonTS falls back to m = 1
def test_seasonal_error_matches_gluonts(m):
    past = np.random.default_rng(0).gamma(2.0, 1.0, 50)
    assert seasonal_error(past, m) == pytest.approx(calculate_seasonal_error(past, seasonality=m), rel=RTOL)
    holes = past.copy()
    holes[[3, 10, 11]] = np.nan
    expected = calculate_seasonal_error(np.ma.masked_invalid(holes), seasonality=m)
    assert seasonal_error(holes, m) == pytest.approx(float(expected), rel=RTOL)


@pytest.mark.parametrize("nan_frac", [0.0, 0.1])
def test_scores_match_gluonts_evaluator(nan_frac):
    m = 4
    tss, forecasts, frame, samples, targets = windows(m=m, nan_frac=nan_frac)
    agg = gluonts_scores(tss, forecasts, m)
    ours = evaluate_backtest(frame)
    assert ours["crps"] == pytest.approx(agg["mean_wQuantileLoss"], rel=RTOL)
    assert ours["crps"] == pytest.approx(crps(samples, targets), rel=RTOL)
    assert ours["mase"] == pytest.approx(agg["MASE"], rel=RTOL)
    assert ours["msis"] == pytest.approx(agg["MSIS"], rel=RTOL)
    assert ours["coverage_0.8"] == pytest.approx(interval_coverage(samples, targets, alpha=0.2), rel=RTOL)
    assert ours["windows"] == 6 and ours["points"] == np.isfinite(targets).sum()


def test_scaled_crps_is_each_windows_crps_over_its_scale():
    tss, forecasts, frame, samples, targets = windows()
    ours = evaluate_backtest(frame)
    levels = np.array(DEFAULT_QUANTILES)
    per_window = []
    for (_, _), part in frame.groupby(["unique_id", "cutoff"], sort=False):
        q = part[[f"{t:g}" for t in levels]].to_numpy().T  # (Q, H)
        y = part["actual"].to_numpy()
        loss = 2 * np.abs((q - y) * ((y <= q) - levels[:, None]))
        per_window.append(loss.mean() / part["seasonal_error"].iloc[0])
    assert ours["scaled_crps"] == pytest.approx(np.mean(per_window), rel=RTOL)


def test_scores_by_group_and_without_seasonal_error():
    _, _, frame, samples, targets = windows()
    by_id = evaluate_backtest(frame, by="unique_id")
    assert list(by_id.index) == ["s0", "s1", "s2"] and (by_id["windows"] == 2).all()
    first = slice(0, 2)  # the windows of s0 come first
    assert by_id.loc["s0", "crps"] == pytest.approx(crps(samples[:, first], targets[first]), rel=RTOL)
    plain = evaluate_backtest(frame.drop(columns="seasonal_error"), quantiles=(0.1, 0.5, 0.9))
    assert "mase" not in plain and plain["crps"] == pytest.approx(
        crps(samples, targets, quantiles=(0.1, 0.5, 0.9)), rel=RTOL)


def test_bad_frames_are_named():
    _, _, frame, _, _ = windows()
    with pytest.raises(ValueError, match="'actual'"):
        evaluate_backtest(frame.drop(columns="actual"))
    with pytest.raises(ValueError, match="lacks quantile columns for levels \\[0.33\\]"):
        evaluate_backtest(frame, quantiles=(0.33,))
    with pytest.raises(ValueError, match="season_length"):
        seasonal_error([1.0, 2.0], 0)
