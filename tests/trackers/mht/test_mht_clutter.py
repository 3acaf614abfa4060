"""Detection-level MHT: the clean special case, estimates, ragged input, gaps, budgets."""

from __future__ import annotations

import numpy as np
import pytest
from mht_cases import PAPER_CV, PAPER_VELOCITY, link_jaccard, scene

from napari_mpt import MHTParams, simulate
from napari_mpt.core.data import Detections
from napari_mpt.core.errors import ParameterError
from napari_mpt.trackers.mht import track_mht
from napari_mpt.trackers.mht.estimate import REFERENCE, estimate_parameters

# P_D = 1, no clutter, no births, forced through the detection-level path: misses cost
# ln(1e-9) and give up a gain of -ln(1e-12), births ln(1e-300 / 1e-12)
NEARLY_CLEAN = dict(detection_probability=1.0 - 1e-9, clutter_density=1e-12,
                    birth_density=1e-300)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("motion", ["random-walk", "constant-velocity"])
def test_clean_limit_returns_todays_exact_mht(seed, motion):
    sim = simulate(particles=3, frames=7, measurement_noise=2.0, field_of_view=25.0, seed=seed)
    base = dict(lookback=6, motion_model=motion, process_noise=1.5, measurement_noise=2.0,
                gate=1e12, **PAPER_VELOCITY)
    today = track_mht(sim.detections, MHTParams(**base, detection_probability=1.0,
                                                clutter_density=0.0, birth_density=0.0))
    assert today.info["path"] == "permutations"
    general = track_mht(sim.detections, MHTParams(**base, **NEARLY_CLEAN, link_gate=1e9))
    assert general.info["path"] == "detection-level"
    key = lambda t: sorted(tuple(t.detection[t.track_id == i]) for i in t.ids())  # noqa: E731
    assert key(general.tracks) == key(today.tracks)


def test_estimate_on_clean_data_is_the_papers_model_and_values_passed_are_kept():
    sim = simulate(frames=150, seed=3)
    est = track_mht(sim.detections, MHTParams(lookback=8))
    assert est.info["path"] == "permutations"
    e = est.info["estimated"]
    assert (e["detection_probability"], e["clutter_density"], e["birth_density"]) == (1, 0, 0)
    assert 1.2 < e["process_noise"] < 1.8 and 0.7 < e["measurement_noise"] < 1.3
    assert e["motion_model"] == "random-walk"        # Brownian: never constant velocity
    given = track_mht(sim.detections, MHTParams(lookback=8, process_noise=1.5,
                                                measurement_noise=1.0,
                                                motion_model="random-walk"))
    assert set(given.info["estimated"]) == {"detection_probability", "clutter_density",
                                            "birth_density"}
    assert given.params["process_noise"] == 1.5 and given.params["measurement_noise"] == 1.0


def test_heavy_tailed_brownian_steps_get_a_random_walk_and_directed_ones_velocities():
    """Two Brownian populations (per-axis steps 0.4 and 1.6 px): the switching model beats a
    random walk by BIC only as the one wide component on offer, and the two-speed random
    walk (no velocity) beats it, so no velocities; persistent directed phases still get
    a model with velocities."""
    rng = np.random.default_rng(0)
    scale = np.where(np.arange(60) % 2 == 0, 0.4, 1.6)[:, None]
    x = rng.uniform(0, 600, (60, 2)) + np.cumsum(rng.normal(size=(30, 60, 2)) * scale, axis=0)
    e = estimate_parameters(list(x + rng.normal(0, 0.1, x.shape)))
    bic = e["bic"]
    assert bic["switching"] < bic["random-walk"]          # what chose "switching" before
    assert bic[REFERENCE] < bic["switching"] and e["motion_model"] == "random-walk"
    d = simulate(particles=40, frames=30, motion="switching", speed=3.0, field_of_view=600.0,
                 seed=1).detections
    e = estimate_parameters([d.coords[d.frame == t] for t in range(30)])
    assert e["motion_model"] in ("constant-velocity", "switching")
    assert min(e["bic"]["constant-velocity"], e["bic"]["switching"]) < e["bic"][REFERENCE]


