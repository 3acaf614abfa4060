"""Proofreading decisions, the review queues and the saved session (no Qt)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from chains import tracks

from napari_mpt.core.data import Detections
from napari_mpt.core.errors import InputError
from napari_mpt.evaluation.agreement import (
    link_confidence,
    link_support,
    priority_order,
)
from napari_mpt.evaluation.decisions import Review, reviewed_score
from napari_mpt.evaluation.sampling import estimate_rates
from napari_mpt.evaluation.session import (
    SAMPLE,
    fingerprint,
    load_session,
    save_session,
    start_session,
    truth_errors,
)

# detections 0, 1 in frame 0; 2, 3 in frame 1; 4, 5 in frame 2
DET = Detections(np.array([0, 0, 1, 1, 2, 2]),
                 np.array([[0, 0], [0, 9], [1, 0], [1, 9], [2, 0], [2, 9]], float))
A = tracks([(0, 0), (1, 2), (2, 4)], [(0, 1), (1, 3), (2, 5)],
           confidence=[np.nan, 0.9, 0.8, np.nan, 0.7, 0.6])
B = tracks([(0, 0), (1, 3), (2, 5)], [(0, 1), (1, 2), (2, 4)],
           confidence=[np.nan, 0.2, 0.9, np.nan, 0.4, 0.9])
TRUTH = tracks([(0, 0), (1, 2), (2, 4)], [(0, 1), (1, 3), (2, 5)])


def test_accept_break_relink_swap_and_what_they_rule_out():
    r = Review()
    r.accept((0, 2))
    assert r.verdict((0, 2)) is True
    assert r.verdict((0, 3)) is False and r.verdict((1, 2)) is False   # one out, one in
    assert r.verdict((1, 3)) is None
    r.break_link((3, 5))
    assert r.verdict((3, 5)) is False and r.wrong() == [(3, 5)]
    r.relink((2, 5), to=4)                         # 2 goes on to 4, not 5
    assert r.verdict((2, 4)) is True and r.verdict((2, 5)) is False
    r.swap((0, 3), (1, 2))                         # the swap says 0->2 and 1->3
    assert r.right() == [(0, 2), (1, 3), (2, 4)]
    assert r.verdict((0, 3)) is False and r.verdict((1, 2)) is False
    # a later right link overrides an earlier one sharing its start
    r.accept((0, 3))
    assert r.verdict((0, 3)) is True and r.verdict((0, 2)) is False
    assert (1, 3) not in r.right()                 # 3 now arrives from 0


def test_undo_and_redo_walk_the_decisions():
    r = Review()
    r.accept((0, 2))
    r.break_link((1, 3))
    assert r.undo().kind == "break" and r.verdict((1, 3)) is None
    assert r.redo().kind == "break" and r.verdict((1, 3)) is False
    r.undo()
    r.accept((1, 3))                               # a new decision clears the redo list
    assert r.redo() is None and r.verdict((1, 3)) is True
    r.undo()
    r.undo()
    assert r.undo() is None and r.right() == [] and len(r) == 0


def test_edits_that_make_no_sense_are_refused():
    r = Review()
    with pytest.raises(InputError, match="already this link's end"):
        r.relink((0, 2), to=2)
    with pytest.raises(InputError, match="share a detection"):
        r.swap((0, 2), (0, 3))
    with pytest.raises(InputError, match="not a link"):
        r.accept((3, 3))
    assert len(r) == 0


def test_the_review_scores_a_run_on_what_it_knows():
    r = Review()
    r.accept((0, 2))
    r.accept((1, 3))
    r.break_link((3, 5))
    a, b = reviewed_score(A, DET, r), reviewed_score(B, DET, r)
    # A makes both right links and the broken 3->5; (2, 4) has no verdict
    assert (a.tp, a.fp, a.fn) == (2, 1, 0) and a.jaccard == pytest.approx(2 / 3)
    # B's 0->3 and 1->2 are ruled out by the right links, 3->5 is broken; it misses both
    # right links
    assert (b.tp, b.fp, b.fn) == (0, 3, 2)
    assert sorted(e.kind for e in b.errors) == ["FN", "FN", "FP", "FP", "FP"]
    fp = next(e for e in a.errors if e.kind == "FP")
    assert (fp.frame_from, fp.frame_to, fp.start, fp.end) == (1, 2, (1.0, 9.0), (2.0, 9.0))
    # the vertex 3 -> 5 arrives at is flagged in A's row order
    assert a.wrong_link.tolist() == [0, 0, 0, 0, 0, 1]


def test_priority_puts_disputed_and_doubtful_links_first():
    s = link_support([A, B, A])
    conf = link_confidence(s, [A, B, A])
    by_link = {tuple(map(int, s.links[i])): conf[i] for i in range(len(s.links))}
    assert by_link[(0, 2)] == pytest.approx(0.9)           # A's 0.9 twice
    assert by_link[(1, 2)] == pytest.approx(0.4)           # B alone
    assert by_link[(3, 5)] == pytest.approx((0.6 + 0.9 + 0.6) / 3)
    order = [tuple(map(int, s.links[i])) for i in priority_order(s, conf)]
    # every link is made by 2 of 3 runs or 1 of 3; B's (0,3) 0.2 is the least confident
    assert order[0] == (0, 3)
    # with a truth, the links that are an error for some run come first
    err = truth_errors(link_support([A, A]), TRUTH)
    assert not err.any()
    err = truth_errors(s, TRUTH)
    links = [tuple(map(int, x)) for x in s.links]
    # all three runs make the right (2, 4) and (3, 5); every other link is A's and right
    # (missed by B) or B's and wrong
    assert err.tolist() == [x not in {(2, 4), (3, 5)} for x in links]
    conf_all_low = np.where(err, 0.99, 0.01)       # errors first whatever the confidence
    assert set(priority_order(s, conf_all_low, err)[:4].tolist()) == set(np.flatnonzero(err))


def test_a_session_saves_reopens_and_refuses_other_detections(tmp_path):
    runs = [{"label": "A", "method": "lap", "params": {}},
            {"label": "B", "method": "mht", "params": {"lookback": 2}}]
    s = start_session(DET, [A, B], runs, seed=4)
    s.review.accept((0, 2))
    s.review.break_link((1, 2))
    s.review.undo()
    s.mode = SAMPLE
    path = tmp_path / "review.json"
    save_session(path, s)
    back = load_session(path)
    assert back.to_dict() == s.to_dict()
    assert back.review.undone[0].kind == "break" and back.review.redo() is not None
    back.check(DET)
    moved = Detections(DET.frame, DET.coords + 1.0)
    assert fingerprint(moved) != fingerprint(DET)
    with pytest.raises(InputError, match="not the detections this review session"):
        back.check(moved)
    # nothing left behind but the file
    assert [p.name for p in tmp_path.iterdir()] == ["review.json"]


def test_a_broken_session_file_is_named(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    with pytest.raises(InputError, match=r"bad\.json.*is not JSON"):
        load_session(bad)
    bad.write_text(json.dumps({"version": 1, "detections": "x"}))
    with pytest.raises(InputError, match="not a napari-mpt review session"):
        load_session(bad)
    s = start_session(DET, [A, B], [{}, {}]).to_dict()
    s["sample"] = s["sample"][:-1]
    bad.write_text(json.dumps(s))
    with pytest.raises(InputError, match="do not list each"):
        load_session(bad)


def test_the_estimate_uses_the_sample_up_to_the_first_link_without_verdict():
    s = start_session(DET, [A, B], [{}, {}], seed=1)
    first, second = (tuple(map(int, s.support.links[i])) for i in s.sample[:2])
    s.review.break_link(second)                    # reviewed out of order: not used yet
    assert s.verdicts() == {}
    s.review.accept(first)
    v = s.verdicts()
    assert v[int(s.sample[0])] is True and v[int(s.sample[1])] is False
    # a right link's ruled-out alternatives count once the sample reaches them
    assert all(s.review.verdict(tuple(map(int, s.support.links[i]))) is not None for i in v)
    est = estimate_rates(s.support, v)
    assert sum(e.reviewed for e in est) >= 2
