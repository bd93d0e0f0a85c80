"""Calibration reports: a forecaster that samples the true distribution is calibrated, a mis-scaled one is not;
coverages agree with tsdiff.evaluation's metrics; the frame path agrees with the sample path."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from tsdiff.evaluation import (
    DEFAULT_QUANTILES,
    calibration,
    calibration_from_frame,
    coverage,
    interval_coverage,
    pit_values,
    sample_quantiles,
)

# chi-square critical values at p = 0.001 (9 and 19 degrees of freedom): a calibrated forecaster exceeds them once
# in a thousand seeds; the seeds below are fixed, so the tests are deterministic
CHI2_999 = {9: 27.88, 19: 43.82}


def forecaster(n=4000, num_samples=99, scale=1.0, seed=0):
    """Actuals y ~ N(mu_i, sigma_i) with varying mu_i, sigma_i; samples from N(mu_i, (scale sigma_i)^2)."""
    rng = np.random.default_rng(seed)
    mu, sigma = rng.normal(0, 5, n), rng.uniform(0.5, 3.0, n)
    y = mu + sigma * rng.standard_normal(n)
    samples = mu + scale * sigma * rng.standard_normal((num_samples, n))
    return samples, y


def chi2(counts):
    expected = counts.sum() / len(counts)
    return float(((counts - expected) ** 2 / expected).sum())


def test_calibrated_forecaster_has_flat_pit_and_nominal_coverage():
    samples, y = forecaster()
    report = calibration(samples, y)
    assert report.n == len(y) and report.bin_counts.sum() == len(y)
    assert chi2(report.bin_counts) < CHI2_999[9]
    assert np.allclose(report.pit_density, 1.0, atol=0.15)
    # coverage within 3.5 binomial s.d. of nominal (s.d. <= 0.008 at n = 4000)
    assert np.allclose(report.interval_coverage, report.nominal, atol=0.03)
    assert np.allclose(report.quantile_coverage, DEFAULT_QUANTILES, atol=0.03)
    assert report.calibration_error < 0.015


@pytest.mark.parametrize("scale, shape", [(0.5, "U"), (2.0, "hump")])
def test_miscalibrated_forecasters_are_flagged(scale, shape):
    samples, y = forecaster(scale=scale)
    report = calibration(samples, y)
    assert chi2(report.bin_counts) > 10 * CHI2_999[9]
    density = report.pit_density
    if shape == "U":  # overconfident: too many actuals in the tails, intervals cover less than nominal
        assert density[0] > 2 and density[-1] > 2 and density[4] < 0.7
        assert (report.interval_coverage < report.nominal - 0.05).all()
        assert report.interval_coverage[-1] < 0.7  # the nominal 90 % interval holds ~59 %
    else:  # underconfident: too few in the tails, intervals cover more than nominal
        assert density[0] < 0.3 and density[-1] < 0.3 and density[4] > 1.5
        assert (report.interval_coverage > report.nominal + 0.05).all()
    assert report.calibration_error > 0.05


def test_pit_is_exactly_uniform_with_ties_and_extremes():
    rng = np.random.default_rng(1)
    S = 9
    # every sample equals the actual: the randomised rank spreads the PIT uniformly over (0, 1)
    pit = pit_values(np.zeros((S, 5000)), np.zeros(5000), seed=3)
    assert chi2(np.histogram(pit, bins=10, range=(0, 1))[0]) < CHI2_999[9]
    # an actual below every sample has rank 0, above every sample rank S
    samples = rng.uniform(1, 2, size=(S, 100))
    assert (pit_values(samples, np.zeros(100)) < 1 / (S + 1)).all()
    assert (pit_values(samples, np.full(100, 3.0)) > S / (S + 1)).all()
    # discrete data: integer samples and actuals from one distribution
    counts = rng.poisson(2.0, size=(S + 1, 6000)).astype(float)
    pit = pit_values(counts[1:], counts[0], seed=0)
    assert chi2(np.histogram(pit, bins=10, range=(0, 1))[0]) < CHI2_999[9]
    assert np.array_equal(pit_values(counts[1:], counts[0], seed=0), pit)  # deterministic for a seed


def test_coverages_equal_the_metrics_and_skip_missing_actuals():
    samples, y = forecaster(n=500, num_samples=40, scale=0.8, seed=2)
    y = y.reshape(25, 20)
    samples = samples.reshape(40, 25, 20)
    y[3, 5:9] = np.nan
    report = calibration(samples, y, nominal=(0.5, 0.9))
    assert report.n == 500 - 4 and report.pit.shape == (496,)
    np.testing.assert_allclose(report.quantile_coverage, coverage(samples, y), rtol=1e-12)
    np.testing.assert_allclose(report.interval_coverage, interval_coverage(samples, y, alpha=[0.5, 0.1]),
                               rtol=1e-12)


def test_frame_path_agrees_with_sample_path():
    samples, y = forecaster(n=2000, num_samples=50, scale=0.7, seed=4)
    y[:7] = np.nan
    q = sample_quantiles(samples, DEFAULT_QUANTILES)
    frame = pd.DataFrame({"item_id": "a", "actual": y, **{f"{t:g}": q[k] for k, t in enumerate(DEFAULT_QUANTILES)}})
    from_frame = calibration_from_frame(frame)
    from_samples = calibration(samples, y)
    np.testing.assert_allclose(from_frame.quantile_coverage, from_samples.quantile_coverage, rtol=1e-12)
    np.testing.assert_allclose(from_frame.nominal, np.arange(1, 10) / 10)
    np.testing.assert_allclose(from_frame.interval_coverage, from_samples.interval_coverage, rtol=1e-12)
    # 20 bins between the quantile levels; a bin's count is the number of actuals between its two quantiles
    assert len(from_frame.bin_counts) == 20 and from_frame.bin_counts.sum() == from_frame.n == 1993
    cumulative = np.cumsum(from_frame.bin_counts)[:-1] / from_frame.n
    np.testing.assert_allclose(cumulative, from_frame.quantile_coverage, rtol=1e-12)
    assert from_frame.pit_density[0] > 2  # overconfident: the tails are crowded
    assert from_frame.pit is None


def test_report_plot_and_frame():
    samples, y = forecaster(n=300, num_samples=30)
    report = calibration(samples, y, bins=5)
    hist, rel = report.plot()
    heights = [patch.get_height() for patch in hist.patches[:5]]
    np.testing.assert_allclose(heights, report.pit_density)
    labels = [line.get_label() for line in rel.get_lines()]
    assert {"ideal", "y ≤ quantile τ", "inside central interval"} <= set(labels)
    table = report.to_frame()
    assert list(table.columns) == ["kind", "nominal", "observed"] and len(table) == 19 + 9
    assert "calibration_error" in repr(report)


def test_bad_input_is_named():
    samples, y = forecaster(n=10, num_samples=5)
    with pytest.raises(ValueError, match="bins"):
        calibration(samples, y, bins=0)
    with pytest.raises(ValueError, match="shape"):
        calibration(samples[:, :5], y)
    with pytest.raises(ValueError, match="'actual'"):
        calibration_from_frame(pd.DataFrame({"0.5": [1.0]}))
    with pytest.raises(ValueError, match="no quantile columns"):
        calibration_from_frame(pd.DataFrame({"actual": [1.0], "mean": [1.0]}))