def test_estimator_recovers_the_generators_parameters():
    det, _ = scene(40, 200, p_d=0.8, clutter=10.0, fov=400.0, step=1.5, noise=0.5,
                   lifetimes=False, seed=7)
    frames = [det.coords[det.frame == t] for t in range(200)]
    e = estimate_parameters(frames)
    assert abs(e["detection_probability"] - 0.8) < 0.05
    area = e["area"]
    assert 7.0 < e["clutter_density"] * area < 13.0        # spurious per frame: 10
    assert 1.2 < e["process_noise"] < 1.8
    assert 0.3 < e["measurement_noise"] < 0.7


def test_ragged_detections_with_misses_clutter_births_and_deaths_track():
    det, truth = scene(12, 40, p_d=0.85, clutter=2.0, fov=150.0, seed=3)
    r = track_mht(det, MHTParams(lookback=3))
    assert r.info["path"] == "detection-level"
    assert r.info["bounded_clusters"] == 0 and r.info["exact_clusters"] > 0
    assert link_jaccard(r.tracks, truth) > 0.85
    t = r.tracks
    # a vertex only where a detection was taken; its measured position is that detection's
    assert (t.detection >= 0).all() and len(set(t.detection.tolist())) == len(t)
    np.testing.assert_array_equal(np.column_stack([t.features["y_measured"],
                                                   t.features["x_measured"]]),
                                  det.coords[t.detection])
    np.testing.assert_array_equal(t.frame, det.frame[t.detection])
    # tracks bridge missed frames: some consecutive vertices are more than a frame apart
    steps = np.diff(t.frame)[np.diff(t.track_id) == 0]
    assert (steps >= 1).all() and (steps == 2).any()


def test_empty_frames_and_single_detections():
    det = Detections([0, 0, 1, 3, 3, 4], [[0, 0], [50, 50], [1, 1], [2, 2], [50, 51], [3, 3]])
    r = track_mht(det, MHTParams(lookback=4, process_noise=1.0, measurement_noise=0.5,
                                 detection_probability=0.8, clutter_density=1e-4,
                                 birth_density=1e-4, max_gap=1))
    t = r.tracks
    first = t.detection[t.track_id == t.track_id[t.detection == 0][0]]
    assert first.tolist() == [0, 2, 3, 5]   # across the empty frame 2 (a one-frame gap)


def test_exhaustive_is_refused_up_front_on_ragged_detections():
    det, _ = scene(3, 6, seed=1)
    with pytest.raises(ParameterError, match=r"'mode'.*need mode='exact'"):
        track_mht(det, MHTParams(mode="exhaustive"))


def test_budgets_bound_clusters_instead_of_refusing():
    det, _ = scene(30, 20, p_d=0.8, clutter=5.0, fov=60.0, seed=2)
    r = track_mht(det, MHTParams(lookback=4, max_branches=3, search_budget=5))
    assert r.info["capped_owners"] > 0
    assert len(r.tracks) > 0


def test_estimate_is_accepted_as_text():
    p = MHTParams(process_noise="estimate", measurement_noise="2.5")
    assert p.process_noise is None and p.measurement_noise == 2.5
    with pytest.raises(ParameterError, match="process_noise"):
        MHTParams(process_noise="fast")


def test_flops_of_one_link_hand_counted():
    """Two frames, one detection each, random walk in 2-D: one node expansion."""
    det = Detections([0, 1], [[10.0, 10.0], [11.0, 10.0]])
    r = track_mht(det, MHTParams(lookback=1, motion_model="random-walk", process_noise=1.0,
                                 measurement_noise=1.0, detection_probability=0.9,
                                 clutter_density=1e-3, birth_density=1e-4))
    cov = (2 * 12 + 4) + (12 + 12 + 4) + 8 + (12 + 12) + (12 + 4 + 12)  # P', S, S^-1, K, P
    expand = 0 + cov + 3 + 2      # predict (free), covariances, det S, score constant
    gate = 2 + 1                  # radius: trace (1 add), product, root
    cand = 2 + 6 + 3              # innovation, y S^-1, (.) y
    update = 3 + 6 + 2            # score, K y, x' + K y
    miss = 1
    assert r.flops.source == "analytic"
    assert r.flops.value == expand + gate + cand + update + miss == 147
    assert [len(r.tracks.ids()), len(r.tracks)] == [1, 2]


