"""The MHT + association-transformer hybrid (``--method hybrid``): the paper's "frugal"
future work.  The transformer's link scores prune the MHT's hypotheses; the MHT's exact
search decides among what remains.

Rule (one per link, decided once before the search):

* the association transformer (:func:`napari_mpt.trackers.transformer.association.infer.scores`) scores
  every candidate pair (i in frame t, j in frame t + g, 1 <= g <= the model's ``gap``)
  with ``s = (pf + pb) / 2``: the forward probability that j is i's next detection and
  the backward one that i is j's previous detection, each averaged over the windows that
  see the pair; a pair the model did not score (not among its k nearest neighbours)
  has ``s = 0``;
* the link i -> j is *kept* if ``s >= min_score`` or j is among i's ``top_links``
  best-scored successors (over all its scored gaps; of equal scores, the later
  row first);
* in the MHT's trees (:mod:`napari_mpt.trackers.mht.detection_level`), a branch whose last detection is
  i may take, in frame t + g, only the kept successors of i there (``Scene.allowed``,
  applied before the gate, which still applies on top).  For g beyond the model's gap
  the transformer says nothing and nothing is pruned; misses, ends, births and false
  alarms are never pruned.

The MHT's estimated parameters (motion model, noises, rates) come from the transformer's
links (``first_pass="transformer"``, the default: between consecutive frames, the links
scoring at least :data:`FIRST_PASS_SCORE` whose ends are each other's best), not from
mutual nearest neighbours: its links are truer (99.4 % against 98.1 % on the receptor
preset) and the scores are computed anyway; alpha rose by 0.001 to 0.009 on the receptor
and mixture presets (``docs/guide/hybrid.md``).

Exactness: the search is the MHT's, unchanged, over the pruned hypothesis set: the best
global hypothesis among those whose every link is kept (proved against brute force in
``tests/trackers/test_hybrid.py``).  With ``min_score = 0`` every link is kept, the transformer is
not run, and the tracks are the detection-level MHT's.  The hybrid always takes the
detection-level MHT (the pruning lives there), also on clean data where ``--method mht``
would take the permutation path (same optimum model, P_D capped at 1 - 1e-9).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from ..core.data import Detections, Tracks
from ..core.errors import CheckpointError
from ..core.flops import FlopCounter, measured
from ..core.params import HybridParams
from ..core.results import FlopCount, RunControl, TrackingResult
from .mht.tracker import GENERAL_FLOPS, frames_of, note_exactness, resolve, run_detection_level
from .steps import FirstPass, first_pass_of


@dataclass(frozen=True)
class Links:
    """Candidate links between detection-table rows: ``i`` -> ``j`` with score ``score``
    (``gap`` frames apart), and ``horizon``, the longest gap the scores cover."""

    i: np.ndarray
    j: np.ndarray
    score: np.ndarray
    gap: np.ndarray
    horizon: int


def kept(links: Links, min_score: float, top_links: int) -> np.ndarray:
    """Mask of the links the rule keeps (module docstring)."""
    n = len(links.i)
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort((-links.j, -links.score, links.i))  # per i: best score first
    first = np.r_[True, links.i[order][1:] != links.i[order][:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - start
    return (links.score >= min_score) | (rank < top_links)


class Pruner:
    """``Scene.allowed`` for a set of kept links: which detections of frame t a branch
    whose latest detection is table row i may take (vectorised over branch-candidate
    pairs: each kept link is one integer key, looked up with a sorted search); counts what
    it saw and kept."""

    def __init__(self, rows: list[np.ndarray], links: Links, keep: np.ndarray, n_rows: int):
        pos_of = np.full(n_rows, -1, dtype=np.int64)   # a row's position in its frame
        for r in rows:
            pos_of[r] = np.arange(len(r))
        self.horizon = links.horizon
        self.width = max((len(r) for r in rows), default=0) + 1
        self.keys = np.unique(self._key(links.i[keep], links.gap[keep], pos_of[links.j[keep]]))
        self.seen = 0      # candidates within the gate radius offered
        self.passed = 0    # of those, kept
        self.free = 0      # of those, beyond the horizon (not pruned)

    def _key(self, row: np.ndarray, gap: np.ndarray, pos: np.ndarray) -> np.ndarray:
        return (row.astype(np.int64) * (self.horizon + 1) + gap) * self.width + pos

    def __call__(self, last_row: np.ndarray, gap: np.ndarray, cand: np.ndarray) -> np.ndarray:
        beyond = gap > self.horizon
        key = self._key(last_row, np.minimum(gap, self.horizon), cand)
        at = np.minimum(np.searchsorted(self.keys, key), max(len(self.keys) - 1, 0))
        ok = beyond | ((self.keys[at] == key) if len(self.keys) else False)
        self.seen += len(cand)
        self.free += int(beyond.sum())
        self.passed += int(ok.sum())
        return ok


def search(numbers: np.ndarray, coords: list[np.ndarray], rows: list[np.ndarray],
           params: HybridParams, counter: FlopCounter, control: RunControl | None,
           allowed: Pruner | None) -> tuple[Tracks, dict[str, Any]]:
    """The MHT's detection-level search with the candidate filter ``allowed``, its
    counts of expanded and created nodes added to the run statistics."""
    tracks, info, scene = run_detection_level(numbers, coords, rows, params, counter, control,
                                              allowed, confidence=params.link_confidence)
    T = len(coords)
    info.update(nodes_expanded=scene.expanded, nodes_created=scene.created,
                link_nodes=scene.link_nodes, nodes_per_frame=scene.created / T,
                expanded_per_frame=scene.expanded / T)
    return tracks, info


def _phase(control: RunControl | None, lo: int, hi: int) -> RunControl | None:
    """``control`` for one phase, its progress mapped into ``[lo, hi]`` per mille of the
    whole run (cancellation as ``control``'s)."""
    if control is None:
        return None
    outer = control

    def progress(done: int, total: int) -> None:
        if outer.progress is not None:
            frac = done / total if total else 1.0
            outer.progress(lo + round((hi - lo) * frac), 1000)

    return RunControl(progress, control.should_stop)


def transformer_links(detections: Detections, checkpoint: str, device: str,
                      control: RunControl | None = None
                      ) -> tuple[Links, FlopCount, str, dict[str, Any]]:
    """Scores of every candidate link by the association checkpoint: the links, their
    fvcore FLOPs, the device used and facts about the model run."""
    from .transformer import association_flops, cached_model, resolve_device
    from .transformer.association.infer import scores
    from .transformer.association.model import AssociationTransformer

    dev, note = resolve_device(device)
    model, config = cached_model(checkpoint, dev)
    if config.get("kind") != "association":
        raise CheckpointError(f"{config['path']}: the hybrid needs an association-transformer "
                              f"checkpoint (scores for any number of detections per frame); "
                              f"{Path(checkpoint).stem!r} is the paper's encoder-decoder: "
                              f"--checkpoint association")
    assoc = cast(AssociationTransformer, model)
    if detections.ndim != assoc.cfg.ndim:
        raise CheckpointError(f"{config['path']}: the association model was built for "
                              f"{assoc.cfg.ndim}D coordinates but the data is "
                              f"{detections.ndim}D")
    sc = scores(assoc, detections, control)
    seq = sc["seq"]
    i, j = sc["i"], sc["j"]
    links = Links(seq.rows[i], seq.rows[j], 0.5 * (sc["pf"] + sc["pb"]),
                  seq.frame[j] - seq.frame[i], assoc.cfg.gap)
    facts: dict[str, Any] = {"checkpoint": checkpoint, "checkpoint_path": config["path"],
                             "window": assoc.cfg.window, "score_gap": assoc.cfg.gap,
                             "neighbours": assoc.cfg.neighbours, "tokens": sc["tokens"]}
    if note:
        facts["device_note"] = note
    return links, association_flops(assoc, sc["tokens"]), dev, facts


FIRST_PASS_SCORE = 0.5
"""A transformer link enters the first pass when it scores at least this and each end is
the other's best-scored partner in the next (previous) frame."""


def transformer_first_pass(coords: list[np.ndarray], rows: list[np.ndarray],
                           links: Links) -> FirstPass:
    """The transformer's first linking pass (what the MHT's parameters are estimated
    from): between consecutive frames, the links scoring at least
    :data:`FIRST_PASS_SCORE` whose ends are each other's best."""
    one = np.flatnonzero((links.gap == 1) & (links.score >= FIRST_PASS_SCORE))
    i, j, sc = links.i[one], links.j[one], links.score[one]
    best_out = np.lexsort((-sc, i))                      # per i, best first
    first_i = best_out[np.r_[True, i[best_out][1:] != i[best_out][:-1]]] if len(i) else one
    best_in = np.lexsort((-sc, j))
    first_j = best_in[np.r_[True, j[best_in][1:] != j[best_in][:-1]]] if len(j) else one
    mutual = np.intersect1d(first_i, first_j)
    return first_pass_of(coords, rows, i[mutual], j[mutual])


def track_hybrid(detections: Detections, params: HybridParams | None = None,
                 control: RunControl | None = None,
                 links: Links | None = None) -> TrackingResult:
    """Track with the hybrid (module docstring).  ``links`` replaces the transformer's
    scores (tests, or scores computed elsewhere); ``info`` reports the hypotheses per
    frame, the links kept, the FLOPs and the time of each part."""
    params = params or HybridParams()
    start = time.perf_counter()
    numbers, coords, rows = frames_of(detections)
    info: dict[str, Any] = {"min_score": params.min_score, "top_links": params.top_links}
    t_scores = 0.0
    device = "cpu"
    nn_flops = FlopCount(0, "fvcore", "no transformer run")
    pruner = None
    scored = params.min_score > 0 or links is not None
    if scored and links is None:
        t0 = time.perf_counter()
        links, nn_flops, device, facts = transformer_links(
            detections, params.checkpoint, params.device, _phase(control, 0, 200))
        info.update(facts)
        t_scores = time.perf_counter() - t0
    first = (transformer_first_pass(coords, rows, links)   # the scores are there anyway
             if links is not None and params.first_pass == "transformer" else None)
    resolved, estimated, estimation = resolve(params, numbers, coords, rows, control, first)
    params = cast(HybridParams, resolved)   # resolve replaces fields, keeping the class
    if links is not None:
        keep = kept(links, params.min_score, params.top_links)
        info.update(scored_links=len(keep), kept_links=int(keep.sum()))
        pruner = Pruner(rows, links, keep, len(detections))
    t0 = time.perf_counter()
    (tracks, stats), mht_flops = measured(
        lambda counter: search(numbers, coords, rows, params, counter,
                               _phase(control, 200 if pruner else 0, 1000), pruner))
    t_search = time.perf_counter() - t0
    if pruner is not None:
        info.update(gate_candidates=pruner.seen, kept_candidates=pruner.passed,
                    unpruned_candidates=pruner.free)
    info.update(stats)
    total = nn_flops.value + mht_flops.value
    if estimation:
        info["estimation"] = estimation
    note_exactness(info)
    info.update(path="detection-level", estimated=estimated, scores_s=t_scores,
                search_s=t_search, transformer_flops=nn_flops.value,
                mht_flops=mht_flops.value, flops_per_frame=total / len(coords))
    detail = (f"transformer scores {nn_flops.value:,} ({nn_flops.source}: {nn_flops.detail}) "
              f"+ MHT search {mht_flops.value:,} ({mht_flops.source}: {mht_flops.detail}; "
              f"{GENERAL_FLOPS})")
    flops = FlopCount(total, mht_flops.source, detail)
    return TrackingResult(tracks, "hybrid", params.label(), params.to_dict(),
                          time.perf_counter() - start, flops, device=device, info=info)
