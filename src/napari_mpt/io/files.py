"""Writing without losing anything: every file of the package is written to a temporary
sibling and renamed over its target, so a failed run never leaves a half-written file and
never clobbers the old one.  Also :class:`TrackFile`, what a reader of another tool's
track format (GEFF, TrackMate XML) gives back."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.calibration import Calibration
from ..core.data import Detections, Tracks
from ..core.errors import InputError


@dataclass(frozen=True, eq=False)
class TrackFile:
    """A track file of another tool read whole: every spot as ``detections`` (row i is
    spot i), the ``tracks`` through them (``tracks.detection`` names the row), the
    file's ``calibration`` and its own ``metadata`` (format-specific, kept so that a
    writer can carry it on)."""

    detections: Detections
    tracks: Tracks
    calibration: Calibration = field(default_factory=Calibration)
    metadata: Any = None


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> Iterator[Any]:
    """Open a temporary sibling of ``path``; on success rename it over ``path``.

    The result gets ordinary permissions (the old file's, else 0666 less the umask), not
    the 0600 of the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, newline="" if "b" not in mode else None) as fh:
            yield fh
        try:
            perms = path.stat().st_mode & 0o777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            perms = 0o666 & ~umask
        os.chmod(tmp, perms)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: str | os.PathLike, data: Any) -> None:
    """``data`` as indented, key-sorted JSON, atomically."""
    with atomic_write(path) as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, replaceable: Any = None) -> Iterator[Path]:
    """:func:`atomic_write` for a format that is a folder (a GEFF zarr store): yields a
    path in a temporary sibling folder, where the writer makes its folder; on success that
    folder is renamed to ``path``.

    An existing ``path`` is replaced only when ``replaceable(path)`` says it holds what
    this writer writes (so a user's other folder is never deleted); it is first renamed
    aside, then removed after the new folder is in place, so a crash leaves either the
    old or the new folder, never a half-written one.  The folder gets the permissions
    ``mkdir`` gives.
    """
    import shutil

    from ..core.errors import InputError

    path = Path(path)
    if path.exists() and not (path.is_dir() and replaceable is not None and replaceable(path)):
        raise InputError(str(path), "exists and is not a folder this writer made; "
                         "refusing to replace it (choose another name)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    new, old = tmp / path.name, tmp / f"{path.name}.old"
    try:
        yield new
        if path.exists():   # set aside in the temporary folder, removed with it
            os.replace(path, old)
            try:
                os.replace(new, path)
            except BaseException:
                os.replace(old, path)
                raise
        else:
            os.replace(new, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_bytes(path: str | os.PathLike) -> bytes:
    """The file's bytes; a missing or unreadable file is one line naming it."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise InputError(str(path), "file not found") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read the file ({exc.__class__.__name__}: "
                         f"{exc})") from None


def parse_xml(parser: Any, data: bytes | str, name: str) -> None:
    """Feed ``data`` to an expat ``parser`` whose handlers are set; malformed XML is one
    line naming the file and the line (expat, not ElementTree, because it gives the line
    of the element a reader refuses)."""
    from xml.parsers import expat

    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise InputError(name, f"not an XML file ({expat.ErrorString(exc.code)})",
                         line=exc.lineno) from None
