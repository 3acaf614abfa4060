"""Plain array containers shared by the simulator, the trackers, the metrics and the GUI.

Coordinates are napari-ordered: ``(y, x)`` in 2D, ``(z, y, x)`` in 3D.  A detection is
identified by its row index in the :class:`Detections` table, which is also the row of the
detections CSV, so a track vertex can always say which detection it took.  Frames may hold
different numbers of detections in the container (missed or spurious detections, births
and deaths fit); the trackers state what they accept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import InputError

AXES_2D = ("y", "x")
AXES_3D = ("z", "y", "x")


def axes_for(ndim: int) -> tuple[str, ...]:
    return AXES_2D if ndim == 2 else AXES_3D


@dataclass(frozen=True, eq=False)
class Detections:
    """Unlabelled measurements: ``frame[i]`` and ``coords[i]`` of detection ``i``.

    ``features`` holds extra per-detection numbers (a detector's amplitude, trackpy's mass,
    size, ecc, signal), one array of ``len(self)`` values per name; they travel with the
    detections through files and layers.
    """

    frame: np.ndarray
    coords: np.ndarray
    source: str = "detections"
    features: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        frame = np.asarray(self.frame)
        coords = np.asarray(self.coords, dtype=np.float64)
        if coords.ndim != 2 or coords.shape[1] not in (2, 3):
            raise InputError(self.source, f"coordinates must be (n, 2) or (n, 3), got {coords.shape}")
        if frame.shape != (coords.shape[0],):
            raise InputError(self.source, "frame and coordinate arrays differ in length")
        if frame.size and not np.issubdtype(frame.dtype, np.integer):
            as_int = frame.astype(np.int64)
            if not np.all(as_int == frame):
                bad = int(np.flatnonzero(as_int != frame)[0])
                raise InputError(self.source, f"frame {frame[bad]!r} is not an integer", row=bad)
            frame = as_int
        feats = {}
        for name, values in self.features.items():
            arr = np.asarray(values, dtype=np.float64)
            if arr.shape != (coords.shape[0],):
                raise InputError(self.source, f"feature {name!r} has {arr.shape} values for "
                                 f"{coords.shape[0]} detections")
            feats[name] = arr
        object.__setattr__(self, "frame", frame.astype(np.int64))
        object.__setattr__(self, "coords", coords)
        object.__setattr__(self, "features", feats)

    @property
    def ndim(self) -> int:
        return int(self.coords.shape[1])

    def __len__(self) -> int:
        return int(self.frame.shape[0])

    def frames(self) -> np.ndarray:
        """Sorted distinct frame numbers."""
        return np.unique(self.frame)

    def counts(self) -> dict[int, int]:
        f, c = np.unique(self.frame, return_counts=True)
        return {int(a): int(b) for a, b in zip(f, c, strict=True)}

    def by_frame(self) -> list[np.ndarray]:
        """Indices of the detections of each frame, frames in increasing order."""
        order = np.argsort(self.frame, kind="stable")
        bounds = np.flatnonzero(np.diff(self.frame[order])) + 1
        return np.split(order, bounds) if len(order) else []


@dataclass(frozen=True, eq=False)
class Tracks:
    """Track vertices, one row each, sorted by (track_id, frame).

    ``detection[i]`` is the detection row vertex ``i`` took, or -1 when it took none
    (ground truth of a particle whose detection is unknown).  ``features`` holds extra
    per-vertex columns (e.g. ``wrong_link``) written to CSV and used for colouring.
    """

    track_id: np.ndarray
    frame: np.ndarray
    coords: np.ndarray
    detection: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    features: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        tid = np.asarray(self.track_id, dtype=np.int64)
        frame = np.asarray(self.frame, dtype=np.int64)
        coords = np.asarray(self.coords, dtype=np.float64)
        # keep the width of an empty (0, D) array: a tracker may return no tracks at all
        coords = coords.reshape(len(tid), coords.shape[-1] if coords.ndim == 2 else -1)
        # no detection column given (None or empty): every vertex took an unknown detection
        det = (np.full(len(tid), -1, dtype=np.int64)
               if self.detection is None or np.size(self.detection) == 0
               else np.asarray(self.detection, dtype=np.int64))
        order = np.lexsort((frame, tid))
        feats = {k: np.asarray(v)[order] for k, v in self.features.items()}
        object.__setattr__(self, "track_id", tid[order])
        object.__setattr__(self, "frame", frame[order])
        object.__setattr__(self, "coords", coords[order])
        object.__setattr__(self, "detection", det[order])
        object.__setattr__(self, "features", feats)

    @property
    def ndim(self) -> int:
        return int(self.coords.shape[1])

    def __len__(self) -> int:
        return int(self.track_id.shape[0])

    def ids(self) -> np.ndarray:
        return np.unique(self.track_id)

    def napari_data(self) -> np.ndarray:
        """``(track_id, t, [z,] y, x)`` rows, the layout of a napari Tracks layer."""
        return np.column_stack([self.track_id, self.frame, self.coords]).astype(np.float64)

    def with_features(self, **features: np.ndarray) -> Tracks:
        merged = {**self.features, **features}
        return Tracks(self.track_id, self.frame, self.coords, self.detection, merged)

    @classmethod
    def from_assignment(cls, frames: np.ndarray, assignment: np.ndarray, coords: np.ndarray,
                        ) -> Tracks:
        """Tracks from a dense ``(T, N)`` detection-index table and ``(T, N, D)`` positions."""
        t, n = assignment.shape
        tid = np.tile(np.arange(n), t)
        frame = np.repeat(np.asarray(frames), n)
        return cls(tid, frame, coords.reshape(t * n, -1), assignment.reshape(-1))


@dataclass(frozen=True, eq=False)
class Simulation:
    """What the simulator returns: shuffled detections and the ground truth."""

    detections: Detections
    truth: Tracks
    params: object = None


@dataclass(frozen=True, eq=False)
class FrameStack:
    """Detections as dense arrays, for trackers that need N detections in every frame.

    ``coords[t, j]`` is detection ``index[t, j]`` (a row of the Detections table) of the
    t-th frame; ``frames[t]`` its frame number.
    """

    frames: np.ndarray
    coords: np.ndarray
    index: np.ndarray

    @property
    def n(self) -> int:
        return int(self.coords.shape[1])


def _frame_list(frames: np.ndarray, limit: int = 8) -> str:
    shown = ", ".join(str(int(f)) for f in frames[:limit])
    return shown + (f" … ({len(frames)} frames)" if len(frames) > limit else "")


def trackable_frames(detections: Detections) -> np.ndarray:
    """The sorted frame numbers present, after the checks every tracker needs: some
    detections, finite coordinates, at least two frames.  Raises :class:`InputError`
    naming the offending frames and the first bad row."""
    src = detections.source
    if len(detections) == 0:
        raise InputError(src, "no detections")
    bad = ~np.all(np.isfinite(detections.coords), axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise InputError(src, f"NaN or infinite coordinates in frame(s) "
                         f"{_frame_list(np.unique(detections.frame[rows]))}", row=int(rows[0]))
    frames = detections.frames()
    if len(frames) < 2:
        raise InputError(src, f"need at least 2 frames to track, got {len(frames)}")
    return frames


def stack_frames(detections: Detections) -> FrameStack:
    """Check that every frame holds the same number of finite detections and stack them.

    Raises :class:`InputError` naming the offending frames: fewer than two frames, NaN
    coordinates, frames whose count differs from the first frame's, or missing frames.
    """
    src = detections.source
    frames = trackable_frames(detections)
    groups = detections.by_frame()
    gaps = np.setdiff1d(np.arange(frames[0], frames[-1] + 1), frames)
    if len(gaps):
        raise InputError(src, f"frame(s) {_frame_list(gaps)} have no detections; every frame "
                         "between the first and the last needs the same number of detections")
    counts = np.array([len(g) for g in groups])
    n = counts[0]
    odd = frames[counts != n]
    if len(odd):
        raise InputError(
            src, f"frame {int(frames[0])} has {n} detections but frame(s) {_frame_list(odd)} "
            f"have {', '.join(str(c) for c in np.unique(counts[counts != n]))}; this tracker "
            "needs the same number of detections in every frame (no missed or spurious spots)")
    index = np.stack(groups)
    return FrameStack(frames, detections.coords[index], index)
