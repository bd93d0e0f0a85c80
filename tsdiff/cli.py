"""The ``tsdiff`` command: forecast or impute a CSV, list datasets.

    tsdiff forecast data.csv --horizon 24 --output forecast.csv [--plot forecast.png] [--save model.tsd]
    tsdiff forecast new.csv --load model.tsd --output forecast.csv      # the saved model on new.csv's data
    tsdiff forecast data.csv --horizon 24 --covariates temp_forecast --past-covariates load -o forecast.csv
    tsdiff impute data.csv --output imputed.csv [--plot imputed.png]
    tsdiff datasets
    tsdiff --version

Bad input ends with a one-line ``error: ...`` and exit code 2; output paths are checked before training and
nothing is written on error. How the CSV is read: :mod:`tsdiff.cli_io`.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

from tsdiff import __version__
from tsdiff.api.defaults import CSDI_EPOCHS, EPOCHS, NUM_BATCHES_PER_EPOCH
from tsdiff.cli_io import CLIError, check_float_format, check_outputs, long_rows, read_csv, split_covariates
from tsdiff.diffusion.options import SAMPLERS

# meaningless with --load: the saved model is used as is
_TRAINING_OPTIONS = ("model", "epochs", "batches", "freq", "time_limit")
_DEVICES = ("auto", "cpu", "cuda", "gpu", "mps")
_PLOT_MAX = 8  # variables drawn when --variables is not given
FORECAST_FLOAT_FORMAT = "%.7g"  # the models compute in float32: more digits are noise


def _note(args):
    def note(message: str) -> None:
        if not args.quiet:
            print(f"tsdiff {args.command}: note: {message}", file=sys.stderr)
    return note


def _quantiles(text: str) -> list[float]:
    from tsdiff.api.quantiles import check_levels

    try:
        levels = [float(q) for q in text.split(",") if q.strip()]
    except ValueError as exc:
        raise CLIError(f"--quantiles must be comma-separated numbers, got {text!r}") from exc
    return check_levels(levels, "--quantiles")  # before training, not after


def _model(name: str | None, horizon: int, args):
    import tsdiff

    cls = {"timegrad": tsdiff.TimeGrad, "csdi": tsdiff.CSDI}[name or "timegrad"]
    return cls(prediction_length=horizon, **_training(args))


def _training(args) -> dict:
    """The model arguments set on the command line (the others keep the model's defaults)."""
    kwargs = dict(verbose=_verbosity(args), seed=args.seed, device=args.device or "auto")
    given = dict(epochs=args.epochs, num_batches_per_epoch=args.batches, time_limit=args.time_limit,
                 freq=getattr(args, "freq", None))
    kwargs.update({k: v for k, v in given.items() if v is not None})
    # the sampler becomes the model's default, so a bad choice fails here, before any training
    kwargs.update({k: v for k, v in _sampling(args).items() if v is not None})
    return kwargs


def _verbosity(args) -> int:
    return 0 if args.quiet else 2 if args.verbose else 1


def _sampling(args) -> dict:
    """The reverse process asked for on the command line (unset: the model's default)."""
    return dict(sampler=args.sampler, sampling_steps=args.sampling_steps, eta=args.eta)


def _load(args):
    """The saved model, after refusing options that only apply to training and a horizon it was not trained for."""
    import tsdiff

    given = [f"--{name.replace('_', '-')}" for name in _TRAINING_OPTIONS if getattr(args, name) is not None]
    if given:
        raise CLIError(f"{', '.join(given)} only apply to training; with --load the saved model is used as is")
    model = tsdiff.load(args.load, device=args.device)
    model.set_params(verbose=_verbosity(args))
    if args.horizon is not None and args.horizon != model.prediction_length:
        raise CLIError(f"--horizon {args.horizon} differs from the saved model's horizon {model.prediction_length}; "
                       "a model forecasts the horizon it was trained for: omit --horizon (or train a new model)")
    return model


def _fitted_long_columns(model) -> dict:
    """A loaded model's long-format column names ({} when it was fitted on a series or wide frame)."""
    if model is None:
        return {}
    panel = getattr(model, "panel_", None)
    if (panel.source if panel is not None else model.grid_.layout.kind) != "long":
        return {}
    return dict(model.long_cols_)


def _covariate_names(args, model) -> dict:
    """The covariate columns named on the command line; with none named, those a loaded model was fitted with."""
    names = {arg: getattr(args, arg, None) for arg in ("covariates", "past_covariates", "static_covariates")}
    if model is not None and not any(names.values()):
        fitted = dict(getattr(model, "covariate_columns_", None) or {})
        static = getattr(model, "static_covariates_", None)
        names.update(fitted, static_covariates=None if static is None else static.columns)
    return names


def _split(args, y, roles: dict, model=None):
    """(y, covariate arguments of fit/predict) of the CSV's frame."""
    return split_covariates(y, _covariate_names(args, model), args.data, roles)


def _read_forecast_input(args, model):
    """The CSV as the model will see it, and its covariates: long format when --id-col is given or the loaded
    model was fitted long (then its column names apply unless others are given, and are mapped back to the
    model's)."""
    fitted = _fitted_long_columns(model)
    id_col = args.id_col or fitted.get("id_col")
    time_col = args.time_col or fitted.get("time_col")
    target_col = args.target_col or fitted.get("target_col", "target")
    if args.target_col and not id_col:
        raise CLIError("--target-col applies to long format: name the series-id column with --id-col too")
    y, time_col = read_csv(args.data, time_col, (id_col, target_col) if id_col else None, _note(args))
    if not id_col:
        y, covariates = _split(args, y, {time_col: "the time column"}, model)
        return y, {}, covariates
    names = dict(id_col=id_col, time_col=time_col, target_col=target_col)
    y, covariates = _split(args, y, {id_col: "the series-id column", time_col: "the time column",
                                     target_col: "the target column"}, model)
    if fitted:  # the model reads long data by the names it was fitted with
        y = y.rename(columns={names[k]: fitted[k] for k in names})
        if "static_covariates" in covariates:
            covariates["static_covariates"] = covariates["static_covariates"].rename_axis(fitted["id_col"])
        names = fitted
    return y, names, covariates


def cmd_forecast(args) -> None:
    quantiles = _quantiles(args.quantiles)
    float_format = check_float_format(args.float_format or FORECAST_FLOAT_FORMAT)
    variables = _variables(args)
    check_outputs({"--output": args.output, "--plot": args.plot, "--save": args.save}, args.data)
    if args.load:
        model = _load(args)
        y, _, covariates = _read_forecast_input(args, model)
        forecast = model.predict(y=y, num_samples=args.samples, quantiles=quantiles, seed=args.seed,
                                 **covariates, **_sampling(args))
    else:
        if args.horizon is None:
            raise CLIError("--horizon is required (unless --load gives a saved model)")
        y, long_cols, covariates = _read_forecast_input(args, None)
        model = _model(args.model, args.horizon, args).fit(y, **covariates, **long_cols)
        known = {k: v for k, v in covariates.items() if k == "covariates"}  # the others: the fitted ones
        forecast = model.predict(num_samples=args.samples, quantiles=quantiles, seed=args.seed, **known)
    frame = forecast.to_frame(quantiles=quantiles)
    long = forecast.layout.kind == "long" or args.layout == "long"
    if long and forecast.layout.kind != "long":
        frame = long_rows(frame)
    frame.to_csv(args.output, index=not long, float_format=float_format)
    if args.plot:
        chosen = _plot_variables(variables, forecast.variables, args)
        _save_plot(forecast.plot(variables=chosen), args.plot, chosen, forecast.variables)
    if args.save:
        model.save(args.save)
    if not args.quiet:
        print(f"wrote {len(frame)} rows to {args.output}", file=sys.stderr)


def cmd_impute(args) -> None:
    import tsdiff

    # the observed values are the user's own: written exactly unless --float-format says otherwise
    float_format = None if args.float_format is None else check_float_format(args.float_format)
    variables = _variables(args)
    check_outputs({"--output": args.output, "--plot": args.plot}, args.data)
    y, time_col = read_csv(args.data, args.time_col, None, _note(args))
    y, covariates = _split(args, y, {time_col: "the time column"})
    model = tsdiff.CSDI(prediction_length=1, **_training(args)).fit(y, **covariates)
    imputation = model.impute(y, num_samples=args.samples, seed=args.seed, **covariates)
    imputation.median.to_csv(args.output, float_format=float_format)
    if args.plot:
        names = list(y.columns)
        chosen = _plot_variables(variables, names, args)
        _save_plot(imputation.plot(variables=chosen), args.plot, chosen, names)
    if not args.quiet:
        print(f"filled {int((~imputation.observed).sum())} missing values; wrote {args.output}", file=sys.stderr)


def cmd_datasets(args) -> None:
    from tsdiff.data import dataset_info, list_datasets, present_locally

    rows = []
    for name in list_datasets():
        info = dataset_info(name)
        rows.append((name, info.kind, str(info.freq or ""), str(info.prediction_length or ""),
                     "yes" if present_locally(name) else "no"))
    header = ("name", "kind", "freq", "horizon", "local")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for row in [header] + rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def _variables(args) -> list[str] | None:
    if args.variables is None:
        return None
    names = [v.strip() for v in args.variables.split(",") if v.strip()]
    if not names:
        raise CLIError("--variables must name at least one column, e.g. --variables OT,HUFL")
    if not args.plot:
        raise CLIError("--variables chooses what --plot draws: give --plot too")
    return names


def _plot_variables(asked: list[str] | None, names: list, args) -> list:
    """The variables to draw: those asked for (matched by their text), else all of them up to :data:`_PLOT_MAX`
    (a note names the ones drawn when that leaves some out)."""
    by_text = {str(n): n for n in names}
    if asked is not None:
        unknown = [v for v in asked if v not in by_text]
        if unknown:
            raise CLIError(f"--variables {','.join(unknown)}: not in the data; its variables are "
                           f"{', '.join(map(str, names))}")
        return [by_text[v] for v in asked]
    if len(names) > _PLOT_MAX:
        _note(args)(f"--plot draws {_PLOT_MAX} of {len(names)} variables "
                    f"({', '.join(map(str, names[:_PLOT_MAX]))}); choose others with --variables")
    return list(names[:_PLOT_MAX])


def _save_plot(axes, path: str, chosen: list, names: list) -> None:
    ax = axes[0] if isinstance(axes, list) else axes
    fig = ax.figure
    shown = ", ".join(map(str, chosen))
    count = f" ({len(chosen)} of {len(names)})" if len(chosen) < len(names) else ""
    fig.suptitle(f"variables drawn{count}: {shown}", fontsize=10)
    fig.set_layout_engine("constrained")  # room for the title above the panels
    fig.savefig(path, dpi=100)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _unit_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tsdiff", description="Diffusion-model forecasting and imputation.")
    parser.add_argument("--version", action="version", version=f"tsdiff {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("data", help="CSV file: a time column and one column per variable (or long format)")
    common.add_argument("--output", "-o", required=True, help="CSV file to write")
    common.add_argument("--time-col", help="name of the time column (default: the first column)")
    common.add_argument("--samples", type=_positive_int, default=100, help="number of sample paths (default 100)")
    common.add_argument("--epochs", type=_positive_int, help=f"training epochs (default: timegrad {EPOCHS}, csdi {CSDI_EPOCHS})")
    common.add_argument("--batches", type=_positive_int,
                        help=f"training batches per epoch (default {NUM_BATCHES_PER_EPOCH})")
    common.add_argument("--time-limit", type=_positive_float, metavar="SECONDS",
                        help="stop training after this many seconds (default: no limit)")
    common.add_argument("--device", choices=_DEVICES,
                        help="where to train and sample (default auto: a GPU if there is one); with --load, where "
                             "the saved model runs")
    common.add_argument("--seed", type=int, default=0, help="seeds training and sampling (default 0)")
    common.add_argument("--sampler", choices=SAMPLERS, help="reverse process (default: the model's)")
    common.add_argument("--sampling-steps", type=_positive_int,
                        help="network calls per sample for ddim / dpm-solver++ (default: the model's; a --sampler "
                             "given alone: all diffusion steps)")
    common.add_argument("--eta", type=_unit_float,
                        help="fresh noise per step of ddim / dpm-solver++, in [0, 1] (default: the model's; a "
                             "--sampler given alone: 0)")
    common.add_argument("--plot", help="write a PNG chart here")
    common.add_argument("--variables", help=f"comma-separated columns --plot draws (default: all, at most "
                                            f"{_PLOT_MAX}; the chart's title names them)")
    common.add_argument("--float-format",
                        help="printf format of the numbers written (forecast default %%.7g: float32's 7 significant "
                             "digits; %%.17g keeps every digit; impute keeps the data's digits unless given)")
    common.add_argument("--covariates", nargs="+", metavar="COL",
                        help="columns of real features known in advance; to forecast, the CSV's last --horizon rows "
                             "(of each id, in long format) give them with the target left empty")
    common.add_argument("--past-covariates", nargs="+", metavar="COL",
                        help="columns of real features known only up to the last target value")
    common.add_argument("--quiet", "-q", action="store_true", help="no progress bars or messages")
    common.add_argument("--verbose", "-v", action="store_true",
                        help="also print the loss of every epoch and Lightning's notices")

    f = sub.add_parser("forecast", parents=[common], help="forecast the next --horizon steps")
    f.add_argument("--horizon", type=_positive_int,
                   help="number of steps to forecast (required unless --load; then it must match the model's)")
    f.add_argument("--model", choices=["timegrad", "csdi"], help="the model to train (default timegrad)")
    f.add_argument("--freq", help="pandas frequency (default: inferred)")
    f.add_argument("--quantiles", default="0.1,0.5,0.9", help="comma-separated levels in (0, 1) (default "
                                                                "0.1,0.5,0.9)")
    f.add_argument("--layout", choices=("wide", "long"), default="wide",
                   help="output of a wide input: wide (a column per variable and statistic, two header rows; the "
                        "default) or long (one row per variable and time, one header row); long input gives long "
                        "output")
    f.add_argument("--id-col", help="long format: the series-id column (with --target-col)")
    f.add_argument("--target-col", help="long format: the value column (default target)")
    f.add_argument("--static-covariates", nargs="+", metavar="COL",
                   help="long CSV: columns with one value per series id (numbers: reals; text: categories); "
                        "TimeGrad only. With --load, the covariate columns default to the model's")
    f.add_argument("--save", help="save the fitted model to this .tsd file")
    f.add_argument("--load", help="forecast the CSV's data with a saved .tsd model instead of training one")
    f.set_defaults(func=cmd_forecast)

    i = sub.add_parser("impute", parents=[common], help="fill missing values with CSDI")
    i.set_defaults(func=cmd_impute)

    d = sub.add_parser("datasets", help="list the registered datasets and which are present locally")
    d.set_defaults(func=cmd_datasets)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "quiet", False):
        os.environ["TQDM_DISABLE"] = "1"
    def one_line(message, category, *_args, **_kwargs):  # warnings about the data, as one line each
        print(f"tsdiff {args.command}: warning: {message}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = one_line
            for category in (DeprecationWarning, FutureWarning):  # the libraries' API notices: not for CLI users
                warnings.simplefilter("ignore", category)
            args.func(args)
    except (CLIError, ValueError, TypeError, FileNotFoundError) as exc:
        print(f"tsdiff {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