def test_smoothing_across_a_gap_matches_filterpy():
    from filterpy.kalman import KalmanFilter

    from napari_mpt.trackers.mht.motion import motion_model

    z = np.array([[10.0, 10.0], [11.0, 10.5], [12.5, 11.0], [14.0, 11.2], [15.1, 12.0]])
    det = Detections([0, 1, 3, 4], z[[0, 1, 3, 4]])     # frame 2 missed
    params = MHTParams(lookback=4, process_noise=1.0, measurement_noise=0.5,
                       detection_probability=0.9, clutter_density=1e-4, birth_density=1e-4,
                       smooth=True, **PAPER_CV)
    r = track_mht(det, params)
    assert r.tracks.detection.tolist() == [0, 1, 2, 3]
    m = motion_model(params, 2)
    kf = KalmanFilter(dim_x=4, dim_z=2)
    kf.F, kf.H, kf.Q, kf.R, kf.P = m.F, m.H, m.Q, m.R, m.P0.copy()
    kf.x = m.initial_states(z[:1])[0]
    xs, Ps = [kf.x.copy()], [kf.P.copy()]
    for t in (1, 2, 3, 4):
        kf.predict()
        if t != 2:
            kf.update(z[t])
        xs.append(kf.x.copy())
        Ps.append(kf.P.copy())
    ref, _, _, _ = kf.rts_smoother(np.array(xs), np.array(Ps))
    np.testing.assert_allclose(r.tracks.coords, ref[[0, 1, 3, 4], :2], atol=1e-9)
    filtered = track_mht(det, params.replace(smooth=False))
    np.testing.assert_allclose(filtered.tracks.coords, np.array(xs)[[0, 1, 3, 4], :2], atol=1e-9)


def test_progress_and_cancel_on_ragged_detections():
    from napari_mpt.core.errors import Cancelled
    from napari_mpt.core.results import RunControl
    from napari_mpt.trackers.mht.detection_level import PROGRESS_UNITS

    det, _ = scene(5, 20, seed=4, fov=80.0)
    seen: list[tuple[int, int]] = []
    track_mht(det, MHTParams(lookback=3), RunControl(progress=lambda d, t: seen.append((d, t))))
    T = int(det.frame.max() - det.frame.min()) + 1
    U = PROGRESS_UNITS
    assert seen[-1] == (U * T, U * T) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    calls: list[int] = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        track_mht(det, MHTParams(lookback=3), RunControl(should_stop=stop))


def test_memory_budget_caps_branches_and_flags_them():
    det, _ = scene(30, 12, p_d=0.8, clutter=5.0, fov=60.0, seed=5)
    free = track_mht(det, MHTParams(lookback=4))
    tight = track_mht(det, MHTParams(lookback=4, memory_budget_mb=1.0))
    assert free.info["capped_owners"] == 0 and free.info["bounded_clusters"] == 0
    assert tight.info["capped_owners"] > 0 and len(tight.tracks) > 0
    # a cluster with a capped owner is flagged bounded, never counted exact
    assert tight.info["bounded_clusters"] > 0
    assert tight.info["peak_memory_mb"] < free.info["peak_memory_mb"]


def test_three_d_detections_with_misses_and_clutter():
    det, truth = scene(8, 25, p_d=0.85, clutter=1.0, fov=120.0, ndim=3, seed=6)
    r = track_mht(det, MHTParams(lookback=3))
    assert r.tracks.coords.shape[1] == 3 and "z_measured" in r.tracks.features
    assert link_jaccard(r.tracks, truth) > 0.8


