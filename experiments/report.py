"""Build the measured tables of ``experiments/RESULTS.md`` from the result JSONs.

``python -m experiments.report [--results DIR] [--output experiments/RESULTS.md]``

Only the part between the ``<!-- BEGIN GENERATED -->`` and ``<!-- END GENERATED -->`` markers is rewritten; the
hand-written sections around it (speed study, notes) are kept.
"""
from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from experiments.anchors import ANCHORS, REFERENCE_RUNS

BEGIN, END = "<!-- BEGIN GENERATED -->", "<!-- END GENERATED -->"
METRICS = ("crps", "crps_sum", "nd", "nrmse", "mae", "rmse", "coverage_80", "calibration_error", "interpolation_mae", "mean_imputation_mae",
           "train_seconds", "sample_seconds")


def load_results(results_dir: Path) -> list[dict]:
    results = []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON: {exc}") from exc
        if not {"model", "dataset", "preset", "seed", "metrics"} <= data.keys():
            raise ValueError(f"{path} is not a result file (needs model, dataset, preset, seed, metrics)")
        results.append(data)
    return results


def _fmt(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return ""
    mean = float(np.mean(values))
    digits = 4 if abs(mean) < 1 else 2
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {float(np.std(values, ddof=1)):.{digits}f}"


def _preset_label(result: dict) -> str:
    """``quick``, or ``quick (epochs=5)`` for a run with ``--set`` overrides (kept apart from plain preset runs)."""
    overrides = result.get("overrides") or {}
    if not overrides:
        return result["preset"]
    return f"{result['preset']} ({', '.join(f'{k}={json.dumps(v)}' for k, v in sorted(overrides.items()))})"


def _dataset_label(result: dict) -> str:
    """The dataset name; validation-split runs (tuning) get their own table, never mixed with test scores."""
    split = result.get("split", "test")
    return result["dataset"] if split == "test" else f"{result['dataset']} — {split} split (tuning only)"


def _commands(results: list[dict]) -> list[str]:
    """The distinct commands, seeds folded: ``... --seed {0,1,2} ...``."""
    seeds: dict[str, set[int]] = defaultdict(set)
    for r in results:
        command = r.get("command", "")
        if command:
            seeds[re.sub(r"--seed[= ]\d+", "--seed {}", command)].add(r["seed"])
    out = []
    for pattern, found in sorted(seeds.items()):
        value = str(next(iter(found))) if len(found) == 1 else "{" + ",".join(map(str, sorted(found))) + "}"
        out.append(pattern.replace("--seed {}", f"--seed {value}"))
    return out


def _fmt_anchor(value) -> str:
    mean, std = value
    return f"{mean:g}" if std is None else f"{mean:g} ± {std:g}"


def render(results: list[dict]) -> str:
    """Markdown: one table per dataset, rows = model × preset (mean ± std over seeds), then the anchors."""
    groups: dict[str, dict[tuple, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        groups[_dataset_label(r)][(r["model"], _preset_label(r))].append(r)
    lines = []
    for dataset in sorted(set(groups) | set(ANCHORS)):
        rows = groups.get(dataset, {})
        used = [m for m in METRICS if any(m in r["metrics"] for runs in rows.values() for r in runs)
                or any(m in a[1] for a in ANCHORS.get(dataset, []))]
        if not used:
            continue
        lines += [f"### {dataset}", "", "| model | preset | seeds | device | " + " | ".join(used) + " |",
                  "|---" * (4 + len(used)) + "|"]
        for (model, preset), runs in sorted(rows.items()):
            seeds = ",".join(str(r["seed"]) for r in sorted(runs, key=lambda r: r["seed"]))
            device = runs[0]["metrics"].get("device", "")
            gpu = runs[0].get("machine", {}).get("gpu")
            device = f"{device} ({gpu})" if gpu and device == "cuda" else device
            cells = [_fmt([r["metrics"].get(m) for r in runs]) for m in used]
            lines.append(f"| {model} | {preset} | {seeds} | {device} | " + " | ".join(cells) + " |")
        for label, values, source in ANCHORS.get(dataset, []):
            cells = [_fmt_anchor(values[m]) if m in values else "" for m in used]
            kind = "reference run" if source == REFERENCE_RUNS else "published"
            lines.append(f"| *{label}* | {kind} | | | " + " | ".join(cells) + " |")
        commands = _commands([r for runs in rows.values() for r in runs])
        dates = sorted({r.get("date", "")[:10] for runs in rows.values() for r in runs} - {""})
        machines = sorted({r.get("machine", {}).get("cpu", "") for runs in rows.values() for r in runs} - {""})
        if commands:
            lines += ["", "Commands: " + "; ".join(f"`{c}`" for c in commands)]
            lines += [f"Measured {', '.join(dates)} on {', '.join(machines)}."]
        sources = sorted({a[2] for a in ANCHORS.get(dataset, [])})
        if sources:
            lines += ["", "Anchors: " + "; ".join(sources) + "."]
        lines.append("")
    lines += render_sampler_tables(results)
    return "\n".join(lines)


def render_sampler_tables(results: list[dict]) -> list[str]:
    """Per run that measured them: the sampler trade-off (ddpm vs DDIM steps), scores along training (``curve``) and
    batched-vs-looped sampling."""
    lines = []
    for r in sorted(results, key=lambda r: (r["model"], r["dataset"], r["seed"])):
        m = r["metrics"]
        title = f"{r['model']} on {_dataset_label(r)}, {_preset_label(r)} preset, seed {r['seed']}"
        if m.get("sampler_tradeoff"):
            lines += [f"#### Sampler trade-off: {title}", "", "| sampler | steps | crps | crps_sum | sample_seconds |",
                      "|---|---|---|---|---|"]
            for row in m["sampler_tradeoff"]:
                lines.append(f"| {row['sampler']} | {row['steps']} | {row['crps']:.4f} | "
                             f"{row['crps_sum'] if row.get('crps_sum') is None else format(row['crps_sum'], '.4f')}"
                             f" | {row['sample_seconds']:.1f} |")
            lines.append("")
        if m.get("curve"):
            lines += [f"#### Along training: {title}", "",
                      "Scores of a test subset after each epoch (see the run's config `curve`), ddpm sampling.", "",
                      "| epoch | train s | loss | crps | mae |", "|---|---|---|---|---|"]
            lines += [f"| {c['epoch']} | {c['train_seconds']:.0f} | {c['loss']:.4f} | {c['crps']:.4f} | {c['mae']:.4f} |"
                      for c in m["curve"]]
            lines.append("")
        speed = m.get("speed")
        if speed and "speedup" in speed:
            lines += [f"#### Batched vs one-sample-at-a-time sampling: {title}", "",
                      f"- batched: {speed['batched_seconds']:.1f} s wall"
                      + (f", {speed['batched_cpu_seconds']:.1f} s CPU" if "batched_cpu_seconds" in speed else ""),
                      f"- looped (extrapolated): {speed['looped_seconds_extrapolated']:.1f} s wall — {speed['note']}",
                      f"- speed-up: {speed['speedup']:.2f}x wall"
                      + (f", {speed['speedup_cpu']:.2f}x CPU time" if "speedup_cpu" in speed else "")]
            for key, val in speed.items():
                if key.startswith("ddim") and isinstance(val, dict):
                    score = f"crps_sum {val['crps_sum']:.4f}" if "crps_sum" in val else f"crps {val['crps']:.4f}"
                    lines.append(f"- {key}: {val['seconds']:.1f} s wall, {score}")
            lines.append("")
    return lines


def update_file(output: Path, generated: str) -> None:
    block = f"{BEGIN}\n{generated}\n{END}"
    if output.exists():
        text = output.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            output.write_text(head + block + tail)
            return
        output.write_text(text.rstrip() + "\n\n" + block + "\n")
        return
    output.write_text("# Benchmark results\n\n" + block + "\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.report", description=__doc__.splitlines()[0])
    p.add_argument("--results", default=str(Path(__file__).parent / "results"))
    p.add_argument("--output", default=str(Path(__file__).parent / "RESULTS.md"))
    args = p.parse_args(argv)
    results = load_results(Path(args.results))
    update_file(Path(args.output), render(results))
    print(f"{len(results)} results -> {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
