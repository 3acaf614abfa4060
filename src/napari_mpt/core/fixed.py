"""Links a user has decided, for a tracker to respect: the re-solve of a proofread run.

``pinned`` links must be in every track set the tracker returns, ``forbidden`` ones in
none; both are ``(k, 2)`` detection rows ``(a, b)``, ``a`` in an earlier frame than
``b``.  The trackers that honour them say so in the registry (``Tracker.fixed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .data import Detections
from .errors import InputError


def _pairs(x: object) -> np.ndarray:
    return np.asarray(x, dtype=np.int64).reshape(-1, 2)


@dataclass(frozen=True, eq=False)
class FixedLinks:
    """Pinned and forbidden links between detection rows (see the module docstring)."""

    pinned: np.ndarray = field(default_factory=lambda: np.empty((0, 2), np.int64))
    forbidden: np.ndarray = field(default_factory=lambda: np.empty((0, 2), np.int64))

    def __post_init__(self) -> None:
        object.__setattr__(self, "pinned", _pairs(self.pinned))
        object.__setattr__(self, "forbidden", _pairs(self.forbidden))

    def __bool__(self) -> bool:
        return bool(len(self.pinned) or len(self.forbidden))

    def check(self, detections: Detections) -> None:
        """Refuse links a chain of detections cannot hold, naming the first."""
        n = len(detections)
        for name, links in (("pinned", self.pinned), ("forbidden", self.forbidden)):
            bad = np.flatnonzero((links < 0).any(axis=1) | (links >= n).any(axis=1))
            if len(bad):
                raise InputError(f"{name} links", f"{links[bad[0]].tolist()} names a row "
                                 f"outside the {n} detections", row=int(bad[0]))
            bad = np.flatnonzero(detections.frame[links[:, 0]] >= detections.frame[links[:, 1]])
            if len(bad):
                raise InputError(f"{name} links", f"{links[bad[0]].tolist()} does not go "
                                 "forward in time", row=int(bad[0]))
        for end, what in ((0, "leave"), (1, "reach")):
            rows, counts = np.unique(self.pinned[:, end], return_counts=True)
            if (counts > 1).any():
                raise InputError("pinned links", f"two pinned links {what} detection "
                                 f"{int(rows[counts > 1][0])}; a track is a chain")
        both = {tuple(x) for x in self.pinned.tolist()} & {tuple(x) for x in self.forbidden.tolist()}
        if both:
            raise InputError("fixed links", f"{sorted(both)[0]} is both pinned and forbidden")

    def keys(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Sorted ``a * width + b`` keys of the pinned and the forbidden links."""
        return (np.unique(self.pinned[:, 0] * width + self.pinned[:, 1]),
                np.unique(self.forbidden[:, 0] * width + self.forbidden[:, 1]))

    def held_by(self, links: np.ndarray) -> dict[str, int]:
        """How many pinned links ``links`` (``(k, 2)`` rows) make and forbidden ones it
        makes (a re-solve reports them: a pin outside a tracker's reach is not made)."""
        made = {tuple(x) for x in _pairs(links).tolist()}
        return {"pinned": len(self.pinned),
                "pinned_made": sum(tuple(x) in made for x in self.pinned.tolist()),
                "forbidden": len(self.forbidden),
                "forbidden_made": sum(tuple(x) in made for x in self.forbidden.tolist())}
