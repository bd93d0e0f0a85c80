"""The `tsdiff` command's input handling (issue 17), run in-process through ``tsdiff.cli.main``.

Forecasts use a tiny saved model (``--load``), so no test trains through the CLI; the checks that must come
before training patch the model factory to fail if it is reached."""
import os
import re

import numpy as np
import pandas as pd
import pytest

import tsdiff
from tsdiff import cli
from tsdiff.cli_io import read_csv, sniff_format

from api_helpers import FAST, hourly_frame, long_frame

H = 6


@pytest.fixture(autouse=True)
def _restore_env(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")  # main() sets it under --quiet; monkeypatch restores it afterwards


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_inputs")
    y = hourly_frame()
    y.index.name = "time"
    tsdiff.TimeGrad(prediction_length=H, **FAST).fit(y).save(folder / "wide.tsd")
    tsdiff.TimeGrad(prediction_length=H, **FAST).fit(long_frame()).save(folder / "long.tsd")
    return folder


def run(capsys, *args):
    code = cli.main([str(a) for a in args])
    err = capsys.readouterr().err
    return code, err


def new_data(n=96):
    """Other data than the saved model's history: a month later, other values."""
    y = hourly_frame(n, seed=1).set_axis(pd.date_range("2024-02-01", periods=n, freq="h", name="time")) * 3
    return y


# ------------------------------------------------------------------------------------- --load uses the CSV's data


def test_load_forecasts_from_the_csv_not_the_saved_history(files, tmp_path, capsys):
    y = new_data()
    y.to_csv(tmp_path / "new.csv")
    code, err = run(capsys, "forecast", tmp_path / "new.csv", "--load", files / "wide.tsd", "--samples", 8,
                    "--output", tmp_path / "fc.csv", "--quiet")
    assert code == 0, err
    written = pd.read_csv(tmp_path / "fc.csv", header=[0, 1], index_col=0, parse_dates=True)
    assert written.index[0] == y.index[-1] + pd.Timedelta("1h") and len(written) == H
    expected = tsdiff.load(files / "wide.tsd").predict(y=y, num_samples=8, seed=0).to_frame()
    np.testing.assert_allclose(written.to_numpy(), expected.to_numpy(), rtol=1e-6)


def test_load_with_another_horizon_is_refused_naming_both(files, tmp_path, capsys):
    new_data().to_csv(tmp_path / "new.csv")
    code, err = run(capsys, "forecast", tmp_path / "new.csv", "--load", files / "wide.tsd", "--horizon", 12,
                    "--output", tmp_path / "fc.csv")
    assert code == 2 and "--horizon 12" in err and "horizon 6" in err and not (tmp_path / "fc.csv").exists()
    code, err = run(capsys, "forecast", tmp_path / "new.csv", "--load", files / "wide.tsd", "--horizon", H,
                    "--samples", 2, "--output", tmp_path / "fc.csv", "--quiet")
    assert code == 0, err


def test_load_refuses_training_options(files, tmp_path, capsys):
    new_data().to_csv(tmp_path / "new.csv")
    code, err = run(capsys, "forecast", tmp_path / "new.csv", "--load", files / "wide.tsd", "--epochs", 3,
                    "--model", "csdi", "--output", tmp_path / "fc.csv")
    assert code == 2 and "--model, --epochs only apply to training" in err


def test_load_with_other_frequency_names_both(files, tmp_path, capsys):
    new_data(200).set_axis(pd.date_range("2024-02-01", periods=200, freq="15min", name="time")).to_csv(
        tmp_path / "q.csv")
    code, err = run(capsys, "forecast", tmp_path / "q.csv", "--load", files / "wide.tsd", "--output",
                    tmp_path / "fc.csv")
    assert code == 2 and "'15min'" in err and "fitted on 'h'" in err


def test_load_long_model_reads_the_csv_with_its_column_names(files, tmp_path, capsys):
    y = long_frame(n=96, ids=("x", "y"))
    y["timestamp"] = y["timestamp"] + pd.Timedelta("30D")
    y.rename(columns={"item_id": "series", "target": "value"}).to_csv(tmp_path / "long.csv", index=False)
    code, err = run(capsys, "forecast", tmp_path / "long.csv", "--load", files / "long.tsd", "--id-col", "series",
                    "--target-col", "value", "--samples", 2, "--output", tmp_path / "fc.csv", "--quiet")
    assert code == 0, err
    written = pd.read_csv(tmp_path / "fc.csv", parse_dates=["timestamp"])
    assert len(written) == 2 * H and written["timestamp"].min() == y["timestamp"].max() + pd.Timedelta("1h")
    y.to_csv(tmp_path / "long_default.csv", index=False)  # the model's own names: no options needed
    code, err = run(capsys, "forecast", tmp_path / "long_default.csv", "--load", files / "long.tsd", "--samples", 2,
                    "--output", tmp_path / "fc2.csv", "--quiet")
    assert code == 0, err


def test_horizon_required_without_load(tmp_path, capsys):
    new_data().to_csv(tmp_path / "new.csv")
    code, err = run(capsys, "forecast", tmp_path / "new.csv", "--output", tmp_path / "fc.csv")
    assert code == 2 and "--horizon is required" in err


# --------------------------------------------------------------------------------------------- reading the CSV


def test_row_number_column_is_dropped_not_read_as_1970(tmp_path, capsys):
    y = new_data()
    y.reset_index().to_csv(tmp_path / "rows.csv")  # a leading unnamed column 0, 1, 2, ...
    notes = []
    frame, time_col = read_csv(str(tmp_path / "rows.csv"), None, None, notes.append)
    assert time_col == "time" and list(frame.columns) == ["a", "b"] and frame.index[0] == y.index[0]
    assert "row numbers" in notes[0]
    y.reset_index().to_csv(tmp_path / "rows1.csv", index_label="n", index=True)
    assert read_csv(str(tmp_path / "rows1.csv"), None, None, notes.append)[0].index[0].year == 2024


@pytest.mark.parametrize("delimiter, decimal", [(";", ","), (";", "."), ("\t", ","), ("|", ".")])
def test_delimiters_and_decimal_commas_are_sniffed(tmp_path, delimiter, decimal):
    y = new_data()
    y.to_csv(tmp_path / "x.csv", sep=delimiter, decimal=decimal)
    assert sniff_format((tmp_path / "x.csv").read_text().splitlines(keepends=True)[:50]) == (delimiter, decimal)
    frame, _ = read_csv(str(tmp_path / "x.csv"), None, None, print)
    pd.testing.assert_frame_equal(frame, y, check_freq=False)


def test_semicolon_decimal_comma_csv_forecasts(files, tmp_path, capsys):
    new_data().to_csv(tmp_path / "semi.csv", sep=";", decimal=",")
    code, err = run(capsys, "forecast", tmp_path / "semi.csv", "--load", files / "wide.tsd", "--samples", 2,
                    "--output", tmp_path / "fc.csv", "--quiet")
    assert code == 0, err


CSV_CASES = {  # file text, message
    "no time column": ("a,b\n1.5,2\n2.5,3\n3.5,4\n", "has no time column: its first column 'a' holds numbers"),
    "header only": ("time,a\n", "no rows"),
    "empty file": ("", "is empty"),
    "no header line": ("2024-01-01,1.5\n2024-01-02,2.5\n", "holds values .* not column names"),
    "duplicate header": ("time,a,a\n2024-01-01,1,2\n", r"duplicate column names \['a'\]"),
    "ambiguous day/month": ("time,a\n01/01/2024,1\n01/02/2024,2\n01/03/2024,3\n",
                            "ambiguous .*'01/02/2024' reads as 2024-01-02 month-first and 2024-02-01 day-first"),
    "unreadable timestamp": ("time,a\n2024-01-01,1\nsoon,2\n2024-01-03,3\n", "not a timestamp column"),
    "missing timestamp": ("time,a\n2024-01-01,1\n,2\n2024-01-03,3\n", "missing or unreadable timestamp in data row 2"),
    "text in a value column": ("time,a\n2024-01-01,1\n2024-01-02,-\n2024-01-03,3\n",
                               r"column 'a' .* not numeric \(values like -\); .*delimiter ','"),
    "single column": ("time\n2024-01-01\n2024-01-02\n", "single column"),
    "semicolon with thousands": ("time;a\n2024-01-01;1.234,5\n2024-01-02;2.000,0\n", "delimiter ';'"),
}


@pytest.mark.parametrize("name", list(CSV_CASES))
def test_bad_csv_one_line_error(tmp_path, capsys, monkeypatch, name):
    text, pattern = CSV_CASES[name]
    (tmp_path / "x.csv").write_text(text)
    monkeypatch.setattr(cli, "_model", _no_training)
    code, err = run(capsys, "forecast", tmp_path / "x.csv", "--horizon", 2, "--output", tmp_path / "fc.csv")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert re.search(pattern, err), err
    assert "1970" not in err


def test_numeric_time_col_is_refused_with_a_hint(tmp_path, capsys, monkeypatch):
    new_data().to_csv(tmp_path / "x.csv")
    monkeypatch.setattr(cli, "_model", _no_training)
    code, err = run(capsys, "forecast", tmp_path / "x.csv", "--horizon", 2, "--time-col", "a", "--output",
                    tmp_path / "fc.csv")
    assert code == 2 and "--time-col 'a' names a numeric column" in err and "pass --time-col time" in err
    assert "1970" not in err


def test_not_utf8_and_directory_inputs(tmp_path, capsys):
    (tmp_path / "latin.csv").write_bytes("time,Temp °C\n2024-01-01,1\n".encode("latin-1"))
    code, err = run(capsys, "forecast", tmp_path / "latin.csv", "--horizon", 2, "--output", tmp_path / "fc.csv")
    assert code == 2 and "not UTF-8" in err
    (tmp_path / "folder.csv").mkdir()
    code, err = run(capsys, "forecast", tmp_path / "folder.csv", "--horizon", 2, "--output", tmp_path / "fc.csv")
    assert code == 2 and "is a directory" in err


def test_large_gap_warning_is_one_line(files, tmp_path, capsys):
    y = new_data()
    y.drop(y.index[20:80]).to_csv(tmp_path / "gap.csv")
    code, err = run(capsys, "forecast", tmp_path / "gap.csv", "--load", files / "wide.tsd", "--samples", 2,
                    "--output", tmp_path / "fc.csv", "--quiet")
    assert code == 0
    (line,) = err.strip().splitlines()
    assert line.startswith("tsdiff forecast: warning: DataFrame: re-indexing") and "(60 rows)" in line


# ----------------------------------------------------------------------------------- output paths, before work


def _no_training(*args, **kwargs):
    raise AssertionError("training started before the output paths were checked")


def _output_cases(tmp_path):
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "a_dir").mkdir()
    return {
        "missing directory": (["--output", tmp_path / "nowhere" / "fc.csv"], "does not exist"),
        "directory as output": (["--output", tmp_path / "a_dir"], "is a directory"),
        "parent is a file": (["--output", tmp_path / "a_file" / "fc.csv"], "is not a directory"),
        "plot into missing directory": (["--output", tmp_path / "fc.csv", "--plot", tmp_path / "no" / "p.png"],
                                        "--plot .* does not exist"),
        "plot without image suffix": (["--output", tmp_path / "fc.csv", "--plot", tmp_path / "p.txt"], "end in"),
        "save into a directory": (["--output", tmp_path / "fc.csv", "--save", tmp_path / "a_dir"],
                                  "--save .*directory"),
        "output over the input": (["--output", tmp_path / "in.csv"], "overwrite the input"),
        "output and plot the same": (["--output", tmp_path / "same.png", "--plot", tmp_path / "same.png"],
                                     "name the same file"),
    }


