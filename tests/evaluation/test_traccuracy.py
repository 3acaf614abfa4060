"""traccuracy's measures beside ours: its per-edge flags agree with our association
counts on the same run, its graph is load_point_data's, and evaluate, benchmark and the
run table report it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_mpt import api
from napari_mpt.cli import main
from napari_mpt.evaluation.traccuracy import KEYS, traccuracy_measures, tracking_graph
from napari_mpt.experiments.benchmark.cases import Case, oracle_tracks, run_case
from napari_mpt.io import write_tracks

pytest.importorskip("traccuracy")


@pytest.fixture(scope="module")
def run():
    """A LAP run on detections with misses, clutter, births and deaths: some wrong and
    some missed links."""
    sim = api.simulate(api.SimulationParams(
        particles=40, frames=20, field_of_view=150, process_noise=2.5, measurement_noise=0.5,
        detection_probability=0.85, clutter=4, birth_rate=1, survival=0.97, seed=11))
    res = api.track(sim.detections, api.LAPParams(gap_closing_frames=2))
    return sim, res


def test_edge_flags_agree_with_our_association_counts(run):
    """With the truth at its detections' positions (the oracle), matching by position is
    matching by detection, so traccuracy's TP, FP and FN edges are our association
    measure's TP, FP and FN links, and its flagged edges are the link errors."""
    sim, res = run
    oracle = oracle_tracks(sim.truth, sim.detections)
    ours = api.evaluate(res.tracks, sim.truth).association
    theirs = api.evaluate(res.tracks, oracle, traccuracy=True).traccuracy
    assert ours.fp > 0 and ours.fn > 0                     # the run has errors of both kinds
    assert (theirs.edge_tp, theirs.edge_fp, theirs.edge_fn) == (ours.tp, ours.fp, ours.fn)
    kinds = [e.kind for e in theirs.errors]
    assert kinds.count("FP") == ours.fp and kinds.count("FN") == ours.fn
    # a flagged FP is a link of the run, a flagged FN a link of the truth
    pred = {(int(f), tuple(c)) for f, c in zip(res.tracks.frame, res.tracks.coords.tolist(),
                                                strict=True)}
    assert all((e.frame_from, e.start) in pred and (e.frame_to, e.end) in pred
               for e in theirs.errors if e.kind == "FP")
    assert theirs.edge_precision == pytest.approx(ours.tp / (ours.tp + ours.fp))
    assert theirs.edge_recall == pytest.approx(ours.tp / (ours.tp + ours.fn))


def test_our_graph_is_load_point_datas(run):
    import pandas as pd
    from traccuracy.loaders import load_point_data

    sim, _ = run
    truth = sim.truth
    keep = truth.track_id < 6
    small = api.Tracks(truth.track_id[keep], truth.frame[keep], truth.coords[keep])
    parent = np.full(len(small), -1)
    same = np.flatnonzero(small.track_id[1:] == small.track_id[:-1])
    parent[same + 1] = same
    table = pd.DataFrame({"node_id": np.arange(len(small)), "t": small.frame, "parent": parent,
                          "y": small.coords[:, 0], "x": small.coords[:, 1]})
    # load_point_data reads rows with iterrows: a float column makes the ids floats, which
    # it then refuses; a table of Python objects keeps each value's type
    table = table.astype({c: object for c in ("t", "parent", "y", "x")})
    theirs = load_point_data(df=table, pos_columns=("y", "x"), time_column="t").graph
    ours = tracking_graph(small).graph
    assert set(ours.nodes) == set(theirs.nodes) and set(ours.edges) == set(theirs.edges)
    for n in ours.nodes:
        assert {k: float(v) for k, v in ours.nodes[n].items()} == {
            k: float(theirs.nodes[n][k]) for k in ("t", "y", "x")}


def test_perfect_tracks_score_one_everywhere(run):
    sim, _ = run
    score = api.evaluate(sim.truth, sim.truth, traccuracy=True).traccuracy
    assert score is not None
    assert [score.edge_f1, score.ctc_det, score.ctc_lnk, score.ctc_tra, score.chota] == [1.0] * 5
    assert score.errors == []


def test_chota_is_left_out_with_its_reason_where_it_would_take_too_long(run):
    sim, res = run
    score = traccuracy_measures(res.tracks, sim.truth, chota_budget=10.0)
    assert score.chota is None and score.edge_f1 is not None and score.ctc_lnk is not None
    n_true, n_est = len(sim.truth.ids()), len(res.tracks.ids())
    summary = score.summary()
    assert "chota" not in summary
    assert summary["chota_skipped"].startswith(f"{n_true} true x {n_est} estimated tracks")


def test_evaluate_json_and_benchmark_report_them(run, tmp_path, capsys):
    sim, res = run
    write_tracks(tmp_path / "run.csv", res.tracks)
    write_tracks(tmp_path / "truth.csv", sim.truth)
    assert main(["evaluate", str(tmp_path / "run.csv"), str(tmp_path / "truth.csv"),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    expected = traccuracy_measures(res.tracks, sim.truth).summary()
    assert set(KEYS) <= set(out) and {k: out[k] for k in expected} == expected
    assert main(["evaluate", str(tmp_path / "run.csv"), str(tmp_path / "truth.csv"),
                 "--no-traccuracy", "--json"]) == 0
    assert not set(KEYS) & set(json.loads(capsys.readouterr().out))
    assert main(["evaluate", str(tmp_path / "run.csv"), str(tmp_path / "truth.csv")]) == 0
    assert "traccuracy (points matched within 5 px): edge_f1 " in capsys.readouterr().out
    record = run_case(Case("tiny", "trackpy", 0, api.SimulationParams(
        particles=5, frames=6, seed=0).to_dict()))
    assert {"edge_f1", "ctc_lnk", "ctc_tra", "chota"} <= set(record)
