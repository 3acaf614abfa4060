"""The data twin: the recipe found on detections, and advice ranked on its twins."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_mpt import api
from napari_mpt.cli import main
from napari_mpt.core.errors import ParameterError
from napari_mpt.core.params import TRACKER_METHODS, AdviseParams
from napari_mpt.io import write_detections
from napari_mpt.twin.advise import frame_counts
from napari_mpt.twin.estimate import twin_recipe

SCENE = {"particles": 60, "frames": 25, "field_of_view": 177.0, "process_noise": 1.5,
         "measurement_noise": 0.4, "detection_probability": 0.85, "clutter": 3.0,
         "birth_rate": 2.0, "survival": 0.95, "end_at_edge": True, "seed": 2}


def test_the_recipe_finds_the_scene_s_density_and_detection_rates():
    sim = api.simulate(api.SimulationParams(**SCENE))
    r = twin_recipe(sim.detections, max_particles=30, max_frames=15)
    f, p = r.found, r.params
    per_frame = len(sim.truth) / SCENE["frames"]
    assert f["particles"] == pytest.approx(per_frame, rel=0.15)
    assert p.detection_probability == pytest.approx(0.85, abs=0.06)
    assert f["clutter_per_frame"] == pytest.approx(3.0, rel=0.5)
    assert p.process_noise == pytest.approx(1.5, rel=0.25)
    # shrunk to 30 particles at the same density, 15 frames
    assert p.particles == 30 and p.frames == 15
    density = f["particles"] / f["field_of_view"] ** 2
    assert p.particles / p.field_of_view ** 2 == pytest.approx(density, rel=0.05)
    assert p.end_at_edge and 0 < p.survival < 1 and p.birth_rate > 0


def test_clean_detections_make_a_clean_twin():
    sim = api.simulate(api.SimulationParams(particles=8, frames=20, field_of_view=100.0,
                                            seed=1))
    p = twin_recipe(sim.detections).params
    assert p.detection_probability == 1.0 and p.clutter == 0 and p.birth_rate == 0
    assert p.survival == 1.0 and not p.end_at_edge and p.particles == 8


def test_frame_counts_are_the_association_jaccard_by_frame():
    sim = api.simulate(api.SimulationParams(**{**SCENE, "particles": 20, "frames": 8}))
    res = api.track(sim.detections, api.LAPParams())
    c = frame_counts(res.tracks, sim.truth, sim.detections.frame, 8)
    a = api.evaluate(res.tracks, sim.truth).association
    assert tuple(c.sum(axis=0)) == (a.tp, a.fp, a.fn)
    assert not c[0].any()                       # no link arrives in the first frame


@pytest.mark.slow
def test_advice_ranks_the_trackers_best_first_with_intervals(tmp_path, capsys):
    sim = api.simulate(api.SimulationParams(**{**SCENE, "particles": 30, "frames": 12}))
    path = tmp_path / "detections.csv"
    write_detections(path, sim.detections)
    assert main(["advise", str(path), "--twins", "2", "--max-particles", "20",
                 "--max-frames", "10", "--methods", "lap", "trackpy", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ranking = out["ranking"]
    assert [r["method"] for r in ranking] in (["lap", "trackpy"], ["trackpy", "lap"])
    assert ranking[0]["value"] >= ranking[1]["value"]
    for r in ranking:
        lo, hi = r["interval"]
        assert 0 <= lo <= r["value"] <= hi <= 1 and r["time"] > 0
        assert r["measure"] == "association_jaccard"
    assert 0 <= ranking[0]["p_better_than_next"] <= 1
    assert out["parameters"]["particles"] == 20 and out["twins"] == 2
    assert out["found"]["estimator"]["detection_probability"] > 0.5
    assert main(["advise", str(path), "--methods", "lap", "--twins", "1",
                 "--max-frames", "6"]) == 0
    assert "ranking on 1 twin(s)" in capsys.readouterr().out


def test_advice_refuses_an_unknown_tracker():
    with pytest.raises(ParameterError, match="methods"):
        AdviseParams(methods=("lap", "kalman"))
    assert set(TRACKER_METHODS) == set(api.TRACKERS)
    assert np.all([m in api.TRACKERS for m in AdviseParams().methods])
