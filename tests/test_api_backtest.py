"""model.cross_validation: windows cut at each series' own end, training that never sees a window's actuals,
exact actuals, and a frame that tsdiff.evaluation scores."""
import numpy as np
import pandas as pd
import pytest

import tsdiff
from tsdiff.api.backtest import BACKTEST_QUANTILES
from tsdiff.evaluation import calibration_from_frame, evaluate_backtest, seasonal_error

from api_helpers import CSDI_FAST, FAST, hourly_frame
from panel_helpers import NIXTLA, ends, ragged_panel

# tiny models: their convergence warnings are expected
pytestmark = pytest.mark.filterwarnings("ignore::tsdiff.api.training.ConvergenceWarning")
H = 4
LEVELS = [f"{q:g}" for q in BACKTEST_QUANTILES]


@pytest.mark.parametrize("cls, fast", [(tsdiff.TimeGrad, FAST), (tsdiff.CSDI, CSDI_FAST)], ids=["timegrad", "csdi"])
def test_panel_windows_end_at_each_series_own_cutoffs(cls, fast):
    y = ragged_panel()
    before = y.copy()
    model = cls(prediction_length=H, **fast)
    cv = model.cross_validation(y, n_windows=3, step_size=2, num_samples=6, **NIXTLA)
    pd.testing.assert_frame_equal(y, before)
    with pytest.raises(tsdiff.NotFittedError):
        model.predict()  # the model cross_validation was called on is not changed
    assert list(cv.columns) == ["unique_id", "cutoff", "ds", "actual", "mean", *LEVELS, "seasonal_error"]
    hour = pd.Timedelta(hours=1)
    for item, end in ends(y).items():
        rows = cv[cv["unique_id"] == item]
        expected = [end - (H + back) * hour for back in (4, 2, 0)]
        assert list(rows["cutoff"].unique()) == expected
        for cutoff, window in rows.groupby("cutoff"):
            assert list(window["ds"]) == [cutoff + k * hour for k in range(1, H + 1)]
            history = y[(y["unique_id"] == item) & (y["ds"] <= cutoff)]["y"].to_numpy()
            assert window["seasonal_error"].iloc[0] == seasonal_error(history, 24)
    truth = y.set_index(["unique_id", "ds"])["y"]
    np.testing.assert_array_equal(cv["actual"], truth.loc[list(zip(cv["unique_id"], cv["ds"]))].to_numpy())
    scores = evaluate_backtest(cv)
    assert scores["windows"] == 9 and scores["points"] == 9 * H
    assert all(np.isfinite(scores[k]) for k in ("crps", "mase", "scaled_crps", "msis", "coverage_0.9"))
    assert calibration_from_frame(cv).n == 9 * H


@pytest.mark.parametrize("refit, trainings", [(False, [0]), (True, [0, 1, 2]), (2, [0, 2])])
def test_training_never_sees_a_windows_actuals(monkeypatch, refit, trainings):
    """refit=False trains once on the data before the first cutoff; True at every cutoff; k every k windows."""
    seen = []
    original = tsdiff.TimeGrad._train_panel

    def recording(self, panel, **kwargs):
        seen.append({item: grid.index()[-1] for item, grid in zip(panel.ids, panel.series)})
        return original(self, panel, **kwargs)

    monkeypatch.setattr(tsdiff.TimeGrad, "_train_panel", recording)
    y = ragged_panel()
    cv = tsdiff.TimeGrad(prediction_length=H, **FAST).cross_validation(y, n_windows=3, refit=refit, num_samples=2,
                                                                      quantiles=(0.5,), **NIXTLA)
    cutoffs = cv.groupby("unique_id")["cutoff"].unique()
    assert seen == [{item: cutoffs[item][k] for item in cutoffs.index} for k in trainings]


