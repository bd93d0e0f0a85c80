"""The CLI's covariate columns: --covariates, --past-covariates, --static-covariates."""
import re

import numpy as np
import pandas as pd
import pytest

from tsdiff import cli

from api_helpers import hourly_frame, long_frame

H = 6
QUICK = ["--epochs", 1, "--batches", 2, "--samples", 4, "--quiet"]


@pytest.fixture(autouse=True)
def _restore_env(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")  # main() sets it under --quiet; monkeypatch restores it afterwards


def run(capsys, *args):
    code = cli.main([str(a) for a in args])
    return code, capsys.readouterr().err


def wide_csv(path, horizon_rows=H):
    """Targets a, b; a known covariate 'temp' that also fills the last ``horizon_rows`` rows (targets empty there);
    a past-only covariate 'load'."""
    y = hourly_frame(n=120)
    index = pd.date_range(y.index[0], periods=len(y) + horizon_rows, freq="h", name="time")
    frame = y.reindex(index)
    frame["temp"] = np.sin(np.arange(len(index)) / 4.0)
    frame["load"] = np.r_[np.cos(np.arange(len(y)) / 5.0), np.full(horizon_rows, np.nan)]
    frame.to_csv(path)
    return frame


def test_covariate_columns_forecast_and_survive_save_and_load(tmp_path, capsys):
    frame = wide_csv(tmp_path / "data.csv")
    code, err = run(capsys, "forecast", tmp_path / "data.csv", "--horizon", H, "--covariates", "temp",
                    "--past-covariates", "load", "--save", tmp_path / "m.tsd", "--output", tmp_path / "fc.csv", *QUICK)
    assert code == 0, err
    written = pd.read_csv(tmp_path / "fc.csv", header=[0, 1], index_col=0, parse_dates=True)
    assert list(written.columns.get_level_values(0).unique()) == ["a", "b"]  # the covariates are not forecast
    assert written.index[0] == frame.index[-H] and len(written) == H  # right after the last target value
    # the saved model reads the same columns by itself and forecasts the same numbers
    code, err = run(capsys, "forecast", tmp_path / "data.csv", "--load", tmp_path / "m.tsd", "--output",
                    tmp_path / "again.csv", *QUICK[-3:])
    assert code == 0, err
    again = pd.read_csv(tmp_path / "again.csv", header=[0, 1], index_col=0, parse_dates=True)
    pd.testing.assert_frame_equal(written, again)


@pytest.mark.parametrize("options,message", [
    (["--covariates", "nope"], r"--covariates column 'nope' not in .*columns are \['a', 'b', 'temp', 'load'\]"),
    (["--past-covariates", "time"], "--past-covariates column 'time' is the time column, not a covariate"),
    (["--covariates", "temp", "--past-covariates", "temp"], "column 'temp' is named twice"),
    (["--covariates", "a", "b", "temp", "load"], "no target column left"),
    (["--static-covariates", "temp"], "--static-covariates need a long CSV"),
])
def test_bad_covariate_columns_are_named(tmp_path, capsys, options, message):
    wide_csv(tmp_path / "data.csv")
    code, err = run(capsys, "forecast", tmp_path / "data.csv", "--horizon", H, *options, "--output",
                    tmp_path / "fc.csv", *QUICK)
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and re.search(message, err), err
    assert not (tmp_path / "fc.csv").exists()


def test_known_covariates_must_cover_the_horizon(tmp_path, capsys):
    wide_csv(tmp_path / "data.csv", horizon_rows=2)
    code, err = run(capsys, "forecast", tmp_path / "data.csv", "--horizon", H, "--covariates", "temp", "--output",
                    tmp_path / "fc.csv", *QUICK)
    assert code == 2 and "covariates do not cover 4 required timestamps" in err, err


def test_static_covariates_of_a_long_csv(tmp_path, capsys):
    y = long_frame(n=96)
    y["region"] = y["item_id"].map({"x": "north", "y": "south"})
    y["size"] = y["item_id"].map({"x": 1.0, "y": 4.0})
    y.to_csv(tmp_path / "long.csv", index=False)
    common = ["forecast", tmp_path / "long.csv", "--id-col", "item_id", "--time-col", "timestamp", "--horizon", H]
    code, err = run(capsys, *common, "--static-covariates", "region", "size", "--save", tmp_path / "m.tsd",
                    "--output", tmp_path / "fc.csv", *QUICK)
    assert code == 0, err
    written = pd.read_csv(tmp_path / "fc.csv")
    assert sorted(written["item_id"].unique()) == ["x", "y"] and "region" not in written.columns
    code, err = run(capsys, "forecast", tmp_path / "long.csv", "--load", tmp_path / "m.tsd", "--output",
                    tmp_path / "again.csv", *QUICK[-3:])
    assert code == 0, err
    pd.testing.assert_frame_equal(written, pd.read_csv(tmp_path / "again.csv"))

    y.loc[5, "region"] = "east"  # no longer one value per id
    y.to_csv(tmp_path / "bad.csv", index=False)
    code, err = run(capsys, *common[:1], tmp_path / "bad.csv", *common[2:], "--static-covariates", "region",
                    "--output", tmp_path / "fc2.csv", *QUICK)
    assert code == 2 and "'region' of" in err and "several values for id 'x'" in err, err
    code, err = run(capsys, *common, "--covariates", "size", "--static-covariates", "region", "--output",
                    tmp_path / "fc3.csv", *QUICK)
    assert code == 2 and "covariates of series 'x' do not cover 6 required timestamps" in err, err


def test_dynamic_covariates_of_a_long_csv(tmp_path, capsys):
    """Per id and step; each id's rows after its last target value give its horizon's known covariates."""
    y = long_frame(n=96)
    y["price"] = np.sin(np.arange(len(y)) / 6.0)
    y["load"] = np.cos(np.arange(len(y)) / 4.0)
    y.loc[y.groupby("item_id").tail(H).index, ["target", "load"]] = np.nan  # the horizon: the price only
    y.sample(frac=1.0, random_state=0).to_csv(tmp_path / "long.csv", index=False)  # row order does not matter
    code, err = run(capsys, "forecast", tmp_path / "long.csv", "--id-col", "item_id", "--time-col", "timestamp",
                    "--horizon", H, "--covariates", "price", "--past-covariates", "load", "--output",
                    tmp_path / "fc.csv", *QUICK)
    assert code == 0, err
    written = pd.read_csv(tmp_path / "fc.csv", parse_dates=["timestamp"])
    first = written.groupby("item_id")["timestamp"].min()
    last_observed = y.dropna().groupby("item_id")["timestamp"].max()
    assert (first == last_observed + pd.Timedelta(hours=1)).all()


def test_impute_with_covariate_columns(tmp_path, capsys):
    frame = wide_csv(tmp_path / "data.csv", horizon_rows=0)
    frame.iloc[30:34, 0] = np.nan
    frame.to_csv(tmp_path / "gappy.csv")
    code, err = run(capsys, "impute", tmp_path / "gappy.csv", "--covariates", "temp", "--past-covariates", "load",
                    "--output", tmp_path / "filled.csv", *QUICK)
    assert code == 0, err
    filled = pd.read_csv(tmp_path / "filled.csv", index_col=0)
    assert list(filled.columns) == ["a", "b"] and filled.notna().all().all()
