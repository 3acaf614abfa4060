"""The MHT + association-transformer hybrid (``--method hybrid``): the pruning rule by hand,
exactness over the pruned hypothesis set (against the MHT itself when nothing is pruned,
and against brute force when something is), what pruning saves on a dense scene, the CLI
and the parameters' errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from mht_brute_force import Rules, brute_force, score_of
from mht_cases import PAPER_CV, scene
from mht_cases import links as track_links

from napari_mpt import api
from napari_mpt.core.data import Detections
from napari_mpt.core.errors import CheckpointError, ParameterError
from napari_mpt.core.params import HybridParams, MHTParams, known_priors
from napari_mpt.trackers.hybrid import Links, kept, track_hybrid
from napari_mpt.trackers.mht import track_mht


def all_pairs(det: Detections, horizon: int, seed: int | None = None) -> Links:
    """Every pair of detections 1..horizon frames apart, scored 1 (or uniformly at
    random with ``seed``)."""
    i, j = np.meshgrid(np.arange(len(det)), np.arange(len(det)), indexing="ij")
    g = det.frame[j] - det.frame[i]
    ok = (g >= 1) & (g <= horizon)
    i, j, g = i[ok], j[ok], g[ok]
    score = (np.ones(len(i)) if seed is None
             else np.random.default_rng(seed).uniform(0, 1, len(i)))
    return Links(i, j, score, g, horizon)


def test_the_rule_keeps_high_scores_and_each_detections_best_links():
    # detection 0 has successors 5, 6, 7; detection 1 has 8, 9; 2 has one weak link
    links = Links(np.array([0, 0, 0, 1, 1, 2]), np.array([5, 6, 7, 8, 9, 9]),
                  np.array([0.9, 0.3, 0.01, 0.02, 0.01, 0.001]),
                  np.array([1, 1, 2, 1, 2, 1]), 2)
    assert kept(links, 0.5, 1).tolist() == [True, False, False, True, False, True]
    assert kept(links, 0.25, 1).tolist() == [True, True, False, True, False, True]
    assert kept(links, 1.0, 2).tolist() == [True, True, False, True, True, True]
    assert kept(links, 0.0, 1).all()
    assert kept(Links(*(np.zeros(0),) * 4, 2), 0.5, 1).shape == (0,)


PARAMS = {"lookback": 3, "process_noise": 1.5, "measurement_noise": 0.5,
          "detection_probability": 0.85, "clutter_density": 0.5 / 20.0**2,
          "birth_density": 0.2 / 20.0**2, "max_gap": 2}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_keeping_every_gated_link_gives_exactly_the_mhts_tracks(seed):
    """A pruning that keeps every link (all pairs up to max_gap + 1 frames apart) runs
    through the hook on every expansion and changes nothing."""
    det, _ = scene(6, 12, seed=seed)
    params = HybridParams(**PARAMS)
    mht = track_mht(det, MHTParams(**PARAMS))
    hyb = track_hybrid(det, params, links=all_pairs(det, PARAMS["max_gap"] + 1))
    assert hyb.info["gate_candidates"] > 0
    assert hyb.info["kept_candidates"] == hyb.info["gate_candidates"]
    assert hyb.info["score"] == mht.info["score"]
    for name in ("track_id", "frame", "detection", "coords"):
        np.testing.assert_array_equal(getattr(hyb.tracks, name), getattr(mht.tracks, name))
    # min_score 0 keeps every link without running the transformer: the MHT as well
    plain = api.track(det, params.replace(min_score=0.0))
    assert "tokens" not in plain.info and plain.info["transformer_flops"] == 0
    np.testing.assert_array_equal(plain.tracks.detection, mht.tracks.detection)
    assert plain.info["score"] == mht.info["score"]


class PrunedRules(Rules):
    """The brute force's rules, with the links the pruning drops refused."""

    def __init__(self, det: Detections, params: MHTParams, links: Links, keep: np.ndarray):
        super().__init__(det, params)
        self.frame_of = det.frame
        self.horizon = links.horizon
        self.allowed = set(zip(links.i[keep].tolist(), links.j[keep].tolist(), strict=True))

    def link(self, tr, x, P, row):
        last = tr["dets"][-1]
        g = self.frame_of[row] - self.frame_of[last]
        if g <= self.horizon and (last, row) not in self.allowed:
            return None
        return super().link(tr, x, P, row)


def _small_cases() -> list[tuple[int, int, int]]:
    """Scenes of 5 to 8 detections (the brute force grows about tenfold per detection)."""
    out = []
    for n, T in ((2, 5), (3, 4)):
        seeds = [s for s in range(100 * n, 100 * n + 60)
                 if 5 <= len(scene(n, T, p_d=0.8, clutter=0.6, fov=14.0, step=1.5,
                                   noise=0.6, seed=s)[0]) <= 8]
        out += [(n, T, s) for s in seeds[:4]]
    return out


