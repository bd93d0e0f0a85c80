"""tsdiff.evaluation against GluonTS's own Evaluator / MultivariateEvaluator."""

import warnings

import numpy as np
import pandas as pd
import pytest

from gluonts.evaluation import Evaluator, MultivariateEvaluator
from gluonts.model.forecast import SampleForecast

from tsdiff.evaluation import (
    DEFAULT_QUANTILES,
    align_target,
    coverage,
    crps,
    crps_sum,
    evaluate,
    evaluate_gluonts,
    mse,
    nd,
    nrmse,
    rmse,
    sample_quantiles,
)

QS = DEFAULT_QUANTILES
RTOL = 1e-9


def _make(rng, *, dim=None, n_series=3, n_windows=3, hist=30, nan_frac=0.0,
          vary=False, integer=False):
    """Forecasts over several series and rolling windows + full-history targets.

    Returns forecasts, tss (DataFrames with the whole history, like
    ``make_evaluation_predictions``), and the aligned arrays.
    """
    forecasts, tss = [], []
    for i in range(n_series):
        T = 6 + (i % 2 if vary else 0)
        S = 40 + (i % 3 if vary else 0)
        L = hist + n_windows * T
        shape = (L,) if dim is None else (L, dim)
        if integer:
            vals = rng.integers(0, 6, size=shape).astype(float)
        else:
            vals = rng.gamma(2.0, 1.0, size=shape) * (1 + i)
        if nan_frac:
            vals[rng.random(shape) < nan_frac] = np.nan
        if nan_frac and i == 0 and dim is None:
            vals[hist:hist + T] = np.nan  # a whole window without targets
        if nan_frac and i == 0 and dim is not None:
            vals[hist + 1, :] = np.nan  # an all-NaN time step
        idx = pd.period_range("2021-03-01", periods=L, freq="h")
        for w in range(n_windows):
            end = hist + (w + 1) * T
            ts = pd.DataFrame(vals[:end], index=idx[:end])
            sshape = (S, T) if dim is None else (S, T, dim)
            if integer:
                samples = rng.integers(0, 6, size=sshape).astype(float)
            else:
                samples = rng.gamma(2.0, 1.0, size=sshape) * (1 + i)
            forecasts.append(
                SampleForecast(samples=samples, start_date=idx[end - T], item_id=str(i))
            )
            tss.append(ts)
    return forecasts, tss


