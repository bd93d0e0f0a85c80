"""Seeded training that leaves the caller's random streams alone.

GluonTS draws training windows from numpy's global generator and torch initialises weights and draws noise from its
global one, so a reproducible run has to seed those globals. :func:`seeded` does that inside a fork: the states of
Python's ``random``, numpy and torch (CPU and every CUDA device) are saved first and restored on exit, so a fit
neither reseeds nor advances the user's own streams (``pl.seed_everything`` did both, and set environment variables).
"""
from __future__ import annotations

import contextlib
import random

import numpy as np
import torch


@contextlib.contextmanager
def seeded(seed: int | None):
    """Inside: Python, numpy and torch seeded with ``seed`` (as ``pl.seed_everything(seed)`` would); outside: the
    caller's generator states, as they were before. ``seed=None``: nothing is seeded or restored (the run draws from,
    and advances, the global streams: two such runs differ)."""
    if seed is None:
        yield
        return
    python_state, numpy_state = random.getstate(), np.random.get_state()
    cuda_devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=cuda_devices):
            random.seed(seed)
            np.random.seed(seed % 2**32)
            torch.manual_seed(seed)
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
