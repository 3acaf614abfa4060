"""The Review dock in a real viewer: disagreement layers, the queue driven by its keys
(accept, break, relink, swap, undo, redo), the partial truth, error rates and the saved
session."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from viewer_checks import dock, simulate_in

from napari_mpt import api
from napari_mpt.evaluation.agreement import disagreement, partner
from napari_mpt.evaluation.metrics import detection_links
from napari_mpt.evaluation.session import SAMPLE, load_session
from napari_mpt.napari.layers import detections_from_points, mpt_meta, tracks_from_layer
from napari_mpt.napari.runs import COLUMNS

pytestmark = pytest.mark.gui


def press(viewer, key):
    """A key press through napari's key handling: the selected layer's keys first, then
    the viewer's (where the Review dock binds its own)."""
    handler = viewer.window._qt_viewer._key_map_handler
    handler.press_key(key)
    handler.release_key(key)


def two_runs(viewer, qtbot, run_and_wait):
    """A crowded simulated scene tracked with LAP and a short-lookback MHT."""
    points, _truth = simulate_in(run_and_wait, viewer, particles=30, frames=12,
                                 field_of_view=60.0, process_noise=2.0,
                                 detection_probability=0.9, clutter=2.0, seed=5)
    track = dock(viewer, "Track")
    for method in ("lap", "mht"):
        track.method.value = method
        if method == "mht":
            track.mht["lookback"].value = 1
        assert track.run(), track.status.value
        qtbot.waitUntil(lambda: not track.running, timeout=60_000)
    runs = [x for x in viewer.layers if mpt_meta(x).get("kind") == "result"]
    assert len(runs) == 2
    return points, runs


def test_compare_draws_the_disagreement_and_the_queue_takes_every_decision(
        viewer, qtbot, tmp_path, run_and_wait):
    points, runs = two_runs(viewer, qtbot, run_and_wait)
    review = dock(viewer, "Review")
    review.input.value = points
    review.session_file.value = tmp_path / "review.json"
    assert review.compare(), review.message
    # the MHT ran without its (costly, opt-in) confidence, and the status says so
    assert "no link confidence from B: MHT K=1" in review.message
    det = detections_from_points(points)
    a, b = (tracks_from_layer(x) for x in runs)
    d = disagreement(a, b)
    layer = next(x for x in viewer.layers if mpt_meta(x).get("kind") == "disagreement")
    side = np.asarray(layer.features["side"])
    assert (side == 0).sum() == 2 * len(d.only_a) and (side == 1).sum() == 2 * len(d.only_b)
    assert d.count > 0
    assert int(np.asarray(review.frames.value["data"]).sum()) == d.count     # the count per frame
    assert review.matrix.value["data"][0][1] == f"{100 * d.share:.1f} %"

    # the first link of the queue is one the runs disagree on; the slider moves to it
    link = review.current()
    assert tuple(link) in {tuple(x) for x in np.concatenate([d.only_a, d.only_b]).tolist()}
    axis = viewer.dims.ndim - points.ndim
    assert viewer.dims.point[axis] == det.frame[link[1]]

    # Y accepts, through the viewer's key binding
    press(viewer, "Y")
    s = review.session.review
    assert s.verdict(link) is True and review.current() != link
    # B breaks the next one
    second = review.current()
    press(viewer, "B")
    assert s.verdict(second) is False
    # Z undoes it, R redoes it
    press(viewer, "Z")
    assert s.verdict(second) is None
    press(viewer, "R")
    assert s.verdict(second) is False

    # A relinks the link under review to the picked spot of a later frame
    review.go(review._first_open(0))
    start, end = review.current()
    later = np.flatnonzero((det.frame == det.frame[end]) & (np.arange(len(det)) != end))
    review.picked = int(later[0])
    assert review.relink(), review.message
    assert s.verdict((start, int(later[0]))) is True and s.verdict((start, end)) is False

    # S swaps the link under review with the link arriving at the picked spot
    review.go(review._first_open(0))
    start, end = review.current()
    support = review.session.support
    into = [int(j) for j in np.flatnonzero(support.links[:, 1] != end)
            if det.frame[support.links[j, 1]] == det.frame[end]
            and support.links[j, 0] != start]
    assert into
    picked = review.pick_at(np.r_[det.frame[end], det.coords[support.links[into[0], 1]]])
    assert picked == support.links[into[0], 1]          # a click there picks that spot
    other = partner(support, int(review.order[review.position]), picked)
    assert review.swap(), review.message
    assert s.verdict((start, picked)) is True
    assert s.verdict((int(support.links[other, 0]), end)) is True

    # the decisions are the reviewed layer; every one was saved
    reviewed = next(x for x in viewer.layers if mpt_meta(x).get("kind") == "reviewed")
    verdict = np.asarray(reviewed.features["verdict"])
    assert (verdict == 1).sum() == 2 * len(s.right())
    assert (verdict == 0).sum() == 2 * len(s.wrong())
    saved = load_session(tmp_path / "review.json")
    assert [d.to_dict() for d in saved.review.done] == [d.to_dict() for d in s.done]

    # re-solve: LAP and the MHT again with the accepted links pinned, the broken forbidden
    assert review.resolve(), review.message
    qtbot.waitUntil(lambda: not review.busy, timeout=120_000)
    pinned = [x for x in viewer.layers
              if mpt_meta(x).get("kind") == "result" and "pinned" in x.name]
    assert len(pinned) == 2, review.message
    right, wrong = set(s.right()), set(s.wrong())
    for layer in pinned:
        made = {tuple(x) for x in detection_links(tracks_from_layer(layer)).tolist()}
        assert not made & wrong, layer.name
        if layer.name.startswith("LAP"):         # laptrack always makes its pins
            assert right <= made
    track = dock(viewer, "Track")
    assert {mpt_meta(x)["label"] for x in pinned} <= set(track.table.value["index"])
    # every run, the re-solved ones too, is scored against the review
    shown = [row.split(": ", 1)[1] for row in review.estimates.value["index"]]
    assert set(shown) >= {mpt_meta(x)["label"] for x in pinned}
    lap_pinned = shown.index(next(mpt_meta(x)["label"] for x in pinned
                                  if x.name.startswith("LAP")))
    tp, fp, fn = (int(v) for v in review.estimates.value["data"][lap_pinned][-1].split(" / "))
    assert (tp, fp, fn) == (len(right), 0, 0)


