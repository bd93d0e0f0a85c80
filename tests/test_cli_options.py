"""The CLI's options from issue 16: --version, --device, --time-limit, --layout long, --float-format, --variables,
--verbose; run in-process through ``tsdiff.cli.main`` on a small saved model where possible."""
import re

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest

import tsdiff
from tsdiff import cli

from api_helpers import FAST, hourly_frame

H = 4
COLUMNS = ("a", "b", "c", "d", "e", "f", "g", "h", "OT")  # 9 variables, the target last


@pytest.fixture(autouse=True)
def _quiet_bars(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_options")
    y = hourly_frame(n=60, columns=COLUMNS)
    y.index.name = "time"
    y.to_csv(folder / "wide.csv")
    tsdiff.TimeGrad(prediction_length=H, **FAST).fit(y).save(folder / "wide.tsd")
    return folder


def run(capsys, *args):
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.err


def forecast(files, tmp_path, capsys, *extra):
    return run(capsys, "forecast", files / "wide.csv", "--load", files / "wide.tsd", "--samples", 6,
               "--output", tmp_path / "fc.csv", "--quiet", *extra)


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"tsdiff {tsdiff.__version__}"


def test_long_layout_has_one_header_row(files, tmp_path, capsys):
    code, err = forecast(files, tmp_path, capsys, "--layout", "long")
    assert code == 0, err
    frame = pd.read_csv(tmp_path / "fc.csv")
    assert list(frame.columns) == ["variable", "timestamp", "mean", "0.1", "0.5", "0.9"]
    assert len(frame) == len(COLUMNS) * H and list(frame["variable"].unique()) == list(COLUMNS)
    code, _ = forecast(files, tmp_path, capsys)  # the same forecast in the default layout
    wide = pd.read_csv(tmp_path / "fc.csv", header=[0, 1], index_col=0)
    assert frame.loc[frame["variable"] == "OT", "0.9"].tolist() == wide[("OT", "0.9")].tolist()


def test_float_format(files, tmp_path, capsys):
    forecast(files, tmp_path, capsys, "--layout", "long")
    numbers = re.findall(r"-?\d+\.\d+(?:e-?\d+)?", (tmp_path / "fc.csv").read_text().split("\n", 1)[1])
    assert numbers and max(len(n.replace("-", "").replace(".", "").lstrip("0")) for n in numbers) <= 7
    forecast(files, tmp_path, capsys, "--layout", "long", "--float-format", "%.2f")
    body = (tmp_path / "fc.csv").read_text().split("\n", 1)[1]
    assert all(len(n.split(".")[1]) == 2 for n in re.findall(r"\d+\.\d+", body))
    code, err = forecast(files, tmp_path, capsys, "--float-format", "%d%d")
    assert code == 2 and "--float-format '%d%d' is not a printf format" in err


@pytest.fixture
def drawn(monkeypatch):
    """The variables each saved chart draws, and its title."""
    calls = []
    original = cli._save_plot

    def record(axes, path, chosen, names):
        original(axes, path, chosen, names)
        ax = axes[0] if isinstance(axes, list) else axes
        calls.append((list(chosen), ax.figure.get_suptitle(), [a.get_title() for a in ax.figure.axes]))

    monkeypatch.setattr(cli, "_save_plot", record)
    return calls


def test_plot_draws_the_asked_variables_and_says_which(files, tmp_path, capsys, drawn):
    code, err = forecast(files, tmp_path, capsys, "--plot", tmp_path / "fc.png", "--variables", "OT,a")
    assert code == 0, err
    chosen, title, panels = drawn[-1]
    assert chosen == ["OT", "a"] and panels == ["OT", "a"] and title == "variables drawn (2 of 9): OT, a"


def test_plot_default_names_what_it_leaves_out(files, tmp_path, capsys, drawn):
    code, err = run(capsys, "forecast", files / "wide.csv", "--load", files / "wide.tsd", "--samples", 6,
                    "--output", tmp_path / "fc.csv", "--plot", tmp_path / "fc.png")
    assert code == 0, err
    chosen, title, _ = drawn[-1]
    assert chosen == list(COLUMNS[:8]) and title.startswith("variables drawn (8 of 9): a, b")
    assert "note: --plot draws 8 of 9 variables (a, b, c, d, e, f, g, h); choose others with --variables" in err


@pytest.mark.parametrize("args,message", [
    (["--variables", "OT,nope", "--plot", "{tmp}/x.png"], "--variables nope: not in the data; its variables are a, b"),
    (["--variables", "OT"], "--variables chooses what --plot draws: give --plot too"),
    (["--time-limit", "5"], "--time-limit only apply to training"),
])
def test_bad_plot_and_load_options(files, tmp_path, capsys, args, message):
    code, err = forecast(files, tmp_path, capsys, *[a.format(tmp=tmp_path) for a in args])
    assert code == 2 and re.search(message, err), err


def test_device_time_limit_and_verbosity_reach_the_model(files, tmp_path, capsys, monkeypatch):
    seen = {}

    def stop(self, *args, **kwargs):
        seen.update(self.get_params())
        raise ValueError("stopped before training")

    monkeypatch.setattr(tsdiff.TimeGrad, "fit", stop)
    run(capsys, "forecast", files / "wide.csv", "--horizon", 3, "--output", tmp_path / "fc.csv", "--device", "cpu",
        "--time-limit", "2.5", "--verbose")
    assert seen["device"] == "cpu" and seen["time_limit"] == 2.5 and seen["verbose"] == 2
    with pytest.raises(SystemExit) as exit_:  # argparse's own usage error
        run(capsys, "forecast", files / "wide.csv", "--horizon", 3, "--output", tmp_path / "fc.csv",
            "--time-limit", "0")
    assert exit_.value.code == 2 and "--time-limit: expected a positive number" in capsys.readouterr().err
    code, err = forecast(files, tmp_path, capsys, "--device", "cpu")  # with --load: where the model runs
    assert code == 0, err
