"""Checkpoint files: save atomically, load safely, say clearly what does not fit.

A checkpoint is a plain dict (format tag, model configuration, training parameters,
package version, progress, weights, optimiser state) written by ``torch.save`` and read
only with ``torch.load(weights_only=True)``, which refuses any pickle that would import
or call something, so opening a checkpoint can never run code.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from ...core.errors import CheckpointError
from ...core.params import TrainParams
from ...io import atomic_write
from .config import ModelConfig
from .model import TrackerTransformer

FORMAT = "napari-mpt-transformer"
FORMAT_VERSION = 1
CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"


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


def build(data: dict[str, Any], source: str) -> tuple[TrackerTransformer, ModelConfig]:
    """The model a checkpoint dict describes, with its weights loaded."""
    cfg = ModelConfig.from_checkpoint(data["model"], source)
    model = TrackerTransformer(cfg)
    state = data["state_dict"]
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state)
                   if not isinstance(state[k], torch.Tensor) or state[k].shape != expected[k].shape)
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing weights {', '.join(missing[:4])}")
        if unexpected:
            parts.append(f"unexpected weights {', '.join(unexpected[:4])}")
        if wrong:
            k = wrong[0]
            got = tuple(state[k].shape) if isinstance(state[k], torch.Tensor) else type(state[k])
            parts.append(f"weight {k} has shape {got}, the configuration needs "
                         f"{tuple(expected[k].shape)}")
        raise CheckpointError(f"{source}: weights do not fit the stored configuration: "
                              + "; ".join(parts))
    model.load_state_dict(state)
    model.eval()
    return model, cfg


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
    if data.get("kind") == "association":
        from .assoc_model import build_association

        model = build_association(data, str(path))
    else:
        model, _ = build(data, str(path))
    config = {k: data.get(k) for k in ("model", "train", "package_version", "progress", "name")}
    config["kind"] = kind_of(data)
    config["description"] = describe(data)
    config["path"] = str(path)
    return model.to(device), config


KINDS: dict[str, str] = {
    "encoder-decoder": "the paper's encoder-decoder: the same number of detections in "
                       "every frame (any N; slots = frame 0's detections)",
    "association": "association transformer: any number of detections per frame, missed "
                   "and spurious spots, empty frames, births and deaths",
}
"""What each model kind accepts, for menus and messages."""


def kind_of(data: dict[str, Any]) -> str:
    """``association`` or ``encoder-decoder`` (a checkpoint without a kind: the paper's)."""
    return "association" if data.get("kind") == "association" else "encoder-decoder"


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


def save(path: str | Path, payload: dict[str, Any]) -> None:
    """Write a checkpoint dict atomically (never a half-written file)."""
    with atomic_write(path, "wb") as fh:
        torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, **payload}, fh)


def check_fits(cfg: ModelConfig, n: int, ndim: int, source: str) -> None:
    """CheckpointError unless the data has the model's dimensionality.

    Any fixed number of particles is accepted: the weights hold one query per slot, shared
    by all slots (slots are frame 0's detections), so nothing in them depends on N.  The
    ``particles`` a checkpoint records is the N it was trained on, not a limit.
    """
    if n < 1:
        raise CheckpointError(f"{source}: the data has no detections in its first frame")
    if ndim != cfg.ndim:
        raise CheckpointError(f"{source}: the model was built for {cfg.ndim}D coordinates but "
                              f"the data is {ndim}D")


def train_params_of(checkpoint: dict[str, Any] | str | Path) -> TrainParams:
    """The TrainParams a checkpoint (a shipped name, a path, or a dict from :func:`read`)
    was trained with.

    A setting its ``train`` record lacks (written before the setting existed) takes its
    default, which is the value that was hard-coded then; a setting this version does
    not know (written by a newer one) is left out.
    """
    data = checkpoint if isinstance(checkpoint, dict) else read(resolve(checkpoint))
    stored = data.get("train") or {}
    names = set(TrainParams.defaults())
    return TrainParams.from_dict({k: v for k, v in stored.items() if k in names})