def test_estimated_error_rates_narrow_and_cover_the_truth(viewer, qtbot, tmp_path, run_and_wait):
    points, runs = two_runs(viewer, qtbot, run_and_wait)
    review = dock(viewer, "Review")
    review.input.value = points
    review.session_file.value = tmp_path / "review.json"
    assert review.estimate_error_rates(), review.message
    assert review.session.mode == SAMPLE
    truth = api.simulate(api.SimulationParams(**mpt_meta(points)["simulation"])).truth
    true_links = {tuple(x) for x in detection_links(truth).tolist()}
    widths = []
    for _ in range(40):
        link = review.current()
        if review.session.review.verdict(link) is None:
            (review.accept if tuple(link) in true_links else review.break_link)()
        else:
            review.next()
        e = review.estimates_now()
        widths.append(e[0].rate_hi - e[0].rate_lo)
    assert widths[-1] < widths[0]
    # each run's true error rate is inside its interval (one scene: a weak check; the
    # coverage over many scenes is benchmarks/bench_review.py's table)
    for layer, e in zip(runs, review.estimates_now(), strict=True):
        mine = detection_links(tracks_from_layer(layer))
        wrong = sum(tuple(x) not in true_links for x in mine.tolist())
        assert e.wrong_lo <= wrong <= e.wrong_hi
        assert mpt_meta(layer)["error_rate"][0] == pytest.approx(e.rate)

    # the Track widget's run table shows each run's disagreement and error rate
    track = dock(viewer, "Track")
    share = disagreement(*(tracks_from_layer(x) for x in runs)).share
    for layer, row, e in zip(runs, track.table.data.to_list(), review.estimates_now(),
                             strict=True):
        cells = dict(zip(COLUMNS, row, strict=True))
        assert cells["disagree"] == f"{100 * share:.1f} %", layer.name
        assert cells["error rate"].startswith(f"{e.rate:.1%} [")

    # reopening the session on the same detections restores the decisions
    n = len(review.session.review)
    again = type(review)(viewer)
    again.input.value = points
    assert again.open_session(tmp_path / "review.json"), again.message
    assert len(again.session.review) == n and again.session.mode == SAMPLE


@pytest.mark.slow
def test_advise_ranks_every_tracker_on_twins_of_the_layer(viewer, qtbot, run_and_wait):
    points, _ = simulate_in(run_and_wait, viewer, particles=20, frames=10, field_of_view=60.0,
                            detection_probability=0.9, clutter=1.0, seed=3)
    review = dock(viewer, "Review")
    review.input.value = points
    for k, v in {"twins": 1, "max_particles": 10, "max_frames": 6}.items():
        review.advise_form[k].value = v
    assert review.advise(), review.message
    qtbot.waitUntil(lambda: not review.busy, timeout=180_000)
    rows = review.advice.value
    assert sorted(rows["index"]) == sorted(api.TRACKERS), review.message
    values = [float(r[0].split()[0]) for r in rows["data"]]
    assert values == sorted(values, reverse=True)
    assert review.advice_note.value.startswith("best on the twins: " + rows["index"][0])


@pytest.mark.slow
def test_the_flow_on_the_real_beads(viewer, qtbot, tmp_path):
    """The shipped crop of trackpy's bulk-water movie (real, no truth): spots detected,
    LAP and trackpy on them, where they disagree, their confidences, the queue, and error
    rates that narrow as links are reviewed."""
    viewer.open_sample("napari-mpt", "bulk_water")
    detect = dock(viewer, "Detect spots")
    assert detect.run(), detect.status.value
    qtbot.waitUntil(lambda: not detect.running, timeout=300_000)
    spots = next(x for x in viewer.layers if mpt_meta(x).get("kind") == "detections"
                 or x.name.endswith("spots"))
    track = dock(viewer, "Track")
    track.reset_choices()
    track.input.value = spots
    for method in ("lap", "trackpy"):
        track.method.value = method
        assert track.run(), track.status.value
        qtbot.waitUntil(lambda: not track.running, timeout=300_000)
    runs = [x for x in viewer.layers if mpt_meta(x).get("kind") == "result"]
    for layer in runs:            # each run says how sure it is of each link
        conf = np.asarray(layer.features["link_confidence"], dtype=float)
        assert np.isfinite(conf).mean() > 0.5 and np.nanmin(conf) >= 0 and np.nanmax(conf) <= 1
    review = dock(viewer, "Review")
    review.input.value = spots
    review.session_file.value = tmp_path / "beads.json"
    assert review.estimate_error_rates(), review.message
    d = disagreement(*(tracks_from_layer(x) for x in runs))
    assert d.count > 0                        # the two trackers disagree on real beads
    assert any(mpt_meta(x).get("kind") == "disagreement" for x in viewer.layers)
    assert review.queue.value["data"]
    widths = []
    for _ in range(30):   # a reviewer's verdicts: here every link is called right
        review.accept()
        widths.append(review.estimates_now()[0].rate_hi - review.estimates_now()[0].rate_lo)
    assert widths[-1] < widths[0]
    assert len(load_session(tmp_path / "beads.json").review) == 30
