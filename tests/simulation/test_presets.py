"""ISBI-like presets: the challenge's geometry and densities, steady counts, overrides."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mpt import simulate
from napari_mpt.core.errors import ParameterError
from napari_mpt.simulation.presets import (
    CHALLENGE,
    PRESETS,
    exit_rate,
    motion_figures,
    preset_params,
)


def test_twelve_presets_with_the_challenges_geometry():
    assert sorted(PRESETS) == sorted(f"{s}-{d}" for s in ("vesicle", "receptor", "microtubule",
                                                          "mixture")
                                     for d in ("low", "mid", "high"))
    motions = {"vesicle": "brownian", "receptor": "switching", "microtubule": "directed",
               "mixture": "mixture"}
    for name in PRESETS:
        p = preset_params(name)
        assert (p.frames, p.field_of_view, p.ndim) == (100, 512.0, 2)
        assert p.particles == {"low": 100, "mid": 500, "high": 1000}[name.split("-")[1]]
        assert p.motion == motions[name.split("-")[0]]
        assert not p.is_clean()


def test_birth_rate_replaces_deaths_and_exits():
    p = preset_params("vesicle-high")
    exits = 4 * 1000 * 2.0 * np.sqrt(2 / (np.pi * 100)) / 512   # hand: 1.2465 per frame
    assert exit_rate(1000, 512.0, 100, "brownian", 2.0, 0.0) == pytest.approx(exits)
    # mean lifetime: 3 frames, then geometric with survival 0.95 (mean 1 / 0.05)
    assert p.birth_rate == pytest.approx(1000 / (3 + 1 / 0.05) + exits, abs=0.005)
    assert exit_rate(1000, 512.0, 100, "directed", 0.5, 3.0) == pytest.approx(
        4 * 1000 * 3.0 / np.pi / 512)
    # a mixture moves for its Brownian and directed shares of the time
    assert exit_rate(1000, 512.0, 100, "mixture", 2.0, 3.0, 0.2, 0.3) == pytest.approx(
        0.5 * exits + 0.2 * 4 * 1000 * 3.0 / np.pi / 512)


@pytest.mark.parametrize("name", ["vesicle-low", "receptor-low"])
def test_presets_show_the_challenges_motion_figures(name):
    """The recalibrated presets reproduce what the challenge's ground truth shows (step
    length quantiles, lag-1 velocity autocorrelation, median track length)."""
    got, want = motion_figures(simulate(preset_params(name)).truth), CHALLENGE[name[:-4]]
    np.testing.assert_allclose(got["step"][:3], want["step"][:3], rtol=0.1)
    assert abs(got["autocorrelation"] - want["autocorrelation"]) < 0.1
    assert abs(got["track_frames"][1] - want["track_frames"][1]) <= 3


def test_mixture_holds_immobile_brownian_and_directed_particles():
    sim = simulate(preset_params("mixture-low", detection_probability=1.0, clutter=0.0,
                                 measurement_noise=0.0))
    t = sim.truth
    ok = (t.track_id[1:] == t.track_id[:-1]) & (t.frame[1:] == t.frame[:-1] + 1)
    step = np.linalg.norm(np.diff(t.coords, axis=0)[ok], axis=1)
    assert abs((step == 0).mean() - 0.3) < 0.05       # immobile: no step at all
    assert abs((step > 3.0).mean() - 0.2) < 0.06      # directed at 4 px / frame
    mover = step > 0
    assert abs(np.median(step[mover & (step < 3.0)]) - 1.5 * 1.18) < 0.3  # Rayleigh(1.5)


@pytest.mark.parametrize("name", ["vesicle-high", "receptor-high", "microtubule-high",
                                  "mixture-high"])
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
