"""The field's tracking measures, from ``traccuracy``, beside ours: edge precision, recall
and F1, the Cell Tracking Challenge's DET, LNK and TRA, and CHOTA.

Both track sets become traccuracy ``TrackingGraph`` s of points (node: a vertex with
``t`` and its coordinates; edge: consecutive vertices of a track, so a link across a gap
is one "skip" edge), matched frame by frame by traccuracy's ``PointMatcher``: the
Hungarian matching of the points at most ``threshold`` apart (the ISBI challenge's gate,
5 px, by default).  traccuracy's ``BasicMetrics``, ``CTCMetrics`` and ``CHOTAMetric``
then score the matched graphs.  CTC and CHOTA were written for dense cell annotations;
on particles they read as: DET, the share of true points found; LNK, the share of true
links kept (CTC weights, 1 for a wrong link, 1.5 for a missed one); TRA, both together.
CHOTA is left out where it would take too long (:data:`CHOTA_BUDGET`).

The graphs are built as ``traccuracy.loaders.load_point_data`` builds them (one node per
row with ``t`` and the position columns, an edge from each row's parent), directly from
the arrays: that loader reads its table row by row with pandas (about 100 s for 50,000
points here); a test checks that both give the same graph.

traccuracy flags each edge it scores; :attr:`TraccuracyScore.errors` gives its wrong
(FP) and missed (FN) links as :class:`~napari_mpt.evaluation.metrics.LinkError` s, the
form the link-errors layer draws.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.data import Tracks, axes_for
from .metrics import LinkError

KEYS = ("edge_f1", "edge_precision", "edge_recall", "ctc_det", "ctc_lnk", "ctc_tra", "chota")
"""What :meth:`TraccuracyScore.summary` adds to ``evaluate --json``."""
CHOTA_BUDGET = 3e9
"""traccuracy's CHOTA takes about 1e-8 s x (true tracks)^2 x (estimated tracks) here (a
dense true x estimated table, swept whole for every overlapping pair): 3 s for 571 x 851
tracks, 745 s for 3,891 x 6,074.  Above this product (about 30 s) it is not computed and
``chota_skipped`` says why."""


@dataclass
class TraccuracyScore:
    """traccuracy's measures of one run (a measure it leaves undefined is None)."""

    edge_f1: float | None
    edge_precision: float | None
    edge_recall: float | None
    edge_tp: int
    edge_fp: int
    edge_fn: int
    ctc_det: float | None
    ctc_lnk: float | None
    ctc_tra: float | None
    chota: float | None
    threshold: float
    errors: list[LinkError] = field(default_factory=list)
    chota_skipped: str = ""

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(self, k) for k in KEYS if getattr(self, k) is not None}
        out.update(edge_tp=self.edge_tp, edge_fp=self.edge_fp, edge_fn=self.edge_fn,
                   traccuracy_threshold=self.threshold)
        if self.chota_skipped:
            out["chota_skipped"] = self.chota_skipped
        return out


def traccuracy_installed() -> bool:
    """Whether traccuracy's measures can be computed here (it is an optional package)."""
    import importlib.util

    return importlib.util.find_spec("traccuracy") is not None


def tracking_graph(tracks: Tracks) -> Any:
    """``tracks`` as traccuracy's TrackingGraph: node i is vertex i (``t`` and the axes),
    edges join consecutive vertices of a track."""
    import networkx as nx
    from traccuracy import TrackingGraph

    axes = axes_for(tracks.ndim)
    g = nx.DiGraph()
    g.add_nodes_from(
        (i, {"t": f, **dict(zip(axes, c, strict=True))})
        for i, (f, c) in enumerate(zip(tracks.frame.tolist(), tracks.coords.tolist(), strict=True)))
    a = np.flatnonzero(tracks.track_id[1:] == tracks.track_id[:-1])
    g.add_edges_from(zip(a.tolist(), (a + 1).tolist(), strict=True))
    return TrackingGraph(g, frame_key="t", location_keys=axes)


