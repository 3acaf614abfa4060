"""What a user decided about links while proofreading, and what it makes known.

A decision is about links between detection rows ``(a, b)`` (a track goes from detection
``a`` to detection ``b``, ``b`` later).  The keys follow napari-track-edit where it has
the same edit:

- *accept* (Y): the link is right;
- *break* (B): the link is wrong (napari-track-edit's B breaks the edge);
- *relink* (A, "add"): ``a``'s next detection is ``c``, not ``b``: ``(a, c)`` right,
  ``(a, b)`` wrong;
- *swap* (S): two links arriving in the same frame trade their ends (napari-track-edit
  swaps the incoming edges of two nodes at one time point): ``(a, b')`` and ``(a', b)``
  right, ``(a, b)`` and ``(a', b')`` wrong;
- undo (Z) and redo (R) walk the list of decisions.

A particle's track is a chain, so a right link ``(a, b)`` also says that every other link
leaving ``a`` or arriving at ``b`` is wrong (:meth:`Review.verdict`).  The right links are
a partial ground truth: :func:`reviewed_score` scores a run against it, restricted to the
links the review has a verdict on, in the measures and error layers the truth gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..core.data import Detections, Tracks
from ..core.errors import InputError
from .agreement import arriving_vertices
from .metrics import LinkError, LinkScore, detection_links

Link = tuple[int, int]
Kind = Literal["accept", "break", "relink", "swap"]
KINDS: tuple[str, ...] = ("accept", "break", "relink", "swap")


@dataclass(frozen=True)
class Decision:
    """One edit: its ``kind``, the links it declares ``right`` and ``wrong``."""

    kind: Kind
    right: tuple[Link, ...]
    wrong: tuple[Link, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "right": [list(x) for x in self.right],
                "wrong": [list(x) for x in self.wrong]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Decision:
        kind = d.get("kind")
        if kind not in KINDS:
            raise InputError("review session", f"unknown decision {kind!r}; expected one of "
                             f"{', '.join(KINDS)}")
        return cls(kind, tuple(_link(x) for x in d.get("right", ())),
                   tuple(_link(x) for x in d.get("wrong", ())))


def _link(x: Any) -> Link:
    a, b = (int(v) for v in x)
    if a < 0 or b < 0 or a == b:
        raise InputError("review session", f"{list(x)} is not a link between two detection rows")
    return a, b


class Review:
    """The decisions in order, with undo and redo; the links they make right or wrong.

    Replaying the decisions in order gives the state: a later decision overrides an
    earlier one about the same link, and a link made right removes every earlier right
    link that shares its start or its end (a chain has one link out, one in).
    """

    def __init__(self, decisions: list[Decision] | None = None) -> None:
        self.done: list[Decision] = list(decisions or [])
        self.undone: list[Decision] = []
        self._state: tuple[dict[Link, bool], dict[int, int], dict[int, int]] | None = None

    # --- edits ------------------------------------------------------------------------
    def _add(self, d: Decision) -> Decision:
        self.done.append(d)
        self.undone.clear()
        self._state = None
        return d

    def accept(self, link: Link) -> Decision:
        return self._add(Decision("accept", (_link(link),), ()))

    def break_link(self, link: Link) -> Decision:
        return self._add(Decision("break", (), (_link(link),)))

    def relink(self, link: Link, to: int) -> Decision:
        """``link``'s start goes on to detection ``to`` instead of ``link``'s end."""
        a, b = _link(link)
        if to == b:
            raise InputError("relink", f"detection {to} is already this link's end")
        return self._add(Decision("relink", (_link((a, to)),), ((a, b),)))

    def swap(self, link: Link, other: Link) -> Decision:
        """The two links trade their ends."""
        (a, b), (c, d) = _link(link), _link(other)
        if len({a, b, c, d}) < 4:
            raise InputError("swap", "the two links share a detection; pick two links of "
                             "different tracks")
        return self._add(Decision("swap", ((a, d), (c, b)), ((a, b), (c, d))))

    def undo(self) -> Decision | None:
        if not self.done:
            return None
        d = self.done.pop()
        self.undone.append(d)
        self._state = None
        return d

    def redo(self) -> Decision | None:
        if not self.undone:
            return None
        d = self.undone.pop()
        self.done.append(d)
        self._state = None
        return d

    # --- state ------------------------------------------------------------------------
    def _replay(self) -> tuple[dict[Link, bool], dict[int, int], dict[int, int]]:
        if self._state is None:
            said: dict[Link, bool] = {}
            out: dict[int, int] = {}     # start -> end of its right link
            into: dict[int, int] = {}    # end -> start
            for d in self.done:
                for link in d.wrong:
                    said[link] = False
                    if out.get(link[0]) == link[1]:
                        del out[link[0]], into[link[1]]
                for a, b in d.right:
                    for oa, ob in ((a, out.get(a)), (into.get(b), b)):
                        if oa is None or ob is None or (oa, ob) == (a, b):
                            continue
                        said[(oa, ob)] = False      # ruled out by the new right link
                        del out[oa], into[ob]
                    said[(a, b)] = True
                    out[a], into[b] = b, a
            self._state = (said, out, into)
        return self._state

    def right(self) -> list[Link]:
        """The links known right (sorted)."""
        return sorted(self._replay()[1].items())

    def wrong(self) -> list[Link]:
        """The links a decision called wrong (sorted); :meth:`verdict` also knows the ones
        a right link rules out."""
        return sorted(k for k, v in self._replay()[0].items() if not v)

    def verdict(self, link: Link) -> bool | None:
        """True (right), False (wrong: called so, or another link leaves its start or
        arrives at its end) or None (not known)."""
        said, out, into = self._replay()
        a, b = link
        if out.get(a) == b:
            return True
        if link in said and not said[link]:
            return False
        if a in out or b in into:
            return False
        return None

    def verdicts(self, links: np.ndarray) -> np.ndarray:
        """:meth:`verdict` of each ``(k, 2)`` link as 1 (right), 0 (wrong), -1 (unknown)."""
        out = np.full(len(links), -1, dtype=np.int64)
        for i, (a, b) in enumerate(np.asarray(links, dtype=np.int64).tolist()):
            v = self.verdict((a, b))
            if v is not None:
                out[i] = int(v)
        return out

    def __len__(self) -> int:
        return len(self.done)


def reviewed_score(tracks: Tracks, detections: Detections, review: Review) -> LinkScore:
    """``tracks`` scored against the review as a partial ground truth, on the links it
    has a verdict on: TP its links known right, FP its links known wrong, FN the right
    links it does not make; links without a verdict count nowhere.  ``wrong_link`` and
    ``errors`` are as for a truth, so the link-error layers draw them."""
    links = detection_links(tracks)
    keys = {(int(a), int(b)) for a, b in links}
    v = review.verdicts(links)
    right = review.right()
    fn = [x for x in right if x not in keys]
    tp, fp = int((v == 1).sum()), int((v == 0).sum())
    denom = tp + fp + len(fn)
    arrive = arriving_vertices(tracks)
    wrong = np.zeros(len(tracks), dtype=bool)
    wrong[arrive[v == 0]] = True
    errors = []
    xy, frame = detections.coords, detections.frame
    for (a, b), t in zip(links[v == 0].tolist(), tracks.track_id[arrive[v == 0]].tolist(),
                         strict=True):
        errors.append(LinkError("FP", int(frame[a]), int(frame[b]), tuple(xy[a]), tuple(xy[b]),
                                int(t), (-1, -1)))
    for i, (a, b) in enumerate(fn):
        errors.append(LinkError("FN", int(frame[a]), int(frame[b]), tuple(xy[a]), tuple(xy[b]),
                                i, (-1, -1)))
    errors.sort(key=lambda e: (e.frame_to, e.kind, e.track_id))
    return LinkScore(tp / denom if denom else 1.0, tp, fp, len(fn), errors, wrong)
