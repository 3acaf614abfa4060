"""Inference: tracks from outputs, batch-size independence, progress/cancel, API dispatch."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_mpt import api  # noqa: E402
from napari_mpt.core.data import Detections, stack_frames  # noqa: E402
from napari_mpt.core.errors import Cancelled, InputError  # noqa: E402
from napari_mpt.core.params import TrainParams, TransformerParams  # noqa: E402
from napari_mpt.core.results import RunControl  # noqa: E402
from napari_mpt.simulation.simulate import simulate  # noqa: E402
from napari_mpt.trackers.transformer import track_transformer_batch  # noqa: E402
from napari_mpt.trackers.transformer.encdec.infer import assign  # noqa: E402
from napari_mpt.trackers.transformer.encdec.training import train  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "small.pt"
    p = TrainParams(frames=12, experiments_per_batch=4, batches=3, d_model=16, heads=2, ff=16,
                    encoder_layers=1, decoder_layers=1, encoder_lookback=6, decoder_lookback=3)
    train(p, path, progress_bar=False)
    return str(path)


def test_same_tracks_at_batch_sizes_1_and_8():
    """With a trained model (an untrained one puts both slots on one point, a tie the
    Hungarian may break either way at float noise)."""
    model = "transformer_8_30"
    sims = [simulate(frames=8, measurement_noise=3.0, seed=s) for s in range(9)]
    stacks = [stack_frames(s.detections) for s in sims]
    one = track_transformer_batch(stacks, TransformerParams(checkpoint=model, device="cpu",
                                                            batch_size=1))
    eight = track_transformer_batch(stacks, TransformerParams(checkpoint=model, device="cpu",
                                                              batch_size=8))
    for a, b in zip(one, eight, strict=True):
        assert np.array_equal(a.track_id, b.track_id) and np.array_equal(a.frame, b.frame)
        assert np.array_equal(a.detection, b.detection)
        np.testing.assert_allclose(a.coords, b.coords, atol=1e-4)
    # an array (B, T, N, D) gives the same as the FrameStacks
    arr = np.stack([s.coords for s in stacks])
    again = track_transformer_batch(arr, TransformerParams(checkpoint=model, device="cpu",
                                                           batch_size=4))
    for a, b in zip(one, again, strict=True):
        np.testing.assert_allclose(a.coords, b.coords, atol=1e-4)
    # sequences of different lengths in one call come back in order
    mixed = [stacks[0], stack_frames(simulate(frames=6, seed=50).detections), stacks[1]]
    got = track_transformer_batch(mixed, TransformerParams(checkpoint=model, device="cpu"))
    assert [len(g.frame) for g in got] == [16, 12, 16]
    np.testing.assert_allclose(got[2].coords, one[1].coords, atol=1e-4)


def test_track_transformer_result_and_detection_assignment(model_path):
    sim = simulate(frames=15, measurement_noise=1.0, seed=3)
    params = TransformerParams(checkpoint=model_path, device="cpu")
    res = api.track(sim.detections, params)
    assert res.method == "transformer" and res.label == "small" and res.device == "cpu"
    assert res.info["checkpoint"] == model_path and res.params == params.to_dict()
    assert res.flops.source == "fvcore" and res.flops.value > 0 and res.wall_s > 0
    t = res.tracks
    assert list(t.ids()) == [0, 1] and len(t) == 30
    # slot p starts on detection p of frame 0 (row order of that frame)
    frame0 = sim.detections.by_frame()[0]
    assert list(t.detection[t.frame == 0]) == list(frame0)
    # each frame's vertices take distinct detections of that frame ...
    for f in range(15):
        d = t.detection[t.frame == f]
        assert len(set(d)) == 2 and np.all(sim.detections.frame[d] == f)
    # ... the ones nearest to the estimates (per-frame Hungarian)
    est = np.stack([t.coords[t.track_id == k] for k in (0, 1)], axis=1)[None]
    stack = stack_frames(sim.detections)
    cols = assign(est, stack.coords[None])[0]
    assert np.array_equal(np.take_along_axis(stack.index, cols, 1).T.reshape(-1), t.detection)
    # scored over every link: 2 tracks x 14 links predicted, 2 x 14 true
    score = api.evaluate(t, sim.truth)
    assert score.tp + score.fp == 28 and score.tp + score.fn == 28
    assert score.jaccard == score.tp / (score.tp + score.fp + score.fn)


def test_assignment_is_hungarian_for_larger_n():
    rng = np.random.default_rng(0)
    for n in (3, 7):
        coords = rng.normal(size=(2, 4, n, 2)) * 10
        perm = np.stack([[rng.permutation(n) for _ in range(4)] for _ in range(2)])
        est = np.take_along_axis(coords, perm[..., None], axis=2) + 0.01
        cols = assign(est, coords)
        assert np.array_equal(cols, perm)


def test_progress_and_cancel(model_path):
    sim = simulate(frames=30, seed=2)
    params = TransformerParams(checkpoint=model_path, device="cpu")
    seen = []
    api.track(sim.detections, params, RunControl(progress=lambda d, t: seen.append((d, t))))
    assert seen and seen[-1] == (30, 30) and all(t == 30 for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    with pytest.raises(Cancelled):
        api.track(sim.detections, params, RunControl(should_stop=lambda: True))


def test_bad_input_is_named(model_path):
    det = Detections(np.array([0, 0, 1]), np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    with pytest.raises(InputError, match="frame 0 has 2 detections"):
        api.track(det, TransformerParams(checkpoint=model_path, device="cpu"))