def _quiet() -> None:
    """traccuracy's CTC error counting draws three tqdm progress bars on stderr per call
    and has no option to turn them off; they would land in ``evaluate``'s output and every
    benchmark case's log, so its module's ``tqdm`` is made a disabled one."""
    import functools

    from tqdm import tqdm
    from traccuracy.track_errors import _ctc

    if not isinstance(_ctc.tqdm, functools.partial):
        _ctc.tqdm = functools.partial(tqdm, disable=True)


def _number(value: Any) -> float | None:
    v = float(value)
    return v if np.isfinite(v) else None


def traccuracy_measures(estimated: Tracks, truth: Tracks, threshold: float = 5.0,
                        chota_budget: float = CHOTA_BUDGET) -> TraccuracyScore:
    """traccuracy's measures of ``estimated`` against ``truth`` (see the module
    docstring); ``threshold``: the PointMatcher's largest matched distance (px);
    ``chota_budget``: CHOTA is left out above this cost (:data:`CHOTA_BUDGET`)."""
    from traccuracy import EdgeFlag, run_metrics
    from traccuracy.matchers import PointMatcher
    from traccuracy.metrics import BasicMetrics, CHOTAMetric, CTCMetrics

    _quiet()
    n_true, n_est = len(truth.ids()), len(estimated.ids())
    cost = float(n_true) ** 2 * n_est
    skipped = "" if cost <= chota_budget else (
        f"{n_true} true x {n_est} estimated tracks: traccuracy's CHOTA would take about "
        f"{cost * 1e-8:.0f} s")
    metrics = [BasicMetrics(), CTCMetrics(), *([] if skipped else [CHOTAMetric()])]
    with warnings.catch_warnings():   # an empty graph only makes a measure undefined (NaN)
        warnings.simplefilter("ignore")
        results, matched = run_metrics(tracking_graph(truth), tracking_graph(estimated),
                                       PointMatcher(threshold), metrics)
    r = {k: v for res in results for k, v in res["results"].items()}
    fp = sorted(matched.pred_graph.get_edges_with_flag(EdgeFlag.FALSE_POS))
    fn = sorted(matched.gt_graph.get_edges_with_flag(EdgeFlag.FALSE_NEG))
    return TraccuracyScore(
        edge_f1=_number(r["Edge F1"]), edge_precision=_number(r["Edge Precision"]),
        edge_recall=_number(r["Edge Recall"]), edge_tp=int(r["True Positive Edges"]),
        edge_fp=int(r["False Positive Edges"]), edge_fn=int(r["False Negative Edges"]),
        ctc_det=_number(r["DET"]), ctc_lnk=_number(r["LNK"]), ctc_tra=_number(r["TRA"]),
        chota=None if skipped else _number(r["CHOTA"]), threshold=threshold,
        errors=_errors(estimated, truth, fp, fn, matched), chota_skipped=skipped)


def _errors(estimated: Tracks, truth: Tracks, fp: list[tuple[int, int]],
            fn: list[tuple[int, int]], matched: Any) -> list[LinkError]:
    """traccuracy's FP and FN edges as link errors, ordered as the position measure's."""
    to_gt = {int(p): int(g) for g, p in matched.mapping}
    particle = {p: int(truth.track_id[g]) for p, g in to_gt.items()}
    out = [LinkError("FP", int(estimated.frame[a]), int(estimated.frame[b]),
                     tuple(estimated.coords[a].tolist()), tuple(estimated.coords[b].tolist()),
                     int(estimated.track_id[a]), (particle.get(a, -1), particle.get(b, -1)))
           for a, b in fp]
    out += [LinkError("FN", int(truth.frame[a]), int(truth.frame[b]),
                      tuple(truth.coords[a].tolist()), tuple(truth.coords[b].tolist()),
                      int(truth.track_id[a]), (int(truth.track_id[a]),) * 2)
            for a, b in fn]
    out.sort(key=lambda e: (e.frame_to, e.kind, e.track_id))
    return out
