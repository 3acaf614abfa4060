"""The sliding-window MHT driver: windows, clusters, commits, result.

Window and commit rule (the paper is terse here; this is our choice, tested):
tracks are started from frame 0's detections (track i = i-th detection of frame 0) and
every later frame is an association step, a permutation of the frame's N detections over
the N tracks.  With all decisions up to frame ``c`` committed, the window holds the next
``L = min(K, T-1-c)`` steps; every permutation sequence over it is scored by the summed
squared Mahalanobis distance of the innovations, and the best one is found.  If the window
reaches the last frame, all of its steps are committed; otherwise only the first one
(frame ``c+1``), and the window slides by one frame.  K = 1 is therefore a frame-by-frame
optimal assignment, and K >= T-1 scores all N!^(T-1) sequences at once: the global
optimum.  Estimated positions are the filtered Kalman means, as in the paper, or with
``smooth=True`` the RTS-smoothed means of the committed tracks (:mod:`.smooth`).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ...core.data import Detections, FrameStack, Tracks, axes_for, trackable_frames
from ...core.errors import ParameterError, TooManyHypotheses
from ...core.fixed import FixedLinks
from ...core.flops import FlopCounter, measured
from ...core.params import MHTParams
from ...core.results import FlopCount, RunControl, TrackingResult
from ..steps import FirstPass
from .clusters import Cluster, gate_clusters
from .detection_level import FA_FLOOR, PD_CAP, Scene, Tuning, node_bytes, run, smooth_track
from .estimate import MOTION_FIELDS, estimate_parameters, field_of_view
from .exact import ExactSearch, all_permutations, cache_node_bytes
from .exhaustive import exhaustive_bytes, exhaustive_search
from .fixed import PIN_BONUS, FixedFilter
from .kalman import Schedule, kalman_step_flops
from .link_margins import confidence
from .lookback import choose_lookback
from .motion import motion_bank, motion_model
from .smooth import rts_smooth

EXACT_MAX_PERMUTATIONS = 40_320  # 8!: permutations costed at each node of the exact search


def _available_bytes() -> int:
    try:
        import os

        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 << 30


def check_window(params: MHTParams, n: int, L: int, s: int, d: int) -> None:
    """Refuse, before any work, a cluster window that cannot be searched in memory."""
    n_perms = math.factorial(n)
    if params.mode == "exact":
        if n_perms > EXACT_MAX_PERMUTATIONS:
            raise TooManyHypotheses(
                f"{n} particles interact in one cluster: {n}! = {n_perms:,} associations per "
                f"frame (about 1e{L * math.log10(n_perms):.0f} hypotheses per window of K={L}); "
                f"the exact search "
                f"takes clusters of at most 8. Lower the gate or use fewer/sparser particles.")
        return
    hyp = n_perms**L
    need = exhaustive_bytes(n_perms, L, n, s, d)
    avail = _available_bytes() // 2
    if hyp > params.max_hypotheses or need > avail:
        raise TooManyHypotheses(
            f"exhaustive MHT with lookback K={L} and {n} particles in a cluster enumerates "
            f"{n}!^{L} = {hyp:,} hypotheses per window, about {need / 2**30:.1f} GiB "
            f"(limit: {params.max_hypotheses:,} hypotheses, {avail / 2**30:.1f} GiB free); "
            f"lower the lookback or use mode='exact', which returns the same tracks.")


def _run(stack_coords: np.ndarray, params: MHTParams, counter: FlopCounter,
         control: RunControl | None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Association ``(T, N)`` (detection position within its frame per track) and filtered
    positions ``(T, N, D)``."""
    T, N, d = stack_coords.shape
    model = motion_model(params, d)
    s = model.state_dim
    schedule = Schedule(model, counter)
    X = model.initial_states(stack_coords[0])
    assign = np.zeros((T, N), dtype=np.int64)
    assign[0] = np.arange(N)
    filtered = np.zeros((T, N, s))
    filtered[0] = X
    assert params.lookback is not None, "resolve() first"
    K = min(params.lookback, T - 1)
    clustered = N > 2
    searches: dict[tuple[int, ...], tuple[ExactSearch, list[bytes]]] = {}
    perms_of: dict[int, np.ndarray] = {}
    stats: dict[str, float] = {"nodes_expanded": 0, "clusters_max": 0, "windows": 0,
                               "exact": 0, "bounded": 0}
    budget = params.memory_budget_mb * 2**20
    whole = Cluster(np.arange(N), [np.arange(N)] * K)
    if not clustered:
        check_window(params, N, K, s, d)
    frames = list(stack_coords)  # one view per frame, made once (windows slice the list)
    c = 0
    while c < T - 1:
        L = min(K, T - 1 - c)
        final = c + L == T - 1
        schedule.upto(c + L)
        Zw = frames[c + 1: c + 1 + L]
        if clustered:
            clusters = gate_clusters(schedule, c, X, Zw, params.gate)
        else:  # one cluster of everything (its detections: all, in every frame)
            if len(whole.dets) != L:
                whole = Cluster(np.arange(N), [np.arange(N)] * L)
            clusters = [whole]
        ncommit = L if final else 1
        newX = X.copy() if clustered else X
        for cl in clusters:
            n = len(cl.tracks)
            stats["clusters_max"] = max(stats["clusters_max"], n)
            if clustered:  # the whole scene was checked up front
                check_window(params, n, L, s, d)
            perms = perms_of.get(n)
            if perms is None:
                perms = perms_of[n] = all_permutations(n)
            Zc = [Zw[j][cl.dets[j]] for j in range(L)] if clustered else Zw
            if params.mode == "exhaustive":
                path, _, states = exhaustive_search(
                    model, X[cl.tracks], schedule.P[c], Zc, perms, counter)
            else:
                # each cluster's cache gets its tracks' share of the memory budget
                cap = int(budget * n / N / cache_node_bytes(n, s))
                path, states = _exact(searches, cl, X, c, Zc, schedule, perms, counter,
                                      ncommit, stats, clustered, max(cap, 1))
            if clustered:
                for j in range(ncommit):
                    assign[c + 1 + j, cl.tracks] = cl.dets[j][perms[path[j]]]
                    filtered[c + 1 + j, cl.tracks] = states[j]
                newX[cl.tracks] = states[ncommit - 1]
            else:  # one cluster: every track, every detection in frame order
                for j in range(ncommit):
                    assign[c + 1 + j] = perms[path[j]]
                    filtered[c + 1 + j] = states[j]
                newX = states[ncommit - 1]
        if clustered:  # caches of clusters that no longer exist are stale
            live = {cl.key() for cl in clusters}
            for key in list(searches):
                if key not in live:
                    del searches[key]
        X = newX
        c += ncommit
        stats["windows"] += 1
        if control is not None:
            control.step(c, T - 1)
    stats["kalman_step_flops"] = kalman_step_flops(s, d)
    stats["cost"] = hypothesis_cost(schedule, stack_coords, assign, filtered)
    if params.smooth:
        filtered = rts_smooth(schedule, filtered, counter)
    return assign, filtered[:, :, :d], stats


