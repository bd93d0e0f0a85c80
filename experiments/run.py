"""Run one benchmark: ``python -m experiments.run --model M --dataset D --preset quick --seed S``.

Loads the preset from ``experiments/presets/<model>/<dataset>.json`` (keys ``quick`` and ``paper``, and for some datasets further named presets such as ``cpu10``), trains and
evaluates through ``experiments.models``, writes a JSON result (metrics, config, seed, versions, machine, date,
wall time) to ``--out`` (default ``experiments/results``) and prints the metrics as one JSON object on its last line.

Result file ``<model>__<dataset>__<preset>__seed<S>.json`` (``...__seed<S>__set-<hash>.json`` with ``--set``,
``...__seed<S>__valid.json`` with ``--split valid``): ``model, dataset, preset, seed, split, config`` (the preset after overrides), ``overrides`` (the ``--set`` entries),
``metrics`` (``crps``, ``crps_sum`` for multivariate data, ``nd``, ``nrmse``, ``mae``, ``rmse``, ...,
``train_seconds``, ``sample_seconds``, ``device``), ``machine`` (``versions``, ``cpu``, ``gpu``, threads, git
commit), ``date`` (UTC, ISO), ``wall_seconds``, ``command``.

Argument errors (unknown model, dataset the model does not support, missing preset, bad ``--set``, missing data, a
config value the model refuses, such as ``--set hidden_size=0``) exit with status 2 and a one-line message, before
any training.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import sys
import time
from pathlib import Path

PRESET_DIR = Path(__file__).parent / "presets"
DEFAULT_OUT = Path(__file__).parent / "results"


def load_preset(model: str, dataset: str, preset: str) -> dict:
    """The config of ``preset`` in ``presets/<model>/<dataset>.json``; a clear ValueError if it does not exist."""
    path = PRESET_DIR / model / f"{dataset}.json"
    if not path.exists():
        raise ValueError(f"no preset file for model {model!r} on dataset {dataset!r} (looked for {path})")
    presets = json.loads(path.read_text())
    if preset not in presets:
        raise ValueError(f"preset {preset!r} not in {path.name}; available: {sorted(presets)}")
    return dict(presets[preset])


def build_parser() -> argparse.ArgumentParser:
    from experiments.models import MODELS, SPLITS

    p = argparse.ArgumentParser(prog="python -m experiments.run", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, choices=sorted(MODELS))
    p.add_argument("--dataset", required=True)
    p.add_argument("--preset", default="quick",
                   help="a preset named in presets/<model>/<dataset>.json: quick, paper, or a dataset-specific one")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", default="test", choices=list(SPLITS),
                   help="forecasting: score the test windows (default) or, for tuning, validation windows cut from "
                        "the end of the training data (valid) or the last 28 windows (exchange_rate: 21) of the "
                        "long-horizon sets' validation rows, right before the test windows (valid-late); CSDI imputation (valid "
                        "only): the validation stays (PhysioNet) or windows of the validation month (PM2.5)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="directory for the result JSON")
    p.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                   help="override an entry of the preset, e.g. --set epochs=5 (value parsed as JSON, else a string)")
    return p


def parse_overrides(items: list[str], preset: dict | None = None, known: frozenset = frozenset()) -> dict:
    """``["k=json", ...]`` -> ``{k: value}``; with ``preset``, every key must be one of its entries or one of the
    ``known`` keys the model's runner reads (so a typo fails instead of being silently ignored)."""
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        key = key.strip()
        if preset is not None and key not in preset and key not in known:
            hint = f"; other keys the model reads: {', '.join(sorted(set(known) - set(preset)))}" if known else ""
            raise ValueError(f"--set {key}: not an entry of the preset; entries: {', '.join(sorted(preset))}{hint}")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def result_name(model: str, dataset: str, preset: str, seed: int, overrides: dict | None = None,
                split: str = "test") -> str:
    """File name of a result; runs with ``--set`` overrides or on the validation split get a suffix so they never
    replace plain preset runs on the test windows."""
    name = f"{model}__{dataset}__{preset}__seed{seed}"
    if split != "test":
        name += f"__{split}"
    if overrides:
        digest = hashlib.sha1(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:8]
        name += f"__set-{digest}"
    return name + ".json"


def main(argv: list[str] | None = None) -> int:
    from experiments.models import LATE_VALIDATION_DATASETS, SUPPORTED, config_keys, load_runner

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.dataset not in SUPPORTED[args.model]:
        parser.error(f"model {args.model!r} does not run on dataset {args.dataset!r}; "
                     f"choose one of {', '.join(SUPPORTED[args.model])}")
    if args.split == "valid-late" and args.dataset not in LATE_VALIDATION_DATASETS:
        parser.error(f"--split valid-late needs validation rows between the training and test data, which only "
                     f"{', '.join(LATE_VALIDATION_DATASETS)} have; use --split valid for {args.dataset}")
    try:
        config = load_preset(args.model, args.dataset, args.preset)
        overrides = parse_overrides(args.set, config, known=config_keys(args.model))
    except ValueError as exc:
        parser.error(str(exc))
    config.update(overrides)
    if args.split != "test":  # every model × dataset pair has a validation split (imputation: CSDI's runner)
        config["split"] = args.split

    import torch

    from experiments.env_info import environment

    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda requested but no CUDA device is available")

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    from experiments.common import ConfigError
    from tsdiff.data import DatasetNotFoundError
    from tsdiff.quiet import quiet_freq_deprecations

    started = time.time()
    try:
        metrics = quiet_freq_deprecations(load_runner(args.model))(args.dataset, config, args.seed, device=device,
                                                                 out_dir=out_dir)
    except DatasetNotFoundError as exc:
        parser.error(f"data of {args.dataset!r} not found (set TSDIFF_DATA to the data root): {exc}")
    except ConfigError as exc:  # a preset or --set value the model refuses, caught before training starts
        parser.error(f"bad config for {args.model} on {args.dataset!r} (preset {args.preset!r}): {exc}")
    wall = time.time() - started
    metrics.setdefault("device", device)
    result = {
        "model": args.model,
        "dataset": args.dataset,
        "preset": args.preset,
        "seed": args.seed,
        "split": args.split,
        "config": config,
        "overrides": overrides,
        "metrics": metrics,
        "machine": environment(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 2),
        "command": "python -m experiments.run " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    path = out_dir / result_name(args.model, args.dataset, args.preset, args.seed, overrides, args.split)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2, default=float))
    tmp.replace(path)
    print(f"result written to {path}", file=sys.stderr)
    print(json.dumps(metrics, default=float))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    sys.exit(main())
