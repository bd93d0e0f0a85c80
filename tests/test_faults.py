"""Faults a fit or a prediction must survive (issue 17): a diverging loss, a killed fit, a failing save, a call too
large for memory, and work too long to run without a word."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from api_helpers import CSDI_FAST, FAST, hourly_frame
from fault_helpers import BATCHES_PER_EPOCH, EPOCHS, KILLED, CountBatches, data, make_model
from memory_probe import PeakTensorBytes

import tsdiff
from tsdiff.models.base import guards, resume
from tsdiff.models.base.memory import SamplingMemoryError, parse_bytes
from tsdiff.models.csdi import CSDIModel, chunked
from tsdiff.models.csdi.memory import csdi_sampling_memory_for
from tsdiff.models.timegrad.memory import timegrad_sampling_memory
from tsdiff.models.timegrad.module import TimeGradModel

pytestmark = pytest.mark.usefixtures("one_torch_thread")
HELPER = Path(__file__).resolve().parent / "fault_helpers.py"


def weights(model) -> dict:
    net = model.predictor_.prediction_net if isinstance(model, tsdiff.TimeGrad) else model.predictor_.model
    return {k: v.clone() for k, v in net.state_dict().items()}


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- 1. a non-finite loss stops training, naming its step ---------------------------------------------------------
def nan_at(monkeypatch, model_class, step: int, value=float("nan")):
    """Make ``model_class.loss`` return ``value`` at its ``step``-th training call."""
    original, calls = model_class.loss, [0]

    def loss(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        if self.training and kwargs.get("generator") is None:
            calls[0] += 1
            if calls[0] == step:
                return out * value
        return out

    monkeypatch.setattr(model_class, "loss", loss)


@pytest.mark.parametrize("model_class, cls, settings, value", [
    (TimeGradModel, tsdiff.TimeGrad, FAST, float("nan")),
    (CSDIModel, tsdiff.CSDI, CSDI_FAST, float("inf")),
])
def test_non_finite_loss_stops_training_at_its_step(monkeypatch, model_class, cls, settings, value):
    # step 5 is in epoch 2: GluonTS holds a best checkpoint from epoch 1 by then and would "recover" from it
    nan_at(monkeypatch, model_class, 5, value)
    model = cls(prediction_length=6, **dict(settings, epochs=3, num_batches_per_epoch=3))
    with pytest.raises(tsdiff.NonFiniteLossError, match="training step 5 \\(epoch 2, batch 2\\)") as info:
        model.fit(hourly_frame(120))
    message = str(info.value)
    assert "lr=0.001" in message and re.search(r"largest \|value\| in this batch is \d", message)
    assert (info.value.step, info.value.epoch, info.value.batch) == (5, 2, 2)
    assert isinstance(info.value, ValueError)  # the CLI reports it as a one-line error
    with pytest.raises(tsdiff.NotFittedError):  # never a fitted model with NaN weights
        model.predict()


class PoisonLastStep(pl.Callback):
    """NaN gradients in the last training step, whose loss is finite: only the weights can show the divergence."""

    def on_after_backward(self, trainer, pl_module):
        last_batch = trainer.fit_loop.epoch_loop.batch_progress.is_last_batch
        if trainer.current_epoch == trainer.max_epochs - 1 and last_batch:
            next(p for p in pl_module.parameters() if p.grad is not None).grad.fill_(float("nan"))


@pytest.mark.parametrize("cls, settings", [(tsdiff.TimeGrad, FAST), (tsdiff.CSDI, CSDI_FAST)])
def test_divergence_in_the_last_step_is_caught_too(cls, settings):
    model = cls(prediction_length=6, trainer_kwargs={"callbacks": [PoisonLastStep()]}, **settings)
    with pytest.raises(tsdiff.NonFiniteLossError, match="diverged in its last step"):
        model.fit(hourly_frame())
    assert getattr(model, "predictor_", None) is None


def test_gluonts_would_return_a_model_without_the_fault_record(monkeypatch):
    """Shows what TrainingFaults is for: GluonTS's train_model catches the error and returns its best checkpoint."""
    nan_at(monkeypatch, TimeGradModel, 5)
    monkeypatch.setattr(guards.TrainingFaults, "raise_if_failed", lambda self: None)
    model = tsdiff.TimeGrad(prediction_length=6, **dict(FAST, epochs=3, num_batches_per_epoch=3)).fit(hourly_frame())
    assert model.predictor_ is not None


