"""A checkpoint's model, whichever kind it is: the one place that chooses between the
encoder-decoder and the association transformer by the checkpoint's ``kind``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ...core.errors import CheckpointError
from .common.checkpoint import ASSOCIATION, ENCODER_DECODER, available_checkpoints, kind_of, read, resolve
from .encdec.checkpoint import build
from .encdec.model import TrackerTransformer

KINDS: dict[str, str] = {
    ENCODER_DECODER: "the paper's encoder-decoder: the same number of detections in "
                     "every frame (any N; slots = frame 0's detections)",
    ASSOCIATION: "association transformer: any number of detections per frame, missed "
                 "and spurious spots, empty frames, births and deaths",
}
"""What each model kind accepts, for menus and messages."""

_MODELS: dict[tuple[str, int, int, str], tuple[TrackerTransformer, dict[str, Any]]] = {}


def describe(data: dict[str, Any]) -> str:
    """One line saying what a checkpoint accepts: its stored ``description``, or its kind's,
    with the dimensionality it was built for."""
    stored = data.get("description")
    if isinstance(stored, str) and stored:
        return stored
    ndim = (data.get("model") or {}).get("ndim", 2)
    return f"{KINDS[kind_of(data)]}; {ndim}-D"


def checkpoint_descriptions() -> dict[str, str]:
    """Shipped checkpoint name -> one line on what it accepts (a menu's tooltip)."""
    out = {}
    for name, path in available_checkpoints().items():
        try:
            out[name] = describe(read(path))
        except CheckpointError as exc:
            out[name] = f"unreadable: {exc}"
    return out


def load_checkpoint(name_or_path: str | Path, device: str | torch.device = "cpu"
                    ) -> tuple[Any, dict[str, Any]]:
    """Model (eval mode, on ``device``) and the checkpoint's whole configuration.

    The configuration dict holds ``model`` (architecture, K_E, K_D, N), ``train`` (T, i,
    batches, noise, seed, ...), ``package_version``, ``progress``, ``kind``
    (``encoder-decoder`` or ``association``, which decides the model class),
    ``description`` (what it accepts) and ``path``.
    """
    path = resolve(name_or_path)
    data = read(path)
    model: torch.nn.Module
    if kind_of(data) == ASSOCIATION:
        from .association.model import build_association

        model = build_association(data, str(path))
    else:
        model, _ = build(data, str(path))
    config = {k: data.get(k) for k in ("model", "train", "package_version", "progress", "name")}
    config["kind"] = kind_of(data)
    config["description"] = describe(data)
    config["path"] = str(path)
    return model.to(device), config


def cached_model(name_or_path: str | Path, device: str
                 ) -> tuple[TrackerTransformer, dict[str, Any]]:
    """``load_checkpoint`` once per file version and device.

    Typed for the encoder-decoder (what ``reproduce`` reads); ``config["kind"]`` says
    which class was built."""
    path = resolve(name_or_path)
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, device)
    if key not in _MODELS:
        if len(_MODELS) > 8:
            _MODELS.clear()
        _MODELS[key] = load_checkpoint(path, device)
    return _MODELS[key]
