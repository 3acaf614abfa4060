"""Checkpoint files, for both model kinds: find, save atomically, read safely, say
clearly what a file is not.

A checkpoint is a plain dict (format tag, kind, model configuration, training
parameters, package version, progress, weights, optimiser state) written by
``torch.save`` and read only with ``torch.load(weights_only=True)``, which refuses any
pickle that would import or call something, so opening a checkpoint can never run code.
Building a model from one is its kind's business (``encdec.checkpoint``,
``association.model``); choosing between them, the package's (``loading``).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from ....core.errors import CheckpointError
from ....io import atomic_write

FORMAT = "napari-mpt-transformer"
FORMAT_VERSION = 1
CHECKPOINT_DIR = Path(__file__).resolve().parents[1] / "checkpoints"
"""The shipped checkpoints, in ``trackers/transformer/checkpoints``."""
ASSOCIATION = "association"
"""``kind`` of an association-model checkpoint (absent: the paper's encoder-decoder)."""
ENCODER_DECODER = "encoder-decoder"
ASSOCIATION_CHECKPOINT = "association"
"""The shipped association checkpoint's name."""


def available_checkpoints() -> dict[str, Path]:
    """Shipped checkpoints: name (file stem) -> path inside the installed package; the
    paper's encoder-decoders first (menus default to the first), then ``association``."""
    paths = sorted(CHECKPOINT_DIR.glob("*.pt"), key=lambda p: (p.stem == "association", p.stem))
    return {p.stem: p for p in paths}


def resolve(name_or_path: str | Path) -> Path:
    """A shipped name, or a path to a ``.pt`` file; CheckpointError if neither exists."""
    text = str(name_or_path)
    shipped = available_checkpoints()
    if text in shipped:
        return shipped[text]
    path = Path(text).expanduser()
    if path.is_file():
        return path
    if path.exists():
        raise CheckpointError(f"{text}: is not a file")
    looks_like_name = path.suffix == "" and len(path.parts) == 1
    if looks_like_name:
        names = ", ".join(shipped) or "none"
        raise CheckpointError(f"{text}: no shipped checkpoint has this name and no such file "
                              f"exists (shipped: {names})")
    raise CheckpointError(f"{text}: file not found")


def read(path: str | Path) -> dict[str, Any]:
    """Load and check the structure of a checkpoint file (no model built)."""
    path = Path(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: file not found") from None
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path}: refused to load: it holds Python objects other than tensors and plain "
            f"data (a pickle that could run code; napari-mpt checkpoints never do). "
            f"torch said: {first}") from None
    except Exception as exc:  # torch raises many kinds on garbage (KeyError, EOFError...)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable torch checkpoint (corrupt or "
                              f"truncated?): {first}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a napari-mpt transformer checkpoint (no "
                              f"'format': '{FORMAT}' entry)")
    if data.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {data.get('format_version')!r}"
                              f" is not supported (this napari-mpt reads {FORMAT_VERSION})")
    for key in ("model", "state_dict"):
        if not isinstance(data.get(key), dict):
            raise CheckpointError(f"{path}: the checkpoint has no '{key}' mapping")
    return data


def save(path: str | Path, payload: dict[str, Any]) -> None:
    """Write a checkpoint dict atomically (never a half-written file)."""
    with atomic_write(path, "wb") as fh:
        torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, **payload}, fh)




def kind_of(data: dict[str, Any]) -> str:
    """``association`` or ``encoder-decoder`` (a checkpoint without a kind: the paper's)."""
    return ASSOCIATION if data.get("kind") == ASSOCIATION else ENCODER_DECODER