def hypothesis_cost(schedule: Schedule, coords: np.ndarray, assign: np.ndarray,
                    filtered: np.ndarray) -> float:
    """Summed squared Mahalanobis distance of the committed association (reported, so users
    and tests can compare hypotheses; not part of the tracking work, so not counted), from
    the filtered states ``filtered`` (T, N, s) the search committed: every frame at once."""
    m = schedule.model
    T, _, d = coords.shape
    if T < 2:
        return 0.0
    Xp = m.predict_mean(filtered[:-1])
    Y = coords[np.arange(1, T)[:, None], assign[1:]] - Xp[:, :, :d]
    Sinv = np.stack(schedule.Sinv[1:T])
    return float(np.einsum("tnd,tde,tne->", Y, Sinv, Y))


def _exact(searches: dict, cl: Cluster, X: np.ndarray, c: int, Zc: list[np.ndarray],
           schedule: Schedule, perms: np.ndarray, counter: FlopCounter, ncommit: int,
           stats: dict, clustered: bool = True, max_nodes: int = 1 << 62
           ) -> tuple[tuple[int, ...], list[np.ndarray]]:
    """Run (or continue) the cached branch-and-bound search of one cluster, its cache kept
    within ``max_nodes``; counts it exact or bounded."""
    key = cl.key()
    # the cache is valid while the cluster keeps the same detections in the frames it saw
    # (always, for the one cluster of an unclustered scene)
    frame_keys = [cl.dets[j].tobytes() for j in range(len(Zc))] if clustered else []
    entry = searches.get(key)
    if entry is None or entry[1] != frame_keys[: len(entry[1])]:
        search = ExactSearch(schedule, perms, counter, max_nodes)
        search.reset(X[cl.tracks])
    else:
        search = entry[0]
        search.max_nodes = max_nodes
    before = search.nodes_expanded
    path, _ = search.solve(c, Zc)
    stats["nodes_expanded"] += search.nodes_expanded - before
    stats["exact" if search.exact else "bounded"] += 1
    states = [search.state(path[: j + 1], c) for j in range(ncommit)]
    if ncommit == 1:
        search.commit(path[0])
        if not search.exact:  # a full cache: start the next window from the root alone
            search.cache = {(): search.cache[()]}
        searches[key] = (search, frame_keys[1:])
    else:
        searches.pop(key, None)
    return path, states


