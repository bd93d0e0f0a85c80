"""Unit tests of tsdiff.evaluation: exact CRPS, masks/NaN, errors, inputs."""

import numpy as np
import pandas as pd
import pytest
import torch

from tsdiff.evaluation import (
    DEFAULT_QUANTILES,
    aggregate_sum,
    check_levels,
    coverage,
    crps,
    crps_sum,
    energy_crps,
    evaluate,
    interval_coverage,
    mae,
    mse,
    nd,
    nrmse,
    rmse,
    sample_quantiles,
)


# --------------------------------------------------------------------------- #
# energy_crps = integral of (F_hat(x) - 1[x >= y])^2
# --------------------------------------------------------------------------- #
def _crps_integral(samples, y):
    """Exact piecewise integration: the integrand is constant between the
    sorted breakpoints {x_i} U {y} and zero outside them."""
    xs = np.sort(samples)
    pts = np.sort(np.append(xs, y))
    mids = 0.5 * (pts[:-1] + pts[1:])
    F = np.searchsorted(xs, mids, side="right") / xs.size
    H = (mids >= y).astype(float)
    return float(np.sum((F - H) ** 2 * np.diff(pts)))


@pytest.mark.parametrize("S", [1, 2, 7, 50])
def test_energy_crps_equals_integral(S):
    rng = np.random.default_rng(S)
    x = rng.normal(size=(S, 5, 4))
    y = rng.normal(size=(5, 4)) * 1.5
    y[0, 0] = x[0, 0, 0]  # a tie with a sample
    ref = np.mean([_crps_integral(x[:, i, j], y[i, j]) for i in range(5) for j in range(4)])
    assert energy_crps(x, y) == pytest.approx(ref, rel=1e-6, abs=1e-12)


def test_energy_crps_quad_and_pairwise():
    from scipy.integrate import quad

    rng = np.random.default_rng(0)
    s = rng.gamma(2.0, size=30)
    y = 1.3
    xs = np.sort(s)

    def f(t):
        return (np.searchsorted(xs, t, side="right") / xs.size - (t >= y)) ** 2

    pts = np.append(xs, y)
    val, _ = quad(f, pts.min() - 1, pts.max() + 1, points=pts, limit=200)
    pair = np.abs(s - y).mean() - 0.5 * np.abs(s[:, None] - s[None, :]).mean()
    got = energy_crps(s[:, None], np.array([y]))
    assert got == pytest.approx(val, rel=1e-6)
    assert got == pytest.approx(pair, rel=1e-12)


def test_energy_crps_chunking(monkeypatch):
    import tsdiff.evaluation.metrics as M

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(9, 50)), rng.normal(size=50)
    full = energy_crps(x, y)
    monkeypatch.setattr(M, "_CHUNK", 20)  # 2 points per chunk
    assert energy_crps(x, y) == pytest.approx(full, rel=1e-13)


# --------------------------------------------------------------------------- #
# masks and NaN are ignored exactly
# --------------------------------------------------------------------------- #
def _data(rng, shape=(3, 8, 2), S=25):
    return rng.normal(size=(S,) + shape) + 2.0, rng.normal(size=shape) + 2.0


ALL_METRICS = [crps, energy_crps, nd, mae, mse, rmse, nrmse]


@pytest.mark.parametrize("fn", ALL_METRICS + [coverage, interval_coverage])
def test_mask_and_nan_ignored(fn):
    rng = np.random.default_rng(0)
    x, y = _data(rng)
    m = rng.random(y.shape) > 0.3
    ref = fn(x[:, m], y[m])  # only the kept points, flattened
    x2, y2 = x.copy(), y.copy()
    y2[~m] = 1e6  # garbage at masked points changes nothing
    x2[:, ~m] = np.nan
    np.testing.assert_allclose(fn(x2, y2, mask=m), ref, rtol=1e-12)
    y3 = y.copy()
    y3[~m] = np.nan  # NaN targets behave like masked points
    np.testing.assert_allclose(fn(x, y3), ref, rtol=1e-12)
    y3[0, 0, 0] = np.inf
    m3 = m.copy()
    m3[0, 0, 0] = False
    np.testing.assert_allclose(fn(x, y3), fn(x, y, mask=m3), rtol=1e-12)


