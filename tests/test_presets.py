"""ISBI-like presets: the challenge's geometry and densities, steady counts, overrides."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mpt import simulate
from napari_mpt.core.errors import ParameterError
from napari_mpt.core.params import SimulationParams
from napari_mpt.simulation.presets import PRESETS, exit_rate, preset_params


def test_nine_presets_with_the_challenges_geometry():
    assert sorted(PRESETS) == sorted(f"{s}-{d}" for s in ("vesicle", "receptor", "microtubule")
                                     for d in ("low", "mid", "high"))
    motions = {"vesicle": "brownian", "receptor": "switching", "microtubule": "directed"}
    for name in PRESETS:
        p = preset_params(name)
        assert (p.frames, p.field_of_view, p.ndim) == (100, 512.0, 2)
        assert p.particles == {"low": 100, "mid": 500, "high": 1000}[name.split("-")[1]]
        assert p.motion == motions[name.split("-")[0]]
        assert not p.is_clean()


def test_birth_rate_replaces_deaths_and_exits():
    p = preset_params("vesicle-high")
    exits = 4 * 1000 * 1.5 * np.sqrt(2 / (np.pi * 100)) / 512   # hand: 0.9348 per frame
    assert exit_rate(1000, 512.0, 100, "brownian", 1.5, 0.0) == pytest.approx(exits)
    assert p.birth_rate == pytest.approx(1000 * 0.01 + exits, abs=0.005)
    assert exit_rate(1000, 512.0, 100, "directed", 0.5, 3.0) == pytest.approx(
        4 * 1000 * 3.0 / np.pi / 512)


@pytest.mark.parametrize("name", ["vesicle-high", "receptor-high", "microtubule-high"])
def test_particle_count_stays_near_n(name):
    sim = simulate(preset_params(name))
    alive = np.bincount(sim.truth.frame, minlength=100)
    assert alive[0] == 1000
    assert abs(alive.mean() - 1000) < 100 and abs(alive[-10:].mean() - 1000) < 100


def test_overrides_win_and_unknown_names_are_refused():
    p = preset_params("vesicle-low", seed=3, clutter=0.0)
    assert (p.seed, p.clutter, p.particles) == (3, 0.0, 100)
    with pytest.raises(ParameterError, match="preset"):
        preset_params("vesicle-huge")


@pytest.mark.gui
def test_simulate_widget_preset_fills_the_form_and_simulates(make_napari_viewer):
    viewer = make_napari_viewer()
    w = viewer.window.add_plugin_dock_widget("napari-mpt", "Simulate")[1]
    w.preset.value = "microtubule-low"
    w.form["frames"].value = 10                    # an edit on top of the preset
    assert w.params() == preset_params("microtubule-low", frames=10)
    points, truth = w.run()
    sim = simulate(preset_params("microtubule-low", frames=10))
    np.testing.assert_allclose(points.data[:, 1:], sim.detections.coords)
    np.testing.assert_array_equal(truth.features["detection"], sim.truth.detection)
    w.preset.value = "(none)"
    assert w.params() == SimulationParams()
