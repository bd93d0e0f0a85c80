"""The Gaussian random-walk baseline: its sample paths and its runner."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from experiments import run
from experiments.models.baselines import random_walk_samples
from tsdiff.data import present_locally


def test_random_walk_paths_have_the_closed_form_moments():
    # changes over the last 4 steps: +1, -1, +1, -1 → σ = 1; earlier (larger) changes fall outside the window
    history = np.array([0.0, 50.0, 10.0, 11.0, 10.0, np.nan, 11.0, 10.0])
    paths = random_walk_samples(history, prediction_length=3, num_samples=200_000, window=4,
                                rng=np.random.default_rng(0))
    assert paths.shape == (200_000, 3)
    np.testing.assert_allclose(paths.mean(0), [10.0] * 3, atol=0.02)
    np.testing.assert_allclose(paths.var(0), [1.0, 2.0, 3.0], rtol=0.02)  # Var after k steps = k σ²
    flat = random_walk_samples(np.array([np.nan, 4.0]), 2, 5, 10, np.random.default_rng(0))
    np.testing.assert_array_equal(flat, np.full((5, 2), 4.0))  # one value: no step size, a flat forecast
    with pytest.raises(ValueError, match="no observed value"):
        random_walk_samples(np.array([np.nan, np.nan]), 2, 5, 10, np.random.default_rng(0))


@pytest.mark.skipif(not os.environ.get("TSDIFF_DATA") or not present_locally("exchange_rate_nips"),
                    reason="TSDIFF_DATA unset or exchange_rate_nips not present")
def test_random_walk_run_is_seeded_and_scored(capsys, tmp_path):
    argv = ["--model", "random_walk", "--dataset", "exchange_rate_nips", "--threads", "1"]
    for seed, out in ((0, "a"), (0, "b"), (1, "c")):
        assert run.main(argv + ["--seed", str(seed), "--out", str(tmp_path / out)]) == 0
    capsys.readouterr()
    a, b, c = (json.loads(next((tmp_path / o).glob("*.json")).read_text())["metrics"] for o in "abc")
    scores = lambda m: {k: v for k, v in m.items() if k != "sample_seconds"}  # noqa: E731
    assert scores(a) == scores(b) and a["crps"] != c["crps"]  # same seed, same samples
    assert 0 < a["crps"] < 0.02 and 0 < a["crps_sum"] < 0.02  # a sensible forecast of ~1-valued rates
    assert 0.5 < a["coverage_80"] < 1.0  # a real spread, unlike the point forecast of seasonal naive
    with pytest.raises(SystemExit) as exc:  # a usage error, not a traceback
        run.main(argv + ["--set", "window=0", "--out", str(tmp_path / "bad")])
    assert exc.value.code == 2 and "random_walk: window must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists() or not list((tmp_path / "bad").glob("*.json"))
