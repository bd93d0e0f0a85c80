"""The benchmark runner, report and suite on tiny settings (seconds)."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from experiments import bench, report, run
from experiments.models import SUPPORTED
from tsdiff.data import present_locally

needs_data = pytest.mark.skipif(
    not os.environ.get("TSDIFF_DATA") or not present_locally("exchange_rate_nips"),
    reason="TSDIFF_DATA unset or exchange_rate_nips not present")


def run_error(capsys, argv: list[str]) -> str:
    """The one-line message of a run that must fail with exit status 2."""
    with pytest.raises(SystemExit) as exc:
        run.main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


def test_run_argument_errors(capsys, tmp_path, monkeypatch):
    assert "invalid choice: 'nope'" in run_error(capsys, ["--model", "nope", "--dataset", "exchange_rate_nips"])
    err = run_error(capsys, ["--model", "deepar", "--dataset", "physionet_10"])
    assert "does not run on dataset 'physionet_10'" in err and "exchange_rate_nips" in err
    monkeypatch.setattr(run, "PRESET_DIR", tmp_path)
    assert "no preset file" in run_error(capsys, ["--model", "deepar", "--dataset", "ETTh1"])
    (tmp_path / "deepar").mkdir()
    (tmp_path / "deepar" / "ETTh1.json").write_text(json.dumps({"paper": {"epochs": 3}}))
    assert "preset 'quick' not in ETTh1.json" in run_error(capsys, ["--model", "deepar", "--dataset", "ETTh1"])
    base = ["--model", "deepar", "--dataset", "ETTh1", "--preset", "paper"]
    assert "--set expects KEY=VALUE" in run_error(capsys, base + ["--set", "epochs"])
    assert "--set epoch: not an entry of the preset; entries: epochs" in run_error(capsys, base + ["--set", "epoch=1"])


@needs_data
def test_seasonal_naive_run_writes_result(capsys, tmp_path):
    argv = ["--model", "seasonal_naive", "--dataset", "exchange_rate_nips", "--seed", "1", "--threads", "1",
            "--out", str(tmp_path)]
    assert run.main(argv) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    metrics = json.loads(last)
    result = json.loads((tmp_path / "seasonal_naive__exchange_rate_nips__quick__seed1.json").read_text())
    assert {"model", "dataset", "preset", "seed", "config", "overrides", "metrics", "machine", "date",
            "wall_seconds", "command"} <= result.keys()
    assert (result["model"], result["dataset"], result["preset"], result["seed"]) == \
        ("seasonal_naive", "exchange_rate_nips", "quick", 1)
    assert result["metrics"] == metrics
    assert {"crps", "crps_sum", "nd", "nrmse", "mae", "rmse", "coverage_80", "num_samples", "train_seconds",
            "sample_seconds", "device"} <= metrics.keys()
    assert metrics["num_samples"] == 1 and metrics["season_length"] == 5
    assert metrics["crps"] == pytest.approx(metrics["nd"])  # a point forecast: CRPS = absolute error
    assert 0.005 < metrics["crps_sum"] < 0.02
    assert {"versions", "cpu", "cpu_count", "torch_threads"} <= result["machine"].keys()
    assert result["machine"]["versions"]["gluonts"] and result["machine"]["torch_threads"] == 1
    assert result["command"].startswith("python -m experiments.run --model seasonal_naive")
    # an override is recorded and goes to its own file
    assert run.main(argv + ["--set", "season_length=1"]) == 0
    other = [p for p in tmp_path.glob("*__set-*.json")]
    assert len(other) == 1 and json.loads(other[0].read_text())["overrides"] == {"season_length": 1}


@needs_data
@pytest.mark.parametrize("model, setting, message", [
    ("timegrad", "hidden_size=0", "timegrad: hidden_size must be a positive integer, got 0"),
    ("timegrad", "scaling=\"max\"", "timegrad: scaling must be one of"),
    ("csdi", "heads=3", "csdi: residual_channels (64) must be divisible by heads (3)"),
    ("deepar", "hidden_size=\"wide\"", "deepar: 1 validation error"),
    ("random_walk", "window=0", "random_walk: window must be >= 1"),
])
def test_run_refused_config_values_are_usage_errors(capsys, tmp_path, model, setting, message):
    """A value the model refuses stops the run before training with exit status 2 and the model's own message."""
    err = run_error(capsys, ["--model", model, "--dataset", "exchange_rate_nips", "--set", setting,
                             "--out", str(tmp_path)])
    assert message in err and "Traceback" not in err
    assert "bad config for " + model in err and not list(tmp_path.glob("*.json"))