def frames_of(detections: Detections) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Every frame number from the first to the last (empty frames included), and each
    frame's coordinates and table rows; refuses data that cannot be tracked."""
    present = trackable_frames(detections)
    numbers = np.arange(present[0], present[-1] + 1)
    rows: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(numbers)
    for g in detections.by_frame():
        rows[int(detections.frame[g[0]] - numbers[0])] = g
    return numbers, [detections.coords[r] for r in rows], rows


RATES = ("detection_probability", "clutter_density", "birth_density")


def resolve(params: MHTParams, numbers: np.ndarray, coords: list[np.ndarray],
            rows: list[np.ndarray], control: RunControl | None = None,
            first: FirstPass | None = None
            ) -> tuple[MHTParams, dict[str, Any], dict[str, Any]]:
    """``params`` with the motion model ("auto"), every "estimate" (None) field it uses
    (see :mod:`.estimate`, from the first linking pass ``first`` when given) and the
    lookback (:mod:`.lookback`) filled in from the data; the values so chosen, and what
    they came from (empty when nothing was estimated)."""
    model = params.motion_model
    motion = MOTION_FIELDS.get(model, MOTION_FIELDS["switching"])
    missing = [f for f in (*motion, *RATES) if getattr(params, f) is None]
    values: dict[str, Any] = {}
    stats: dict[str, Any] = {}
    if model == "auto" or missing:
        fixed = {f: float(getattr(params, f)) for f in motion if getattr(params, f) is not None}
        est = estimate_parameters(coords, model, fixed, first)
        chosen = est["motion_model"]
        values = {"motion_model": chosen} if model == "auto" else {}
        values.update({f: float(est[f]) for f in (*MOTION_FIELDS[chosen], *RATES)
                       if getattr(params, f) is None})
        stats = {k: v for k, v in est.items() if k not in values and k not in fixed}
        params = params.replace(**values)
    if params.lookback is None:
        k, evidence = choose_lookback(numbers, coords, rows, params, _sample_run, control)
        values["lookback"] = k
        stats["lookback"] = evidence
        params = params.replace(lookback=k)
    return params, values, stats


def _sample_run(numbers: np.ndarray, coords: list[np.ndarray], rows: list[np.ndarray],
                params: MHTParams, control: RunControl | None) -> tuple[Tracks, int]:
    """The lookback rule's sample run: tracks and tree nodes made."""
    tracks, _, scene = run_detection_level(numbers, coords, rows, params, FlopCounter(),
                                           control, confidence=False)
    return tracks, scene.created


def track_mht(detections: Detections, params: MHTParams | None = None,
              control: RunControl | None = None, tuning: Tuning | None = None,
              fixed: FixedLinks | None = None) -> TrackingResult:
    """Track with the windowed MHT.

    Detections with the same number in every frame and a model without misses, clutter or
    births (P_D = 1, lambda_FA = lambda_B = 0; what "estimate" gives on such data) take
    the paper's permutation MHT (module docstring), unless a gated cluster holds more than
    8 particles (the permutation search would refuse it); anything else, and those, the
    detection-level MHT of :mod:`.general` (with P_D = 1 capped at 1 - 1e-9 and
    lambda_FA = 0 floored at 1e-12, as documented there).  ``tuning``: the search's
    bookkeeping (:class:`.detection_level.Tuning`; tests only).  ``fixed``: links a user
    pinned or forbade (:mod:`.fixed`; always the detection-level search).
    """
    params = params or MHTParams()
    start = time.perf_counter()
    numbers, coords, rows = frames_of(detections)
    params, estimated, estimation = resolve(params, numbers, coords, rows, control)
    counts = {len(z) for z in coords}
    clean = (params.detection_probability == 1.0 and params.clutter_density == 0.0
             and params.birth_density == 0.0 and len(counts) == 1
             and params.motion_model != "switching" and not fixed)
    if clean:  # equal counts, so no empty frame: the frames above stack as they are
        stack = FrameStack(numbers, np.stack(coords), np.stack(rows))
        try:
            (assign, est, stats), flops = measured(
                lambda counter: _run(stack.coords, params, counter, control))
        except TooManyHypotheses:
            if params.mode == "exhaustive":
                raise
            clean = False  # a dense clean scene: the detection-level MHT, same model
        else:
            T = assign.shape[0]
            rows_table = stack.index[np.arange(T)[:, None], assign]
            tracks = Tracks.from_assignment(stack.frames, rows_table, est)
            stats.update(exact_clusters=int(stats.pop("exact")),
                         bounded_clusters=int(stats.pop("bounded")),
                         largest_cluster=int(stats["clusters_max"]), path="permutations")
    if not clean:
        if params.mode == "exhaustive":
            raise ParameterError(
                "mode", "exhaustive scores permutations of frames with equal detection counts "
                "and no misses, clutter or births (P_D = 1, clutter and birth densities 0); "
                "these detections need mode='exact'")
        keep = FixedFilter(fixed, rows, len(detections)) if fixed else None
        (tracks, stats), flops = measured(
            lambda counter: _run_general(numbers, coords, rows, params, counter, control,
                                         tuning, keep))
        if fixed:
            stats["fixed"] = fixed.held_by(_links(tracks))
            stats["score"] -= PIN_BONUS * stats["fixed"]["pinned_made"]
        flops = FlopCount(flops.value, flops.source, flops.detail + "; " + GENERAL_FLOPS)
        stats["path"] = "detection-level"
    stats["estimated"] = estimated
    if estimation:
        stats["estimation"] = estimation
    note_exactness(stats)
    wall = time.perf_counter() - start
    return TrackingResult(tracks, "mht", params.label(), params.to_dict(), wall, flops,
                          device="cpu", info=stats)


