"""Every tracker's ``link_confidence``: in [0, 1], NaN where a track starts, and higher on
right links than on wrong ones."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mpt import api
from napari_mpt.core.data import Detections
from napari_mpt.core.params import TrackpyParams
from napari_mpt.evaluation.agreement import CONFIDENCE, arriving_vertices
from napari_mpt.evaluation.metrics import detection_links
from napari_mpt.trackers.margins import margin_confidence, margins, step_variance


def test_the_margin_is_the_cheapest_alternative_at_either_end_by_hand():
    # frame 0: a at 0, c at 10; frame 1: b at 1, d at 4; frame 2: e at 2 (x only)
    det = Detections(np.array([0, 0, 1, 1, 2]),
                     np.array([[0, 0], [0, 10], [0, 1], [0, 4], [0, 2]], float))
    links = np.array([[0, 2], [1, 3], [2, 4]])
    m = margins(det, links, lambda g: 5.0)
    # a->b costs 1; a's other option d costs 16, b's other option c (10 - 1)^2 = 81 is
    # beyond the cutoff, so the start cost 25 counts: margin 16 - 1
    assert m[0] == pytest.approx(15.0)
    # c->d costs 36; d could come from a (16): a negative margin
    assert m[1] == pytest.approx(16.0 - 36.0)
    # b->e costs 1; b's other option none, e's: d (2 - 4)^2 = 4
    assert m[2] == pytest.approx(3.0)
    conf = margin_confidence(det, links, lambda g: 5.0)
    s2 = step_variance(det, links)
    assert np.isnan(conf[[0, 1]]).all()
    assert conf[2] == pytest.approx(1 / (1 + np.exp(-15.0 / (2 * s2))))
    assert conf[3] < 0.5 < conf[4]


def scene():
    return api.simulate(api.SimulationParams(particles=80, frames=20, field_of_view=120.0,
                                             process_noise=2.0, detection_probability=0.9,
                                             clutter=3, seed=3))


def check_meaningful(tracks, truth, sure=0.9, unsure=0.5, gap=0.15):
    """Right links more confident than wrong ones by ``gap`` on average, and links above
    ``sure`` right more often than links below ``unsure`` by 0.2."""
    conf = np.asarray(tracks.features[CONFIDENCE], dtype=np.float64)
    first = np.r_[True, tracks.track_id[1:] != tracks.track_id[:-1]]
    assert np.isnan(conf[first]).all()
    c = conf[arriving_vertices(tracks)]
    assert np.isfinite(c).all() and ((c >= 0) & (c <= 1)).all()
    true = {tuple(x) for x in detection_links(truth).tolist()}
    right = np.array([tuple(x) in true for x in detection_links(tracks).tolist()])
    assert 0 < right.mean() < 1
    # right links are more confident, and confident links are more often right
    assert c[right].mean() > c[~right].mean() + gap
    assert right[c >= sure].mean() > right[c < unsure].mean() + 0.2


@pytest.mark.slow
def test_trackpy_reports_its_cost_margin():
    sim = scene()
    check_meaningful(api.track(sim.detections, TrackpyParams()).tracks, sim.truth)


@pytest.mark.slow
def test_lap_reports_its_cost_margin():
    sim = scene()
    check_meaningful(api.track(sim.detections, api.LAPParams()).tracks, sim.truth)


def test_the_confidence_is_written_with_the_tracks(tmp_path):
    from napari_mpt.io import read_track_file, read_tracks, write_tracks

    sim = api.simulate(api.SimulationParams(particles=6, frames=5, field_of_view=50.0,
                                            seed=1))
    tracks = api.track(sim.detections, api.LAPParams()).tracks
    conf = tracks.features[CONFIDENCE]
    for name in ("t.csv", "t.geff", "t.trackmate.xml"):
        write_tracks(tmp_path / name, tracks, detections=sim.detections)
        back = (read_tracks(tmp_path / name) if name.endswith(".csv")
                else read_track_file(tmp_path / name).tracks)
        np.testing.assert_allclose(back.features[CONFIDENCE], conf, equal_nan=True)


@pytest.mark.slow
def test_the_association_transformer_reports_its_association_probability():
    sim = scene()
    res = api.track(sim.detections, api.TransformerParams(checkpoint="association",
                                                          device="cpu"))
    check_meaningful(res.tracks, sim.truth)


@pytest.mark.slow
def test_the_mht_reports_its_score_margin():
    sim = scene()
    # the best hypothesis makes its links: every margin is >= 0, every confidence >= 1/2
    tracks = api.track(sim.detections, api.MHTParams(lookback=3, link_confidence=True)).tracks
    check_meaningful(tracks, sim.truth, sure=0.99, unsure=0.8, gap=0.05)


def test_the_mht_gives_confidence_only_when_asked():
    """Off by default (it costs 3 to 10 x the search): the feature is there, empty."""
    sim = scene()
    plain = api.track(sim.detections, api.MHTParams(lookback=2)).tracks
    asked = api.track(sim.detections, api.MHTParams(lookback=2, link_confidence=True)).tracks
    np.testing.assert_array_equal(plain.detection, asked.detection)   # the same tracks
    assert np.isnan(np.asarray(plain.features[CONFIDENCE], dtype=float)).all()
    assert np.isfinite(np.asarray(asked.features[CONFIDENCE],
                                  dtype=float)[arriving_vertices(asked)]).all()


@pytest.mark.slow
def test_the_mht_margin_is_the_brute_force_margin():
    """Whole-window MHT on scenes of 5 to 8 detections: each link's confidence is
    ``1 / (1 + exp(-(S - S')))`` with ``S`` the best hypothesis's score and ``S'`` the best
    without that link, both by brute-force enumeration."""
    from mht_brute_force import FixedRules, constrained_best
    from mht_brute_force import brute_scene as _scene
    from mht_brute_force import cases as _cases
    from mht_brute_force import params as _params

    from napari_mpt.trackers.mht import track_mht

    checked = 0
    for n, T, seed, motion, gap in _cases()[:6]:
        det, _ = _scene(n, T, seed)
        params = _params(motion, T - 1, gap, link_confidence=True)
        tracks = track_mht(det, params).tracks
        best = constrained_best(FixedRules(det, params, set()), set())
        conf = np.asarray(tracks.features[CONFIDENCE])
        for (a, b), v in zip(detection_links(tracks).tolist(),
                             conf[arriving_vertices(tracks)].tolist(), strict=True):
            without = constrained_best(FixedRules(det, params, {(a, b)}), set())
            want = 1.0 / (1.0 + np.exp(-(best - without)))
            assert v == pytest.approx(want, abs=1e-6), (n, T, seed, a, b)
            checked += 1
    assert checked >= 6