def test_the_hybrid_is_the_brute_force_optimum_over_the_pruned_hypotheses():
    """Random scores, a strict rule: the whole-window hybrid reaches the best hypothesis
    whose links are all kept, and that optimum is below the unpruned one somewhere (the
    pruning really removed the MHT's choice, so the test can fail)."""
    below = 0
    for n, T, seed in _small_cases():
        det, _ = scene(n, T, p_d=0.8, clutter=0.6, fov=14.0, step=1.5, noise=0.6, seed=seed)
        params = HybridParams(lookback=T - 1, **PAPER_CV, process_noise=1.5, measurement_noise=0.6,
                              detection_probability=0.8, clutter_density=0.6 / 14.0**2,
                              birth_density=0.2 / 14.0**2, max_gap=1, link_gate=16.0,
                              min_score=0.6, top_links=1)
        links = all_pairs(det, 1, seed=seed)
        keep = kept(links, params.min_score, params.top_links)
        rules = PrunedRules(det, params, links, keep)
        best, count = brute_force(rules)
        result = track_hybrid(det, params, links=links)
        assert result.info["bounded_clusters"] == 0
        assert score_of(rules, result.tracks) == pytest.approx(best, rel=1e-9, abs=1e-9), \
            f"{count} hypotheses"
        assert result.info["score"] == pytest.approx(best, rel=1e-9, abs=1e-9)
        full, _ = brute_force(Rules(det, params))
        below += best < full - 1e-9
    assert below > 0


@pytest.mark.slow
def test_pruning_a_dense_scene_expands_fewer_nodes_and_takes_only_kept_links():
    """120 particles in 100 x 100 px (about 9 px apart, steps of 2 px), misses, clutter,
    births: the pruned search expands far fewer nodes, takes only kept links, and the
    kept links hold most true ones (measured: 637 of 673 within the model's gap)."""
    sp = api.SimulationParams(particles=120, frames=8, field_of_view=100.0, process_noise=1.5,
                              measurement_noise=0.5, detection_probability=0.9, clutter=2,
                              birth_rate=1.0, survival=0.99, end_at_edge=True, seed=4)
    sim = api.simulate(sp)
    base = {**known_priors(sp), **PAPER_CV, "lookback": 3, "device": "cpu"}
    full = api.track(sim.detections, HybridParams(**base, min_score=0.0))
    hyb = api.track(sim.detections, HybridParams(**base, min_score=0.2, top_links=1))
    assert hyb.info["nodes_created"] < full.info["nodes_created"] / 2
    assert hyb.info["nodes_expanded"] < full.info["nodes_expanded"]
    assert hyb.info["kept_candidates"] < hyb.info["gate_candidates"]
    assert 0 < hyb.info["kept_links"] < hyb.info["scored_links"]
    assert hyb.flops.value == hyb.info["transformer_flops"] + hyb.info["mht_flops"] > 0
    assert hyb.info["scores_s"] > 0 and hyb.info["search_s"] > 0
    # valid tracks: every detection at most once, and every link a kept one
    used = hyb.tracks.detection[hyb.tracks.detection >= 0]
    assert len(used) == len(set(used.tolist()))
    from napari_mpt.trackers.hybrid import transformer_links

    links, _, _, _ = transformer_links(sim.detections, "association", "cpu")
    keep = kept(links, 0.2, 1)
    allowed = set(zip(links.i[keep].tolist(), links.j[keep].tolist(), strict=True))
    frame = sim.detections.frame
    made = [(a, b) for a, b in track_links(hyb.tracks) if frame[b] - frame[a] <= links.horizon]
    assert made and all(link in allowed for link in made)
    true = [(a, b) for a, b in track_links(sim.truth) if frame[b] - frame[a] <= links.horizon]
    assert sum(link in allowed for link in true) >= 0.9 * len(true)
    # here, with the paper's constant-velocity filter on Brownian steps, the pruning also
    # removes hypotheses the MHT got wrong (measured 0.705 vs 0.672)
    pruned = api.evaluate(hyb.tracks, sim.truth).association
    unpruned = api.evaluate(full.tracks, sim.truth).association
    assert pruned is not None and unpruned is not None
    assert pruned.jaccard >= unpruned.jaccard