@pytest.mark.parametrize("name", ["missing directory", "directory as output", "parent is a file",
                                  "plot into missing directory", "plot without image suffix", "save into a directory",
                                  "output over the input", "output and plot the same"])
def test_output_paths_checked_before_training(tmp_path, capsys, monkeypatch, name):
    new_data().to_csv(tmp_path / "in.csv")
    args, pattern = _output_cases(tmp_path)[name]
    monkeypatch.setattr(cli, "_model", _no_training)
    code, err = run(capsys, "forecast", tmp_path / "in.csv", "--horizon", 2, *args)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert re.search(pattern, err), err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_output_directory(tmp_path, capsys, monkeypatch):
    new_data().to_csv(tmp_path / "in.csv")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    monkeypatch.setattr(cli, "_model", _no_training)
    code, err = run(capsys, "forecast", tmp_path / "in.csv", "--horizon", 2, "--output", locked / "fc.csv")
    assert code == 2 and "not writable" in err


def test_impute_checks_outputs_first(tmp_path, capsys, monkeypatch):
    new_data().to_csv(tmp_path / "in.csv")
    monkeypatch.setattr(tsdiff.CSDI, "fit", _no_training)
    code, err = run(capsys, "impute", tmp_path / "in.csv", "--output", tmp_path / "no" / "out.csv")
    assert code == 2 and "does not exist" in err


