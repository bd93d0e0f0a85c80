"""Speed study: sampling time against accuracy for the batched samplers, and against a batch-1 loop.

``python -m experiments.speed [--preset quick] [--seed 0] [--threads 1] [--out experiments/results/speed]
[--models timegrad,csdi] [--datasets ...] [--samplers ddim,dpm-solver++] [--steps 20,10,5] [--spacings ...]
[--etas 0,1] [--loop-samples N] [--set [SCOPE:]KEY=JSON]``

For each study (by default TimeGrad and CSDI on exchange_rate_nips, CSDI on PhysioNet 10 %; with ``--datasets``,
each model on each dataset named), ONE model is trained with the preset's config; then, in the same process, the whole
test set is sampled with ddpm over all T steps and with each few-step sampler at each step count ≤ T (network calls
per reverse run; with each ``--spacings`` entry, default: the sampler's own spacing, and each ``--etas`` entry, the
fresh noise per step, default 0), timed and scored (forecasts: ``experiments.common.score_forecasts``; imputation:
CRPS/MAE on the evaluation targets, ``experiments.models.csdi.imputation_metrics``). The batched sampler (all
samples of a window go through the network together) is also compared with the reference implementations' loop
(batch 1, one sample per call): that loop is timed on a few samples of the first window/series and extrapolated
linearly to the whole test set — the output says so. Everything runs on the CPU.

``--set`` overrides preset entries: ``epochs=1`` (every study), ``csdi:epochs=1`` (one model) or
``csdi/physionet_10:max_test=4`` (one study); ``--set 'split="valid"'`` measures forecasters on the validation windows
(for choosing a default sampler without looking at the test windows). Outputs in ``--out``: ``speed.json`` (every row, configs, machine),
``speed.md`` (the tables, also printed) and ``speed.png`` (CRPS-sum / CRPS against sampling seconds, log x).
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read when OpenMP starts (torch's import): set before it

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable, Optional  # noqa: E402

from tsdiff.diffusion import SamplingOptions  # noqa: E402

STUDIES = (("timegrad", "exchange_rate_nips"), ("csdi", "exchange_rate_nips"), ("csdi", "physionet_10"))
FEW_STEP_SAMPLERS = ("ddim", "dpm-solver++")
STEPS = (20, 10, 5)
#: a few-step setting "meets the 3 % rule" when its CRPS is within 3 % of full ddpm's on the same network
TOLERANCE = 0.03
LOOP_SAMPLES = 5
DEFAULT_OUT = Path(__file__).parent / "results" / "speed"


@dataclass
class Study:
    """One trained model and how to sample and score its test set.

    ``sample(sampling)``: samples of the whole test set, batched, with a :class:`~tsdiff.diffusion.SamplingOptions`;
    ``sample_one(seed)``: one ddpm sample of the first window/series with batch 1; ``score(samples)``: metrics.
    """

    model: str
    dataset: str
    kind: str  # "forecast" or "imputation"
    diffusion_steps: int  # T
    num_units: int  # test windows (forecast) or series (imputation)
    num_samples: int
    train_seconds: float
    sample: Callable[[Any], Any]
    sample_one: Callable[[int], Any]
    score: Callable[[Any], dict]

    @property
    def unit(self) -> str:
        return "window" if self.kind == "forecast" else "series"

    @property
    def units(self) -> str:
        return "windows" if self.kind == "forecast" else "series"


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


# -- training: the runners' own builders, so a study trains exactly what a benchmark run trains ------------------
def train_timegrad(task, config: dict, seed: int, workdir: str):
    """The predictor ``experiments.models.timegrad.run`` trains, on CPU."""
    from experiments.models import timegrad

    return timegrad.train(task, config, seed, "cpu", workdir)


def train_csdi_forecaster(task, config: dict, seed: int, workdir: str):
    """The predictor ``experiments.models.csdi.run`` trains (forecasting), on CPU."""
    from experiments.models import csdi

    return csdi.train_forecaster(task, config, seed, "cpu", workdir)[0]


def train_csdi_imputer(train, config: dict, seed: int):
    """The ``CSDIImputer`` ``experiments.models.csdi.run`` fits (imputation), on CPU."""
    from experiments.models import csdi

    return csdi.fit_imputer(csdi.build_imputer(train, config), train, config, seed)


# -- sampling: (windows, num_samples, sampling, seed) -> W arrays (S, H, D), and the model's T --------------------
def predictor_sampler(predictor):
    """Both forecasters train a ``tsdiff.models.base.DiffusionPredictor``: seed and sampler are per call."""

    def sample(windows, num_samples: int, sampling, seed: int):
        forecasts = predictor.predict(windows, num_samples=num_samples, seed=seed, sampling=sampling)
        return [f.samples for f in forecasts]

    return sample, predictor.prediction_net.diffusion.num_diffusion_steps


FORECASTERS = {"timegrad": train_timegrad, "csdi": train_csdi_forecaster}


# -- studies ----------------------------------------------------------------------------------------------------------
def forecast_study(model: str, task, config: dict, seed: int) -> Study:
    """Train ``model`` on a multivariate ``ForecastTask`` (``experiments.common``) and wrap its predictor."""
    from gluonts.dataset.common import ListDataset

    from experiments.common import score_forecasts

    with tempfile.TemporaryDirectory(prefix=f"speed_{model}_") as workdir:
        predictor, train_seconds = _timed(FORECASTERS[model], task, config, seed, workdir)
    sample, T = predictor_sampler(predictor)
    S = int(config.get("num_samples", 100))
    if model == "timegrad":  # the runner's own inputs and stacking: joint windows or a global univariate model
        from experiments.models import timegrad

        inputs = timegrad.forecast_inputs(task, config)
        sample_all = lambda sampling: timegrad.sample(predictor, task, S, seed, sampling, config)  # noqa: E731
    else:
        inputs = task.window_inputs()
        windows = ListDataset(inputs, freq=task.freq, one_dim_target=False)
        sample_all = lambda sampling: sample(windows, S, sampling, seed)  # noqa: E731
    first = ListDataset(inputs[:1], freq=task.freq, one_dim_target=False)
    return Study(model, task.name, "forecast", T, task.num_windows, S, train_seconds,
                 sample=sample_all,
                 sample_one=lambda seed_: sample(first, 1, SamplingOptions("ddpm"), seed_),
                 score=lambda samples: score_forecasts(task, samples))


def imputation_study(dataset: str, splits: dict, config: dict, seed: int) -> Study:
    """Fit a ``CSDIImputer`` on ``splits["train"]``; impute the (first ``max_test``) test series' eval targets (with
    ``split="valid"`` in the config: the validation series', as ``experiments.run`` scores them)."""
    import torch

    from experiments.models.csdi import evaluation_split, imputation_metrics

    imputer, train_seconds = _timed(train_csdi_imputer, splits["train"], config, seed)
    test, n = evaluation_split(splits, dataset, config), config.get("max_test")
    values, given = test.values[:n], test.given_mask[:n]
    target, eval_mask = torch.as_tensor(test.values[:n]), torch.as_tensor(test.eval_mask[:n])
    S, batch = int(config["num_samples"]), config.get("impute_batch_size")

    def sample(sampling):
        return imputer.impute(values, given, num_samples=S, sampling=sampling, seed=seed, batch_size=batch)

    def sample_one(seed_):
        return imputer.impute(values[:1], given[:1], num_samples=1, sampler="ddpm", seed=seed_, batch_size=1)

    return Study("csdi", dataset, "imputation", imputer.model.diffusion.num_diffusion_steps, len(values), S,
                 train_seconds, sample=sample, sample_one=sample_one,
                 score=lambda samples: imputation_metrics(samples, target, eval_mask))


