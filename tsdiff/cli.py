"""The ``tsdiff`` command: forecast or impute a CSV, list datasets.

    tsdiff forecast data.csv --horizon 24 --output forecast.csv [--plot forecast.png] [--save model.tsd]
    tsdiff forecast new.csv --load model.tsd --output forecast.csv      # the saved model on new.csv's data
    tsdiff impute data.csv --output imputed.csv [--plot imputed.png]
    tsdiff datasets

Bad input ends with a one-line ``error: ...`` and exit code 2; output paths are checked before training and
nothing is written on error. How the CSV is read: :mod:`tsdiff.cli_io`.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

from tsdiff.cli_io import CLIError, check_outputs, read_csv
from tsdiff.diffusion.options import SAMPLERS

_TRAINING_OPTIONS = ("model", "epochs", "batches", "freq")  # meaningless with --load: the saved model is used as is


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
    kwargs = dict(prediction_length=horizon, progress=not args.quiet, seed=args.seed)
    if args.epochs is not None:
        kwargs["epochs"] = args.epochs
    if args.batches is not None:
        kwargs["num_batches_per_epoch"] = args.batches
    if getattr(args, "freq", None):
        kwargs["freq"] = args.freq
    # the sampler becomes the model's default, so a bad choice fails here, before any training
    kwargs.update({k: v for k, v in _sampling(args).items() if v is not None})
    return cls(**kwargs)


def _sampling(args) -> dict:
    """The reverse process asked for on the command line (unset: the model's default)."""
    return dict(sampler=args.sampler, sampling_steps=args.sampling_steps)


def _load(args):
    """The saved model, after refusing options that only apply to training and a horizon it was not trained for."""
    import tsdiff

    given = [f"--{name}" for name in _TRAINING_OPTIONS if getattr(args, name) is not None]
    if given:
        raise CLIError(f"{', '.join(given)} only apply to training; with --load the saved model is used as is")
    model = tsdiff.load(args.load)
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


def _read_forecast_input(args, model):
    """The CSV as the model will see it: long format when --id-col is given or the loaded model was fitted long
    (then its column names apply unless others are given, and are mapped back to the model's)."""
    fitted = _fitted_long_columns(model)
    id_col = args.id_col or fitted.get("id_col")
    time_col = args.time_col or fitted.get("time_col")
    target_col = args.target_col or fitted.get("target_col", "target")
    if args.target_col and not id_col:
        raise CLIError("--target-col applies to long format: name the series-id column with --id-col too")
    y, time_col = read_csv(args.data, time_col, (id_col, target_col) if id_col else None, _note(args))
    if not id_col:
        return y, {}
    names = dict(id_col=id_col, time_col=time_col, target_col=target_col)
    if fitted:  # the model reads long data by the names it was fitted with
        y = y.rename(columns={names[k]: fitted[k] for k in names})
        names = fitted
    return y, names


def cmd_forecast(args) -> None:
    quantiles = _quantiles(args.quantiles)
    check_outputs({"--output": args.output, "--plot": args.plot, "--save": args.save}, args.data)
    if args.load:
        model = _load(args)
        y, _ = _read_forecast_input(args, model)
        forecast = model.predict(y=y, num_samples=args.samples, quantiles=quantiles, seed=args.seed,
                                 **_sampling(args))
    else:
        if args.horizon is None:
            raise CLIError("--horizon is required (unless --load gives a saved model)")
        y, long_cols = _read_forecast_input(args, None)
        model = _model(args.model, args.horizon, args).fit(y, **long_cols)
        forecast = model.predict(num_samples=args.samples, quantiles=quantiles, seed=args.seed)
    frame = forecast.to_frame(quantiles=quantiles)
    frame.to_csv(args.output, index=forecast.layout.kind != "long")
    if args.plot:
        _save_plot(forecast.plot(), args.plot)
    if args.save:
        model.save(args.save)
    if not args.quiet:
        print(f"wrote {len(frame)} rows to {args.output}", file=sys.stderr)


def cmd_impute(args) -> None:
    import tsdiff

    check_outputs({"--output": args.output, "--plot": args.plot}, args.data)
    y, _ = read_csv(args.data, args.time_col, None, _note(args))
    kwargs = dict(progress=not args.quiet, seed=args.seed)
    if args.epochs is not None:
        kwargs["epochs"] = args.epochs
    if args.batches is not None:
        kwargs["num_batches_per_epoch"] = args.batches
    kwargs.update({k: v for k, v in _sampling(args).items() if v is not None})
    model = tsdiff.CSDI(prediction_length=1, **kwargs).fit(y)
    imputation = model.impute(y, num_samples=args.samples, seed=args.seed)
    imputation.median.to_csv(args.output)
    if args.plot:
        _save_plot(imputation.plot(), args.plot)
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


def _save_plot(axes, path: str) -> None:
    ax = axes[0] if isinstance(axes, list) else axes
    fig = ax.figure
    fig.tight_layout()
    fig.savefig(path, dpi=100)


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
    sub = parser.add_subparsers(dest="command", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("data", help="CSV file: a time column and one column per variable (or long format)")
    common.add_argument("--output", "-o", required=True, help="CSV file to write")
    common.add_argument("--time-col", help="name of the time column (default: the first column)")
    common.add_argument("--samples", type=_positive_int, default=100, help="number of sample paths (default 100)")
    common.add_argument("--epochs", type=_positive_int, help="training epochs (default: the model's)")
    common.add_argument("--batches", type=_positive_int, help="training batches per epoch (default: the model's)")
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--sampler", choices=SAMPLERS, help="reverse process (default: the model's)")
    common.add_argument("--sampling-steps", type=_positive_int,
                        help="network calls per sample for ddim / dpm-solver++ (default: all diffusion steps)")
    common.add_argument("--plot", help="write a PNG chart here")
    common.add_argument("--quiet", "-q", action="store_true", help="no progress bars or messages")

    f = sub.add_parser("forecast", parents=[common], help="forecast the next --horizon steps")
    f.add_argument("--horizon", type=_positive_int,
                   help="number of steps to forecast (required unless --load; then it must match the model's)")
    f.add_argument("--model", choices=["timegrad", "csdi"], help="the model to train (default timegrad)")
    f.add_argument("--freq", help="pandas frequency (default: inferred)")
    f.add_argument("--quantiles", default="0.1,0.5,0.9", help="comma-separated levels in (0, 1)")
    f.add_argument("--id-col", help="long format: the series-id column (with --target-col)")
    f.add_argument("--target-col", help="long format: the value column (default target)")
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
