"""A long frame is a panel: one global univariate model over series of different lengths and ends, each forecast
from its own last timestamp; new series are forecast with the same model; wide frames stay joint unless panel=True."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

import tsdiff
from tsdiff.api.panel_forecast import PanelForecast

from api_helpers import CSDI_FAST, FAST, hourly_frame
from panel_helpers import NIXTLA, ends, ragged_panel

# tiny models: their convergence warnings are expected
pytestmark = pytest.mark.filterwarnings("ignore::tsdiff.api.training.ConvergenceWarning")
H = 4
# CSDI with the paper's ε-model over values: a barely trained residual model (the default) forecasts its fill with
# almost no spread, which would hide whether each series' samples are drawn on its own scale
MODELS = {"timegrad": (tsdiff.TimeGrad, FAST),
          "csdi": (tsdiff.CSDI, dict(CSDI_FAST, prediction="epsilon", baseline=None, baseline_channel=False))}


def network_size(model) -> int:
    net = model.predictor_.prediction_net if isinstance(model, tsdiff.TimeGrad) else model.predictor_.model
    return sum(p.numel() for p in net.parameters())


@pytest.fixture(scope="module", params=sorted(MODELS))
def fitted(request):
    cls, fast = MODELS[request.param]
    y = ragged_panel()
    before = y.copy()
    model = cls(prediction_length=H, **fast).fit(y, **NIXTLA)
    pd.testing.assert_frame_equal(y, before)  # the user's frame is not modified
    return model, y


def test_each_series_is_forecast_from_its_own_end(fitted):
    model, y = fitted
    forecast = model.predict(num_samples=8)
    assert isinstance(forecast, PanelForecast) and forecast.samples.shape == (8, H, 3)
    last = ends(y)
    assert ends(y)["s0"] - ends(y)["s1"] == pd.Timedelta(hours=51)
    for item, index in forecast.indexes.items():
        assert index[0] == last[item] + pd.Timedelta(hours=1) and len(index) == H
        assert forecast.cutoffs[item] == last[item]
    frame = forecast.to_frame()
    assert list(frame.columns) == ["unique_id", "ds", "mean", "0.1", "0.5", "0.9"] and len(frame) == 3 * H
    assert (frame.groupby("unique_id")["ds"].min() == pd.Series(last) + pd.Timedelta(hours=1)).all()
    np.testing.assert_array_equal(frame["mean"], forecast.mean.to_numpy())
    assert forecast.median.index.names == ["unique_id", "ds"]


def test_one_univariate_network_whatever_the_number_of_series(fitted):
    model, y = fitted
    more = pd.concat([y, y.assign(unique_id=y["unique_id"] + "_copy")], ignore_index=True)
    bigger = type(model)(prediction_length=H, **MODELS[model.name.lower()][1])
    bigger.fit(more, **NIXTLA)
    assert network_size(bigger) == network_size(model)
    wide = y.pivot(index="ds", columns="unique_id", values="y")
    # a wide frame stays one multivariate series: CSDI's network is a joint one; TimeGrad's is by default the same
    # univariate one as the panel's (``univariate=True``), the joint one with univariate=False
    options = MODELS[model.name.lower()][1] | ({"univariate": False} if model.name == "TimeGrad" else {})
    joint = type(model)(prediction_length=H, **options).fit(wide)
    assert network_size(joint) != network_size(model)
    assert joint.predict(num_samples=2).samples.shape == (2, H, 3)
    if model.name == "TimeGrad":
        shared = type(model)(prediction_length=H, **MODELS["timegrad"][1]).fit(wide)
        assert network_size(shared) == network_size(model)
        assert shared.predict(num_samples=2).samples.shape == (2, H, 3)


def test_new_series_use_the_global_model(fitted):
    """Ids never seen in training are forecast; renaming every id changes nothing: nothing is kept per id."""
    model, y = fitted
    renamed = y.assign(unique_id=y["unique_id"].map({"s0": "a", "s1": "b", "s2": "c"}))
    known = model.predict(y, num_samples=6, seed=3)
    new = model.predict(renamed, num_samples=6, seed=3)
    assert new.ids == ["a", "b", "c"]
    np.testing.assert_array_equal(new.samples, known.samples)
    shorter = y[y["ds"] <= pd.Timestamp("2024-01-09 12:00")]  # later data of each series held back
    forecast = model.predict(shorter, num_samples=4)
    assert all(idx[0] == ends(shorter)[item] + pd.Timedelta(hours=1) for item, idx in forecast.indexes.items())


def test_forecasts_follow_each_series_scale(fitted):
    """Amplitudes 1, 10 and 100 in one panel: each series is forecast on its own scale (even by a barely trained
    network: TimeGrad scales each window by its mean, CSDI each series by its mean and s.d.)."""
    model, y = fitted
    spread = model.predict(num_samples=20).samples.std(axis=0).mean(axis=0)  # (3,)
    assert spread[1] > 3 * spread[0] and spread[2] > 3 * spread[1]


def test_save_and_load_a_panel_model(fitted, tmp_path):
    model, y = fitted
    path = model.save(tmp_path / "panel.tsd")
    loaded = tsdiff.load(path)
    np.testing.assert_array_equal(loaded.predict(num_samples=5, seed=2).samples,
                                  model.predict(num_samples=5, seed=2).samples)
    assert loaded.predict(num_samples=2).indexes["s1"][0] == ends(y)["s1"] + pd.Timedelta(hours=1)
    renamed = y.assign(unique_id="new_" + y["unique_id"])
    np.testing.assert_array_equal(loaded.predict(renamed, num_samples=3, seed=1).samples,
                                  model.predict(renamed, num_samples=3, seed=1).samples)


def test_panel_plot_draws_each_series_on_its_own_time_axis(fitted):
    model, y = fitted
    forecast = model.predict(num_samples=10)
    axes = forecast.plot(history=24)
    assert [a.get_title() for a in axes] == ["s0", "s1", "s2"]
    for a, item in zip(axes, ["s0", "s1", "s2"]):
        median = next(line for line in a.get_lines() if line.get_label() == "median")
        assert pd.Timestamp(matplotlib.dates.num2date(median.get_xdata(orig=False)[0]).replace(tzinfo=None)) \
            == forecast.indexes[item][0]


def test_wide_frame_as_a_panel():
    """panel=True: the columns are series; each runs from its first to its last observed value."""
    y = hourly_frame(n=120, columns=("a", "b"))
    y.iloc[-30:, 1] = np.nan  # b ended 30 hours earlier
    model = tsdiff.TimeGrad(prediction_length=H, **FAST).fit(y, panel=True)
    assert model.backend_["target_dim"] == 1
    forecast = model.predict(num_samples=4)
    assert forecast.indexes["b"][0] == y.index[-30]
    assert forecast.indexes["a"][0] == y.index[-1] + pd.Timedelta(hours=1)
    assert list(forecast.to_frame().columns[:3]) == ["item_id", "timestamp", "mean"]


def test_long_frame_read_jointly_on_request_warns_about_ragged_ends():
    y = ragged_panel()
    with pytest.warns(UserWarning, match="'s1' ends 51 step.*panel=True"):
        model = tsdiff.TimeGrad(prediction_length=H, **FAST, univariate=False).fit(y, panel=False, **NIXTLA)
    assert model.backend_["target_dim"] == 3
    assert model.predict(num_samples=2).index[0] == ends(y)["s0"] + pd.Timedelta(hours=1)


def test_panel_refusals_name_the_problem(fitted):
    model, y = fitted
    with pytest.raises(TypeError, match="panel must be True, False or None"):
        tsdiff.TimeGrad(prediction_length=H, **FAST).fit(y, panel="yes", **NIXTLA)
    cov = pd.DataFrame({"x": 1.0}, index=pd.date_range("2023-12-01", periods=2000, freq="h"))
    with pytest.raises(ValueError, match="CSDI takes no covariates for a panel"):
        tsdiff.CSDI(prediction_length=H, verbose=0).fit(y, covariates=cov, **NIXTLA)
    with pytest.raises(ValueError, match="fitted on a panel without covariates"):
        model.predict(covariates=cov)
    tiny = y.groupby("unique_id").head(5)
    with pytest.raises(ValueError, match="every series is shorter than context_length \\+ prediction_length"):
        tsdiff.TimeGrad(prediction_length=H, **FAST).fit(tiny, **NIXTLA)
    daily = y.assign(ds=pd.date_range("2020-01-01", periods=len(y), freq="D"), unique_id="d")
    with pytest.raises(ValueError, match="fitted on 'h'"):
        model.predict(daily)
    if isinstance(model, tsdiff.CSDI):
        with pytest.raises(ValueError, match="fitted on a panel"):
            model.impute()


def test_cli_forecasts_a_ragged_long_csv_per_series(tmp_path, capsys, monkeypatch):
    from tsdiff import cli

    monkeypatch.setenv("TQDM_DISABLE", "1")
    y = ragged_panel()
    y.to_csv(tmp_path / "panel.csv", index=False)
    code = cli.main(["forecast", str(tmp_path / "panel.csv"), "--horizon", str(H), "--id-col", "unique_id",
                     "--time-col", "ds", "--target-col", "y", "--epochs", "1", "--batches", "2", "--samples", "4",
                     "--output", str(tmp_path / "fc.csv"), "--save", str(tmp_path / "m.tsd"), "--quiet"])
    assert code == 0, capsys.readouterr().err
    written = pd.read_csv(tmp_path / "fc.csv", parse_dates=["ds"])
    first = written.groupby("unique_id")["ds"].min()
    assert (first == pd.Series(ends(y)) + pd.Timedelta(hours=1)).all()
    new = y.assign(unique_id="n" + y["unique_id"])
    new.to_csv(tmp_path / "new.csv", index=False)
    code = cli.main(["forecast", str(tmp_path / "new.csv"), "--load", str(tmp_path / "m.tsd"), "--samples", "4",
                     "--output", str(tmp_path / "fc2.csv"), "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert set(pd.read_csv(tmp_path / "fc2.csv")["unique_id"]) == {"ns0", "ns1", "ns2"}


# -- the training budget and fault tolerance work for panels too ----------------------------------------------------
def test_tail_sampler_holds_out_each_series_own_tail():
    from tsdiff.api.timegrad import TailSampler

    sampler = TailSampler(fraction=0.2, min_future=4)
    assert list(sampler(np.zeros(100))) == list(range(80, 97))  # the last 20 steps, windows of 4 inside them
    assert sampler(np.zeros(50))[0] == 40 and sampler(np.zeros(10))[0] == 6  # at least one horizon


@pytest.mark.parametrize("name", sorted(MODELS))
def test_validation_tails_per_series(name):
    cls, fast = MODELS[name]
    y = ragged_panel()
    model = cls(prediction_length=H, validation_fraction=0.2, **dict(fast, epochs=2)).fit(y, **NIXTLA)
    assert model.loss_curve_["val_loss"].notna().all() and len(model.loss_curve_) == 2
    from tsdiff.api.panel import read_panel, validation_cuts

    cuts = validation_cuts(model, read_panel(y, None, NIXTLA))
    assert cuts == [96, 72, 56]  # each series keeps its own last 20 %
    with pytest.raises(ValueError, match="validation_fraction=0.95 leaves"):
        cls(prediction_length=H, validation_fraction=0.95, **fast).fit(y, **NIXTLA)


class _Interrupted(Exception):
    pass


def test_an_interrupted_panel_fit_resumes_to_the_same_weights(tmp_path):
    import lightning.pytorch as pl

    class InterruptAfter(pl.Callback):
        def __init__(self, batches):
            self.batches, self.seen = batches, 0

        def on_train_batch_end(self, *args):
            self.seen += 1
            if self.seen == self.batches:
                raise _Interrupted

    settings = dict(FAST, epochs=3, num_batches_per_epoch=2)
    y = ragged_panel()
    reference = tsdiff.TimeGrad(prediction_length=H, **settings).fit(y, **NIXTLA)
    with pytest.raises(_Interrupted):
        tsdiff.TimeGrad(prediction_length=H, trainer_kwargs={"callbacks": [InterruptAfter(5)]}, **settings).fit(
            y, checkpoint_dir=tmp_path / "ckpt", **NIXTLA)
    resumed = tsdiff.TimeGrad(prediction_length=H, **settings).fit(y, checkpoint_dir=tmp_path / "ckpt", resume=True,
                                                                   **NIXTLA)
    np.testing.assert_array_equal(resumed.predict(num_samples=4, seed=1).samples,
                                  reference.predict(num_samples=4, seed=1).samples)
    with pytest.raises(ValueError, match="belongs to another fit.*the training data"):
        tsdiff.TimeGrad(prediction_length=H, **settings).fit(y.iloc[5:], checkpoint_dir=tmp_path / "ckpt",
                                                             resume=True, **NIXTLA)
