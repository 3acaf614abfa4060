"""Link Jaccard (paper III-D) on cases computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
from mht_cases import PAPER_CV

from napari_mpt.core.data import Tracks
from napari_mpt.evaluation.metrics import link_jaccard, match_frames

TRUTH = Tracks([0, 0, 0, 1, 1, 1], [0, 1, 2, 0, 1, 2],
               [[0, 0], [0, 1], [0, 2], [10, 0], [10, 1], [10, 2]])


def est(rows):
    tid, frame, coords = zip(*rows, strict=True)
    return Tracks(tid, frame, coords)


def test_perfect_tracks():
    s = link_jaccard(TRUTH, TRUTH)
    assert (s.tp, s.fp, s.fn, s.jaccard) == (4, 0, 0, 1.0)
    assert s.errors == [] and not s.wrong_link.any()


def test_swap_in_the_last_frame():
    e = est([(0, 0, (0, 0)), (0, 1, (0, 1)), (0, 2, (10, 2)),
             (1, 0, (10, 0)), (1, 1, (10, 1)), (1, 2, (0, 2))])
    s = link_jaccard(e, TRUTH)
    assert (s.tp, s.fp, s.fn) == (2, 2, 2)
    assert s.jaccard == pytest.approx(2 / 6)
    assert s.per_frame() == {2: {"fp": 2, "fn": 2}}
    # the wrong link arrives in frame 2 of both tracks
    assert s.wrong_link.tolist() == [False, False, True, False, False, True]
    fp = [x for x in s.errors if x.kind == "FP"]
    assert {x.particles for x in fp} == {(0, 1), (1, 0)}
    fn = [x for x in s.errors if x.kind == "FN"]
    assert {(x.track_id, x.start, x.end) for x in fn} == {
        (0, (0.0, 1.0), (0.0, 2.0)), (1, (10.0, 1.0), (10.0, 2.0))}


def test_matching_minimises_the_summed_distance():
    # In frame 1 each estimate is nearer the other particle: the Hungarian matching
    # (6+6 vs 4+4) swaps them, so every link is wrong although the tracks look right.
    e = est([(0, 0, (0, 0)), (0, 1, (6, 1)), (0, 2, (0, 2)),
             (1, 0, (10, 0)), (1, 1, (4, 1)), (1, 2, (10, 2))])
    s = link_jaccard(e, TRUTH)
    assert (s.tp, s.fp, s.fn, s.jaccard) == (0, 4, 4, 0.0)
    assert s.matched_particle.tolist() == [0, 1, 0, 1, 0, 1]


def test_a_vertex_with_no_true_particle_makes_a_false_positive():
    e = est([(0, 0, (0, 0)), (0, 1, (0, 1)), (0, 2, (0, 2)), (0, 3, (0, 3)),
             (1, 0, (10, 0)), (1, 1, (10, 1)), (1, 2, (10, 2))])
    s = link_jaccard(e, TRUTH)
    assert (s.tp, s.fp, s.fn) == (4, 1, 0)
    assert s.jaccard == pytest.approx(0.8)


def test_dimension_mismatch_is_a_clear_error():
    three_d = Tracks([0, 0], [0, 1], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="3D but the truth is 2D"):
        link_jaccard(three_d, TRUTH)


# --- the paper's measure on the shipped clean samples: today's numbers, exactly ------------
# (tp, fp, fn, first wrong-link rows) of MHT K=4 tracks scored by the paper's matching as it
# was before the gate existed (commit 14dc663), and the largest distance of a matched pair.
SAMPLES = {
    "pair_T150_sigma1": ((298, 0, 0), [], 3.45),
    "pair_T150_sigma5": ((272, 26, 26), [9, 12, 13, 16, 38, 41, 42, 44, 46, 49], 13.48),
    "pair_T8_sigma1.2": ((14, 0, 0), [], 2.86),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_clean_samples_give_todays_numbers(name):
    from pathlib import Path

    from napari_mpt import api
    from napari_mpt.io import read_detections, read_tracks

    data = Path(__file__).resolve().parents[2] / "sample_data"
    truth = read_tracks(data / f"{name}_truth.csv")
    tracks = api.track(read_detections(data / f"{name}_detections.csv"),
                       api.MHTParams(lookback=4, process_noise=1.5,  # today's priors
                                     measurement_noise=1.0, **PAPER_CV)).tracks
    (tp, fp, fn), wrong, reach = SAMPLES[name]
    auto = api.evaluate(tracks, truth)
    assert auto.gate is None                       # equal counts: the paper's matching
    # any gate beyond the farthest matched pair changes nothing; 5 px does for sigma 5
    for gate in (None, reach + 0.01, 1e6):
        s = link_jaccard(tracks, truth, gate)
        assert (s.tp, s.fp, s.fn) == (tp, fp, fn) == (auto.tp, auto.fp, auto.fn)
        assert s.jaccard == auto.jaccard == pytest.approx(tp / (tp + fp + fn))
        assert np.flatnonzero(s.wrong_link).tolist()[:10] == wrong
    if reach > 5.0:
        assert link_jaccard(tracks, truth, 5.0).tp < tp


# --- gated matching ---------------------------------------------------------------------
def test_gate_leaves_far_vertices_unmatched():
    # the tracker loses particle 1 after frame 0; a clutter track runs 30 px from it in
    # frames 1-2.  Without a gate the clutter vertices take particle 1's place and the
    # clutter link scores as particle 1's link; with the 5 px gate they stay unmatched.
    e = est([(0, 0, (0, 0)), (0, 1, (0, 1)), (0, 2, (0, 2)),
             (1, 0, (10, 0)),
             (7, 1, (40, 1)), (7, 2, (40, 2))])
    free = link_jaccard(e, TRUTH)
    gated = link_jaccard(e, TRUTH, gate=5.0)
    assert free.matched_particle.tolist() == [0, 0, 0, 1, 1, 1]
    assert gated.matched_particle.tolist() == [0, 0, 0, 1, -1, -1]
    # by hand.  free: TP track 0's two links and the clutter link (as 1's 1->2); FN 1's
    # 0->1.  gated: TP track 0's two links; FP the clutter link; FN both of 1's links.
    assert (free.tp, free.fp, free.fn) == (3, 0, 1)
    assert (gated.tp, gated.fp, gated.fn) == (2, 1, 2)
    assert gated.per_frame() == {1: {"fp": 0, "fn": 1}, 2: {"fp": 1, "fn": 1}}


def test_gated_matching_prefers_more_pairs_then_less_distance():
    # t0 = 0, t1 = 5 on a line; e0 = 4, e1 = 9, gate 5.  Pairs within the gate: e0-t0 (4),
    # e0-t1 (1), e1-t1 (4).  Two pairs (e0-t0, e1-t1: 8) beat one closer pair (e0-t1: 1).
    truth = Tracks([0, 1], [0, 0], [[0, 0], [0, 5]])
    e = Tracks([0, 1], [0, 0], [[0, 4], [0, 9]])
    assert match_frames(e, truth, 5.0).tolist() == [0, 1]
    # gate 4.5: e1-t1 (4) and e0-t0 (4) still fit; gate 3: only e0-t1
    assert match_frames(e, truth, 3.0).tolist() == [1, -1]


def _brute_matching(de, dt, gate):
    """(pairs, summed distance) of every matching within the gate, best first."""
    from itertools import permutations

    n, m = len(de), len(dt)
    best = None
    for k in range(min(n, m), -1, -1):
        for es in permutations(range(n), k):
            for ts in permutations(range(m), k):
                if list(ts) != sorted(ts):
                    continue
                d = [np.linalg.norm(de[a] - dt[b]) for a, b in zip(es, ts, strict=True)]
                if all(x <= gate for x in d):
                    cand = (k, -sum(d), sorted(zip(es, ts, strict=True)))
                    best = cand if best is None or cand[:2] > best[:2] else best
        if best is not None:
            return best
    return best


def test_gated_matching_equals_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n, m = rng.integers(1, 5), rng.integers(1, 5)
        pe, pt = rng.uniform(0, 8, (n, 2)), rng.uniform(0, 8, (m, 2))
        e = Tracks(np.arange(n), np.zeros(n), pe)
        t = Tracks(np.arange(m), np.zeros(m), pt)
        match = match_frames(e, t, 3.0)
        k, neg, pairs = _brute_matching(pe, pt, 3.0)
        ours = [(a, int(b)) for a, b in enumerate(match) if b >= 0]
        assert len(ours) == k
        assert sum(np.linalg.norm(pe[a] - pt[b]) for a, b in ours) == pytest.approx(-neg)
        assert ours == pairs                      # random distances: the optimum is unique


# --- association Jaccard by detection identity --------------------------------------------
# truth: particle 0 produced rows 0, 2, -, 6 in frames 0-3 (missed in frame 2);
# particle 1 produced rows 1, 3, 4, 5.  Row 7 is clutter in frame 3.
A_TRUTH = Tracks([0, 0, 0, 0, 1, 1, 1, 1], [0, 1, 2, 3, 0, 1, 2, 3],
                 [[0, 0], [0, 1], [0, 2], [0, 3], [9, 0], [9, 1], [9, 2], [9, 3]],
                 [0, 2, -1, 6, 1, 3, 4, 5])


def det_tracks(rows):
    tid, frame, det = zip(*rows, strict=True)
    return Tracks(tid, frame, np.zeros((len(tid), 2)), det)


def test_association_true_links_bridge_misses():
    from napari_mpt.evaluation.metrics import association_jaccard, detection_links

    assert detection_links(A_TRUTH).tolist() == [[0, 2], [2, 6], [1, 3], [3, 4], [4, 5]]
    # the tracker bridges particle 0's gap (2 -> 6), follows particle 1 to frame 2, then
    # jumps to the clutter row 7; a vertex with no detection (-1) is skipped
    e = det_tracks([(0, 0, 0), (0, 1, 2), (0, 2, -1), (0, 3, 6),
                    (1, 0, 1), (1, 1, 3), (1, 2, 4), (1, 3, 7)])
    s = association_jaccard(e, A_TRUTH)
    # predicted links: 0-2 TP, 2-6 TP, 1-3 TP, 3-4 TP, 4-7 FP; true 4-5 missed: FN
    assert (s.tp, s.fp, s.fn) == (4, 1, 1) and s.jaccard == pytest.approx(4 / 6)


def test_association_link_that_skips_a_detection_is_false():
    from napari_mpt.evaluation.metrics import association_jaccard

    # 1 -> 4 joins two detections of particle 1 but skips its detection 3: FP; the
    # true links 1-3 and 3-4 are both missed; 4-5 is followed; row 3 alone in a track
    e = det_tracks([(0, 0, 1), (0, 2, 4), (0, 3, 5), (1, 1, 3)])
    s = association_jaccard(e, A_TRUTH)
    # particle 0's links 0-2, 2-6 missed too
    assert (s.tp, s.fp, s.fn) == (1, 1, 4)
    # a link followed twice counts once
    twice = det_tracks([(0, 0, 0), (0, 1, 2), (1, 0, 0), (1, 1, 2)])
    assert (association_jaccard(twice, A_TRUTH).tp, association_jaccard(twice, A_TRUTH).fp) == (1, 1)


def test_association_absent_without_detection_identities():
    from napari_mpt.evaluation.metrics import association_jaccard, evaluate

    assert association_jaccard(TRUTH, TRUTH) is None       # TRUTH names no detections
    summary = evaluate(TRUTH, TRUTH).summary()
    assert "association_jaccard" not in summary and "association_tp" not in summary
    assert summary["jaccard"] == 1.0 and summary["alpha"] == 1.0


def test_evaluate_summary_keys_and_simulated_scene():
    from napari_mpt import api

    sim = api.simulate(particles=40, frames=15, detection_probability=0.8, clutter=3.0,
                       field_of_view=100.0, measurement_noise=0.3, seed=2)
    perfect = api.evaluate(sim.truth, sim.truth)
    s = perfect.summary()
    for key in ("jaccard", "association_jaccard", "association_tp", "association_fp",
                "association_fn", "alpha", "beta", "jsc", "jsc_theta", "rmse"):
        assert key in s
    assert s["association_jaccard"] == 1.0 and s["association_fp"] == 0
    # detections the truth names: 0.8 x 600 vertices; true links: detected pairs per
    # particle, i.e. (detected vertices - particles that have any)
    detected = sim.truth.detection >= 0
    with_any = len(np.unique(sim.truth.track_id[detected]))
    assert s["association_tp"] == detected.sum() - with_any
    assert (s["alpha"], s["beta"], s["jsc"], s["jsc_theta"], s["rmse"]) == (1, 1, 1, 1, 0)
    # legacy fields the napari widgets read
    assert perfect.jaccard == 1.0 and perfect.errors == [] and perfect.per_frame() == {}
    assert not perfect.wrong_link.any()


def test_evaluate_refuses_a_bad_gate():
    from napari_mpt.core.errors import ParameterError
    from napari_mpt.evaluation.metrics import evaluate

    with pytest.raises(ParameterError, match="gate"):
        evaluate(TRUTH, TRUTH, gate=-1.0)
    with pytest.raises(ParameterError, match="gate"):
        evaluate(TRUTH, TRUTH, gate="wide")
    with pytest.raises(ParameterError, match="isbi_gate"):
        evaluate(TRUTH, TRUTH, isbi_gate=float("inf"))
    assert evaluate(TRUTH, TRUTH, gate=float("inf")).gate is None


def test_cli_evaluate_json_and_text(tmp_path, capsys):
    import json

    from napari_mpt.cli import main

    out = tmp_path / "sim"
    assert main(["simulate", "--particles", "20", "--frames", "10", "--field-of-view", "60",
                 "--detection-probability", "0.8", "--clutter", "2", "--measurement-noise",
                 "0.2", "--out", str(out)]) == 0
    capsys.readouterr()
    truth = str(out / "truth.csv")
    assert main(["evaluate", truth, truth, "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["association_jaccard"] == 1.0 and s["jaccard"] == 1.0 and s["alpha"] == 1.0
    assert "gate" not in s                         # same counts in every frame: no gate
    assert main(["evaluate", truth, truth, "--gate", "2.5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["gate"] == 2.5
    assert main(["evaluate", truth, truth]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].startswith("jaccard 1.0000") and text[1].startswith("association jaccard")
    assert text[2].startswith("ISBI 2012 (gate 5 px): alpha 1.0000")


def test_association_measure_is_absent_for_tracks_of_another_detection_table():
    """Tracks of spots detected again (rows numbered afresh) must not be scored against the
    simulation's detection rows: the measure is absent, not a near-zero number."""
    from napari_mpt.core.params import SimulationParams
    from napari_mpt.evaluation.metrics import association_jaccard
    from napari_mpt.simulation.simulate import simulate

    sim = simulate(SimulationParams(particles=6, frames=12, field_of_view=200.0, seed=4))
    same = association_jaccard(sim.truth, sim.truth)
    assert same is not None and same.jaccard == 1.0
    renumbered = Tracks(sim.truth.track_id, sim.truth.frame, sim.truth.coords,
                        (sim.truth.detection + 7) % len(sim.detections))
    assert association_jaccard(renumbered, sim.truth) is None