def test_progress_moves_within_windows():
    """Long windows report between tree levels too (throttle 0 here: every point), still in
    order, and Cancel stops the run inside a window."""
    import napari_mpt.trackers.mht.detection_level as general
    from napari_mpt.core.errors import Cancelled
    from napari_mpt.core.results import RunControl

    every = general.Tuning(progress_every_s=0.0)
    det, _ = scene(5, 12, seed=4, fov=80.0)
    seen: list[tuple[int, int]] = []
    r = track_mht(det, MHTParams(lookback=3), RunControl(progress=lambda d, t: seen.append((d, t))),
                  tuning=every)
    done = [d for d, _ in seen]
    assert done == sorted(done)
    assert len(seen) > 2 * r.info["windows"]          # more than one call per window
    assert any(d % general.PROGRESS_UNITS for d in done)  # some fall inside a frame
    calls: list[int] = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 2                          # during the first window's levels

    with pytest.raises(Cancelled):
        track_mht(det, MHTParams(lookback=3), RunControl(should_stop=stop), tuning=every)


@pytest.mark.slow
def test_covariances_equal_to_2e_minus_32_share_a_step_without_changing_the_tracks():
    """Covariance keys ignore the lowest mantissa bits (nodes.cov_key): on a long scene
    with misses, fewer distinct covariance steps are computed (fewer FLOPs counted) and
    the tracks are the ones exact keys give, positions within 1e-8 px."""
    from napari_mpt.trackers.mht.detection_level import Tuning

    det, _ = scene(30, 80, p_d=0.85, clutter=3.0, fov=120.0, step=1.0, noise=0.5,
                   lifetimes=False, seed=11)
    params = MHTParams(lookback=3, process_noise=1.0, measurement_noise=0.5, **PAPER_CV)
    coarse = track_mht(det, params)
    exact = track_mht(det, params, tuning=Tuning(cov_key_bits=0))
    assert coarse.flops.value < exact.flops.value
    np.testing.assert_array_equal(coarse.tracks.detection, exact.tracks.detection)
    np.testing.assert_array_equal(coarse.tracks.track_id, exact.tracks.track_id)
    np.testing.assert_allclose(coarse.tracks.coords, exact.tracks.coords, rtol=0, atol=1e-8)


@pytest.mark.slow
@pytest.mark.parametrize("smooth", [True, False])
def test_dropping_unreferenced_covariances_keeps_the_tracks(smooth):
    """The covariance rows no live or committed node refers to are dropped once there are
    more than Tuning.cov_rows (a long run would keep every one): with a tiny limit, so
    that it happens every few windows, the tracks and smoothed positions are the same and
    the steps computed again are counted again (more FLOPs); without smoothing the
    committed nodes' covariances are not kept."""
    from napari_mpt.trackers.mht.detection_level import Tuning

    det, _ = scene(30, 60, p_d=0.85, clutter=3.0, fov=120.0, step=1.0, noise=0.5,
                   lifetimes=False, seed=12)
    params = MHTParams(lookback=3, process_noise=1.0, measurement_noise=0.5, smooth=smooth,
                       **PAPER_CV)
    kept = track_mht(det, params)
    dropped = track_mht(det, params, tuning=Tuning(cov_rows=100))
    assert dropped.flops.value > kept.flops.value
    np.testing.assert_array_equal(dropped.tracks.detection, kept.tracks.detection)
    np.testing.assert_array_equal(dropped.tracks.track_id, kept.tracks.track_id)
    np.testing.assert_allclose(dropped.tracks.coords, kept.tracks.coords, rtol=0, atol=1e-8)