def load_data(dataset: str, config: dict):
    """A ``ForecastTask`` (``experiments.common.load_forecast_task``) or PhysioNet splits (``tsdiff.data``)."""
    if dataset.startswith("physionet_"):
        from experiments.models.csdi import load_imputation

        return load_imputation(dataset, config)
    from experiments.common import load_forecast_task

    return load_forecast_task(dataset, split=config.get("split", "test"))


def build_study(model: str, dataset: str, data, config: dict, seed: int) -> Study:
    """Train one model on ``data`` (from :func:`load_data`, or a synthetic stand-in) and return its study."""
    if isinstance(data, dict):
        return imputation_study(dataset, data, config, seed)
    return forecast_study(model, data, config, seed)


# -- measurements -----------------------------------------------------------------------------------------------------
def sampler_settings(T: int, samplers=FEW_STEP_SAMPLERS, steps=STEPS, spacings=(None,), etas=(None,)) -> list:
    """Checked :class:`SamplingOptions`: ddpm over all T steps, then each few-step sampler at each step count ≤ T
    (and each spacing and each η; ``None``: the sampler's default spacing, η = 0)."""
    settings = [SamplingOptions("ddpm").check(T)]
    for sampler in samplers:
        for eta in etas:
            for n in steps:
                if int(n) <= T:
                    settings += [SamplingOptions(sampler, int(n), eta=eta, spacing=sp).check(T) for sp in spacings]
    return settings


