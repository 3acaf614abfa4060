"""The simulator follows paper eq. 2-3 and hides identities by shuffling."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mpt import SimulationParams, simulate
from napari_mpt.core.errors import ParameterError
from napari_mpt.simulation.simulate import simulate_arrays


def test_shapes_truth_and_shuffle():
    sim = simulate(particles=3, frames=40, seed=1, measurement_noise=0.0)
    det, truth = sim.detections, sim.truth
    assert len(det) == 120 and det.counts() == dict.fromkeys(range(40), 3)
    # with sigma = 0 each true vertex sits exactly on the detection it names
    np.testing.assert_array_equal(det.coords[truth.detection], truth.coords)
    # detections are shuffled within frames: particle 0 is not always first
    first = truth.detection[truth.track_id == 0] % 3
    assert len(set(first.tolist())) > 1


def test_noise_and_drift_statistics():
    p = SimulationParams(particles=2, frames=4000, process_noise=1.5, measurement_noise=2.0,
                         drift=(0.5, -1.0), seed=3)
    truth, meas = simulate_arrays(p)
    steps = np.diff(truth, axis=0).reshape(-1, 2)
    np.testing.assert_allclose(steps.mean(0), [0.5, -1.0], atol=0.05)
    np.testing.assert_allclose(steps.std(0), 1.5, rtol=0.03)
    np.testing.assert_allclose((meas - truth).reshape(-1, 2).std(0), 2.0, rtol=0.03)
    assert np.linalg.norm(truth[0, 0] - truth[0, 1]) == pytest.approx(p.separation)


def test_per_particle_drift_and_3d():
    p = SimulationParams(particles=2, frames=500, ndim=3, process_noise=0.0,
                         drift=(1, 0, 0, 0, 0, -2), seed=0)
    truth, _ = simulate_arrays(p)
    np.testing.assert_allclose(truth[-1] - truth[0], [[499, 0, 0], [0, 0, -998]])


def test_seed_determinism():
    a, b = simulate(seed=9), simulate(seed=9)
    np.testing.assert_array_equal(a.detections.coords, b.detections.coords)
    assert not np.array_equal(a.detections.coords, simulate(seed=10).detections.coords)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"particles": 0}, "particles"), ({"frames": 1}, "frames"),
    ({"measurement_noise": -1.0}, "measurement_noise"), ({"drift": (1.0,)}, "drift"),
    ({"process_noise": float("nan")}, "process_noise"),
])
def test_bad_parameters_name_the_parameter(kwargs, name):
    with pytest.raises(ParameterError) as err:
        SimulationParams(**kwargs)
    assert err.value.name == name and name in str(err.value)


# sha256 of (detections.frame, detections.coords, truth.track_id, truth.frame, truth.coords,
# truth.detection) as made by the simulator before real detections were added (commit
# 14dc663): the defaults and every clean setting must keep producing exactly these arrays.
CLEAN_FIXTURES = [
    ({}, "fa76f7e02d88b8874529a4d6a9ff1fa7dd36df2a4777295b4075797e9d32e26c"),
    ({"particles": 1}, "f5c44c1814b0384ebf198271d0b19f3ada92358a53fc7934b7552f1d785cc1a1"),
    ({"particles": 5, "frames": 30, "seed": 3},
     "dbebb4f844d894accc8f98164883100a35dd2816fb7acb07f6f6261d7fd686da"),
    ({"particles": 3, "ndim": 3, "drift": (0.5, 0, -1), "seed": 7},
     "76530eaffca4ff2757b690e46af38a90498ebfa62b4a6ad47f117460cf2fc2d1"),
    ({"particles": 2, "drift": (0.1, 0, 1, 1), "seed": 2},
     "07306e6d34af6e1e2ebc3689f30f2e6591f01aae3286c580eb26f628120257e7"),
]


def _digest(sim) -> str:
    import hashlib

    h = hashlib.sha256()
    for a in (sim.detections.frame, sim.detections.coords, sim.truth.track_id,
              sim.truth.frame, sim.truth.coords, sim.truth.detection):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


@pytest.mark.parametrize(("kwargs", "digest"), CLEAN_FIXTURES)
def test_clean_simulations_are_bit_identical_to_before(kwargs, digest):
    assert SimulationParams(**kwargs).is_clean()
    assert _digest(simulate(SimulationParams(**kwargs))) == digest


def _check_truth_names_its_detections(sim):
    """Every detected vertex names a distinct row holding its measurement's frame; every
    other row is clutter."""
    det, truth = sim.detections, sim.truth
    seen = truth.detection[truth.detection >= 0]
    assert len(np.unique(seen)) == len(seen)
    np.testing.assert_array_equal(det.frame[seen], truth.frame[truth.detection >= 0])
    return np.setdiff1d(np.arange(len(det)), seen)


def test_missed_detections_and_clutter():
    sim = simulate(particles=200, frames=60, detection_probability=0.8, clutter=5.0,
                   measurement_noise=0.0, field_of_view=100.0, seed=4)
    det, truth = sim.detections, sim.truth
    hit = truth.detection >= 0
    # with sigma = 0 the named row holds the true position exactly
    np.testing.assert_array_equal(det.coords[truth.detection[hit]], truth.coords[hit])
    assert abs(hit.mean() - 0.8) < 0.01            # 12000 Bernoulli(0.8) draws: std 0.004
    clutter = _check_truth_names_its_detections(sim)
    assert abs(len(clutter) / 60 - 5.0) < 1.0      # Poisson(5) x 60 frames: std 0.29
    assert np.all((det.coords[clutter] >= 0) & (det.coords[clutter] <= 100.0))
    # no births, deaths or exits: every particle has all 60 frames
    assert len(truth) == 200 * 60
    # ragged frames: counts differ between frames
    assert len(set(det.counts().values())) > 1
    # shuffled within frames: in frame 0 the rows of particles 0, 1, 2... are not in order,
    # and clutter rows sit anywhere in their frame (mean relative place 1/2, not last)
    f0 = (truth.frame == 0) & hit
    assert not np.all(np.diff(truth.detection[f0]) > 0)
    first_row = np.searchsorted(det.frame, det.frame)       # frames are in row order
    counts = np.bincount(det.frame)[det.frame]
    place = (np.arange(len(det)) - first_row + 0.5) / counts
    assert abs(place[clutter].mean() - 0.5) < 0.1          # ~300 rows: std 0.017


def test_births_and_survival():
    sim = simulate(particles=50, frames=400, birth_rate=5.0, survival=0.9, seed=5)
    truth = sim.truth
    ids, first = np.unique(truth.track_id, return_index=True)
    starts = truth.frame[first]
    assert np.all(starts[:50] == 0) and np.all(starts[50:] >= 1)
    assert abs((len(ids) - 50) / 399 - 5.0) < 0.4   # Poisson(5) x 399 frames: std 0.11
    lengths = np.bincount(truth.track_id)
    # lives of particles born before frame 200 are uncensored (P(L > 200) = 0.9^200):
    # geometric with mean 1 / (1 - 0.9) = 10 frames, std 9.5, ~1000 of them: std 0.3
    early = lengths[starts < 200]
    assert len(early) > 900 and abs(early.mean() - 10.0) < 1.0
    # one vertex per frame, no gaps
    assert np.all(np.diff(truth.frame)[np.diff(truth.track_id) == 0] == 1)


def test_directed_motion_moves_at_speed_along_a_fixed_direction():
    sim = simulate(particles=20, frames=30, motion="directed", speed=2.5, process_noise=0.0,
                   measurement_noise=0.0, seed=6)
    steps = np.diff(sim.truth.coords.reshape(20, 30, 2), axis=1)
    np.testing.assert_allclose(np.linalg.norm(steps, axis=2), 2.5)
    np.testing.assert_allclose(steps, steps[:, :1, :].repeat(29, axis=1))
    directions = steps[:, 0] / 2.5
    assert np.ptp(np.arctan2(directions[:, 0], directions[:, 1])) > 2.0  # not all alike


def test_switching_motion_switches_with_the_given_probability():
    sim = simulate(particles=400, frames=50, motion="switching", speed=3.0,
                   switch_probability=0.2, process_noise=0.0, measurement_noise=0.0, seed=7)
    norms = np.linalg.norm(np.diff(sim.truth.coords.reshape(400, 50, 2), axis=1), axis=2)
    directed = np.isclose(norms, 3.0)
    assert np.all(directed | np.isclose(norms, 0.0))
    switches = (directed[:, 1:] != directed[:, :-1]).mean()
    assert abs(switches - 0.2) < 0.02             # 19200 Bernoulli(0.2): std 0.003
    assert abs(directed.mean() - 0.5) < 0.05


def test_particles_that_leave_the_field_of_view_end_there():
    sim = simulate(particles=100, frames=50, motion="directed", speed=5.0, process_noise=0.0,
                   field_of_view=100.0, end_at_edge=True, seed=8)
    c = sim.truth.coords
    assert np.all((c >= 0) & (c <= 100.0))
    lengths = np.bincount(sim.truth.track_id)
    # the longest straight path in the square is its diagonal, 141.4 px: 28 steps of 5 px
    assert lengths.min() < 50 and lengths.max() <= 29
    # without the flag they run on out of it
    free = simulate(particles=100, frames=50, motion="directed", speed=5.0, process_noise=0.0,
                    field_of_view=100.0, seed=8)
    assert len(free.truth) == 5000 and free.truth.coords.max() > 100.0


def test_3d_with_everything_on():
    sim = simulate(particles=30, frames=20, ndim=3, detection_probability=0.7, clutter=2.0,
                   birth_rate=1.0, survival=0.95, motion="switching", end_at_edge=True,
                   field_of_view=50.0, seed=9)
    assert sim.detections.ndim == 3 and sim.truth.ndim == 3
    _check_truth_names_its_detections(sim)
    a, b = simulate(sim.params), simulate(sim.params)
    np.testing.assert_array_equal(a.detections.coords, b.detections.coords)


def test_per_particle_drift_with_births_is_refused():
    with pytest.raises(ParameterError, match="drift"):
        SimulationParams(particles=2, drift=(1, 0, 0, 1), birth_rate=1.0)
    SimulationParams(particles=2, drift=(1, 0), birth_rate=1.0)  # shared drift is fine


def test_cli_preset_then_explicit_options(tmp_path):
    import json

    from napari_mpt.cli import main
    from napari_mpt.io import read_detections, read_tracks

    out = tmp_path / "sim"
    assert main(["simulate", "--preset", "receptor-low", "--frames", "12", "--clutter", "0",
                 "--detection-probability", "0.5", "--seed", "4", "--out", str(out)]) == 0
    saved = json.loads((out / "params.json").read_text())
    assert saved["preset"] == "receptor-low"
    p = SimulationParams.from_dict(saved["simulation"])
    assert (p.frames, p.clutter, p.detection_probability, p.motion, p.particles) == (
        12, 0.0, 0.5, "switching", 100)
    det, truth = read_detections(out / "detections.csv"), read_tracks(out / "truth.csv")
    sim = simulate(p)
    np.testing.assert_allclose(det.coords, sim.detections.coords)
    np.testing.assert_array_equal(truth.detection, sim.truth.detection)
    assert (truth.detection == -1).any()           # misses are written as -1


def test_cli_flag_names(tmp_path):
    from napari_mpt.cli import main

    out = tmp_path / "s"
    assert main(["simulate", "--particles", "5", "--field-of-view", "40", "--frames", "5",
                 "--detection-probability", "0.9", "--clutter", "1", "--birth-rate", "0.5",
                 "--survival", "0.9", "--motion", "directed", "--speed", "1.5",
                 "--switch-probability", "0.3", "--end-at-edge", "--out", str(out)]) == 0
    assert (out / "truth.csv").exists()
