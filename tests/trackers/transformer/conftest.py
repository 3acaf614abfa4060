"""The transformer tests' fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture
def one_torch_thread():
    """The machine's cores are shared: one torch thread avoids oversubscription stalls."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
