"""Fixtures every folder's tests may use: the shared real data.  Each folder's own
fixtures live in its conftest.py (the viewers in napari/, the torch thread in
trackers/transformer/); tests/ itself is on the import path (pyproject.toml), so the
helper modules here (``mht_cases``, ``viewer_checks``) import from any folder."""

from __future__ import annotations

import pytest


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
