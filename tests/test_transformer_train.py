"""Training: the loss goes down, runs are deterministic and resume exactly; CLI train->track."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_mpt import cli  # noqa: E402
from napari_mpt.errors import CheckpointError, ParameterError  # noqa: E402
from napari_mpt.params import TrainParams  # noqa: E402
from napari_mpt.transformer import checkpoint as ckpt  # noqa: E402
from napari_mpt.transformer.model import TrackerTransformer  # noqa: E402
from napari_mpt.transformer.trainer import (  # noqa: E402
    loss_terms,
    model_config,
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
