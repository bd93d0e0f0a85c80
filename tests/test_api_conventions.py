"""scikit-learn conventions of the pandas models: explicit signatures, get/set_params, clone, repr, fitted
attributes, seeding that leaves the user's random streams alone; defaults that agree between the class, the README
and the CLI."""
import inspect
import os
import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import tsdiff
from tsdiff.api.params import param_defaults, param_names
from tsdiff.diffusion import SamplingOptions
from tsdiff.models.csdi import MODEL_DEFAULTS
from tsdiff.models.timegrad import TimeGradEstimator

from api_helpers import CSDI_FAST, FAST, hourly_frame

ROOT = Path(__file__).resolve().parents[1]
H = 4
# TimeGradEstimator arguments the pandas TimeGrad sets itself (from the data, predict's arguments or validation)
SAMPLING_FIELDS = ("sampler", "sampling_steps", "eta")  # unset in the pandas models: api/defaults.py's choice
SET_BY_THE_API = {"freq", "prediction_length", "target_dim", "num_feat_dynamic_real", "num_past_feat_dynamic_real",
                  "num_feat_static_real", "cardinality", "prediction_batch_size",
                  "num_parallel_samples", "train_sampler", "validation_sampler", "num_batches_per_epoch", "seed",
                  "trainer_kwargs",
                  # the estimator's default rule: the last weights; with validation_fraction, the best validation epoch
                  "weights"}


@pytest.mark.parametrize("cls", [tsdiff.TimeGrad, tsdiff.CSDI])
def test_signature_is_explicit(cls):
    params = inspect.signature(cls.__init__).parameters
    kinds = {p.kind for name, p in params.items() if name != "deprecated"}
    assert inspect.Parameter.VAR_KEYWORD not in kinds
    assert params["deprecated"].kind is inspect.Parameter.VAR_KEYWORD  # old names only (tested below)
    for name in ("epochs", "batch_size", "lr", "time_limit", "validation_fraction", "early_stopping_patience",
                 "residual_layers", "num_diffusion_steps", "sampler", "verbose", "logger", "log_dir", "seed"):
        assert name in params
    # every argument is documented in the class docstring, and annotated
    for name in param_names(cls):
        assert name in cls.__doc__, f"{cls.__name__}'s docstring does not mention {name}"
        assert params[name].annotation is not inspect.Parameter.empty, name


def test_timegrad_mirrors_its_estimator():
    """Every TimeGradEstimator hyperparameter is a TimeGrad argument with the same default (a new one added to the
    estimator fails here until the pandas class lists it too)."""
    from tsdiff.api.defaults import TIMEGRAD_RECIPE

    ours = param_defaults(tsdiff.TimeGrad)
    theirs = param_defaults(TimeGradEstimator)
    assert set(TIMEGRAD_RECIPE) <= set(theirs)
    for name, default in theirs.items():
        if name in SET_BY_THE_API:
            continue
        assert name in ours, f"TimeGrad lacks TimeGradEstimator's {name}"
        expected = None if name in SAMPLING_FIELDS else TIMEGRAD_RECIPE.get(name, default)
        assert ours[name] == expected, f"{name}: TimeGrad {ours[name]!r}, expected {expected!r}"


def test_csdi_mirrors_the_model_defaults():
    """Every CSDIModel argument is a CSDI argument, with the model's default unless api/defaults.py's CSDI_RECIPE
    names a deliberate departure."""
    from tsdiff.api.defaults import CSDI_RECIPE

    ours = param_defaults(tsdiff.CSDI)
    assert set(CSDI_RECIPE) <= set(MODEL_DEFAULTS)
    for name, default in MODEL_DEFAULTS.items():
        expected = None if name in SAMPLING_FIELDS else CSDI_RECIPE.get(name, default)
        assert ours[name] == expected, f"{name}: CSDI {ours.get(name)!r}, expected {expected!r}"


@pytest.mark.parametrize("cls,name", [(tsdiff.TimeGrad, "TIMEGRAD_SAMPLING"), (tsdiff.CSDI, "CSDI_SAMPLING")])
def test_unset_sampler_is_the_recipes_and_a_given_sampler_keeps_its_own_defaults(cls, name):
    """``sampler``/``sampling_steps``/``eta`` left unset (None, what get_params shows) mean api/defaults.py's measured
    choice; a sampler given alone does not inherit that choice's step count or η."""
    from tsdiff.api import defaults

    recipe = SamplingOptions(**getattr(defaults, name))
    T = param_defaults(cls)["num_diffusion_steps"]
    model = cls(prediction_length=H)
    assert (model.sampler, model.sampling_steps, model.eta) == (None, None, None)
    assert model.default_sampling() == recipe
    assert cls(prediction_length=H, sampler="ddpm").default_sampling().check(T) == SamplingOptions("ddpm").check(T)
    other = "dpm-solver++" if recipe.sampler == "ddim" else "ddim"
    assert cls(prediction_length=H, sampler=other).default_sampling().check(T) == \
        SamplingOptions(other, T, 0.0).check(T)
    if recipe.sampler != "ddpm":
        short = cls(prediction_length=H, num_diffusion_steps=4)  # the default step count is capped at T
        assert short.default_sampling() == SamplingOptions(recipe.sampler, 4, recipe.eta)
        assert cls(prediction_length=H, sampling_steps=20).default_sampling() == \
            SamplingOptions(recipe.sampler, 20, recipe.eta)
        assert cls(prediction_length=H, eta=0.0).default_sampling() == \
            SamplingOptions(recipe.sampler, recipe.sampling_steps, 0.0)


