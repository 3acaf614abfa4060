"""Training, shared by both model kinds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ....core.errors import CheckpointError
from . import checkpoint as ckpt


def existing_run(out: Path, resume: bool, overwrite: bool,
                 mismatch: Callable[[dict[str, Any]], list[str]]) -> dict[str, Any] | None:
    """What to do with a checkpoint already at ``out``: its state when ``resume`` and the
    settings agree (``mismatch`` lists those that differ), None when there is none or it is
    to be replaced; otherwise a :class:`CheckpointError` saying how to proceed.  Shared by
    every model kind's training, so a run is never silently overwritten."""
    if not out.exists():
        return None
    if resume:
        state = ckpt.read(out)
        diff = mismatch(state)
        if diff:
            raise CheckpointError(f"{out}: cannot resume, the settings differ: " + "; ".join(diff))
        return state
    if not overwrite:
        raise CheckpointError(f"{out}: already exists; resume it (--resume) or replace it "
                              "(--overwrite)")
    return None
