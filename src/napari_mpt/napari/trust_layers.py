"""The layers of the trust tools, as data (no Qt): where two runs disagree, where several
do not all agree, what a review decided, and the link under review.

Each link is drawn as its own two-vertex track (as the link-error layers draw FP and FN),
coloured by a 0/1 feature through a two-colour map whose name says what it draws; the
colours avoid the tracks' orange-green-blue and the errors' magenta and cyan.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from psygnal import Signal

from ..core.data import Detections
from ..core.errors import MPTError
from ..evaluation.agreement import Disagreement, LinkSupport, disagreement
from ..evaluation.decisions import Review
from .layers import _two_colors, mpt_meta, tracks_from_layer
from .runs import RunRecord

ONLY_A_COLOR = (1.0, 0.8, 0.0, 1.0)      # gold: a link only run A makes
ONLY_B_COLOR = (0.65, 0.35, 1.0, 1.0)    # violet: a link only run B makes
FEW_COLOR = (1.0, 1.0, 1.0, 1.0)         # white: a link few of the runs make
MANY_COLOR = (1.0, 0.45, 0.45, 1.0)      # salmon: a link most of them make
RIGHT_COLOR = (0.2, 1.0, 0.4, 1.0)       # green: reviewed right
WRONG_COLOR = (1.0, 0.15, 0.15, 1.0)     # red: reviewed wrong
CURRENT_COLOR = "white"                  # the link under review
ALTERNATIVE_COLOR = "orange"             # the other links leaving or reaching its spots
PICKED_COLOR = "cyan"                    # the spot picked for relink or swap
DISAGREEMENT_MAP = "gold only A, violet only B"
CONTESTED_MAP = "white few runs, salmon most"
REVIEWED_MAP = "red wrong, green right"


def colormaps() -> dict[str, Any]:
    """``color_by`` colormaps of the trust layers' features, registered under names
    that say what they draw (the layer controls show them)."""
    from napari.utils.colormaps import AVAILABLE_COLORMAPS, ensure_colormap

    maps = {"side": _two_colors(DISAGREEMENT_MAP, ONLY_A_COLOR, ONLY_B_COLOR),
            "share": _two_colors(CONTESTED_MAP, FEW_COLOR, MANY_COLOR),
            "verdict": _two_colors(REVIEWED_MAP, WRONG_COLOR, RIGHT_COLOR)}
    for cmap in maps.values():
        if cmap.name not in AVAILABLE_COLORMAPS:
            ensure_colormap(cmap)
    return maps


def link_tracks(links: np.ndarray, detections: Detections, **features: np.ndarray
                ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Tracks-layer data ``(id, t, [z,] y, x)`` with each link its own two-vertex track,
    and the per-link ``features`` repeated on both vertices (plus ``from``/``to``: the
    detection rows)."""
    links = np.asarray(links, dtype=np.int64).reshape(-1, 2)
    ends = links.reshape(-1)                       # a0, b0, a1, b1, ...
    ids = np.repeat(np.arange(len(links)), 2)
    data = np.column_stack([ids, detections.frame[ends], detections.coords[ends]])
    feats = {k: np.repeat(np.asarray(v), 2) for k, v in features.items()}
    feats["from"] = np.repeat(links[:, 0], 2)
    feats["to"] = np.repeat(links[:, 1], 2)
    return data.astype(np.float64), feats


def disagreement_data(d: Disagreement, detections: Detections
                      ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The links only A makes (``side`` 0) and only B makes (``side`` 1)."""
    links = np.concatenate([d.only_a, d.only_b]).reshape(-1, 2)
    side = np.r_[np.zeros(len(d.only_a), np.int64), np.ones(len(d.only_b), np.int64)]
    return link_tracks(links, detections, side=side)


def contested_data(support: LinkSupport, detections: Detections
                   ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The links not every run makes, with how many do (``runs``) and what share."""
    at = support.contested()
    n = support.made_by.shape[1]
    runs = support.support[at]
    return link_tracks(support.links[at], detections, runs=runs, share=runs / max(n, 1))


def reviewed_data(review: Review, detections: Detections
                  ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The partial ground truth: links reviewed right (``verdict`` 1) and wrong (0)."""
    right, wrong = review.right(), review.wrong()
    links = np.array(right + wrong, dtype=np.int64).reshape(-1, 2)
    verdict = np.r_[np.ones(len(right), np.int64), np.zeros(len(wrong), np.int64)]
    return link_tracks(links, detections, verdict=verdict)


def link_lines(link: tuple[int, int], detections: Detections) -> list[np.ndarray]:
    """The link as a line in every frame from its start's to its end's, so it shows
    whichever of those frames the time slider is on."""
    a, b = link
    fa, fb = int(detections.frame[a]), int(detections.frame[b])
    xa, xb = detections.coords[a], detections.coords[b]
    return [np.array([[t, *xa], [t, *xb]], dtype=np.float64)
            for t in range(min(fa, fb), max(fa, fb) + 1)]


def spot_marker(row: int, detections: Detections, radius: float = 2.5) -> np.ndarray:
    """A square around detection ``row`` in its frame (an ellipse's bounding box)."""
    t, c = int(detections.frame[row]), detections.coords[row]
    lo, hi = c[-2:] - radius, c[-2:] + radius
    rest = list(c[:-2])
    return np.array([[t, *rest, lo[0], lo[1]], [t, *rest, lo[0], hi[1]],
                     [t, *rest, hi[0], hi[1]], [t, *rest, hi[0], lo[1]]], dtype=np.float64)


class TrustEvents:
    """``changed`` is emitted when a run's trust figures (its estimated error rate) change,
    so that the Track widget's run table shows them."""

    changed = Signal()


TRUST_EVENTS = TrustEvents()


def with_trust(records: list[RunRecord], layers: list[Any]) -> list[RunRecord]:
    """``records`` with each run's disagreement with every other run of ``records`` and
    its estimated error rate (``metadata["napari_mpt"]["error_rate"]``, written by the
    Review dock), read from the runs' result ``layers``."""
    by_label = {mpt_meta(x).get("label"): x for x in layers}
    tracks = {}
    for r in records:
        layer = by_label.get(r.label)
        if layer is None:
            continue
        try:
            t = tracks_from_layer(layer)
        except MPTError:
            continue
        if (t.detection >= 0).any():
            tracks[r.label] = t
    out = []
    for r in records:
        share = ({other: disagreement(tracks[r.label], t).share
                  for other, t in tracks.items() if other != r.label}
                 if r.label in tracks else {})
        rate = mpt_meta(by_label[r.label]).get("error_rate") if r.label in by_label else None
        out.append(dataclasses.replace(r, disagree=share,
                                       error_rate=tuple(rate[:3]) if rate else None))
    return out