@needs_data
def test_deepar_tiny_run(tmp_path):
    from experiments.models.baselines import run_deepar

    config = {"epochs": 1, "num_batches_per_epoch": 2, "batch_size": 8, "hidden_size": 8, "num_samples": 4}
    metrics = run_deepar("exchange_rate_nips", config, seed=0)
    assert metrics["num_samples"] == 4 and metrics["device"] == "cpu"
    assert metrics["crps_sum"] > 0 and metrics["train_seconds"] > 0
    with pytest.raises(ValueError, match="unknown config keys"):
        run_deepar("exchange_rate_nips", {"epoch": 1}, seed=0)


@needs_data
def test_csdi_tiny_forecast_run():
    """The CSDI runner samples through its predictor's per-call options: ddpm over all T, then DDIM."""
    from experiments.models import csdi

    config = {"epochs": 1, "num_batches_per_epoch": 2, "batch_size": 8, "lr": 1e-3, "num_samples": 2,
              "context_length": 8, "residual_channels": 8, "residual_layers": 1, "heads": 1, "dim_feedforward": 8,
              "num_diffusion_steps": 5,
              "threads": 1, "progress": False, "speed_loop_samples": 1, "ddim_steps": [2],
              "also_samplers": ["dpm-solver++:3:1", "ddim:2"]}
    metrics = csdi.run("exchange_rate_nips", config, seed=0)
    assert (metrics["sampler"], metrics["sampling_steps"], metrics["num_samples"]) == ("ddpm", 5, 2)
    assert metrics["crps_sum"] > 0 and metrics["speed"]["looped_seconds_per_sample"] > 0
    assert metrics["speed"]["ddim2"]["crps"] > 0 and metrics["speed"]["ddim2"]["crps"] != metrics["crps"]
    # more reverse processes on the same network, each recorded as resolved; "ddim:2" is the ddim2 row again
    other = metrics["speed"]["dpm-solver++:3:1"]
    assert (other["sampling"]["sampler"], other["sampling"]["sampling_steps"], other["sampling"]["eta"]) == \
        ("dpm-solver++", 3, 1.0)
    assert other["crps"] > 0 and other["crps"] != metrics["crps"]
    assert metrics["speed"]["ddim:2"]["crps"] == metrics["speed"]["ddim2"]["crps"]


def fake_result(model, dataset, seed, crps, preset="quick", **extra):
    return {"model": model, "dataset": dataset, "preset": preset, "seed": seed, "config": {},
            "metrics": {"crps": crps, "crps_sum": crps / 2, "device": "cpu", **extra},
            "machine": {"cpu": "Test CPU"}, "date": "2026-01-02T03:04:05+00:00",
            "command": f"python -m experiments.run --model {model} --dataset {dataset} --seed {seed}"}


