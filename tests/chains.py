"""Tracks written as chains of (frame, detection row), for the tests of links and their
review; coordinates do not matter there."""

from __future__ import annotations

import numpy as np

from napari_mpt.core.data import Tracks
from napari_mpt.evaluation.agreement import CONFIDENCE


def tracks(*chains, confidence=None) -> Tracks:
    """One track per chain; ``confidence``: the ``link_confidence`` of every vertex."""
    tid, frame, det = [], [], []
    for i, chain in enumerate(chains):
        for f, d in chain:
            tid.append(i)
            frame.append(f)
            det.append(d)
    feats = {} if confidence is None else {CONFIDENCE: np.asarray(confidence, float)}
    return Tracks(np.array(tid), np.array(frame), np.zeros((len(tid), 2)), np.array(det), feats)
