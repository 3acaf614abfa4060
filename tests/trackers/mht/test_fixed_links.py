"""Re-solving with a user's links fixed: exact against brute force.

The MHT with pinned and forbidden links (a window covering the whole sequence) must reach
the best hypothesis, under the plain brute-force rules of ``test_mht_clutter_optimality``,
among those that make every pinned link and no forbidden one.  LAP (laptrack with
``connected_edges`` and a metric that refuses forbidden pairs), without gap closing,
must reach in every pair of frames the least-cost assignment under the same constraints
(squared steps, the squared link distance for every detection left unlinked).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from mht_brute_force import FixedRules, Rules, constrained_best, score_of
from mht_brute_force import brute_scene as _scene
from mht_brute_force import cases as _cases
from mht_brute_force import params as _params
from mht_cases import links as link_set

from napari_mpt import api
from napari_mpt.core.errors import InputError, ParameterError
from napari_mpt.core.fixed import FixedLinks
from napari_mpt.core.params import TrackpyParams
from napari_mpt.trackers.mht import track_mht


def fixed_case(det, params):
    """A link the free optimum makes (to forbid) and a gated one it does not make (to
    pin), so that the constraints change the answer; None when the scene has neither."""
    free = link_set(track_mht(det, params).tracks)
    frame = det.frame
    near = [(a, b) for a in range(len(det)) for b in range(len(det))
            if frame[b] == frame[a] + 1 and (a, b) not in free
            and np.linalg.norm(det.coords[a] - det.coords[b]) < 4.0]
    return (sorted(free)[0], near[0]) if free and near else None


def _fixed_cases() -> list[tuple[int, int, int, str, int]]:
    """The brute-force scenes that have a link to forbid and one to pin (14 of 18)."""
    return [(n, T, seed, motion, gap) for n, T, seed, motion, gap in _cases()
            if fixed_case(_scene(n, T, seed)[0], _params(motion, T - 1, gap)) is not None]


@pytest.mark.slow
@pytest.mark.parametrize(("n", "T", "seed", "motion", "gap"), _fixed_cases())
def test_the_mht_with_fixed_links_is_the_constrained_brute_force_optimum(
        n, T, seed, motion, gap):
    det, _ = _scene(n, T, seed)
    params = _params(motion, T - 1, gap)
    forbid, pin = fixed_case(det, params)
    rules = FixedRules(det, params, {forbid})
    best = constrained_best(rules, {pin})
    fixed = FixedLinks(pinned=[pin], forbidden=[forbid])
    result = track_mht(det, params, fixed=fixed)
    made = link_set(result.tracks)
    assert forbid not in made
    if best == -math.inf:       # no legal hypothesis holds the pin (outside every gate)
        assert pin not in made and result.info["fixed"]["pinned_made"] == 0
        return
    assert pin in made and result.info["fixed"] == {"pinned": 1, "pinned_made": 1,
                                                    "forbidden": 1, "forbidden_made": 0}
    assert result.info["bounded_clusters"] == 0
    assert score_of(rules, result.tracks) == pytest.approx(best, rel=1e-9, abs=1e-9)
    assert result.info["score"] == pytest.approx(best, rel=1e-6, abs=1e-6)


@pytest.mark.slow
def test_the_constraints_change_the_optimum_somewhere():
    """The test above can fail: the constrained optimum is below the free one."""
    below = 0
    for n, T, seed, motion, gap in _cases():
        det, _ = _scene(n, T, seed)
        params = _params(motion, T - 1, gap)
        case = fixed_case(det, params)
        if case is None:
            continue
        forbid, pin = case
        free = score_of(Rules(det, params), track_mht(det, params).tracks)
        fixed = track_mht(det, params, fixed=FixedLinks(pinned=[pin], forbidden=[forbid]))
        below += fixed.info["score"] < free - 1e-6
    assert below > 0


def frame_pair_best(det, a_rows, b_rows, cutoff2, pinned, forbidden) -> float:
    """Least cost of one frame pair's assignment by enumeration: pinned pairs fixed,
    forbidden ones and those beyond the cutoff refused, every detection left unlinked
    costing ``cutoff2`` (a track's end or start)."""
    xy = det.coords
    fixed = [(a, b) for a, b in pinned if a in a_rows and b in b_rows]
    rows = [a for a in a_rows if a not in {p[0] for p in fixed}]
    cols = [b for b in b_rows if b not in {p[1] for p in fixed}]
    base = sum(float(((xy[a] - xy[b]) ** 2).sum()) for a, b in fixed)
    best = math.inf
    for k in range(min(len(rows), len(cols)) + 1):
        for chosen_rows in itertools.combinations(rows, k):
            for chosen_cols in itertools.permutations(cols, k):
                pairs = list(zip(chosen_rows, chosen_cols, strict=True))
                d2 = [float(((xy[a] - xy[b]) ** 2).sum()) for a, b in pairs]
                if any(p in forbidden for p in pairs) or any(x >= cutoff2 for x in d2):
                    continue
                unlinked = (len(rows) - k) + (len(cols) - k)
                best = min(best, sum(d2) + cutoff2 * unlinked)
    return base + best


def frame_pair_cost(det, a_rows, b_rows, cutoff2, made) -> float:
    xy = det.coords
    pairs = [(a, b) for a, b in made if a in a_rows and b in b_rows]
    return (sum(float(((xy[a] - xy[b]) ** 2).sum()) for a, b in pairs)
            + cutoff2 * (len(a_rows) + len(b_rows) - 2 * len(pairs)))


@pytest.mark.parametrize("seed", range(8))
def test_lap_with_fixed_links_is_the_constrained_least_cost_per_frame_pair(seed):
    sim = api.simulate(api.SimulationParams(particles=4, frames=5, field_of_view=14.0,
                                            process_noise=1.5, detection_probability=0.9,
                                            clutter=0.5, seed=seed))
    det = sim.detections
    params = api.LAPParams(max_link_distance=5.0, gap_closing_frames=0)
    free = link_set(api.track(det, params).tracks)
    rng = np.random.default_rng(seed)
    by_frame = [set(np.flatnonzero(det.frame == f).tolist()) for f in range(5)]
    candidates = [(a, b) for f in range(4) for a in by_frame[f] for b in by_frame[f + 1]
                  if (a, b) not in free and np.linalg.norm(det.coords[a] - det.coords[b]) < 5]
    forbidden = {tuple(sorted(free)[int(rng.integers(len(free)))])} if free else set()
    pins = [candidates[int(rng.integers(len(candidates)))]] if candidates else []
    fixed = FixedLinks(pinned=pins, forbidden=sorted(forbidden))
    result = api.track(det, params, fixed=fixed)
    made = link_set(result.tracks)
    assert set(pins) <= made and not forbidden & made
    for f in range(4):
        a_rows, b_rows = by_frame[f], by_frame[f + 1]
        got = frame_pair_cost(det, a_rows, b_rows, 25.0, made)
        want = frame_pair_best(det, a_rows, b_rows, 25.0, set(pins), forbidden)
        assert got == pytest.approx(want), f"frames {f}-{f + 1}"
    assert free != made or not (pins or forbidden)


def test_fixed_links_that_no_chain_can_hold_are_refused():
    sim = api.simulate(api.SimulationParams(particles=3, frames=4, seed=1))
    det = sim.detections
    f0, f1 = (np.flatnonzero(det.frame == f) for f in (0, 1))
    with pytest.raises(InputError, match="two pinned links leave"):
        api.track(det, api.LAPParams(), fixed=FixedLinks(
            pinned=[(f0[0], f1[0]), (f0[0], f1[1])]))
    with pytest.raises(InputError, match="does not go forward in time"):
        api.track(det, api.LAPParams(), fixed=FixedLinks(forbidden=[(f1[0], f0[0])]))
    with pytest.raises(InputError, match="both pinned and forbidden"):
        api.track(det, api.LAPParams(), fixed=FixedLinks(pinned=[(f0[0], f1[0])],
                                                         forbidden=[(f0[0], f1[0])]))
    with pytest.raises(ParameterError, match="trackpy cannot keep links fixed"):
        api.track(det, TrackpyParams(), fixed=FixedLinks(pinned=[(f0[0], f1[0])]))