def test_the_integer_programs_get_the_users_time_limit(monkeypatch):
    """--milp-time-limit (MHTParams.milp_time_limit) is the limit HiGHS gets for every
    integer program of the selection."""
    import napari_mpt.trackers.mht.select as select

    limits = []
    real = select.milp

    def spy(*args, **kwargs):
        limits.append(kwargs["options"]["time_limit"])
        return real(*args, **kwargs)

    monkeypatch.setattr(select, "milp", spy)
    det, _ = scene(12, 8, p_d=0.8, clutter=3.0, fov=25.0, step=1.5, noise=0.5, seed=2)
    res = track_mht(det, MHTParams(lookback=3, search_budget=1, milp_time_limit=2.5,
                                   **PAPER_CV))
    assert res.info["milp_clusters"] > res.info["lp_integral_clusters"]  # integer programs ran
    assert len(limits) == res.info["milp_clusters"] - res.info["lp_integral_clusters"]
    assert set(limits) == {2.5}
    with pytest.raises(ParameterError, match="milp_time_limit"):
        MHTParams(milp_time_limit=0.0)


@pytest.mark.slow
def test_a_permutation_search_beyond_its_memory_budget_ends_bounded_reported_and_alive():
    """Every frame the same count and no misses: the paper's permutation path.  Seven
    particles in one gate (7! = 5,040 associations a node) with K = 5 outgrow a 1 MiB
    budget: the run finishes, every cluster beyond it counted bounded, the warning says
    what to change, and every detection is taken once."""
    sim = simulate(particles=7, frames=10, field_of_view=5.0, measurement_noise=1.5, seed=3)
    params = MHTParams(lookback=5, process_noise=1.0, measurement_noise=1.5, **PAPER_CV,
                       memory_budget_mb=1.0)
    r = track_mht(sim.detections, params)
    assert r.info["path"] == "permutations" and r.info["largest_cluster"] == 7
    assert r.info["bounded_clusters"] > 0 and not r.info["exact"]
    assert "memory_budget_mb" in r.info["warning"] and "lookback" in r.info["warning"]
    assert sorted(r.tracks.detection.tolist()) == list(range(len(sim.detections)))
    roomy = track_mht(sim.detections, params.replace(lookback=2, memory_budget_mb=2048.0))
    assert roomy.info["exact"] and roomy.info["bounded_clusters"] == 0
    assert "warning" not in roomy.info


def test_a_capped_detection_level_run_says_so_and_what_to_do(capsys, tmp_path):
    from napari_mpt.cli import main
    from napari_mpt.io import write_detections

    det, _ = scene(30, 12, p_d=0.8, clutter=5.0, fov=60.0, seed=5)
    tight = track_mht(det, MHTParams(lookback=4, memory_budget_mb=1.0))
    assert not tight.info["exact"] and tight.info["capped_by"] == ["memory_budget_mb"]
    assert "tracks capped" in tight.info["warning"]
    assert "memory_budget_mb (--memory-budget-mb)" in tight.info["warning"]
    few = track_mht(det, MHTParams(lookback=4, max_branches=3))
    assert "max_branches" in few.info["capped_by"]
    assert "--max-branches" in few.info["warning"]
    assert track_mht(det, MHTParams(lookback=2)).info["exact"]
    assert "warning" in tight.summary()
    write_detections(tmp_path / "d.csv", det)
    assert main(["track", str(tmp_path / "d.csv"), "--lookback", "4", "--memory-budget-mb",
                 "1", "--out", str(tmp_path / "t.csv")]) == 0
    err = capsys.readouterr().err
    assert "warning: MHT not exact" in err and "--memory-budget-mb" in err


def test_bad_motion_settings_are_refused_naming_the_parameter():
    for field, value in (("lookback", "soon"), ("lookback", 0), ("directed_share", 1.5),
                         ("velocity_noise", -1.0), ("velocity_prior", "fast"),
                         ("switch_probability", 0.9), ("time_budget_s", 0.0),
                         ("motion_model", "levy")):
        with pytest.raises(ParameterError, match=field):
            MHTParams(**{field: value})
    p = MHTParams(lookback="estimate", velocity_noise="0.3")
    assert p.lookback is None and p.velocity_noise == 0.3 and p.label() == "MHT K=auto"
