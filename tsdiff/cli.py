"""The ``tsdiff`` command: forecast or impute a CSV, list datasets.

    tsdiff forecast data.csv --horizon 24 --output forecast.csv [--plot forecast.png] [--save model.tsd]
    tsdiff impute data.csv --output imputed.csv [--plot imputed.png]
    tsdiff datasets

Bad input ends with a one-line ``error: ...`` and exit code 2; nothing is written.
"""
from __future__ import annotations

import argparse
import os
import sys


class CLIError(Exception):
    """An error to report as one line."""


def _read_csv(path: str, time_col: str | None, id_col: str | None):
    import pandas as pd

    if not os.path.isfile(path):
        raise CLIError(f"input file not found: {path}")
    try:
        frame = pd.read_csv(path)
    except Exception as exc:  # pandas raises many parser error types
        raise CLIError(f"cannot read {path} as CSV: {exc}") from exc
    if frame.empty:
        raise CLIError(f"{path} has no rows")
    time_col = time_col or frame.columns[0]
    if time_col not in frame.columns:
        raise CLIError(f"time column {time_col!r} not in {path}; columns are {list(frame.columns)}")
    try:
        frame[time_col] = pd.to_datetime(frame[time_col])
    except (ValueError, TypeError) as exc:
        raise CLIError(f"column {time_col!r} of {path} is not a timestamp column ({exc})") from exc
    if id_col:  # long format stays long
        return frame, time_col
    return frame.set_index(time_col), time_col


def _quantiles(text: str) -> list[float]:
    from tsdiff.api.quantiles import check_levels

    try:
        levels = [float(q) for q in text.split(",") if q.strip()]
    except ValueError as exc:
        raise CLIError(f"--quantiles must be comma-separated numbers, got {text!r}") from exc
    return check_levels(levels, "--quantiles")  # before training, not after


def _model(name: str, horizon: int, args):
    import tsdiff

    cls = {"timegrad": tsdiff.TimeGrad, "csdi": tsdiff.CSDI}[name]
    kwargs = dict(prediction_length=horizon, progress=not args.quiet, seed=args.seed)
    if args.epochs is not None:
        kwargs["epochs"] = args.epochs
    if args.batches is not None:
        kwargs["num_batches_per_epoch"] = args.batches
    if getattr(args, "freq", None):
        kwargs["freq"] = args.freq
    return cls(**kwargs)


def _long_kwargs(args) -> dict:
    if not args.id_col:
        return {}
    return dict(id_col=args.id_col, time_col=args.time_col_resolved, target_col=args.target_col)


def cmd_forecast(args) -> None:
    import tsdiff

    quantiles = _quantiles(args.quantiles)
    y, args.time_col_resolved = _read_csv(args.data, args.time_col, args.id_col)
    if args.load:
        model = tsdiff.load(args.load)
    else:
        model = _model(args.model, args.horizon, args).fit(y, **_long_kwargs(args))
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

    y, _ = _read_csv(args.data, args.time_col, None)
    kwargs = dict(progress=not args.quiet, seed=args.seed)
    if args.epochs is not None:
        kwargs["epochs"] = args.epochs
    if args.batches is not None:
        kwargs["num_batches_per_epoch"] = args.batches
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
    common.add_argument("--plot", help="write a PNG chart here")
    common.add_argument("--quiet", "-q", action="store_true", help="no progress bars or messages")

    f = sub.add_parser("forecast", parents=[common], help="forecast the next --horizon steps")
    f.add_argument("--horizon", type=_positive_int, required=True, help="number of steps to forecast")
    f.add_argument("--model", choices=["timegrad", "csdi"], default="timegrad")
    f.add_argument("--freq", help="pandas frequency (default: inferred)")
    f.add_argument("--quantiles", default="0.1,0.5,0.9", help="comma-separated levels in (0, 1)")
    f.add_argument("--id-col", help="long format: the series-id column (with --target-col)")
    f.add_argument("--target-col", default="target", help="long format: the value column")
    f.add_argument("--save", help="save the fitted model to this .tsd file")
    f.add_argument("--load", help="forecast with a saved .tsd model instead of training")
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
    try:
        args.func(args)
    except (CLIError, ValueError, TypeError, FileNotFoundError) as exc:
        print(f"tsdiff {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