def test_report_table_and_preserved_text(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    for seed, crps in enumerate([0.010, 0.012, 0.014]):
        (results / f"deepar_{seed}.json").write_text(json.dumps(fake_result("deepar", "exchange_rate_nips",
                                                                            seed, crps)))
    (results / "sn.json").write_text(json.dumps(fake_result("seasonal_naive", "exchange_rate_nips", 0, 0.02)))
    output = tmp_path / "RESULTS.md"
    output.write_text(f"# Results\n\nHand-written intro.\n\n{report.BEGIN}\nold table\n{report.END}\n\n"
                      "## Speed study\n\nHand-written notes.\n")
    assert report.main(["--results", str(results), "--output", str(output)]) == 0
    text = output.read_text()
    assert text.startswith("# Results\n\nHand-written intro.\n")
    assert text.endswith("## Speed study\n\nHand-written notes.\n")
    assert "old table" not in text
    assert "| deepar | quick | 0,1,2 | cpu | 0.0120 ± 0.0020 | 0.0060 ± 0.0010 |" in text
    assert "| seasonal_naive | quick | 0 | cpu | 0.0200 | 0.0100 |" in text
    assert "| *TimeGrad (paper)* | published |" in text and "0.006 ± 0.001" in text
    assert "--seed {0,1,2}" in text and "Test CPU" in text
    assert "### m4_hourly" in text  # anchors are shown even without runs
    # idempotent
    report.main(["--results", str(results), "--output", str(output)])
    assert output.read_text() == text


def test_report_sampler_and_speed_tables():
    result = fake_result("timegrad", "exchange_rate_nips", 0, 0.01)
    result["metrics"]["sampler_tradeoff"] = [
        dict(sampler="ddpm", steps=100, crps=0.01, crps_sum=0.007, sample_seconds=20.0),
        dict(sampler="ddim", steps=10, crps=0.011, crps_sum=0.0075, sample_seconds=2.0)]
    csdi = fake_result("csdi", "exchange_rate_nips", 1, 0.05)
    csdi["metrics"]["speed"] = dict(batched_seconds=10.0, looped_seconds_extrapolated=30.0, speedup=3.0,
                                    note="timed on 1 sample", ddim10=dict(seconds=1.0, crps_sum=0.09))
    csdi["metrics"]["curve"] = [dict(epoch=1, train_seconds=60.0, loss=0.5, crps=0.9, mae=0.7, eval_seconds=5.0),
                                dict(epoch=2, train_seconds=121.0, loss=0.4, crps=0.6, mae=0.5, eval_seconds=5.0)]
    text = "\n".join(report.render_sampler_tables([result, csdi]))
    assert "#### Along training: csdi on exchange_rate_nips" in text and "| 2 | 121 | 0.4000 | 0.6000 | 0.5000 |" in text
    assert "#### Sampler trade-off: timegrad on exchange_rate_nips" in text
    assert "| ddim | 10 | 0.0110 | 0.0075 | 2.0 |" in text
    assert "speed-up: 3.00x wall" in text and "ddim10: 1.0 s wall, crps_sum 0.0900" in text


def test_report_rejects_foreign_json(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ValueError, match="not a result file"):
        report.load_results(tmp_path)


def test_bench_plan_and_dry_run(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("tsdiff.data.present_locally", lambda name: name != "ETTm1")
    rows, skipped = bench.plan(["seasonal_naive", "timegrad"], None, "quick")
    assert ("seasonal_naive", "exchange_rate_nips") in rows and ("seasonal_naive", "ETTm1") not in rows
    assert any("ETTm1: data not present" in s for s in skipped)
    assert all(d in SUPPORTED["seasonal_naive"] for _, d in rows)
    assert bench.main(["--dry-run", "--models", "seasonal_naive", "--datasets", "exchange_rate_nips",
                       "--seeds", "0,1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "seasonal_naive / exchange_rate_nips / quick / seed 1: would run" in out
    with pytest.raises(SystemExit):
        bench.main(["--models", "nope"])


def test_bench_survives_a_failing_run(tmp_path):
    ok, summary = bench.run_one("seasonal_naive", "physionet_10", "quick", 0, 1, tmp_path, timeout=120)
    assert not ok and "FAILED (exit 2)" in summary and "does not run on dataset" in summary
    assert (tmp_path / "logs" / "seasonal_naive__physionet_10__quick__seed0.log").exists()


@pytest.mark.skipif(not os.environ.get("TSDIFF_DATA") or not present_locally("ETTh1"), reason="ETTh1 not present")
def test_pandas_impute_study_scores_the_holes_it_made():
    """The pandas-defaults imputation study: holes are a seeded fraction of the observed cells, both the model and
    interpolation are scored on exactly those cells, and a rerun with the same seed gives the same row."""
    from experiments import pandas_impute as study

    frame = study.load_frame("ETTh1", 150)
    holed, holes = study.punch_holes(frame, 0.1, seed=0)
    assert holes.sum() == holed.isna().to_numpy().sum() - frame.isna().to_numpy().sum() > 0
    assert frame.notna().all().all()  # the source frame is untouched
    later = study.load_frame("ETTh1", 150, start=100)  # a validation slice: the same rows, 100 later
    assert later.index[0] == study.load_frame("ETTh1", 250).index[100] and len(later) == 150
    with pytest.raises(ValueError, match="outside"):
        study.load_frame("ETTh1", 150, start=10 ** 6)
    tiny = dict(epochs=1, num_batches_per_epoch=2, residual_channels=8, residual_layers=1, heads=1)
    (row,) = study.run("ETTh1", 150, 0.1, 0, tiny, num_samples=4)
    assert row["holes"] == int(holes.sum()) and np.isfinite([row["mae"], row["interpolation_mae"]]).all()
    assert {k: v for k, v in study.run("ETTh1", 150, 0.1, 0, tiny, num_samples=4)[0].items() if "seconds" not in k} == \
        {k: v for k, v in row.items() if "seconds" not in k}
    from experiments.common import parse_sampling

    rows = study.run("ETTh1", 150, 0.1, 0, tiny, 4, [parse_sampling("ddim:10:1"), parse_sampling("dpm-solver++:3:1")])
    assert [(r["sampling"]["sampler"], r["sampling"]["sampling_steps"]) for r in rows] == [("ddim", 10),
                                                                                           ("dpm-solver++", 3)]
    assert rows[0]["mae"] == row["mae"]  # the model's default sampler (CSDI: ddim, 10, η = 1) is what the plain run used
    assert len({r["train_seconds"] for r in rows}) == 1 and rows[1]["mae"] != rows[0]["mae"]


TINY_TIMEGRAD = dict(scaling="std", difference_lag="season", num_diffusion_steps=10, hidden_size=8, num_layers=1,
                     residual_layers=2, residual_channels=4, conditioning_length=8)


@pytest.mark.skipif(not os.environ.get("TSDIFF_DATA") or not present_locally("ETTh1"), reason="ETTh1 not present")
def test_pandas_defaults_study_scores_each_sampler_on_one_trained_network(monkeypatch):
    """experiments.pandas_defaults: one training, one row per sampler (the options each row used are recorded),
    every validation window scored; the same seed gives the same rows; DeepAR at "the same training time" gets a
    time limit, not a batch count."""
    from experiments import pandas_defaults as study
    from experiments.common import load_forecast_task, parse_sampling

    monkeypatch.setattr(study, "BATCHES_PER_EPOCH", 2)
    monkeypatch.setattr(study, "NUM_SAMPLES", 4)
    task = load_forecast_task("ETTh1", prediction_length=study.PREDICTION_LENGTH, split="valid")
    samplings = [parse_sampling(x) for x in ("ddpm", "dpm-solver++:5:1", "ddim:5")]
    rows = study.run_timegrad(task, 1, TINY_TIMEGRAD, 0, "panel", samplings)
    used = [(r["sampling"]["sampler"], r["sampling"]["sampling_steps"], r["sampling"]["eta"]) for r in rows]
    assert used == [("ddpm", 10, 0.0), ("dpm-solver++", 5, 1.0), ("ddim", 5, 0.0)]
    assert len({r["train_seconds"] for r in rows}) == 1 and all(r["batches"] == 2 for r in rows)
    assert all(np.isfinite(r["crps"]) and r["crps"] > 0 for r in rows)
    assert len({r["crps"] for r in rows}) == 3  # three samplers, three different forecasts
    again = study.run_timegrad(task, 1, TINY_TIMEGRAD, 0, "panel", samplings[:1])
    assert again[0]["crps"] == rows[0]["crps"]
    joint = study.run_timegrad(task, 1, TINY_TIMEGRAD, 0, "joint")
    assert joint[0]["layout"] == "joint" and joint[0]["crps"] != rows[0]["crps"]
    assert rows[0]["batch_size"] == study.BATCH_SIZE
    smaller = study.run_timegrad(task, 1, {**TINY_TIMEGRAD, "batch_size": 8}, 0, "panel", samplings[:1])  # --set
    assert smaller[0]["batch_size"] == 8 and smaller[0]["crps"] != rows[0]["crps"]

    calls = []

    class Recording:
        def __init__(self, **kwargs):
            calls.append(kwargs)
            raise RuntimeError("stop")

    monkeypatch.setattr("gluonts.torch.model.deepar.DeepAREstimator", Recording)
    with pytest.raises(RuntimeError, match="stop"):
        study.run_deepar(task, 0, 12.3)
    trainer = calls[0]["trainer_kwargs"]
    assert trainer["max_time"] == {"seconds": 13} and trainer["max_epochs"] >= 10**6


@pytest.mark.skipif(not os.environ.get("TSDIFF_DATA") or not present_locally("ETTh1"), reason="ETTh1 not present")
def test_equal_budget_counts_the_batches_it_times(capsys):
    """experiments.equal_budget: both models train the asked number of batches per round, and DeepAR's batch count
    is TimeGrad's preset budget times the measured seconds-per-batch ratio."""
    from experiments import equal_budget

    result = equal_budget.main(["--dataset", "ETTh1", "--batches", "2", "--rounds", "2"])
    assert len(result["rounds"]) == 2
    per_batch = result["seconds_per_batch"]
    assert result["ratio"] == pytest.approx(per_batch["timegrad"] / per_batch["deepar"])
    assert result["timegrad_batches"] == 20 * 50  # the cpu preset: 20 epochs x 50 batches
    assert result["deepar_batches"] == round(result["timegrad_batches"] * result["ratio"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == json.loads(json.dumps(result))
