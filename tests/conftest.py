"""Shared fixtures."""
import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """Run a test with one torch thread (2-core machines: avoids oversubscription), restoring the setting after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