def measure_samplers(study: Study, settings) -> list[dict]:
    """One row per sampler setting: seconds to sample the whole test set (batched) and the scores; a row meets the
    3 % rule when its CRPS is within ``TOLERANCE`` of full ddpm's."""
    rows = []
    for sampling in settings:
        samples, seconds = _timed(study.sample, sampling)
        rows.append(dict(model=study.model, dataset=study.dataset, kind=study.kind, sampler=sampling.sampler,
                         steps=sampling.sampling_steps, spacing=sampling.spacing, eta=sampling.eta,
                         sampling=sampling.to_dict(),
                         sample_seconds=seconds, num_units=study.num_units, **study.score(samples)))
    for row in rows:
        row["speedup_vs_ddpm"] = rows[0]["sample_seconds"] / row["sample_seconds"]
        row["crps_vs_ddpm"] = row["crps"] / rows[0]["crps"] - 1.0
        row["meets_3pct"] = row["crps_vs_ddpm"] <= TOLERANCE
    return rows


def fastest_meeting_rule(rows: list[dict]) -> Optional[dict]:
    """The fewest-network-call few-step row within the 3 % rule (ties: the faster one), or None."""
    ok = [r for r in rows if r["sampler"] != "ddpm" and r["meets_3pct"]]
    return min(ok, key=lambda r: (r["steps"], r["sample_seconds"])) if ok else None


def measure_loop(study: Study, batched_seconds: float, loop_samples: int = LOOP_SAMPLES) -> dict:
    """The batch-1 loop (one sample per call), timed on ``loop_samples`` samples and extrapolated linearly."""
    _, seconds = _timed(lambda: [study.sample_one(1000 + i) for i in range(loop_samples)])
    per_sample = seconds / loop_samples
    total = per_sample * study.num_units * study.num_samples
    return dict(
        model=study.model, dataset=study.dataset, sampler="ddpm", steps=study.diffusion_steps,
        batched_seconds=batched_seconds, looped_samples_timed=loop_samples, looped_seconds_per_sample=per_sample,
        looped_seconds_extrapolated=total, speedup=total / batched_seconds, extrapolated=True,
        note=(f"looped = the same ddpm sampler with batch 1 (one sample of one {study.unit} per call), timed on "
              f"{loop_samples} samples of the first {study.unit} and extrapolated linearly to "
              f"{study.num_units} {study.units} x {study.num_samples} samples"),
    )


def run_study(study: Study, settings, loop_samples: int = LOOP_SAMPLES) -> tuple[list[dict], dict]:
    rows = measure_samplers(study, settings)
    return rows, measure_loop(study, rows[0]["sample_seconds"], loop_samples)


def study_info(study: Study, config: dict) -> dict:
    return dict(model=study.model, dataset=study.dataset, kind=study.kind, diffusion_steps=study.diffusion_steps,
                num_units=study.num_units, units=study.units, num_samples=study.num_samples,
                train_seconds=study.train_seconds, config=config)