def test_one_multivariate_series_shares_its_cutoffs_and_survives_a_missing_row():
    y = hourly_frame(n=100)
    cutoff = y.index[100 - H - 1]
    y = y.drop(cutoff)  # the cutoff row itself is missing: the window still starts right after it
    cv = tsdiff.TimeGrad(prediction_length=H, **FAST).cross_validation(y, n_windows=2, num_samples=4,
                                                                      quantiles=(0.1, 0.5, 0.9))
    assert list(cv.columns) == ["variable", "cutoff", "timestamp", "actual", "mean", "0.1", "0.5", "0.9",
                                "seasonal_error"]
    assert list(cv["cutoff"].unique()) == [cutoff - H * pd.Timedelta(hours=1), cutoff]
    assert set(cv["variable"]) == {"a", "b"} and len(cv) == 2 * 2 * H
    last = cv[cv["cutoff"] == cutoff]
    assert list(last["timestamp"].unique()) == list(y.index[-H:])
    np.testing.assert_array_equal(last.set_index(["variable", "timestamp"])["actual"].unstack(0)[["a", "b"]],
                                  y.iloc[-H:].to_numpy())


def test_covariates_and_a_named_series():
    y = hourly_frame(n=100)["a"].rename("load")
    cov = pd.DataFrame({"x": np.sin(np.arange(100) / 4.0)}, index=y.index)
    cv = tsdiff.TimeGrad(prediction_length=H, **FAST).cross_validation(y, covariates=cov, num_samples=3,
                                                                      quantiles=(0.5,), season_length=1)
    assert set(cv["variable"]) == {"load"} and len(cv) == H
    np.testing.assert_array_equal(cv["actual"], y.iloc[-H:].to_numpy())
    assert cv["seasonal_error"].iloc[0] == seasonal_error(y.iloc[:-H].to_numpy(), 1)


def test_bad_arguments_are_named():
    y = ragged_panel()
    model = tsdiff.TimeGrad(prediction_length=H, **FAST)
    with pytest.raises(ValueError, match="series \\['s2'\\] are too short for 20 window"):
        model.cross_validation(y, n_windows=20, step_size=4, **NIXTLA)
    with pytest.raises(ValueError, match="y is too short"):
        model.cross_validation(hourly_frame(n=30), n_windows=6)
    with pytest.raises(ValueError, match="n_windows"):
        model.cross_validation(y, n_windows=0, **NIXTLA)
    with pytest.raises(TypeError, match="refit"):
        model.cross_validation(y, refit="always", **NIXTLA)
    with pytest.raises(ValueError, match="step_size"):
        model.cross_validation(y, step_size=0, **NIXTLA)


def layouts():
    wide = hourly_frame(n=100)
    wide.iloc[-10:, 1] = np.nan  # b ended 10 hours earlier
    periods = ragged_panel().assign(ds=lambda f: f["ds"].dt.to_period("h"))
    zoned = ragged_panel().assign(ds=lambda f: f["ds"].dt.tz_localize("Europe/Berlin"))
    return {
        "wide as panel": (wide, dict(panel=True), {"a": wide.index[-1], "b": wide.index[-11]}),
        "long as one series": (ragged_panel(), dict(panel=False, **NIXTLA), {None: ragged_panel()["ds"].max()}),
        "periods": (periods, NIXTLA, ends(periods)),
        "time zone": (zoned, NIXTLA, ends(zoned)),
    }


@pytest.mark.filterwarnings("ignore:the series end at different times")
@pytest.mark.parametrize("name", sorted(layouts()))
def test_every_layout_is_cut_at_the_right_ends(name):
    y, options, last = layouts()[name]
    cv = tsdiff.TimeGrad(prediction_length=H, **FAST).cross_validation(y, n_windows=2, num_samples=2,
                                                                      quantiles=(0.5,), **options)
    id_col, time_col = cv.columns[0], cv.columns[2]
    step = pd.Timedelta(hours=1) if name != "periods" else 1
    for item, end in last.items():
        rows = cv if item is None else cv[cv[id_col] == item]
        assert list(rows["cutoff"].unique()) == [end - 2 * H * step, end - H * step], item
        assert rows[time_col].max() == end
    if name == "long as one series":  # series that end earlier have no actuals in the last windows
        assert np.isfinite(cv[cv[id_col] == "s0"]["actual"]).all() and cv["actual"].isna().any()
    else:
        assert np.isfinite(cv["actual"]).all()