def note_exactness(info: dict[str, Any]) -> None:
    """Set ``info["exact"]`` and, when the run was not exact, ``info["warning"]``: how many
    clusters a budget bounded (their hypothesis the best found, not proven the best) and
    tracks it capped, and which setting to change.  Every front end shows the warning
    (the CLI's stderr, the Track widget's readout, run table and a napari warning)."""
    bounded = int(info.get("bounded_clusters", 0))
    capped = int(info.get("capped_owners", 0))
    info["exact"] = not bounded and not capped
    if info["exact"]:
        info.pop("warning", None)
        return
    total = bounded + int(info.get("exact_clusters", 0))
    parts = []
    if bounded:
        parts.append(f"{bounded:,} of {total:,} clusters bounded (the best hypothesis found, "
                     "not proven the best)")
    if capped:
        parts.append(f"{capped:,} tracks capped (their weakest branches cut)")
    why = list(info.get("capped_by", []))
    if info.get("time_limited_clusters"):
        why.append("milp_time_limit")
    if info.get("path") == "permutations":
        why.append("memory_budget_mb")
    fixes = [ADVICE[w] for w in dict.fromkeys(why)] or [ADVICE["memory_budget_mb"]]
    info["warning"] = ("MHT not exact: " + " and ".join(parts) + ". To search exactly: "
                       + "; ".join(fixes) + ".")


ADVICE = {
    "memory_budget_mb": "lower the lookback K or raise memory_budget_mb (--memory-budget-mb)",
    "max_branches": "raise max_branches (--max-branches)",
    "milp_time_limit": "raise milp_time_limit (--milp-time-limit) or lower the lookback K",
}
"""What to change, by the budget that bounded the search."""


GENERAL_FLOPS = ("counted: Kalman predictions, covariances, gains, determinants, gating "
                 "distances, updates, scores and smoothing; not counted: logarithms, k-d tree "
                 "queries, comparisons and the selection search (additions of branch scores)")


def _run_general(numbers: np.ndarray, coords: list[np.ndarray], rows: list[np.ndarray],
                 params: MHTParams, counter: FlopCounter, control: RunControl | None,
                 tuning: Tuning | None, keep: FixedFilter | None = None
                 ) -> tuple[Tracks, dict]:
    forbid = keep.allowed if keep is not None and len(keep.forbidden) else None
    pin = keep.bonus if keep is not None and len(keep.pinned) else None
    tracks, info, _ = run_detection_level(numbers, coords, rows, params, counter, control,
                                          forbid, tuning, pin,
                                          confidence=params.link_confidence)
    return tracks, info


