"""The simulator follows paper eq. 2-3 and hides identities by shuffling."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mpt import SimulationParams, simulate
from napari_mpt.errors import ParameterError
from napari_mpt.simulate import simulate_arrays


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
