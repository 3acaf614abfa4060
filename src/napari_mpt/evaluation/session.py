"""A review session on disk: nothing the user decided is lost.

The session holds what it takes to go on where the user stopped: a fingerprint of the
detections (so it is never reopened on other data), the runs compared (label, method,
parameters), the union of their links with which run made each, the two orders the links
can be reviewed in (by priority, and a stratified random sample for error rates), which
one the user walks, and the decisions with their undo history.  It is JSON, written
through :func:`~napari_mpt.io.files.write_json` (a temporary file renamed over the old
one) after every decision.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.data import Detections, Tracks
from ..core.errors import InputError
from ..io.files import write_json
from .agreement import LinkSupport, link_confidence, link_support, priority_order
from .decisions import Decision, Review
from .metrics import detection_links
from .sampling import review_order

VERSION = 1
SAMPLE, PRIORITY = "sample", "priority"


def fingerprint(detections: Detections) -> str:
    """A hash of the detections' frames and coordinates (row order included)."""
    h = hashlib.sha1(str((len(detections), detections.ndim)).encode())
    h.update(np.ascontiguousarray(detections.frame, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(detections.coords, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


@dataclass
class ReviewSession:
    """One proofreading session (see the module docstring): ``priority`` and ``sample``
    hold union link indices in review order (:func:`~.agreement.priority_order`,
    :func:`~.sampling.review_order` drawn with ``seed``); ``mode`` says which one the
    queue shows."""

    detections: str
    runs: list[dict[str, Any]]
    support: LinkSupport
    priority: np.ndarray
    sample: np.ndarray
    mode: str = PRIORITY
    seed: int = 0
    review: Review = field(default_factory=Review)

    @property
    def order(self) -> np.ndarray:
        """The queue the user walks."""
        return self.sample if self.mode == SAMPLE else self.priority

    def to_dict(self) -> dict[str, Any]:
        return {"version": VERSION, "detections": self.detections, "runs": self.runs,
                "links": self.support.links.tolist(),
                "made_by": self.support.made_by.astype(int).tolist(),
                "priority": [int(i) for i in self.priority],
                "sample": [int(i) for i in self.sample], "mode": self.mode, "seed": self.seed,
                "decisions": [d.to_dict() for d in self.review.done],
                "undone": [d.to_dict() for d in self.review.undone]}

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "review session") -> ReviewSession:
        try:
            if d.get("version") != VERSION:
                raise InputError(source, f"is version {d.get('version')!r} of a review "
                                 f"session; this napari-mpt reads version {VERSION}")
            links = np.asarray(d["links"], dtype=np.int64).reshape(-1, 2)
            made = np.asarray(d["made_by"], dtype=bool).reshape(len(links), len(d["runs"]))
            orders = [np.asarray(d[k], dtype=np.int64) for k in ("priority", "sample")]
            for order in orders:
                if sorted(order.tolist()) != list(range(len(links))):
                    raise InputError(source, "its review orders do not list each of its "
                                     f"{len(links)} links once")
            mode = d.get("mode", PRIORITY)
            if mode not in (PRIORITY, SAMPLE):
                raise InputError(source, f"mode {mode!r} is neither {PRIORITY!r} nor {SAMPLE!r}")
            review = Review([Decision.from_dict(x) for x in d["decisions"]])
            review.undone = [Decision.from_dict(x) for x in d.get("undone", [])]
            return cls(str(d["detections"]), list(d["runs"]), LinkSupport(links, made),
                       orders[0], orders[1], mode, int(d.get("seed", 0)), review)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(source, f"is not a napari-mpt review session ({exc})") from None

    def check(self, detections: Detections) -> None:
        """Refuse to go on with detections other than the session's."""
        if fingerprint(detections) != self.detections:
            raise InputError(detections.source, "are not the detections this review session "
                             "was made on (their frames or coordinates differ)")

    def verdicts(self) -> dict[int, bool]:
        """The sample reviewed so far, for :func:`~.sampling.estimate_rates`: the links of
        the sample order up to the first without a verdict (whichever queue gave them).
        Only that prefix is a random sample of every cell; the verdicts after a skipped
        link are left out, since which of them are known depends on the decisions
        themselves."""
        known = self.review.verdicts(self.support.links[self.sample])
        stop = int(np.argmax(known < 0)) if (known < 0).any() else len(known)
        return {int(i): bool(v) for i, v in zip(self.sample[:stop], known[:stop], strict=True)}


def truth_errors(support: LinkSupport, truth: Tracks) -> np.ndarray | None:
    """Per union link: is it an error for some run (wrong and made by one, or right and
    missed by one)?  None when the truth names no detections."""
    if not (truth.detection >= 0).any():
        return None
    true = {(int(a), int(b)) for a, b in detection_links(truth)}
    right = np.array([(int(a), int(b)) in true for a, b in support.links], dtype=bool)
    return ~right | (support.support < support.made_by.shape[1])


def start_session(detections: Detections, tracks: list[Tracks], runs: list[dict[str, Any]],
                  seed: int = 0, truth: Tracks | None = None,
                  review: Review | None = None) -> ReviewSession:
    """A session on ``tracks`` (runs of ``detections``; ``runs`` describes each), its
    queues built; ``review`` carries earlier decisions over (its links are detection
    rows, so they hold whatever runs are compared)."""
    support = link_support(tracks)
    errors = truth_errors(support, truth) if truth is not None else None
    priority = priority_order(support, link_confidence(support, tracks), errors)
    return ReviewSession(fingerprint(detections), runs, support, priority,
                         review_order(support, seed), PRIORITY, seed, review or Review())


def save_session(path: str | os.PathLike, session: ReviewSession) -> None:
    """Write ``session`` to ``path`` atomically (the old file stays whole on a failure)."""
    write_json(path, session.to_dict())


def load_session(path: str | os.PathLike) -> ReviewSession:
    """The session saved at ``path``; an :class:`InputError` naming the file when it
    cannot be one."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise InputError(str(path), f"cannot be read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(str(path), f"is not JSON: {exc.msg}", line=exc.lineno) from None
    if not isinstance(data, dict):
        raise InputError(str(path), "is not a napari-mpt review session")
    return ReviewSession.from_dict(data, str(path))