def test_crps_sum_mask_semantics():
    rng = np.random.default_rng(2)
    x, y = _data(rng)
    m = rng.random(y.shape) > 0.3
    m[0, 0] = False  # one aggregated point with no scored entry
    x2, y2 = x.copy(), y.copy()
    y2[~m] = 1e6
    x2[:, ~m] = np.nan
    got = crps_sum(x2, y2, mask=m)
    # reference: masked entries dropped from both sums, empty points dropped
    keep = m.any(-1)
    ref = crps(np.where(m, x, 0).sum(-1)[:, keep], np.where(m, y, 0).sum(-1)[keep])
    assert got == pytest.approx(ref, rel=1e-12)
    # NaN targets: GluonTS rule (target NaN -> 0, forecast sums all series)
    y4 = y.copy()
    y4[0, 0, :] = np.nan
    y4[1, 2, 0] = np.nan
    ref4 = crps(x.sum(-1), np.nan_to_num(y4).sum(-1))
    assert crps_sum(x, y4) == pytest.approx(ref4, rel=1e-12)
    xa, ya, ma = aggregate_sum(x, y4)
    assert ma is None and ya[0, 0] == 0.0


def test_all_masked_gives_nan():
    rng = np.random.default_rng(0)
    x, y = _data(rng)
    m = np.zeros(y.shape, bool)
    for fn in ALL_METRICS:
        assert np.isnan(fn(x, y, mask=m))
    assert np.isnan(coverage(x, y, mask=m)).all()


def test_evaluate_mask_and_keys():
    rng = np.random.default_rng(4)
    x, y = _data(rng, shape=(4, 6, 3))
    m = rng.random(y.shape) > 0.4
    forecasts = [x[:, i] for i in range(4)]
    targets = [y[i] for i in range(4)]
    out = evaluate(forecasts, targets, masks=[m[i] for i in range(4)])
    assert out["crps"] == pytest.approx(crps(x, y, mask=m), rel=1e-12)
    assert out["crps_sum"] == pytest.approx(crps_sum(x, y, mask=m), rel=1e-12)
    assert out["energy_crps"] == pytest.approx(energy_crps(x, y, mask=m), rel=1e-12)
    assert out["nd"] == pytest.approx(nd(x, y, mask=m), rel=1e-12)
    assert out["mae"] == pytest.approx(mae(x, y, mask=m), rel=1e-12)
    assert out["mse"] == pytest.approx(mse(x, y, mask=m, time_axis=1), rel=1e-12)
    assert out["coverage_central_0.9"] == pytest.approx(
        interval_coverage(x, y, 0.1, mask=m, time_axis=1), rel=1e-12
    )
    expected = {"crps", "crps_sum", "energy_crps", "nd", "nrmse", "mae", "rmse", "mse"}
    expected |= {f"coverage_{q:g}" for q in DEFAULT_QUANTILES}
    expected |= {"coverage_central_0.5", "coverage_central_0.9"}
    assert set(out) == expected
    uni = evaluate([x[:, 0, :, 0]], [y[0, :, 0]])
    assert "crps_sum" not in uni


def test_evaluate_batching_and_varying_shapes(monkeypatch):
    from tsdiff.evaluation import evaluator as E

    rng = np.random.default_rng(10)
    forecasts = [rng.normal(size=(20 + i % 3, 5 + i % 2, 2)) + 2 for i in range(9)]
    targets = [rng.normal(size=f.shape[1:]) + 2 for f in forecasts]
    targets[3][1, :] = np.nan
    full = evaluate(forecasts, targets, interval_alphas=())
    monkeypatch.setattr(E, "_BATCH_VALUES", 1)  # one item per batch
    one = evaluate(forecasts, targets, interval_alphas=())
    assert set(full) == set(one) and not any(k.startswith("coverage_central") for k in full)
    for k in full:
        assert one[k] == pytest.approx(full[k], rel=1e-12), k


