"""Naive imputers (the yardsticks of the imputation benchmarks)."""
from __future__ import annotations

import numpy as np
import pytest

from tsdiff.data.imputation import feature_means, interpolate_impute, mean_impute


def grid():
    values = np.array([[[1.0, 10.0], [np.nan, 20.0], [3.0, np.nan], [np.nan, 40.0]],
                       [[5.0, np.nan], [7.0, np.nan], [np.nan, np.nan], [9.0, np.nan]]])  # (N=2, L=4, K=2)
    return values, np.isfinite(values)


def test_feature_means_and_mean_imputation():
    values, given = grid()
    np.testing.assert_allclose(feature_means(values, given), [5.0, 70.0 / 3])
    out = mean_impute(values, given)
    np.testing.assert_array_equal(out[given], values[given])
    np.testing.assert_allclose(out[0, 1, 0], 5.0)
    np.testing.assert_allclose(out[1, :, 1], 70.0 / 3)
    # given means (e.g. of the training set) are used as they are; a feature never given falls back to 0
    np.testing.assert_allclose(mean_impute(values, given, means=[0.5, -1.0])[1, 2], [0.5, -1.0])
    assert feature_means(np.full((1, 3, 1), np.nan), np.zeros((1, 3, 1)))[0] == 0.0


def test_interpolation_is_linear_inside_and_constant_outside():
    values, given = grid()
    out = interpolate_impute(values, given)
    np.testing.assert_array_equal(out[given], values[given])
    assert out[0, 1, 0] == 2.0 and out[0, 3, 0] == 3.0  # between 1 and 3; after the last given value
    assert out[0, 2, 1] == 30.0
    assert out[1, 2, 0] == 8.0
    np.testing.assert_allclose(out[1, :, 1], 70.0 / 3)  # nothing given: the feature mean
    assert np.isfinite(out).all()


def test_mask_is_respected_and_inputs_are_not_mutated():
    values, given = grid()
    hidden = given.copy()
    hidden[0, 2, 0] = False  # 3.0 hidden: it must not be used
    before = values.copy(), hidden.copy()
    out = interpolate_impute(values, hidden)
    assert out[0, 2, 0] == 1.0  # constant after the last *given* value
    np.testing.assert_array_equal(values, before[0])
    np.testing.assert_array_equal(hidden, before[1])


def test_shape_errors():
    with pytest.raises(ValueError, match="shape \\(N, L, K\\)"):
        mean_impute(np.zeros((3, 4)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="shape \\(N, L, K\\)"):
        interpolate_impute(np.zeros((1, 3, 4)), np.ones((1, 4, 3)))
