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
import re
import zipfile
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


EXPECTED = "expected a napari-mpt transformer checkpoint (a .pt file written by napari-mpt train)"

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
    (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"), (b"II+\x00", "a TIFF image"),
    (b"MM\x00+", "a TIFF image"), (b"GIF8", "a GIF image"), (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"), (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
    (b"\x93NUMPY", "a NumPy array file"),
)
"""First bytes of files people pick by mistake, and what to call them."""


def _text_line(head: bytes) -> str | None:
    """The first line when ``head`` reads as text (UTF-8, no control characters)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:                # not just a character cut at the end
            return None
        text = head[:exc.start].decode("utf-8")
    if any(c < " " and c not in "\t\r\n\f" for c in text):
        return None
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 40 else line[:37] + "..."


def _what_else(path: Path, head: bytes) -> str | None:
    """What the file is, when its first bytes show it is no torch checkpoint (torch writes a
    zip archive, or in its legacy format a protocol-2 pickle); None when it may be one."""
    if not head:
        return "an empty file, not a torch checkpoint"
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            return f"{what}, not a torch checkpoint"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError):
            return "a truncated or damaged zip archive, not a readable torch checkpoint"
        return None if any(n.endswith("/data.pkl") for n in names) else (
            "a zip archive, not a torch checkpoint (no data.pkl in it)")
    if head.startswith(b"\x80\x02"):
        return None
    if head.startswith(b"\x80"):
        return "a Python pickle, not a torch checkpoint (refused: unpickling it could run code)"
    line = _text_line(head)
    if line is not None:
        return f"a text file (first line {line!r}), not a torch checkpoint"
    return f"not a torch checkpoint (unknown contents, starting {head[:8].hex(' ')})"


def read(path: str | Path) -> dict[str, Any]:
    """Load and check the structure of a checkpoint file (no model built).

    A file that is not a torch checkpoint is named for what it is (an image, a text
    file, a pickle...) before torch sees it; torch's own messages say little about that."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(512)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: file not found") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    other = _what_else(path, head)
    if other is not None:
        raise CheckpointError(f"{path}: {other}; {EXPECTED}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) ([\w.]+)", str(exc))
        held = f" ({found[1]})" if found else ""
        raise CheckpointError(
            f"{path}: refused: it holds Python objects{held}, not only tensors and plain "
            f"data, and loading them could run code; {EXPECTED}, which holds none") from None
    except Exception as exc:  # torch raises many kinds on a damaged file (RuntimeError, ...)
        first = str(exc).strip().split("\n")[0].split(". ")[0] or type(exc).__name__
        what = ("a Python pickle, not a torch checkpoint" if head.startswith(b"\x80") else
                "a damaged torch checkpoint")
        raise CheckpointError(f"{path}: {what} ({first}); {EXPECTED}") from None
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
