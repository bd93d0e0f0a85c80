"""The model file: custom GluonTS time features survive save/load, features that cannot be stored are refused at
save, a model saved for a GPU loads on a CPU-only machine, and files of the previous release load quietly."""
import json
import warnings
import zipfile

import numpy as np
import pytest
import torch
from gluonts.time_feature import Constant, day_of_week, hour_of_day

import tsdiff

from api_helpers import CSDI_FAST, FAST, hourly_frame

H = 4


@pytest.fixture(scope="module")
def y():
    return hourly_frame(n=80)


def test_gluonts_time_features_survive_save_and_load(y, tmp_path):
    features = [hour_of_day, day_of_week, Constant(value=0.5)]
    model = tsdiff.TimeGrad(prediction_length=H, **FAST, time_features=features).fit(y)
    loaded = tsdiff.load(model.save(tmp_path / "m.tsd"))
    assert loaded.time_features[:2] == [hour_of_day, day_of_week] and loaded.time_features[2].value == 0.5
    np.testing.assert_array_equal(loaded.predict(num_samples=5, seed=1).samples,
                                  model.predict(num_samples=5, seed=1).samples)


def test_unsavable_time_features_are_refused_at_save_naming_them(y, tmp_path):
    model = tsdiff.TimeGrad(prediction_length=H, **FAST, time_features=[hour_of_day, lambda index: index.hour * 0.0])
    model.fit(y)
    with pytest.raises(ValueError, match=r"cannot save time_features\[1\].*GluonTS's own.*covariates"):
        model.save(tmp_path / "m.tsd")
    assert not (tmp_path / "m.tsd").exists()


@pytest.mark.parametrize("cls,fast", [(tsdiff.TimeGrad, FAST), (tsdiff.CSDI, CSDI_FAST)], ids=["TimeGrad", "CSDI"])
def test_a_model_saved_for_a_gpu_loads_on_a_cpu_only_machine(cls, fast, y, tmp_path, monkeypatch):
    """The weights are plain arrays (``save_weights`` copies them off any device), so only the saved device
    setting can stand in the way: a file that says "cuda" loads on a machine without one, on the CPU."""
    model = cls(prediction_length=H, **fast).fit(y)
    expected = model.predict(num_samples=5, seed=2).samples
    model.set_params(device="cuda")  # as if trained on a GPU machine
    path = model.save(tmp_path / "gpu.tsd")
    assert json.loads(zipfile.ZipFile(path).read("manifest.json"))["params"]["device"] == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # this machine: CPU only
    loaded = tsdiff.load(path)
    assert loaded.device == "cpu"
    net = loaded.predictor_.prediction_net if cls is tsdiff.TimeGrad else loaded.predictor_.model
    assert {p.device.type for p in net.parameters()} == {"cpu"}
    np.testing.assert_array_equal(loaded.predict(num_samples=5, seed=2).samples, expected)
    assert tsdiff.load(path, device="cpu").device == "cpu"
    with pytest.raises(ValueError, match="device must be one of"):
        tsdiff.load(path, device="tpu")


def test_files_of_the_previous_release_load_quietly(y, tmp_path):
    """tsdiff 0.1's file format 2 stored ``progress``; it loads as ``verbose`` without a FutureWarning."""
    path = tsdiff.TimeGrad(prediction_length=H, **FAST).fit(y).save(tmp_path / "new.tsd")
    old = tmp_path / "old.tsd"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(old, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "manifest.json":
                manifest = json.loads(data)
                for key in ("verbose", "time_limit", "validation_fraction", "early_stopping_patience", "logger",
                            "log_dir"):
                    manifest["params"].pop(key)
                manifest["params"]["progress"] = False
                data = json.dumps(manifest)
            dst.writestr(name, data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        loaded = tsdiff.load(old)
    assert loaded.verbose == 0
