"""Run the benchmark suite, then build the report.

``python -m experiments.bench --preset quick [--models deepar,seasonal_naive] [--datasets exchange_rate_nips]
[--seeds 0,1,2] [--threads 1] [--out experiments/results] [--skip-existing] [--dry-run]``

Every (model, dataset) pair of ``experiments.models.SUPPORTED`` whose preset file has the chosen preset is run
once per seed, each in its own ``python -m experiments.run`` subprocess (a crash or an out-of-memory kill fails that
run only; its output goes to ``<out>/logs/``). Datasets whose raw files are not in the data root are skipped with a
message. Exit status: 0 when every run that was started succeeded, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from experiments.run import DEFAULT_OUT, PRESET_DIR, result_name

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def plan(models: list[str], datasets: list[str] | None, preset: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(model, dataset) pairs to run and messages about skipped ones (no preset, data not present)."""
    from experiments.models import SUPPORTED
    from tsdiff.data import present_locally

    rows, skipped = [], []
    for model in models:
        for dataset in SUPPORTED[model]:
            if datasets is not None and dataset not in datasets:
                continue
            path = PRESET_DIR / model / f"{dataset}.json"
            if not path.exists():
                skipped.append(f"skip {model} on {dataset}: no preset file {path.relative_to(REPO)}")
                continue
            if preset not in json.loads(path.read_text()):
                skipped.append(f"skip {model} on {dataset}: no {preset!r} preset in {path.relative_to(REPO)}")
                continue
            if not present_locally(dataset):
                skipped.append(f"skip {model} on {dataset}: data not present locally (set TSDIFF_DATA)")
                continue
            rows.append((model, dataset))
    return rows, skipped


def run_one(model: str, dataset: str, preset: str, seed: int, threads: int | None, out: Path,
            timeout: float | None) -> tuple[bool, str]:
    """One ``experiments.run`` subprocess; (success, one-line summary). Output goes to ``out/logs/``."""
    shown_out = os.path.relpath(out.resolve(), REPO) if out.resolve().is_relative_to(REPO) else str(out)
    cmd = [sys.executable, "-m", "experiments.run", "--model", model, "--dataset", dataset, "--preset", preset,
           "--seed", str(seed), "--out", shown_out]  # relative to the repository: short recorded commands
    if threads:
        cmd += ["--threads", str(threads)]
    env = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    log = out / "logs" / f"{model}__{dataset}__{preset}__seed{seed}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        log.write_text(f"$ {' '.join(cmd)}\ntimed out after {timeout} s\n{exc.stdout or ''}{exc.stderr or ''}")
        return False, f"timed out after {timeout} s (log: {log})"
    log.write_text(f"$ {' '.join(cmd)}\nexit status {proc.returncode}\n--- stdout\n{proc.stdout}\n"
                   f"--- stderr\n{proc.stderr}")
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return False, f"FAILED (exit {proc.returncode}): {tail} (log: {log})"
    try:
        metrics = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return False, f"FAILED: last stdout line is not the metrics JSON (log: {log})"
    shown = ", ".join(f"{k}={metrics[k]:.4g}" for k in ("crps", "crps_sum", "train_seconds") if k in metrics)
    return True, f"ok: {shown}"


def main(argv: list[str] | None = None) -> int:
    from experiments.models import MODELS

    p = argparse.ArgumentParser(prog="python -m experiments.bench", description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="quick", choices=["quick", "paper"])
    p.add_argument("--models", type=_csv, default=None, help="comma-separated (default: all with presets)")
    p.add_argument("--datasets", type=_csv, default=None, help="comma-separated (default: all supported)")
    p.add_argument("--seeds", type=_csv, default=["0"], help="comma-separated seeds (default 0)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1; 0: torch's choice)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="results directory")
    p.add_argument("--timeout", type=float, default=None, help="seconds per run before it is killed")
    p.add_argument("--skip-existing", action="store_true", help="do not re-run seeds that have a result file")
    p.add_argument("--dry-run", action="store_true", help="print the plan only")
    p.add_argument("--no-report", action="store_true", help="do not rebuild the report")
    p.add_argument("--report-output", default=None,
                   help="markdown file to update (default: experiments/RESULTS.md for the default --out, "
                        "else <out>/RESULTS.md)")
    args = p.parse_args(argv)
    models = args.models or sorted(MODELS)
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(sorted(MODELS))}")
    try:
        seeds = [int(s) for s in args.seeds]
    except ValueError:
        p.error(f"--seeds expects comma-separated integers, got {','.join(args.seeds)}")
    out = Path(args.out)
    rows, skipped = plan(models, args.datasets, args.preset)
    for message in skipped:
        print(message, flush=True)
    failures = 0
    for model, dataset in rows:
        for seed in seeds:
            label = f"{model} / {dataset} / {args.preset} / seed {seed}"
            if args.skip_existing and (out / result_name(model, dataset, args.preset, seed)).exists():
                print(f"{label}: result exists, skipped", flush=True)
                continue
            if args.dry_run:
                print(f"{label}: would run", flush=True)
                continue
            started = time.time()
            ok, summary = run_one(model, dataset, args.preset, seed, args.threads, out, args.timeout)
            failures += not ok
            print(f"{label}: {summary} [{time.time() - started:.0f} s]", flush=True)
    if not args.dry_run and not args.no_report and out.exists():
        from experiments import report

        output = args.report_output or (DEFAULT_RESULTS_MD if out.resolve() == DEFAULT_OUT.resolve()
                                        else out / "RESULTS.md")
        report.main(["--results", str(out), "--output", str(output)])
    if failures:
        print(f"{failures} run(s) failed", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
