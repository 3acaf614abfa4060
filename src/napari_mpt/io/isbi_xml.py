"""The ISBI 2012 particle tracking challenge's track format, read and written.

The challenge (Chenouard et al., Nature Methods 2014) scores a submission given as::

    <root>
      <TrackContestISBI2012 snr="..." density="..." scenario="...">
        <particle>
          <detection t="0" x="12.5" y="30.25" z="0"/>
          ...
        </particle>
      </TrackContestISBI2012>
    </root>

one ``particle`` per track, one ``detection`` per vertex, ``t`` the frame and ``x, y, z``
in pixels (z = 0 in 2-D); TrackMate's "Export to ISBI challenge format" writes the same.
Our coordinates are napari-ordered, so ``x`` is the last axis.  File I/O (atomic writes)
lives in :mod:`napari_mpt.io`; this module only turns text into tracks and back.  It is
written with :mod:`xml.parsers.expat` rather than ElementTree because expat gives the line
of each element, so a bad file is refused with its line.
"""

from __future__ import annotations

import math
from xml.parsers import expat
from xml.sax.saxutils import quoteattr

import numpy as np

from ..core.data import Tracks
from ..core.errors import InputError
from .files import parse_xml

CONTENT = "TrackContestISBI2012"
TRACK = "particle"
SPOT = "detection"


def tracks_to_isbi_xml(tracks: Tracks, **attributes: str) -> str:
    """The XML text of ``tracks``, vertices in frame order, one particle per track id.

    Track ids are not part of the format (particles are anonymous), nor are which
    detection a vertex took or any feature.
    """
    attrs = "".join(f" {k}={quoteattr(str(v))}" for k, v in attributes.items())
    lines = ['<?xml version="1.0" encoding="UTF-8" standalone="no"?>', "<root>",
             f"<{CONTENT}{attrs}>"]
    _, starts = np.unique(tracks.track_id, return_index=True)
    ends = [*starts[1:], len(tracks)]
    for a, b in zip(starts, ends, strict=True):
        lines.append(f"<{TRACK}>")
        for i in range(a, b):   # Tracks are sorted by (track_id, frame)
            c = tracks.coords[i]
            z = repr(float(c[0])) if tracks.ndim == 3 else "0"
            lines.append(f'<{SPOT} t="{int(tracks.frame[i])}" x="{float(c[-1])!r}" '
                         f'y="{float(c[-2])!r}" z="{z}"/>')
        lines.append(f"</{TRACK}>")
    lines += [f"</{CONTENT}>", "</root>", ""]
    return "\n".join(lines)


def parse_isbi_xml(data: bytes | str, name: str) -> Tracks:
    """Tracks from challenge XML; particle k becomes track k (in file order).

    2-D unless ``z`` takes more than one value (2-D challenge files carry z = 0).  Raises
    :class:`InputError` naming ``name``, the line and the problem: not XML, no
    ``TrackContestISBI2012`` element, a detection outside a particle, a missing or
    non-numeric attribute, a fractional frame, two detections of a particle in one frame.
    """
    parser = expat.ParserCreate()
    stack: list[str] = []
    rows: list[tuple[int, int, float, float, float, int]] = []   # track, t, z, y, x, line
    state = {"particle": -1, "content": False}

    def number(attrs: dict[str, str], key: str, line: int) -> float:
        if key not in attrs:
            raise InputError(name, f"<{SPOT}> has no {key!r} attribute", line=line)
        try:
            v = float(attrs[key])
        except ValueError:
            raise InputError(name, f"<{SPOT}> {key}={attrs[key]!r} is not a number",
                             line=line) from None
        if not math.isfinite(v):
            raise InputError(name, f"<{SPOT}> {key}={attrs[key]!r} is not finite", line=line)
        return v

    def start(tag: str, attrs: dict[str, str]) -> None:
        line = parser.CurrentLineNumber
        if tag == CONTENT:
            state["content"] = True
        elif tag == TRACK:
            state["particle"] += 1
        elif tag == SPOT:
            if not stack or stack[-1] != TRACK:
                raise InputError(name, f"<{SPOT}> outside a <{TRACK}>", line=line)
            t = number(attrs, "t", line)
            if t != int(t) or t < 0:
                raise InputError(name, f"<{SPOT}> t={attrs['t']!r} is not a frame number "
                                 "(a whole number >= 0)", line=line)
            z = number(attrs, "z", line) if "z" in attrs else 0.0
            rows.append((state["particle"], int(t), z, number(attrs, "y", line),
                         number(attrs, "x", line), line))
        stack.append(tag)

    def end(tag: str) -> None:
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parse_xml(parser, data, name)
    if not state["content"]:
        raise InputError(name, f"not an ISBI 2012 challenge track file (no <{CONTENT}> element)")
    if not rows:
        raise InputError(name, f"no <{SPOT}> in the file")
    arr = np.array([r[:5] for r in rows], dtype=np.float64)
    tid, frame = arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64)
    key = tid * (int(frame.max()) + 1) + frame
    _, first, counts = np.unique(key, return_index=True, return_counts=True)
    if np.any(counts > 1):
        dup = int(np.setdiff1d(np.arange(len(key)), first)[0])
        raise InputError(name, f"particle {tid[dup] + 1} has two detections at t={frame[dup]}",
                         line=rows[dup][5])
    three_d = len(np.unique(arr[:, 2])) > 1
    coords = arr[:, 2:5] if three_d else arr[:, 3:5]
    return Tracks(tid, frame, coords)


def looks_like_isbi_xml(path: str, head: int = 4096) -> bool:
    """Cheap sniff for the napari reader: the content element within the first bytes."""
    try:
        with open(path, "rb") as fh:
            return CONTENT.encode() in fh.read(head)
    except OSError:
        return False