def _link_confidence(scene: Scene, tracks: Tracks) -> np.ndarray:
    """Per vertex, the confidence of the link arriving at it (:mod:`.link_margins`), NaN
    where a track starts."""
    out = np.full(len(tracks), np.nan)
    if not scene.margins:
        return out
    a, b, m = (np.concatenate(x) for x in zip(*scene.margins, strict=True))
    width = int(max(tracks.detection.max(initial=0), b.max(initial=0), a.max(initial=0))) + 1
    keys = a * width + b
    order = np.argsort(keys)
    links = _links(tracks)
    same = np.flatnonzero(tracks.track_id[1:] == tracks.track_id[:-1]) + 1
    at = np.searchsorted(keys[order], links[:, 0] * width + links[:, 1])
    at = np.minimum(at, max(len(keys) - 1, 0))
    found = keys[order][at] == links[:, 0] * width + links[:, 1] if len(keys) else at < 0
    out[same[found]] = confidence(m[order][at[found]])
    return out


def _links(tracks: Tracks) -> np.ndarray:
    """The detection rows each track joins, consecutive vertices pairwise."""
    same = tracks.track_id[1:] == tracks.track_id[:-1]
    return np.column_stack([tracks.detection[:-1][same], tracks.detection[1:][same]])


def run_detection_level(numbers: np.ndarray, coords: list[np.ndarray], rows: list[np.ndarray],
                        params: MHTParams, counter: FlopCounter, control: RunControl | None,
                        allowed: Any = None, tuning: Tuning | None = None,
                        bonus: Any = None, confidence: bool = False
                        ) -> tuple[Tracks, dict, Scene]:
    """The detection-level MHT on every frame's coordinates and table rows (``numbers``:
    the frame numbers): its tracks, run statistics and the scene it searched.

    ``allowed`` (a candidate filter, see :class:`Scene`) is for the hybrid tracker
    (:mod:`napari_mpt.trackers.hybrid`), which prunes links with the transformer's scores,
    and for forbidden links (:mod:`.fixed`), ``bonus`` for pinned ones; ``confidence``:
    each link's ``link_confidence`` (:mod:`.link_margins`; ``params.link_confidence``
    for a user's run); everything else is the MHT's own."""
    d = coords[0].shape[1] if len(coords[0]) else next(len(z[0]) for z in coords if len(z))
    bank = motion_bank(params, d)
    lo, hi, area = field_of_view(coords)
    assert params.detection_probability is not None and params.clutter_density is not None
    assert params.birth_density is not None
    p_d = min(params.detection_probability, PD_CAP)
    lam_fa = max(params.clutter_density, FA_FLOOR)
    lam_b = params.birth_density
    lam_0 = max(len(coords[0]) / area - lam_fa, lam_b)
    scene = Scene(bank, coords, rows, lo, hi, area, p_d, lam_fa, lam_b, lam_0,
                  params.max_gap, params.link_gate, counter, allowed=allowed, bonus=bonus,
                  margins=[] if confidence else None,
                  smooth=params.smooth, tuning=tuning or Tuning())
    assert params.lookback is not None, "resolve() first"
    done, info = run(scene, params.lookback, params.max_branches, params.search_budget,
                     params.memory_budget_mb * 2**20, None if control is None else control.step,
                     params.milp_time_limit)
    states = done.x
    if params.smooth and len(states):  # each mode's filter smoothed, then weighed
        cuts = np.flatnonzero(np.diff(done.track)) + 1
        states = states.copy()
        for j, (m, covs, sl) in enumerate(zip(bank.models, scene.covs, scene.slices,
                                              strict=True)):
            P = covs.stack(done.cov[:, j])
            Pp = covs.stack(np.maximum(done.covp[:, j], 0))
            states[:, sl] = np.concatenate([
                smooth_track(m, states[a:b, sl], P[a:b], Pp[a:b], counter)
                for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(states)], strict=True)])
    seen = done.det >= 0
    fr = done.frame[seen]
    first = np.cumsum([0] + [len(z) for z in coords])  # frame t's detections, flattened
    at = first[fr] + done.det[seen]
    P = scene.positions(states[seen], done.lw[seen])
    M = np.concatenate(coords)[at] if len(at) else np.empty((0, d))
    n_tracks = done.n_tracks
    tid = done.track[seen]
    axes = axes_for(d)
    tracks = Tracks(np.asarray(tid, dtype=np.int64),
                    np.asarray(numbers, dtype=np.int64)[fr], P,
                    np.concatenate(rows).astype(np.int64)[at] if len(at) else at,
                    {f"{a}_measured": M[:, k] for k, a in enumerate(axes)})
    tracks = tracks.with_features(link_confidence=_link_confidence(scene, tracks))
    info.update(tracks=n_tracks, lambda_0=lam_0, area=area,
                peak_memory_mb=info["peak_nodes"] * node_bytes(bank) / 2**20)
    return tracks, info, scene
