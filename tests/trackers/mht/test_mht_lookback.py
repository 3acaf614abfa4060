"""The lookback the data calls for (trackers/mht/lookback.py): the rule stops where one
more frame of hindsight changes under 1 % of the links, within a node budget, and a
lookback the user gives is always used."""

from __future__ import annotations

import pytest
from mht_cases import scene

from napari_mpt import MHTParams, simulate
from napari_mpt.trackers.mht import track_mht
from napari_mpt.trackers.mht.lookback import LINK_CHANGE, MAX_LOOKBACK, sample
from napari_mpt.trackers.mht.tracker import frames_of


def test_a_clean_sparse_scene_needs_no_hindsight():
    sim = simulate(particles=30, frames=40, measurement_noise=0.3, process_noise=0.5, seed=4)
    r = track_mht(sim.detections, MHTParams())
    ev = r.info["estimation"]["lookback"]
    assert r.info["estimated"]["lookback"] == 1 == r.params["lookback"]
    assert ev["changed_links"]["1"] < LINK_CHANGE and "under 1%" in ev["reason"]


@pytest.mark.slow
def test_misses_clutter_and_births_call_for_more_and_the_choice_is_reproducible():
    det, _ = scene(40, 40, p_d=0.8, clutter=4.0, fov=70.0, step=1.5, noise=0.5, seed=3)
    a = track_mht(det, MHTParams())
    k = a.info["estimated"]["lookback"]
    changes = a.info["estimation"]["lookback"]["changed_links"]
    assert 2 <= k <= MAX_LOOKBACK and changes["1"] >= LINK_CHANGE
    assert all(changes[str(j)] >= LINK_CHANGE for j in range(1, k))   # each step kept changing
    b = track_mht(det, MHTParams())
    assert b.info["estimated"]["lookback"] == k and b.info["score"] == a.info["score"]


@pytest.mark.slow
def test_the_time_budget_caps_the_lookback_and_says_so():
    """Here the links change until K = 4; a 0.1 s budget (15,000 nodes) stops at K = 2,
    whose trees grow about fivefold to K = 3: that sample run is not even made."""
    det, _ = scene(40, 40, p_d=0.8, clutter=4.0, fov=70.0, step=1.5, noise=0.5, seed=3)
    free = track_mht(det, MHTParams()).info["estimated"]["lookback"]
    r = track_mht(det, MHTParams(time_budget_s=0.1))
    ev = r.info["estimation"]["lookback"]
    assert r.info["estimated"]["lookback"] == 2 < free
    assert "time budget" in ev["reason"] and "3" not in ev["predicted_nodes"]
    assert ev["predicted_nodes"]["2"] ** 2 / ev["predicted_nodes"]["1"] > 0.1 * 150_000


def test_a_given_lookback_is_used_as_given():
    det, _ = scene(20, 20, p_d=0.8, clutter=4.0, fov=50.0, step=1.5, noise=0.5, seed=3)
    r = track_mht(det, MHTParams(lookback=5))
    assert r.params["lookback"] == 5 and "lookback" not in r.info["estimated"]
    assert "lookback" not in r.info.get("estimation", {})


def test_the_sample_is_a_central_window_and_crop():
    sim = simulate(particles=600, frames=60, field_of_view=400.0, seed=1)
    numbers, coords, rows = frames_of(sim.detections)
    sn, sc, sr, share = sample(numbers, coords, rows)
    assert len(sc) == 15 and sn[0] == 22                  # a quarter of 60, centred
    per_frame = sum(len(z) for z in sc) / len(sc)
    assert 100 < per_frame < 200                           # cropped to about 150
    assert share == sum(len(z) for z in sc) / len(sim.detections)
    assert all(len(z) == len(r) for z, r in zip(sc, sr, strict=True))
