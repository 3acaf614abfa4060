"""Shared fixtures."""

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


@pytest.fixture
def realdata():
    """The project's shared real data (``../shared/realdata`` beside the checkout, or
    ``NAPARI_MPT_REALDATA``); tests that need it skip on a fresh clone without it."""
    import os
    from pathlib import Path

    env = os.environ.get("NAPARI_MPT_REALDATA")
    root = Path(__file__).resolve().parents[1]
    for path in ([Path(env)] if env else []) + [p / "shared" / "realdata" for p in root.parents[:2]]:
        if path.is_dir():
            return path
    pytest.skip("the shared real data (../shared/realdata) is not here")