@pytest.mark.parametrize("cls,fast", [(tsdiff.TimeGrad, FAST), (tsdiff.CSDI, CSDI_FAST)])
def test_get_set_params_clone_repr(cls, fast):
    model = cls(prediction_length=H, **fast)
    params = model.get_params(deep=True)
    assert list(params) == sorted(param_names(cls)) and params == model.get_params(deep=False)
    assert params["epochs"] == fast["epochs"] and params["verbose"] == 0
    twin = clone(model)
    assert type(twin) is cls and twin.get_params() == params and twin is not model
    assert model.set_params(epochs=3) is model and model.epochs == 3
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        model.set_params(epochs=0, batch_size=4)
    assert model.epochs == 3 and model.batch_size == fast["batch_size"]  # a refused set_params changes nothing
    with pytest.raises(ValueError, match="Invalid parameter"):
        model.set_params(no_such_argument=1)
    text = repr(cls(prediction_length=H, epochs=7))
    assert text == f"{cls.__name__}(epochs=7, prediction_length={H})"  # only what differs from the defaults


def test_fitted_attributes_end_in_underscore():
    model = tsdiff.TimeGrad(prediction_length=H, **FAST)
    assert not [k for k in vars(model) if k.endswith("_")]
    with pytest.raises(NotFittedError):  # scikit-learn's check; tsdiff.NotFittedError is a subclass
        check_is_fitted(model)
    model.fit(hourly_frame(n=60))
    check_is_fitted(model)
    public = {k for k in vars(model) if not k.startswith("_")}
    assert public - set(param_names(tsdiff.TimeGrad)) == {k for k in public if k.endswith("_")}
    assert {"predictor_", "grid_", "history_", "loss_curve_", "stop_reason_"} <= public
    refit = clone(model)
    with pytest.raises(tsdiff.NotFittedError):
        refit.predict()


def test_deprecated_names_warn_and_map():
    with pytest.warns(FutureWarning, match="'progress' is deprecated.*use 'verbose'"):
        model = tsdiff.TimeGrad(prediction_length=H, progress=False)
    assert model.verbose == 0 and "progress" not in model.get_params()
    with pytest.warns(FutureWarning, match="'num_steps' is deprecated"):
        assert tsdiff.TimeGrad(prediction_length=H, sampler="ddim", num_steps=5).sampling_steps == 5
    with pytest.raises(TypeError, match="unexpected keyword argument 'channels'"):
        tsdiff.TimeGrad(prediction_length=H, channels=8)  # CSDI's old names were never TimeGrad's
    with pytest.raises(TypeError, match="unexpected keyword argument 'hidden'"):
        tsdiff.CSDI(prediction_length=H, hidden=8)


def _draws():
    return random.random(), np.random.rand(), torch.rand(1).item()


@pytest.mark.parametrize("cls,fast", [(tsdiff.TimeGrad, FAST), (tsdiff.CSDI, CSDI_FAST)])
def test_seeding_leaves_the_global_streams_alone(cls, fast, one_torch_thread):
    """fit and predict neither reseed nor advance Python's, numpy's or torch's global generators, and the result
    does not depend on them; equal seeds still give bit-identical forecasts."""
    y = hourly_frame(n=80)
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    expected = _draws()
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    first = cls(prediction_length=H, **fast, seed=3).fit(y).predict(num_samples=5).samples
    assert _draws() == expected
    assert "PL_GLOBAL_SEED" not in os.environ
    random.seed(2), np.random.seed(2), torch.manual_seed(2)  # another global state: same result
    second = cls(prediction_length=H, **fast, seed=3).fit(y).predict(num_samples=5).samples
    assert np.array_equal(first, second)
    other = cls(prediction_length=H, **fast, seed=4).fit(y).predict(num_samples=5, seed=3).samples
    assert not np.array_equal(first, other)


def _readme_defaults() -> dict:
    """The README's table of defaults: ``| `name` | TimeGrad | CSDI | ...`` rows."""
    rows = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        match = re.match(r"\|\s*`(\w+)`\s*\|\s*`([^`]*)`\s*\|\s*`([^`]*)`\s*\|", line)
        if match:
            rows[match.group(1)] = (match.group(2), match.group(3))
    return rows


def test_readme_states_the_class_defaults():
    table = _readme_defaults()
    for cls, column in ((tsdiff.TimeGrad, 0), (tsdiff.CSDI, 1)):
        defaults = param_defaults(cls)
        for name, values in table.items():
            if values[column] == "–":
                assert name not in defaults, f"README says {cls.__name__} has no {name}"
                continue
            assert name in defaults, f"README lists {name}, which {cls.__name__} does not take"
            assert values[column] == repr(defaults[name]), (name, values[column], defaults[name])
    for name in ("epochs", "batch_size", "num_batches_per_epoch", "lr", "seed", "verbose", "time_limit"):
        assert name in table, f"the README's table of defaults lacks {name}"


def test_cli_help_states_the_class_defaults():
    from tsdiff import cli

    text = " ".join(cli.build_parser()._subparsers._group_actions[0].choices["forecast"].format_help().split())
    defaults, csdi = param_defaults(tsdiff.TimeGrad), param_defaults(tsdiff.CSDI)
    assert defaults == {**defaults, **{k: v for k, v in csdi.items() if k in ("num_batches_per_epoch", "seed")}}
    assert f"training epochs (default: timegrad {defaults['epochs']}, csdi {csdi['epochs']})" in text
    assert f"batches per epoch (default {defaults['num_batches_per_epoch']})" in text
    assert f"(default {defaults['seed']})" in text
