"""Training: the loss goes down, runs are deterministic and resume exactly; CLI train->track."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_mpt import cli  # noqa: E402
from napari_mpt.core.errors import CheckpointError, ParameterError  # noqa: E402
from napari_mpt.core.params import TrainParams  # noqa: E402
from napari_mpt.trackers.transformer.common import checkpoint as ckpt  # noqa: E402
from napari_mpt.trackers.transformer.common.training import learning_rate as schedule  # noqa: E402
from napari_mpt.trackers.transformer.encdec.config import model_config  # noqa: E402
from napari_mpt.trackers.transformer.encdec.model import TrackerTransformer  # noqa: E402
from napari_mpt.trackers.transformer.encdec.training import (  # noqa: E402
    FreshBatches,
    RevisitedBatches,
    batch_source,
    loss_terms,
    simulate_batch,
    train,
)

TINY = dict(frames=8, experiments_per_batch=3, d_model=16, heads=2, ff=16, encoder_layers=1,
            decoder_layers=1, decoder_lookback=3, save_every=2)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_batches_are_shuffled_and_slots_follow_frame0_detections():
    p = TrainParams(**TINY, batches=1, measurement_noise_range=(1.0, 3.0))
    b = simulate_batch(p, 0)
    assert b.z.shape == (3, 8, 2, 2) and b.target.shape == (3, 8, 2)
    # slot p starts on detection p of frame 0, and its target there is detection p
    assert torch.equal(b.target[:, 0], torch.arange(2).expand(3, 2))
    # later frames are shuffled: the target is not always the slot index
    assert not torch.equal(b.target, torch.arange(2).expand(3, 8, 2))
    # teacher input at t=0 is the anchor detection
    assert torch.equal(b.inputs[:, 0], b.z[:, 0])
    # per-experiment sigma in the range -> weights in [1/16, 1/4]
    assert torch.all((b.weight >= 1 / 16 - 1e-6) & (b.weight <= 1 / 4 + 1e-6))
    # the same index gives the same batch, another index another one
    assert torch.equal(simulate_batch(p, 0).z, b.z)
    assert not torch.equal(simulate_batch(p, 1).z, b.z)


def test_a_few_steps_lower_the_loss():
    p = TrainParams(**{**TINY, "experiments_per_batch": 8}, batches=1, measurement_noise=2.0)
    torch.manual_seed(0)
    model = TrackerTransformer(model_config(p))
    batch = simulate_batch(p, 0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def loss() -> torch.Tensor:
        mse, ce = loss_terms(model, batch)
        return mse + 0.5 * ce

    first = loss().item()
    for _ in range(30):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
    assert loss().item() < 0.7 * first


def test_training_is_deterministic_and_resumes_exactly(tmp_path):
    p = TrainParams(**TINY, batches=4)
    a = train(p, tmp_path / "a.pt", progress_bar=False)
    b = train(p, tmp_path / "b.pt", progress_bar=False)
    sa, sb = ckpt.read(a), ckpt.read(b)
    for k in sa["state_dict"]:
        assert torch.equal(sa["state_dict"][k], sb["state_dict"][k])
    # stop after 2 batches (an interrupted run: a checkpoint with batches_done=2) ...
    with pytest.raises(KeyboardInterrupt):
        def stop(done, total, loss):
            if done == 2:
                raise KeyboardInterrupt
        train(p, tmp_path / "c.pt", progress_bar=False, on_batch=stop)
    half = ckpt.read(tmp_path / "c.pt")
    assert half["progress"]["batches_done"] == 2 and not half["progress"]["finished"]
    with pytest.raises(CheckpointError, match="already exists"):
        train(p, tmp_path / "c.pt", progress_bar=False)
    with pytest.raises(CheckpointError, match="settings differ: seed"):
        train(p.replace(seed=5), tmp_path / "c.pt", progress_bar=False, resume=True)
    # ... and resume: the same weights and loss curve as the uninterrupted run
    train(p, tmp_path / "c.pt", progress_bar=False, resume=True)
    sc = ckpt.read(tmp_path / "c.pt")
    for k in sa["state_dict"]:
        assert torch.equal(sa["state_dict"][k], sc["state_dict"][k]), k
    assert sc["progress"]["loss"] == sa["progress"]["loss"]
    assert len(sa["progress"]["loss"]) == 4
    # another seed gives other weights
    d = ckpt.read(train(p.replace(seed=1), tmp_path / "d.pt", progress_bar=False))
    assert not torch.equal(d["state_dict"]["enc_in.weight"], sa["state_dict"]["enc_in.weight"])


def test_cli_train_then_track(tmp_path, capsys):
    out = tmp_path / "m.pt"
    log = tmp_path / "loss.csv"
    args = ["train", "--frames", "8", "--experiments-per-batch", "2", "--batches", "3",
            "--measurement-noise-range", "0.5", "2", "--d-model", "16", "--ff", "16",
            "--encoder-layers", "1", "--decoder-lookback", "3", "--seed", "3",
            "--out", str(out), "--log", str(log), "--no-progress", "--json"]
    assert cli.main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["batches"] == 3 and summary["train"]["seed"] == 3
    assert summary["train"]["measurement_noise_range"] == [0.5, 2.0]
    assert log.read_text().splitlines()[0] == "batch,loss,mse,ce,lr"
    assert len(log.read_text().splitlines()) == 4
    sim_dir = tmp_path / "sim"
    assert cli.main(["simulate", "--frames", "8", "--seed", "4", "--out", str(sim_dir)]) == 0
    capsys.readouterr()
    tracks = tmp_path / "t.csv"
    assert cli.main(["track", str(sim_dir / "detections.csv"), "--method", "transformer",
                     "--checkpoint", str(out), "--device", "cpu", "--out", str(tracks),
                     "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["method"] == "transformer" and res["device"] == "cpu"
    assert res["checkpoint"] == str(out) and res["label"] == "m"
    assert res["flops_source"] == "fvcore" and res["flops"] > 0
    assert res["tracks"] == 2
    rows = tracks.read_text().splitlines()
    assert len(rows) == 1 + 16
    # errors are one line and exit status 2
    assert cli.main(["track", str(sim_dir / "detections.csv"), "--method", "transformer",
                     "--checkpoint", str(tmp_path / "nope.pt"), "--out", str(tracks)]) == 2
    assert "nope.pt: file not found" in capsys.readouterr().err
    assert cli.main(["train", "--measurement-noise", "1", "--measurement-noise-range", "1", "2",
                     "--out", str(tmp_path / "x.pt")]) == 2
    assert "not both" in capsys.readouterr().err


def test_train_params_validate_the_noise_range():
    with pytest.raises(ParameterError, match="measurement_noise_range"):
        TrainParams(measurement_noise_range=(3.0, 1.0))
    with pytest.raises(ParameterError, match="measurement_noise_range"):
        TrainParams(measurement_noise_range=(1.0,))
    with pytest.raises(ParameterError, match="encoder_lookback"):
        TrainParams(frames=8, encoder_lookback=9)
    assert np.isclose(TrainParams(measurement_noise_range=(0, 10)).measurement_noise_range[1], 10)


def test_the_architecture_is_validated_where_it_is_built(tmp_path):
    """Ranges come from TrainParams' fields, cross-field rules from ModelConfig: a run with
    an impossible architecture stops before it writes anything."""
    with pytest.raises(ParameterError, match="'d_model': must be >= 4"):
        TrainParams(d_model=2)
    p = TrainParams(**TINY, batches=1).replace(d_model=10, heads=3)
    with pytest.raises(ParameterError, match="'heads': 3 heads do not divide d_model=10"):
        model_config(p)
    with pytest.raises(ParameterError, match="'heads'"):
        train(p, tmp_path / "x.pt", progress_bar=False)
    assert not (tmp_path / "x.pt").exists()
    # K_E: 0 in TrainParams stands for T; the ModelConfig holds the resolved window
    assert model_config(TrainParams(**TINY)).encoder_lookback == 8
    assert model_config(TrainParams(**TINY, encoder_lookback=5)).encoder_lookback == 5


def _historical_learning_rate(peak: float, batches: int, step: int) -> float:
    """The schedule as it was hard-coded before its settings became TrainParams fields."""
    warm = max(1, min(100, batches // 10))
    if step < warm:
        return peak * (step + 1) / warm
    frac = (step - warm) / max(1, batches - warm)
    return peak * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * frac)))


def learning_rate(p: TrainParams, step: int) -> float:
    """The encoder-decoder's schedule: over all its steps, warm-up by its fraction."""
    return schedule(p, step, p.steps, p.warmup_fraction)