def test_target_col_without_id_col_is_refused(tmp_path, capsys, monkeypatch):
    new_data().to_csv(tmp_path / "in.csv")
    monkeypatch.setattr(cli, "_model", _no_training)
    code, err = run(capsys, "forecast", tmp_path / "in.csv", "--horizon", 2, "--target-col", "a", "--output",
                    tmp_path / "fc.csv")
    assert code == 2 and "--id-col" in err


def test_sampler_options_fail_before_training_and_reach_the_model(files, tmp_path, capsys, monkeypatch):
    new_data().to_csv(tmp_path / "in.csv")
    monkeypatch.setattr(tsdiff.TimeGrad, "fit", _no_training)
    code, err = run(capsys, "forecast", tmp_path / "in.csv", "--horizon", 2, "--output", tmp_path / "fc.csv",
                    "--sampler", "ddpm", "--sampling-steps", 5)
    assert code == 2 and "ddpm sampler runs all" in err and len(err.strip().splitlines()) == 1, err
    with pytest.raises(SystemExit):  # argparse: one usage line, exit 2
        cli.main(["forecast", str(tmp_path / "in.csv"), "--horizon", "2", "-o", "x.csv", "--sampler", "euler"])
    calls = []
    original = tsdiff.TimeGrad.predict
    monkeypatch.setattr(tsdiff.TimeGrad, "predict", lambda self, **kw: calls.append(kw) or original(self, **kw))
    code, _ = run(capsys, "forecast", tmp_path / "in.csv", "--load", files / "wide.tsd", "--samples", 4,
                  "--output", tmp_path / "fc.csv", "--sampler", "dpm-solver++", "--sampling-steps", 5, "-q")
    assert code == 0 and (calls[0]["sampler"], calls[0]["sampling_steps"]) == ("dpm-solver++", 5)