def test_evaluate_pandas_targets_and_last_rows():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(20, 4)) + 3
    hist = pd.Series(rng.normal(size=10) + 3)  # RangeIndex: last T rows are used
    out = evaluate([x], [hist])
    assert out["crps"] == pytest.approx(crps(x, hist.to_numpy()[-4:]), rel=1e-12)


# --------------------------------------------------------------------------- #
# quantiles, coverage, torch
# --------------------------------------------------------------------------- #
def test_interval_coverage_and_coverage_consistency():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(200, 5000)), rng.normal(size=5000)
    assert interval_coverage(x, y, 0.1) == pytest.approx(0.9, abs=0.02)
    np.testing.assert_allclose(coverage(x, y, [0.1, 0.5, 0.9]), [0.1, 0.5, 0.9], atol=0.02)
    assert interval_coverage(x, y, [0.5, 0.1]).shape == (2,)


def test_torch_inputs():
    rng = np.random.default_rng(8)
    x, y = _data(rng)
    m = rng.random(y.shape) > 0.5
    tx, ty, tm = torch.from_numpy(x).float(), torch.from_numpy(y), torch.from_numpy(m)
    x32 = x.astype(np.float32)
    for fn in ALL_METRICS + [crps_sum]:
        assert fn(tx, ty, mask=tm) == pytest.approx(fn(x32, y, mask=m), rel=1e-12)
    np.testing.assert_array_equal(
        sample_quantiles(tx, [0.5]), sample_quantiles(x32, [0.5])
    )


def test_quantile_partition_path_equals_sort():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(64, 30))
    np.testing.assert_array_equal(
        sample_quantiles(x, [0.5]), np.sort(x, axis=0)[[int(np.round(63 * 0.5))]]
    )


# --------------------------------------------------------------------------- #
# errors
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("fn", ALL_METRICS + [crps_sum, coverage, interval_coverage])
def test_shape_mismatch_names_both_shapes(fn):
    x, y = np.zeros((10, 4, 3)), np.ones((4, 2))
    with pytest.raises(ValueError) as e:
        fn(x, y)
    assert "(10, 4, 3)" in str(e.value) and "(4, 2)" in str(e.value)


def test_mask_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        crps(np.zeros((5, 4, 3)), np.ones((4, 3)), mask=np.ones((4, 2)))


@pytest.mark.parametrize("bad", [[0.0, 0.5], [0.5, 1.0], [-0.1], [1.5], [np.nan], []])
def test_bad_levels(bad):
    x, y = np.zeros((5, 3)), np.ones(3)
    with pytest.raises(ValueError):
        crps(x, y, quantiles=bad)
    with pytest.raises(ValueError):
        coverage(x, y, bad)
    with pytest.raises(ValueError):
        check_levels(bad)
    if bad:
        with pytest.raises(ValueError):
            interval_coverage(x, y, bad)


def test_evaluate_errors():
    x = np.zeros((5, 4))
    with pytest.raises(ValueError, match="1 forecasts but 2 targets"):
        evaluate([x], [np.ones(4), np.ones(4)])
    with pytest.raises(ValueError, match=r"\(5, 4\).*\(3,\)"):
        evaluate([x], [np.ones(3)])
    with pytest.raises(ValueError, match="mix"):
        evaluate([x, np.zeros((5, 4, 2))], [np.ones(4), np.ones((4, 2))])


def test_nan_samples_at_scored_points_raise():
    x, y = np.ones((5, 3)), np.ones(3)
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        crps(x, y)
    assert np.isfinite(crps(x, y, mask=np.array([1, 0, 1])))