# -- 2. a killed fit resumes to the same weights -----------------------------------------------------------------
class Interrupted(Exception):
    pass


class InterruptAfter(CountBatches):
    def __init__(self, batches: int):
        super().__init__()
        self.batches = batches

    def on_train_batch_end(self, *args):
        super().on_train_batch_end(*args)
        if self.seen == self.batches:
            raise Interrupted


def killed_fit(model_name: str, directory: Path, batches: int) -> None:
    """Fit in a child process that dies, as if killed, after ``batches`` training batches."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(tsdiff.__file__).parents[1]),
                                                       os.environ.get("PYTHONPATH", "")]))
    run = subprocess.run([sys.executable, str(HELPER), model_name, str(directory), str(batches),
                          str(torch.get_num_threads())], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == KILLED, run.stderr[-3000:]


def interrupted_fit(model_name: str, directory: Path, batches: int) -> None:
    """Fit in this process, stopped by an exception after ``batches`` training batches."""
    with pytest.raises(Interrupted):
        make_model(model_name, [InterruptAfter(batches)]).fit(data(), checkpoint_dir=directory)


def check_resume(model_name: str, stop, tmp_path: Path, monkeypatch) -> None:
    """Stop a fit in epoch 3 with ``stop``, resume it: the same weights, forecasts (and history) as a fit never
    stopped; and, resumed without what makes that exact, other weights."""
    reference = make_model(model_name).fit(data())
    directory = tmp_path / "ckpt"
    stop(model_name, directory, 2 * BATCHES_PER_EPOCH + 2)
    assert (directory / "resume.ckpt").exists()
    backup = tmp_path / "backup"
    shutil.copytree(directory, backup)

    counter = CountBatches()
    resumed = make_model(model_name, [counter]).fit(data(), checkpoint_dir=directory, resume=True)
    assert counter.seen == (EPOCHS - 2) * BATCHES_PER_EPOCH  # it continued from the end of epoch 2
    assert same_weights(weights(resumed), weights(reference))
    forecast = resumed.predict(num_samples=4, seed=1).samples
    assert np.array_equal(forecast, reference.predict(num_samples=4, seed=1).samples)
    if model_name == "csdi":  # the per-epoch records continue too
        assert [r["loss"] for r in resumed.predictor_.history] == [r["loss"] for r in reference.predictor_.history]

    # what makes it exact: CSDI needs torch's random stream restored; TimeGrad needs GluonTS's windows replayed
    # (numpy's stream and the sampler's state), even with torch's stream restored
    if model_name == "csdi":
        monkeypatch.setattr(resume, "_set_random_states", lambda state: None)
    else:
        monkeypatch.setattr(resume.ResumableBatches, "replay", lambda self, passes: None)
    drifted = make_model(model_name).fit(data(), checkpoint_dir=backup, resume=True)
    assert not same_weights(weights(drifted), weights(reference))


@pytest.mark.parametrize("model_name", ["timegrad", "csdi"])
def test_interrupted_fit_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path, monkeypatch, model_name):
    check_resume(model_name, interrupted_fit, tmp_path, monkeypatch)


@pytest.mark.slow  # a child process: imports alone take ~10 s
@pytest.mark.parametrize("model_name", ["timegrad", "csdi"])
def test_killed_fit_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path, monkeypatch, model_name):
    check_resume(model_name, killed_fit, tmp_path, monkeypatch)


def test_resuming_a_completed_fit_trains_nothing(tmp_path):
    directory = tmp_path / "ckpt"
    settings = dict(CSDI_FAST, epochs=2, num_batches_per_epoch=2)
    done = tsdiff.CSDI(prediction_length=6, **settings).fit(hourly_frame(), checkpoint_dir=directory)
    counter = CountBatches()
    again = tsdiff.CSDI(prediction_length=6, trainer_kwargs={"callbacks": [counter]}, **settings).fit(
        hourly_frame(), checkpoint_dir=directory, resume=True)
    assert counter.seen == 0 and same_weights(weights(again), weights(done))
    assert again.predictor_.history == done.predictor_.history


def test_checkpoints_refuse_another_fit(tmp_path):
    directory = tmp_path / "ckpt"
    settings = dict(CSDI_FAST, epochs=1, num_batches_per_epoch=1)
    tsdiff.CSDI(prediction_length=6, **settings).fit(hourly_frame(), checkpoint_dir=directory)
    with pytest.raises(ValueError, match="already holds a checkpoint.*resume=True"):
        tsdiff.CSDI(prediction_length=6, **settings).fit(hourly_frame(), checkpoint_dir=directory)
    with pytest.raises(ValueError, match="belongs to another fit.*the training data"):
        tsdiff.CSDI(prediction_length=6, **settings).fit(hourly_frame(seed=1), checkpoint_dir=directory, resume=True)
    with pytest.raises(ValueError, match="belongs to another fit.*lr=0.001 \\(now 0.002\\)"):
        tsdiff.CSDI(prediction_length=6, **dict(settings, lr=2e-3)).fit(hourly_frame(), checkpoint_dir=directory,
                                                                         resume=True)
    with pytest.raises(ValueError, match="resume=True needs checkpoint_dir"):
        tsdiff.CSDI(prediction_length=6, **settings).fit(hourly_frame(), resume=True)


@pytest.mark.parametrize("cls, settings", [(tsdiff.TimeGrad, FAST), (tsdiff.CSDI, CSDI_FAST)])
def test_checkpoint_dir_is_checked_before_any_work(tmp_path, monkeypatch, cls, settings):
    monkeypatch.setattr(cls, "_train", lambda *a, **k: pytest.fail("training started"))
    monkeypatch.setattr(cls, "_grid", lambda *a, **k: pytest.fail("the data was read"))
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    model = cls(prediction_length=6, **settings)
    with pytest.raises(ValueError, match="is a file; give a directory"):
        model.fit(hourly_frame(), checkpoint_dir=a_file)
    with pytest.raises(ValueError, match="is a file, not a directory"):
        model.fit(hourly_frame(), checkpoint_dir=a_file / "sub")
    with pytest.raises(TypeError, match="resume must be True or False"):
        model.fit(hourly_frame(), checkpoint_dir=tmp_path, resume="yes")


# -- 3. saves are atomic ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted_csdi():
    return tsdiff.CSDI(prediction_length=6, **CSDI_FAST).fit(hourly_frame())


def test_failed_save_leaves_the_previous_file_intact(tmp_path, monkeypatch, fitted_csdi):
    path = tmp_path / "new" / "model.tsd"
    fitted_csdi.save(path)  # a missing directory is created
    before = path.read_bytes()
    written = []

    def write_then_fail(self, filename, arcname=None, *args, **kwargs):
        if written:  # the manifest and one member are in the temporary file: fail half-way
            raise OSError("disk full")
        written.append(arcname)
        return original(self, filename, arcname, *args, **kwargs)

    original = zipfile.ZipFile.write
    monkeypatch.setattr(zipfile.ZipFile, "write", write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        fitted_csdi.save(path)
    assert written  # the writer did fail half-way
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.tsd"]  # no temporary file left
    monkeypatch.undo()
    assert np.isfinite(tsdiff.load(path).predict(num_samples=2).samples).all()


def test_save_refuses_unwritable_paths_before_serialising(tmp_path, monkeypatch, fitted_csdi):
    monkeypatch.setattr(tsdiff.CSDI, "_save_state", lambda *a: pytest.fail("serialised before the path check"))
    with pytest.raises(ValueError, match="is a directory; give a file name"):
        fitted_csdi.save(tmp_path)
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a directory"):
        fitted_csdi.save(tmp_path / "f" / "model.tsd")


# -- 4. bounded memory --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("windows, samples, features, length, channels, layers", [
    (4, 8, 3, 24, 16, 2), (1, 50, 1, 72, 64, 4), (30, 4, 2, 36, 32, 2), (2, 40, 8, 48, 32, 3)])
def test_csdi_memory_estimate_bounds_the_measured_peak(windows, samples, features, length, channels, layers):
    model = CSDIModel(target_dim=features, mask_strategy="random", residual_channels=channels,
                      residual_layers=layers, heads=4, num_diffusion_steps=3).eval()
    values = torch.randn(windows, length, features)
    given = (torch.rand(windows, length, features) > 0.3).float()
    with PeakTensorBytes() as probe:
        model.impute(values, given, num_samples=samples, generator=torch.Generator().manual_seed(0))
    estimate = csdi_sampling_memory_for(model, windows, samples, length, features)
    assert probe.peak <= estimate <= 2 * probe.peak


@pytest.mark.parametrize("windows, samples, series, horizon, channels, cell", [
    (1, 50, 4, 12, 8, "LSTM"), (2, 30, 30, 6, 32, "GRU"), (1, 20, 100, 4, 16, "LSTM")])
def test_timegrad_memory_estimate_bounds_the_measured_peak(windows, samples, series, horizon, channels, cell):
    model = TimeGradModel(freq="h", context_length=24, prediction_length=horizon, target_dim=series,
                          num_time_features=4, cell_type=cell, residual_channels=channels, residual_layers=4,
                          num_diffusion_steps=3).eval()
    T = model.past_length
    inputs = dict(target_dimension_indicator=torch.arange(series).expand(windows, series),
                  past_target=torch.rand(windows, T, series), past_observed_values=torch.ones(windows, T, series),
                  past_time_feat=torch.randn(windows, T, 4), future_time_feat=torch.randn(windows, horizon, 4))
    with PeakTensorBytes() as probe:
        model(**inputs, num_samples=samples, generator=torch.Generator().manual_seed(0))
    estimate = timegrad_sampling_memory(model, windows, samples)
    assert probe.peak <= estimate <= 2 * probe.peak


@pytest.fixture(scope="module")
def fitted_timegrad():
    return tsdiff.TimeGrad(prediction_length=6, **FAST).fit(hourly_frame())


def count_calls(monkeypatch, owner, name: str) -> list:
    calls, original = [], getattr(owner, name)

    def counted(self, *args, **kwargs):
        calls.append(kwargs.get("num_samples"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


@pytest.mark.parametrize("which", ["timegrad", "csdi"])
def test_huge_num_samples_is_refused_before_any_work(request, monkeypatch, which):
    model = request.getfixturevalue(f"fitted_{which}")
    net_class = TimeGradModel if which == "timegrad" else CSDIModel
    monkeypatch.setattr(net_class, "forward" if which == "timegrad" else "impute",
                        lambda *a, **k: pytest.fail("the network was asked for the samples"))
    with pytest.raises(SamplingMemoryError, match="num_samples=1000000000 needs about .* GB just to hold"):
        model.predict(num_samples=10**9)
    assert isinstance(SamplingMemoryError("x"), (MemoryError, ValueError))


@pytest.mark.parametrize("which", ["timegrad", "csdi"])
def test_a_call_over_the_budget_is_split_and_stays_reproducible(request, monkeypatch, which):
    model = request.getfixturevalue(f"fitted_{which}")
    net_class = TimeGradModel if which == "timegrad" else CSDIModel
    calls = count_calls(monkeypatch, net_class, "forward" if which == "timegrad" else "impute")
    whole = model.predict(num_samples=40, seed=3).samples
    assert calls == [40]  # a call that fits is drawn whole, exactly as before
    monkeypatch.setenv("TSDIFF_MEMORY_BUDGET", "1TB")
    assert np.array_equal(model.predict(num_samples=40, seed=3).samples, whole)
    monkeypatch.setenv("TSDIFF_MEMORY_BUDGET", "150kB")
    calls.clear()
    split = model.predict(num_samples=40, seed=3).samples
    assert len(calls) > 1 and sum(calls) == 40 and split.shape == whole.shape and np.isfinite(split).all()
    assert np.array_equal(model.predict(num_samples=40, seed=3).samples, split)  # same budget, same samples
    monkeypatch.setenv("TSDIFF_MEMORY_BUDGET", "2kB")
    # (TimeGrad draws a window per column of the frame, CSDI one for all of them)
    with pytest.raises(SamplingMemoryError, match="one sample of [12] window\\(s\\) needs"):
        model.predict(num_samples=1)


def test_memory_budget_setting_is_parsed():
    assert parse_bytes("8GB") == 8 * 10**9 and parse_bytes("512 MiB") == 512 * 2**20 and parse_bytes("1e6") == 10**6
    for bad in ("lots", "-1GB", "0", "3 parsecs"):
        with pytest.raises(ValueError, match="TSDIFF_MEMORY_BUDGET"):
            parse_bytes(bad)


# -- 5. long imputations: chunked, announced, with progress ------------------------------------------------------
class RecordingBar:
    """Stands in for tqdm: records the total, the updates and the notices."""

    made: list = []

    def __init__(self, total=None, disable=False, **kwargs):
        self.total, self.n, self.disable, self.notes = total, 0, disable, []
        RecordingBar.made.append(self)

    def update(self, k):
        self.n += k

    def write(self, text, file=None):
        self.notes.append(text)

    def close(self):
        pass


def test_long_imputation_is_chunked_announced_and_counted(monkeypatch, fitted_csdi):
    long = hourly_frame(400)
    windows = -(-400 // fitted_csdi.window_length)  # consecutive windows, the last one aligned with the end
    steps = CSDI_FAST["num_diffusion_steps"]
    whole = fitted_csdi.impute(long, num_samples=6, seed=2)
    calls = count_calls(monkeypatch, CSDIModel, "impute")
    monkeypatch.setattr(chunked, "tqdm", RecordingBar)
    monkeypatch.setattr(chunked, "LARGE_WORK_MACS", 0)  # announce even this small call
    monkeypatch.setenv("TSDIFF_MEMORY_BUDGET", "400kB")
    RecordingBar.made.clear()
    fitted_csdi.verbose = 1
    try:
        split = fitted_csdi.impute(long, num_samples=6, seed=2)
    finally:
        fitted_csdi.verbose = 0
    assert len(calls) > 1  # windows were split to fit the budget
    bar = RecordingBar.made[-1]
    assert (bar.total, bar.n) == (windows * steps, windows * steps)
    assert len(bar.notes) == 1 and f"{windows} windows × 6 samples × {steps} steps" in bar.notes[0]
    assert "estimated peak memory" in bar.notes[0]
    assert split.samples.shape == whole.samples.shape and np.isfinite(split.samples).all()
    assert np.array_equal(split.median.to_numpy()[split.observed], whole.median.to_numpy()[whole.observed])


def test_the_reported_imputation_would_be_announced():
    """The issue's case: CSDI's default network on a 17,420-row hourly frame, 100 samples, 50 steps."""
    model = CSDIModel(target_dim=1, mask_strategy="random")  # CSDI's defaults: 64 channels, 4 layers
    windows = -(-17420 // 72)  # prediction_length 24 with the default context of 48
    assert chunked.sampling_macs(model, windows, 100, 72, 1, 50) > chunked.LARGE_WORK_MACS
