"""CSV and JSON files users can open anywhere, read strictly and written atomically.

Readers accept columns in any order, extra columns, and trackpy's names (``particle`` for
the track id).  Any problem raises :class:`InputError` naming the file, the line and what
is wrong.  Writers go through a temporary file in the target folder and ``os.replace``,
so a failed run never leaves a half-written file and never clobbers the old one.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .data import Detections, Tracks, axes_for
from .errors import InputError

TRACK_ID_NAMES = ("track_id", "particle", "track", "id")


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


def _read_table(path: str | os.PathLike) -> tuple[str, list[str], list[list[str]]]:
    name = str(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except FileNotFoundError:
        raise InputError(name, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(name, f"cannot read the file ({exc.__class__.__name__}: {exc})") from None
    except csv.Error as exc:
        raise InputError(name, f"not a CSV file ({exc})") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise InputError(name, "the file is empty (expected a header line and data)")
    header = [c.strip().lower() for c in rows[0]]
    if len(rows) == 1:
        raise InputError(name, "the file has a header but no data rows")
    return name, header, rows[1:]


def _column(name: str, header: list[str], wanted: tuple[str, ...], what: str) -> int:
    for w in wanted:
        if w in header:
            return header.index(w)
    raise InputError(
        name, f"missing column {what!r} (accepted names: {', '.join(wanted)}; "
        f"found: {', '.join(header)})")


def _numbers(name: str, rows: list[list[str]], col: int, label: str, integer: bool,
             allow_nan: bool = False) -> np.ndarray:
    out = np.empty(len(rows), dtype=np.int64 if integer else np.float64)
    for i, r in enumerate(rows):
        line = i + 2
        if col >= len(r) or not r[col].strip():
            raise InputError(name, f"column {label!r} is empty", line=line)
        text = r[col].strip()
        try:
            v = float(text)
        except ValueError:
            raise InputError(name, f"column {label!r}: {text!r} is not a number", line=line) from None
        if not math.isfinite(v) and not allow_nan:
            raise InputError(name, f"column {label!r} is {text} (NaN or infinite)", line=line)
        if integer:
            if not math.isfinite(v) or v != int(v):
                raise InputError(name, f"column {label!r}: {text!r} is not an integer", line=line)
            v = int(v)
        out[i] = v
    return out


def _coords(name: str, header: list[str], rows: list[list[str]]) -> np.ndarray:
    axes = ("z", "y", "x") if "z" in header else ("y", "x")
    cols = [_column(name, header, (a,), a) for a in axes]
    return np.column_stack([_numbers(name, rows, c, a, False) for c, a in zip(cols, axes, strict=True)])


def _features(name: str, header: list[str], rows: list[list[str]], used: set[int]
              ) -> dict[str, np.ndarray]:
    """Every other column that holds numbers (NaN allowed) becomes a feature; text columns
    are skipped."""
    feats = {}
    for c, h in enumerate(header):
        if c in used or not h:
            continue
        with contextlib.suppress(InputError):
            feats[h] = _numbers(name, rows, c, h, False, allow_nan=True)
    return feats


def read_detections(path: str | os.PathLike) -> Detections:
    """Detections CSV: columns ``frame, y, x`` (and ``z``), any order; row i is detection i.
    Frames may hold any number of detections; other numeric columns become features."""
    name, header, rows = _read_table(path)
    frame_col = _column(name, header, ("frame", "t"), "frame")
    frame = _numbers(name, rows, frame_col, "frame", True)
    if np.any(frame < 0):
        bad = int(np.flatnonzero(frame < 0)[0])
        raise InputError(name, f"frame {frame[bad]} is negative", line=bad + 2)
    used = {frame_col, *(header.index(a) for a in ("z", "y", "x") if a in header)}
    return Detections(frame, _coords(name, header, rows), source=name,
                      features=_features(name, header, rows, used))


def read_tracks(path: str | os.PathLike) -> Tracks:
    """Tracks CSV (ours, a truth file, or trackpy's): ``track_id|particle, frame, y, x``;
    an optional ``detection`` column and any other numeric columns become features."""
    name, header, rows = _read_table(path)
    tid_col = _column(name, header, TRACK_ID_NAMES, "track_id")
    frame_col = _column(name, header, ("frame", "t"), "frame")
    tid = _numbers(name, rows, tid_col, header[tid_col], True)
    frame = _numbers(name, rows, frame_col, header[frame_col], True)
    coords = _coords(name, header, rows)
    det = np.full(len(tid), -1, dtype=np.int64)
    if "detection" in header:
        det = _numbers(name, rows, header.index("detection"), "detection", True)
    used = {tid_col, frame_col, *(header.index(a) for a in ("z", "y", "x") if a in header)}
    if "detection" in header:
        used.add(header.index("detection"))
    feats = _features(name, header, rows, used)
    key = tid * (int(frame.max()) + 1) + frame
    if len(np.unique(key)) != len(key):
        _, first = np.unique(key, return_index=True)
        dup = int(np.setdiff1d(np.arange(len(key)), first)[0])
        raise InputError(name, f"track {tid[dup]} has two vertices in frame {frame[dup]}",
                         line=dup + 2)
    return Tracks(tid, frame, coords, det, feats)


def _fmt(v: float) -> str:
    return repr(float(v)) if isinstance(v, (float, np.floating)) else str(v)


def write_detections(path: str | os.PathLike, detections: Detections) -> None:
    """``frame,[z,]y,x`` plus one column per feature; row i is detection i."""
    axes = axes_for(detections.ndim)
    names = list(detections.features)
    cols = [detections.features[k] for k in names]
    with atomic_write(path) as fh:
        w = csv.writer(fh)
        w.writerow(["frame", *axes, *names])
        for i, (f, c) in enumerate(zip(detections.frame, detections.coords, strict=True)):
            w.writerow([int(f), *(_fmt(v) for v in c), *(_fmt(col[i]) for col in cols)])


def write_tracks(path: str | os.PathLike, tracks: Tracks) -> None:
    """``track_id,frame,[z,]y,x,detection`` plus one column per feature."""
    axes = axes_for(tracks.ndim)
    feats = list(tracks.features)
    with atomic_write(path) as fh:
        w = csv.writer(fh)
        w.writerow(["track_id", "frame", *axes, "detection", *feats])
        cols = [tracks.features[k] for k in feats]
        for i in range(len(tracks)):
            w.writerow([int(tracks.track_id[i]), int(tracks.frame[i]),
                        *(_fmt(v) for v in tracks.coords[i]), int(tracks.detection[i]),
                        *(_fmt(c[i]) if np.issubdtype(np.asarray(c).dtype, np.floating)
                          else int(c[i]) for c in cols)])


def write_json(path: str | os.PathLike, data: Any) -> None:
    with atomic_write(path) as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
