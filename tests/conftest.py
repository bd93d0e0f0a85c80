"""Shared fixtures."""
import os

import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """Run a test with one torch thread (2-core machines: avoids oversubscription), restoring the setting after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def no_lightning_seed_leak():
    """Benchmark code that seeds GluonTS's DeepAR (``lightning.seed_everything``) sets ``PL_GLOBAL_SEED``; restore the
    environment after every test, so a test that checks tsdiff leaves it unset sees only its own doing."""
    before = os.environ.get("PL_GLOBAL_SEED")
    yield
    if before is None:
        os.environ.pop("PL_GLOBAL_SEED", None)
    else:
        os.environ["PL_GLOBAL_SEED"] = before