# -- outputs ----------------------------------------------------------------------------------------------------------
def _num(value, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def render_markdown(result: dict) -> str:
    """The two tables (sampler settings; batched against the batch-1 loop) with the settings they ran under."""
    s, m = result["settings"], result["machine"]
    lines = ["# Sampling speed study", "",
             f"Preset `{result['preset']}`, seed {result['seed']}, torch threads {s['torch_threads']}, "
             f"OMP_WAIT_POLICY={s['omp_wait_policy']}; {m.get('cpu')} ({m.get('cpu_count')} cores), "
             f"torch {m.get('versions', {}).get('torch')}, {result['date']}.", "",
             f"Command: `{result['command']}`", "",
             "Sampling seconds: the whole test set, all samples of a window/series batched through the network "
             "(one call per step); every row of a model uses the same trained network. CRPS/CRPS-sum: "
             "`experiments.common.score_forecasts`; imputation CRPS/MAE on the evaluation targets.", "",
             "| model | dataset | sampler | steps | spacing | eta | sampling s | × vs ddpm | CRPS | vs ddpm | CRPS-sum "
             "| MAE |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        eta = "" if r["sampler"] == "ddpm" else f"{r.get('eta', 0.0):g}"
        lines.append(f"| {r['model']} | {r['dataset']} | {r['sampler']} | {r['steps']} | {r.get('spacing') or ''}"
                     f" | {eta}"
                     f" | {_num(r['sample_seconds'], 2)} | {_num(r['speedup_vs_ddpm'], 1)} | {_num(r.get('crps'))}"
                     f" | {r['crps_vs_ddpm']:+.1%} | {_num(r.get('crps_sum'))} | {_num(r.get('mae'))} |")
    lines.append("")
    for st in result["studies"]:
        best = fastest_meeting_rule([r for r in result["rows"] if (r["model"], r["dataset"]) ==
                                     (st["model"], st["dataset"])])
        verdict = (f"{best['sampler']} with {best['steps']} steps ({best['spacing']}, eta {best.get('eta', 0.0):g}), "
                   f"{best['crps_vs_ddpm']:+.1%} "
                   f"CRPS, {best['speedup_vs_ddpm']:.1f}x faster than ddpm" if best else "none within 3 %")
        lines.append(f"- {st['model']} / {st['dataset']}: fewest steps within 3 % of ddpm's CRPS: {verdict}.")
    lines += ["", "Batched sampler against one sample at a time (batch 1; **looped times are extrapolated**):", "",
              "| model | dataset | sampler | batched s | looped s/sample | looped s (extrapolated) | speed-up |",
              "|---|---|---|---|---|---|---|"]
    for r in result["loops"]:
        lines.append(f"| {r['model']} | {r['dataset']} | {r['sampler']}{r['steps']} | {_num(r['batched_seconds'], 2)}"
                     f" | {_num(r['looped_seconds_per_sample'], 3)} | {_num(r['looped_seconds_extrapolated'], 1)}"
                     f" | {_num(r['speedup'], 1)} |")
    lines += [""] + [f"- {r['model']} / {r['dataset']}: {r['note']}." for r in result["loops"]]
    lines += [""] + [f"- {st['model']} / {st['dataset']}: trained in {st['train_seconds']:.0f} s "
                     f"(T = {st['diffusion_steps']}, {st['num_units']} {st['units']} x {st['num_samples']} samples)."
                     for st in result["studies"]]
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> None:
    """One panel per study: CRPS-sum (forecast) or CRPS (imputation) against sampling seconds, log x."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    studies = result["studies"]
    fig, axes = plt.subplots(1, len(studies), figsize=(4.5 * len(studies), 3.6), squeeze=False)
    for ax, st in zip(axes[0], studies):
        metric = "crps_sum" if st["kind"] == "forecast" else "crps"
        rows = [r for r in result["rows"] if (r["model"], r["dataset"]) == (st["model"], st["dataset"])]
        curves = sorted({(r["sampler"], r.get("eta", 0.0) if r["sampler"] != "ddpm" else None) for r in rows},
                        key=lambda c: (c[0] != "ddpm", c[0], c[1] or 0.0))
        for sampler, eta in curves:
            chosen = sorted((r for r in rows if r["sampler"] == sampler
                             and (sampler == "ddpm" or r.get("eta", 0.0) == eta)), key=lambda r: r["sample_seconds"])
            style = {"ddim": "o-", "dpm-solver++": "^-"}.get(sampler, "s")
            label = sampler if eta is None else f"{sampler} eta={eta:g}"
            ax.plot([r["sample_seconds"] for r in chosen], [r[metric] for r in chosen], style, label=f"{label} (batched)")
        for r in rows:
            ax.annotate(f"{r['steps']}", (r["sample_seconds"], r[metric]), textcoords="offset points",
                        xytext=(4, 4), fontsize=8)
        ddpm = next(r for r in rows if r["sampler"] == "ddpm")
        for loop in (r for r in result["loops"] if (r["model"], r["dataset"]) == (st["model"], st["dataset"])):
            ax.plot([loop["looped_seconds_extrapolated"]], [ddpm[metric]], "x", color="C3",
                    label="ddpm, batch-1 loop (extrapolated)")
        ax.set_xscale("log")
        ax.set(title=f"{st['model']} / {st['dataset']}", xlabel="sampling seconds (test set, log)",
               ylabel="CRPS-sum" if metric == "crps_sum" else "CRPS")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_outputs(result: dict, out: Path) -> dict:
    """``speed.json``, ``speed.md`` and ``speed.png`` in ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "speed.json", "md": out / "speed.md", "png": out / "speed.png"}
    paths["json"].write_text(json.dumps(result, indent=2, default=float))
    paths["md"].write_text(render_markdown(result))
    plot(result, paths["png"])
    return paths


# -- driver -----------------------------------------------------------------------------------------------------------
def parse_sets(items: list[str]) -> list[tuple[Optional[str], str, Any]]:
    """``[SCOPE:]KEY=JSON`` -> (scope, key, value); scope is ``model`` or ``model/dataset`` (None: every study)."""
    from experiments.run import parse_overrides

    out = []
    for item in items:
        scope, sep, rest = item.partition(":")
        if not sep or "=" in scope:
            scope, rest = None, item
        ((key, value),) = parse_overrides([rest]).items()
        out.append((scope, key, value))
    return out


def study_config(model: str, dataset: str, preset: str, sets) -> dict:
    from experiments.run import load_preset

    config = load_preset(model, dataset, preset)
    config.update({k: v for scope, k, v in sets if scope in (None, model, f"{model}/{dataset}")})
    return config


def run_all(plan, config_of: Callable[[str, str], dict], seed: int, samplers=FEW_STEP_SAMPLERS, steps=STEPS,
            spacings=(None,), loop_samples: Optional[int] = None, data_loader=load_data, etas=(None,)) -> dict:
    """Train and measure every (model, dataset) of ``plan``: ``{"seed", "samplers", "steps", "studies", "rows",
    "loops"}``.

    ``config_of(model, dataset)``: the config of a study; ``data_loader(dataset, config)``: its data.
    """
    studies, rows, loops = [], [], []
    for model, dataset in plan:
        config = config_of(model, dataset)
        print(f"{model} / {dataset}: training...", flush=True)
        study = build_study(model, dataset, data_loader(dataset, config), config, seed)
        k = loop_samples or int(config.get("speed_loop_samples", LOOP_SAMPLES))
        settings = sampler_settings(study.diffusion_steps, samplers, steps, spacings, etas)
        study_rows, loop = run_study(study, settings, k)
        studies.append(study_info(study, config))
        rows += study_rows
        loops.append(loop)
    return dict(seed=seed, samplers=list(samplers), steps=list(steps), etas=list(etas), studies=studies, rows=rows,
                loops=loops)


def study_plan(models: list[str], datasets: Optional[list[str]]) -> list[tuple[str, str]]:
    """The (model, dataset) studies: the default :data:`STUDIES` of ``models``; with ``datasets``, each model on each
    of them (any forecasting dataset; PhysioNet imputation only for csdi)."""
    if datasets is None:
        return [(m, d) for m, d in STUDIES if m in models]
    return [(m, d) for m in models for d in datasets if m == "csdi" or not d.startswith("physionet_")]


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m experiments.speed", description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="quick", help="a preset of every study's preset file (quick, paper, cpu, ...)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1; 0: torch's choice)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="directory for speed.json, speed.md, speed.png")
    p.add_argument("--models", type=_csv, default=["timegrad", "csdi"])
    p.add_argument("--datasets", type=_csv, default=None, help="comma-separated filter of the studies' datasets")
    p.add_argument("--samplers", type=_csv, default=list(FEW_STEP_SAMPLERS), help="the few-step samplers to compare")
    p.add_argument("--steps", type=lambda v: [int(x) for x in _csv(v)], default=list(STEPS),
                   help="network calls per reverse run for the few-step samplers")
    p.add_argument("--spacings", type=_csv, default=None, help="timestep spacings (default: each sampler's own)")
    p.add_argument("--etas", type=lambda v: [float(x) for x in _csv(v)], default=None,
                   help="fresh noise per step of the few-step samplers, each in [0, 1] (default: 0)")
    p.add_argument("--loop-samples", type=int, default=None,
                   help=f"samples timed in the batch-1 loop (default: the preset's speed_loop_samples, else "
                        f"{LOOP_SAMPLES})")
    p.add_argument("--set", action="append", default=[], metavar="[SCOPE:]KEY=JSON",
                   help="override a preset entry; SCOPE = model or model/dataset (default: every study)")
    return p


def main(argv: list[str] | None = None) -> int:
    from experiments.env_info import environment

    args = build_parser().parse_args(argv)
    # GluonTS's splitter adds offsets to business-day Periods at every prediction call (exchange_rate_nips)
    warnings.filterwarnings("ignore", message="Period with BDay freq is deprecated", category=FutureWarning)
    plan = study_plan(args.models, args.datasets)
    if not plan:
        build_parser().error(f"no study matches --models {args.models} --datasets {args.datasets}")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    sets = parse_sets(args.set)
    result = run_all(plan, lambda m, d: study_config(m, d, args.preset, sets), args.seed, args.samplers, args.steps,
                     args.spacings or (None,), args.loop_samples, etas=args.etas or (None,))
    result.update(
        preset=args.preset,
        settings=dict(torch_threads=torch.get_num_threads(), omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"),
                      device="cpu"),
        overrides=args.set, machine=environment(),
        date=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        command="python -m experiments.speed " + " ".join(sys.argv[1:] if argv is None else argv),
    )
    paths = write_outputs(result, Path(args.out))
    print(render_markdown(result))
    print("written: " + ", ".join(str(p) for p in paths.values()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
