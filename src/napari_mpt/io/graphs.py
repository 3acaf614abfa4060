"""Tracks as graphs, for the formats that store spots and links (GEFF, TrackMate XML).

A :class:`~napari_mpt.core.data.Tracks` is a set of chains: consecutive vertices of a track
are linked.  A file's graph may also split or merge; such a node ends its chain, so a
branched track is read as its tracklets (each a maximal unbranched path, the GEFF
definition of a tracklet).  A property of a link is kept on the vertex the link arrives
at, as a feature whose name says so (:func:`is_link_feature`: ``link_cost``,
``wrong_link``); the first vertex of a track has none (NaN).
"""

from __future__ import annotations

import numpy as np

from ..core.data import Tracks
from ..core.errors import InputError

LINK_PREFIX = "link_"


def is_link_feature(name: str) -> bool:
    """Whether a Tracks feature holds a property of the link into its vertex."""
    return name.startswith(LINK_PREFIX) or name.endswith("_link")


def link_feature(name: str) -> str:
    """The feature name of a file's link property ``name`` (``cost`` -> ``link_cost``)."""
    low = name.lower()
    return low if is_link_feature(low) else LINK_PREFIX + low


def track_links(tracks: Tracks) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``(a, b)`` of the linked vertices: consecutive vertices of one track."""
    a = np.flatnonzero(tracks.track_id[1:] == tracks.track_id[:-1])
    return a, a + 1


def chain_labels(source: str, frame: np.ndarray, src: np.ndarray, dst: np.ndarray,
                 names: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Tracklet of every node (0, 1, ... by first frame, then first row) and which of the
    edges ``src[k] -> dst[k]`` (node rows) join two nodes of one tracklet.

    An edge must go forward in time (an InputError naming ``source`` and the nodes' names,
    ``names[row]`` or the row, otherwise).  An edge out of a node with two successors, or
    into a node with two predecessors, joins two tracklets.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(frame)
    back = np.flatnonzero(frame[dst] <= frame[src])
    if len(back):
        k = int(back[0])
        label = names if names is not None else np.arange(n)
        raise InputError(source, f"link {label[src[k]]} -> {label[dst[k]]} goes from frame "
                         f"{frame[src[k]]} to frame {frame[dst[k]]}: links must go forward "
                         "in time")
    out_deg = np.bincount(src, minlength=n)
    in_deg = np.bincount(dst, minlength=n)
    inside = (out_deg[src] == 1) & (in_deg[dst] == 1)
    graph = coo_matrix((np.ones(int(inside.sum())), (src[inside], dst[inside])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    order = np.lexsort((np.arange(n), frame))
    first = np.full(comp.max(initial=-1) + 1, n, dtype=np.int64)
    np.minimum.at(first, comp[order], np.arange(n))
    rank = np.empty_like(first)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[comp], inside


def graph_tracks(source: str, frame: np.ndarray, coords: np.ndarray, src: np.ndarray,
                 dst: np.ndarray, detection: np.ndarray, node_features: dict[str, np.ndarray],
                 edge_features: dict[str, np.ndarray], track_names: np.ndarray | None = None,
                 names: np.ndarray | None = None) -> Tracks:
    """Tracks of a spots-and-links graph: one vertex per node (in tracklets, see
    :func:`chain_labels`), node features per vertex, edge features on the vertex each
    edge arrives at.  ``track_names`` (a tracklet property of the file, per node) give the
    track ids when each tracklet has one name and no two share one; else tracklets are
    numbered."""
    label, inside = chain_labels(source, frame, src, dst, names)
    tid = label
    if track_names is not None and len(label):
        names_of = np.full(label.max() + 1, -1, dtype=np.int64)
        names_of[label] = track_names
        if (np.array_equal(names_of[label], track_names)
                and len(np.unique(names_of)) == len(names_of)):
            tid = track_names.astype(np.int64)
    feats = dict(node_features)
    for name, values in edge_features.items():
        col = np.full(len(frame), np.nan)
        col[dst[inside]] = np.asarray(values, dtype=np.float64)[inside]
        feats[link_feature(name)] = col
    return Tracks(tid, frame, coords, detection, feats)
