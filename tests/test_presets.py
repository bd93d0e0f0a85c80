"""Presets and ``--set``: every preset entry is a key its runner reads, and every key a runner reads is declared."""
from __future__ import annotations

import inspect
import json
import re

import pytest

from experiments import run
from experiments.models import MODELS, SUPPORTED, config_keys


@pytest.mark.parametrize("model", sorted(MODELS))
def test_preset_entries_are_keys_the_runner_reads(model):
    known = config_keys(model)
    files = sorted((run.PRESET_DIR / model).glob("*.json"))
    assert files, f"no presets for {model}"
    for path in files:
        assert path.stem in SUPPORTED[model], f"{path} is for a dataset {model} does not run on"
        for name, preset in json.loads(path.read_text()).items():
            unknown = set(preset) - known
            assert not unknown, f"{path.name} [{name}]: keys the {model} runner never reads: {sorted(unknown)}"


@pytest.mark.parametrize("model", ["timegrad", "csdi"])
def test_every_key_the_runner_reads_is_declared(model):
    source = inspect.getsource(__import__(MODELS[model], fromlist=["run"]))
    read = set(re.findall(r'config(?:\.get\(|\[)"([a-z_0-9]+)"', source))
    assert read, "the pattern no longer matches how the runner reads its config"
    assert read <= config_keys(model), sorted(read - config_keys(model))


def test_set_accepts_a_model_key_the_preset_leaves_at_its_default():
    preset = run.load_preset("timegrad", "exchange_rate_nips", "paper")
    assert "hidden_size" not in preset
    assert run.parse_overrides(["hidden_size=64"], preset, config_keys("timegrad")) == {"hidden_size": 64}
    with pytest.raises(ValueError, match="hidden_sise: not an entry of the preset.*other keys the model reads"):
        run.parse_overrides(["hidden_sise=64"], preset, config_keys("timegrad"))


@pytest.mark.parametrize("model", ["timegrad", "csdi", "deepar"])
def test_every_dataset_has_a_cpu_preset_budgeted_in_batches(model):
    """The issue's `cpu` presets: one per model and dataset, whose training budget is a batch count (it reproduces
    on any machine), never wall time."""
    for dataset in SUPPORTED[model]:
        preset = run.load_preset(model, dataset, "cpu")
        assert preset.get("max_train_seconds") is None, f"{model}/{dataset}: a cpu preset is budgeted in batches"
        batches = preset.get("num_batches") or preset["epochs"] * preset["num_batches_per_epoch"]
        assert 0 < batches <= 2500, (model, dataset, batches)