def _gluonts_uni(forecasts, tss):
    ev = Evaluator(quantiles=QS, num_workers=0, seasonality=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agg, _ = ev(iter(tss), iter(forecasts))
    return agg


def _gluonts_multi(forecasts, tss):
    ev = MultivariateEvaluator(
        quantiles=QS, num_workers=0, seasonality=1, target_agg_funcs={"sum": np.sum}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agg, _ = ev(iter(tss), iter(forecasts))
    return agg


def _check_common(ours, agg, prefix=""):
    assert ours["crps"] == pytest.approx(agg[prefix + "mean_wQuantileLoss"], rel=RTOL)
    assert ours["nd"] == pytest.approx(agg[prefix + "ND"], rel=RTOL)
    assert ours["mse"] == pytest.approx(agg[prefix + "MSE"], rel=RTOL)
    assert ours["rmse"] == pytest.approx(agg[prefix + "RMSE"], rel=RTOL)
    assert ours["nrmse"] == pytest.approx(agg[prefix + "NRMSE"], rel=RTOL)
    for q in QS:
        assert ours[f"coverage_{q:g}"] == pytest.approx(agg[f"{prefix}Coverage[{q}]"], rel=RTOL)


@pytest.mark.parametrize("nan_frac", [0.0, 0.15])
@pytest.mark.parametrize("vary", [False, True])
def test_evaluate_univariate_matches_gluonts(nan_frac, vary):
    rng = np.random.default_rng(1 + int(vary) + int(10 * nan_frac))
    forecasts, tss = _make(rng, nan_frac=nan_frac, vary=vary)
    agg = _gluonts_uni(forecasts, tss)
    _check_common(evaluate_gluonts(forecasts, tss), agg)
    # arrays + pre-aligned targets give the same numbers
    xs = [f.samples for f in forecasts]
    ys = [align_target(f, ts) for f, ts in zip(forecasts, tss)]
    _check_common(evaluate(xs, ys), agg)


@pytest.mark.parametrize("nan_frac", [0.0, 0.15])
def test_array_metrics_univariate_match_gluonts(nan_frac):
    rng = np.random.default_rng(7)
    forecasts, tss = _make(rng, nan_frac=nan_frac, n_series=4)
    agg = _gluonts_uni(forecasts, tss)
    x = np.stack([f.samples for f in forecasts], axis=1)  # (S, N, T)
    y = np.stack([align_target(f, ts) for f, ts in zip(forecasts, tss)])  # (N, T)
    assert crps(x, y) == pytest.approx(agg["mean_wQuantileLoss"], rel=RTOL)
    assert nd(x, y) == pytest.approx(agg["ND"], rel=RTOL)
    # per-series means, then mean over series: exact with NaN via time_axis
    assert mse(x, y, time_axis=-1) == pytest.approx(agg["MSE"], rel=RTOL)
    assert rmse(x, y, time_axis=-1) == pytest.approx(agg["RMSE"], rel=RTOL)
    assert nrmse(x, y, time_axis=-1) == pytest.approx(agg["NRMSE"], rel=RTOL)
    cov = coverage(x, y, QS, time_axis=1)
    np.testing.assert_allclose(cov, [agg[f"Coverage[{q}]"] for q in QS], rtol=RTOL)
    if nan_frac == 0:  # pooled default coincides when all series are complete
        assert mse(x, y) == pytest.approx(agg["MSE"], rel=RTOL)
        assert nrmse(x, y) == pytest.approx(agg["NRMSE"], rel=RTOL)
        np.testing.assert_allclose(coverage(x, y), cov, rtol=RTOL)


def test_integer_data_ties_match_gluonts():
    rng = np.random.default_rng(3)
    forecasts, tss = _make(rng, integer=True, vary=True)
    _check_common(evaluate_gluonts(forecasts, tss), _gluonts_uni(forecasts, tss))


@pytest.mark.parametrize("nan_frac", [0.0, 0.2])
def test_multivariate_matches_gluonts(nan_frac):
    rng = np.random.default_rng(11)
    forecasts, tss = _make(rng, dim=3, nan_frac=nan_frac)
    agg = _gluonts_multi(forecasts, tss)
    ours = evaluate_gluonts(forecasts, tss)
    _check_common(ours, agg)
    assert ours["crps_sum"] == pytest.approx(agg["m_sum_mean_wQuantileLoss"], rel=RTOL)

    x = np.stack([f.samples for f in forecasts], axis=1)  # (S, N, T, D)
    y = np.stack([align_target(f, ts) for f, ts in zip(forecasts, tss)])  # (N, T, D)
    assert crps(x, y) == pytest.approx(agg["mean_wQuantileLoss"], rel=RTOL)
    assert crps_sum(x, y) == pytest.approx(agg["m_sum_mean_wQuantileLoss"], rel=RTOL)
    assert mse(x, y, time_axis=1) == pytest.approx(agg["MSE"], rel=RTOL)
    assert nrmse(x, y, time_axis=1) == pytest.approx(agg["NRMSE"], rel=RTOL)
    np.testing.assert_allclose(
        coverage(x, y, QS, time_axis=1), [agg[f"Coverage[{q}]"] for q in QS], rtol=RTOL
    )
    if nan_frac:
        # GluonTS sums the target with NaN as 0 and keeps every time step:
        # that is *not* the same as masking the NaN entries out.
        m = np.isfinite(y)
        assert crps_sum(x, y) != pytest.approx(crps_sum(x, y, mask=m), rel=1e-6)


@pytest.mark.parametrize("S", [1, 2, 10, 40, 100, 101])
def test_sample_quantiles_match_sampleforecast(S):
    rng = np.random.default_rng(S)
    samples = rng.normal(size=(S, 7))
    f = SampleForecast(samples=samples, start_date=pd.Period("2020-01-01", "h"))
    levels = list(QS) + [0.01, 0.25, 0.5, 0.75, 0.99]
    got = sample_quantiles(samples, levels)
    for k, q in enumerate(levels):
        np.testing.assert_array_equal(got[k], f.quantile(q))