def test_learning_rate_schedule_defaults_are_the_historical_ones():
    for batches in (1, 6, 9, 10, 37, 600, 1500, 4000):
        p = TrainParams(batches=batches)
        for step in {0, 1, batches // 20, batches // 10, batches // 2, batches - 1}:
            assert learning_rate(p, step) == _historical_learning_rate(2e-3, batches, step)
    # with E passes the schedule spans all E x batches steps
    p = TrainParams(batches=6, epochs=100)
    assert p.steps == 600
    assert [learning_rate(p, s) for s in (0, 59, 60, 599)] == [
        _historical_learning_rate(2e-3, 600, s) for s in (0, 59, 60, 599)]
    # and the settings do what they say
    p = TrainParams(batches=1000, warmup_steps=10, lr_floor=0.5)
    assert learning_rate(p, 4) == pytest.approx(2e-3 * 5 / 10)
    assert learning_rate(p, 10) == pytest.approx(2e-3)
    assert learning_rate(p, 1000) == pytest.approx(2e-3 * 0.5)


def test_batch_sources_fresh_and_revisited():
    p = TrainParams(**TINY, batches=3, epochs=4)
    assert isinstance(batch_source(p), RevisitedBatches)
    assert isinstance(batch_source(p.replace(epochs=0)), FreshBatches)
    src = RevisitedBatches(p)
    # every pass visits each of the 3 batches once, in a seeded shuffled order
    passes = [sorted(src.order[e * 3:(e + 1) * 3]) for e in range(4)]
    assert passes == [[0, 1, 2]] * 4 and len(src.order) == p.steps == 12
    assert len({tuple(src.order[e * 3:(e + 1) * 3]) for e in range(4)}) > 1
    assert RevisitedBatches(p).order == src.order
    assert RevisitedBatches(p.replace(seed=1)).order != src.order
    # the fixed set is the fresh source's first batches
    fresh = FreshBatches(p)
    for step in range(12):
        assert torch.equal(src(step).z, fresh(src.order[step]).z)


def test_revisited_training_is_deterministic_and_resumes_exactly(tmp_path):
    p = TrainParams(**TINY, batches=2, epochs=2)
    a = ckpt.read(train(p, tmp_path / "a.pt", progress_bar=False))
    assert a["progress"]["batches_done"] == 4 and len(a["progress"]["loss"]) == 4
    assert a["train"]["epochs"] == 2
    with pytest.raises(KeyboardInterrupt):
        def stop(done, total, loss):
            assert total == 4
            if done == 3:
                raise KeyboardInterrupt
        train(p, tmp_path / "b.pt", progress_bar=False, on_batch=stop)
    b = ckpt.read(train(p, tmp_path / "b.pt", progress_bar=False, resume=True))
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    assert a["progress"]["loss"] == b["progress"]["loss"]
    # a fixed set visited twice is not the same training as 4 fresh batches
    fresh = ckpt.read(train(p.replace(batches=4, epochs=0), tmp_path / "c.pt",
                            progress_bar=False))
    assert not torch.equal(fresh["state_dict"]["enc_in.weight"], a["state_dict"]["enc_in.weight"])


def test_a_checkpoint_from_before_the_training_settings_resumes(tmp_path):
    """Its ``train`` record lacks the new settings: they count as the old values."""
    p = TrainParams(**TINY, batches=4)
    whole = ckpt.read(train(p, tmp_path / "whole.pt", progress_bar=False))
    with pytest.raises(KeyboardInterrupt):
        def stop(done, total, loss):
            if done == 2:
                raise KeyboardInterrupt
        train(p, tmp_path / "old.pt", progress_bar=False, on_batch=stop)
    data = ckpt.read(tmp_path / "old.pt")
    new = ("weight_decay", "grad_clip", "warmup_steps", "warmup_fraction", "lr_floor",
           "coord_scale", "epochs")
    data["train"] = {k: v for k, v in data["train"].items() if k not in new}
    ckpt.save(tmp_path / "old.pt", {k: v for k, v in data.items()
                                    if k not in ("format", "format_version")})
    with pytest.raises(CheckpointError, match=r"settings differ: weight_decay: checkpoint 0\.01, now 0\.02"):
        train(p.replace(weight_decay=0.02), tmp_path / "old.pt", progress_bar=False,
              resume=True)
    done = ckpt.read(train(p, tmp_path / "old.pt", progress_bar=False, resume=True))
    for k in whole["state_dict"]:
        assert torch.equal(whole["state_dict"][k], done["state_dict"][k]), k


def test_a_diverging_run_stops_with_a_clear_error(tmp_path):
    """The loop reads any batch source; a loss that is not finite stops it."""
    p = TrainParams(**TINY, batches=3)
    good = simulate_batch(p, 0)
    broken = simulate_batch(p, 1)
    broken.truth[0, 3] = float("nan")
    with pytest.raises(CheckpointError, match=r"training x: the loss became nan at step 2"):
        train(p, tmp_path / "x.pt", progress_bar=False,
              source=lambda step: good if step == 0 else broken)
    assert not (tmp_path / "x.pt").exists()