def test_cli_hybrid_json_on_a_ragged_trackpy_csv(tmp_path, capsys):
    from format_samples import trackpy_csv

    from napari_mpt.cli import main

    spots = tmp_path / "spots.csv"
    counts = trackpy_csv(spots)
    out = tmp_path / "T.csv"
    assert main(["track", str(spots), "--method", "hybrid", "--lookback", "2", "--device",
                 "cpu", "--min-score", "0.1", "--top-links", "1", "--out", str(out),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["method"] == "hybrid" and report["label"] == "Hybrid K=2"
    assert report["params"]["checkpoint"] == "association"
    assert report["params"]["min_score"] == 0.1 and report["params"]["top_links"] == 1
    assert report["kept_links"] <= report["scored_links"]
    assert report["flops"] == report["transformer_flops"] + report["mht_flops"]
    # the MHT's tracks hold the detections it did not call false alarms, each once
    rows = out.read_text().splitlines()
    assert rows[0].startswith("track_id,frame,y,x,detection")
    taken = [int(r.split(",")[4]) for r in rows[1:]]
    assert 0 < len(taken) == len(set(taken)) <= sum(counts)
    assert report["tracks"] == len({r.split(",")[0] for r in rows[1:]})


@pytest.mark.parametrize(("field", "value", "message"), [
    ("min_score", 1.5, "must be <= 1.0"), ("min_score", -0.1, "must be >= 0.0"),
    ("top_links", 0, "must be >= 1")])
def test_bad_parameters_are_clear_errors(field, value, message):
    with pytest.raises(ParameterError, match=message) as err:
        HybridParams(**{field: value})
    assert err.value.name == field


def test_cli_bad_top_links_is_one_line_and_status_2(tmp_path, capsys):
    from napari_mpt.cli import main

    csv = tmp_path / "d.csv"
    csv.write_text("frame,y,x\n0,1,1\n1,2,2\n")
    assert main(["track", str(csv), "--method", "hybrid", "--top-links", "0",
                 "--out", str(tmp_path / "t.csv")]) == 2
    err = capsys.readouterr().err
    assert "top_links" in err and err.count("\n") == 1
    assert not (tmp_path / "t.csv").exists()


def test_an_encoder_decoder_checkpoint_is_refused_naming_the_association_one():
    det, _ = scene(3, 5, seed=0)
    with pytest.raises(CheckpointError, match="--checkpoint association"):
        track_hybrid(det, HybridParams(**PARAMS, checkpoint="transformer_150_30",
                                       device="cpu"))


def test_label_and_description():
    p = HybridParams(lookback=4, smooth=True)
    assert p.label() == "Hybrid K=4 smoothed" and p.method == "hybrid"
    assert "association score>=0.05 or top 2" in p.describe()
    assert math.isclose(HybridParams().min_score, 0.05)


def test_exhaustive_mode_is_refused():
    with pytest.raises(ParameterError, match="mode='exact'"):
        HybridParams(mode="exhaustive")


def test_benchmark_case_runs_the_hybrid_with_the_simulations_priors():
    from napari_mpt.experiments.benchmark.cases import TRACKERS, Case, run_case, tracker_params

    assert "hybrid" in TRACKERS
    sim = api.SimulationParams(particles=15, frames=8, field_of_view=64.0,
                               detection_probability=0.9, clutter=1.0, seed=1)
    params = tracker_params("hybrid", sim, {"lookback": 2})
    assert isinstance(params, HybridParams) and params.lookback == 2
    assert params.process_noise == sim.process_noise          # known priors, as the MHT's
    assert tracker_params("hybrid", sim, {}, priors="estimated").process_noise is None
    record = run_case(Case("custom", "hybrid", 1, sim.to_dict(),
                           {"lookback": 2, "device": "cpu"}))
    assert "error" not in record, record.get("error")
    assert record["label"] == "Hybrid K=2" and record["flops"] > 0
    assert 0 < record["association_jaccard"] <= 1


def test_the_transformers_first_pass_takes_mutually_best_links_scoring_half():
    from napari_mpt.trackers.hybrid import transformer_first_pass

    # frame 0: rows 0, 1; frame 1: rows 2, 3; frame 2: row 4
    coords = [np.array([[0.0, 0.0], [10.0, 0.0]]), np.array([[1.0, 0.0], [11.0, 0.0]]),
              np.array([[2.0, 0.0]])]
    rows = [np.array([0, 1]), np.array([2, 3]), np.array([4])]
    links = Links(np.array([0, 0, 1, 2, 3, 0]), np.array([2, 3, 3, 4, 4, 4]),
                  np.array([0.9, 0.6, 0.4, 0.8, 0.7, 0.9]), np.array([1, 1, 1, 1, 1, 2]), 2)
    fp = transformer_first_pass(coords, rows, links)
    # 0 -> 2 (0's best and 2's best); 1 -> 3 scores under 1/2; 2 -> 4 beats 3 -> 4 for 4;
    # the two-frame link 0 -> 4 is no first-pass link
    assert fp.nxt.tolist() == [2, -1, 4, -1, -1] and fp.prv.tolist() == [-1, -1, 0, -1, 2]
    assert fp.radius == 10.0     # the median within-frame spacing, as the MHT's own pass
