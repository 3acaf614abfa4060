"""Checkpoints: round trip, safe loading (a pickle never runs code), clear errors."""

from __future__ import annotations

import os
import pickle
import re
import zipfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_mpt.core.errors import CheckpointError, DeviceError  # noqa: E402
from napari_mpt.core.params import TrainParams, TransformerParams  # noqa: E402
from napari_mpt.simulation.simulate import simulate  # noqa: E402
from napari_mpt.trackers.transformer import (  # noqa: E402
    available_checkpoints,
    available_devices,
    load_checkpoint,
    track_transformer,
)
from napari_mpt.trackers.transformer.common import checkpoint as ckpt  # noqa: E402
from napari_mpt.trackers.transformer.common.devices import resolve_device  # noqa: E402
from napari_mpt.trackers.transformer.encdec import checkpoint as encdec_ckpt  # noqa: E402
from napari_mpt.trackers.transformer.encdec.training import train  # noqa: E402

TINY = TrainParams(frames=6, experiments_per_batch=2, batches=2, d_model=8, heads=2, ff=8,
                   encoder_layers=1, decoder_layers=1, decoder_lookback=2, save_every=1)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    train(TINY, path, progress_bar=False)
    return path


def test_round_trip_keeps_weights_and_configuration(tiny_checkpoint, tmp_path):
    model, config = load_checkpoint(tiny_checkpoint)
    assert config["model"]["particles"] == 2 and config["model"]["encoder_lookback"] == 6
    assert config["train"]["frames"] == 6 and config["train"]["experiments_per_batch"] == 2
    assert config["train"]["seed"] == 0 and config["package_version"]
    assert config["progress"]["batches_done"] == 2 and config["progress"]["finished"]
    # save what was loaded under another name, load again: identical weights
    data = ckpt.read(tiny_checkpoint)
    copy = tmp_path / "copy.pt"
    ckpt.save(copy, {k: v for k, v in data.items() if k not in ("format", "format_version")})
    again, _ = load_checkpoint(copy)
    for (ka, a), (kb, b) in zip(model.state_dict().items(), again.state_dict().items(),
                                strict=True):
        assert ka == kb and torch.equal(a, b)


class _Evil:
    """Unpickling calls ``os.mkdir(target)``: the side effect proves code ran."""

    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("how", ["torch", "pickle"])
def test_pickle_that_runs_code_is_refused(tmp_path, how):
    target = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    payload = {"format": ckpt.FORMAT, "format_version": 1, "model": {}, "state_dict": {},
               "x": _Evil(str(target))}
    if how == "torch":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    # plain pickle would create the folder: the file really is malicious
    assert not target.exists()
    msg = _refusal(path)
    assert msg.startswith(f"{path}: ") and "refused" in msg
    if how == "torch":        # names what it holds
        assert re.search(r"\(\w+\.mkdir\)", msg) and "could run code" in msg
    assert not target.exists()


def test_corrupt_and_foreign_files_are_named(tmp_path, tiny_checkpoint):
    trunc = tmp_path / "truncated.pt"
    trunc.write_bytes(tiny_checkpoint.read_bytes()[:200])
    with pytest.raises(CheckpointError, match=r"truncated\.pt: a truncated or damaged zip "
                       r"archive, not a readable torch checkpoint"):
        load_checkpoint(trunc)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match=r"notes\.pt"):
        load_checkpoint(text)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match=r"foreign\.pt: not a napari-mpt transformer"):
        load_checkpoint(foreign)
    with pytest.raises(CheckpointError, match="no shipped checkpoint has this name"):
        load_checkpoint("transformer_does_not_exist")
    with pytest.raises(CheckpointError, match="file not found"):
        load_checkpoint(tmp_path / "missing.pt")


EXPECTED = "; expected a napari-mpt transformer checkpoint (a .pt file written by napari-mpt train)"


def _refusal(path) -> str:
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    msg = str(err.value)
    assert "\n" not in msg and "weights_only" not in msg, msg     # one line, no torch essay
    return msg


def test_a_file_that_is_no_checkpoint_is_named_for_what_it_is(tmp_path):
    """Issue 25: a text file renamed .pt said "...(corrupt or truncated?): 101"; a PNG was
    explained as a pickle that could run code, then torch's paragraph on weights_only.
    Each now says, in one line, what the file is, that it is no checkpoint, and what was
    expected."""
    image = pytest.importorskip("PIL.Image")
    text = tmp_path / "notes.pt"
    text.write_text("hello, this is text\nline two\n")
    assert _refusal(text) == (f"{text}: a text file (first line 'hello, this is text'), not a "
                              f"torch checkpoint{EXPECTED}")
    png = tmp_path / "cells.png"
    image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(png)
    assert _refusal(png) == f"{png}: a PNG image, not a torch checkpoint{EXPECTED}"
    renamed = tmp_path / "cells.pt"
    renamed.write_bytes(png.read_bytes())
    assert _refusal(renamed) == f"{renamed}: a PNG image, not a torch checkpoint{EXPECTED}"
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    assert _refusal(empty) == f"{empty}: an empty file, not a torch checkpoint{EXPECTED}"
    archive = tmp_path / "archive.pt"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", "hello")
    assert _refusal(archive) == (f"{archive}: a zip archive, not a torch checkpoint (no "
                                 f"data.pkl in it){EXPECTED}")
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps({"a": [1, 2]}, protocol=2))
    assert _refusal(plain).startswith(f"{plain}: a Python pickle, not a torch checkpoint (")
    binary = tmp_path / "noise.pt"
    binary.write_bytes(bytes(range(1, 64)))
    assert _refusal(binary) == (f"{binary}: not a torch checkpoint (unknown contents, "
                                f"starting 01 02 03 04 05 06 07 08){EXPECTED}")


def test_weights_that_do_not_fit_their_configuration(tmp_path, tiny_checkpoint):
    data = ckpt.read(tiny_checkpoint)
    data["model"]["d_model"] = 16
    bad = tmp_path / "bad.pt"
    ckpt.save(bad, {k: v for k, v in data.items() if k not in ("format", "format_version")})
    with pytest.raises(CheckpointError, match=r"bad\.pt: weights do not fit"):
        load_checkpoint(bad)


def test_a_checkpoint_runs_on_any_fixed_n_and_refuses_another_ndim(tiny_checkpoint):
    params = TransformerParams(checkpoint=str(tiny_checkpoint), device="cpu")
    for n in (1, 3):
        sim = simulate(particles=n, frames=5, seed=1, field_of_view=50.0)
        res = track_transformer(sim.detections, params)
        assert len(res.tracks.ids()) == n and len(res.tracks) == 5 * n
        assert sorted(res.tracks.detection) == list(range(5 * n))   # each detection once
        assert f"N={n}," in res.flops.detail
    sim3d = simulate(particles=2, frames=5, seed=1, ndim=3)
    with pytest.raises(CheckpointError, match=r"built for 2D coordinates but the data is 3D"):
        track_transformer(sim3d.detections, params)


def test_frames_with_other_counts_are_refused_naming_the_association_model(tiny_checkpoint):
    from napari_mpt.core.data import Detections
    from napari_mpt.core.errors import InputError

    det = Detections(np.array([0, 0, 1, 1, 1, 2, 2]), np.arange(14.0).reshape(7, 2),
                     source="ragged.csv")
    params = TransformerParams(checkpoint=str(tiny_checkpoint), device="cpu")
    with pytest.raises(InputError, match=r"ragged\.csv: frame 0 has 2 detections but frame\(s\) 1 "
                       r"have 3.*--checkpoint association"):
        track_transformer(det, params)
    gap = Detections(np.array([0, 0, 2, 2]), np.arange(8.0).reshape(4, 2), source="gap.csv")
    with pytest.raises(InputError, match=r"gap\.csv: frame\(s\) 1 have no detections.*association"):
        track_transformer(gap, params)


def test_missing_cuda_is_a_clear_error(monkeypatch, tiny_checkpoint):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert available_devices() == ["cpu"]
    sim = simulate(frames=5, seed=1)
    with pytest.raises(DeviceError, match=r"'cuda' is not available.*available: cpu"):
        track_transformer(sim.detections, TransformerParams(checkpoint=str(tiny_checkpoint),
                                                            device="cuda"))
    res = track_transformer(sim.detections, TransformerParams(checkpoint=str(tiny_checkpoint),
                                                              device="auto"))
    assert res.device == "cpu" and "CPU" in res.info["device_note"]
    assert resolve_device("cpu") == ("cpu", None)


def test_shipped_checkpoints_load_offline_and_are_small():
    shipped = available_checkpoints()
    assert "transformer_150_30" in shipped
    assert any(name.startswith("transformer_8_") for name in shipped)
    for name, path in shipped.items():
        assert path.stat().st_size < 5_000_000
        model, config = load_checkpoint(name)
        assert config["progress"]["finished"]
        assert np.isfinite(sum(float(p.detach().sum()) for p in model.parameters()))
        if config["kind"] == "association":      # named for what it is, not T_i
            assert name == "association"
            continue
        assert config["train"]["frames"] == int(name.split("_")[1])
        assert config["train"]["experiments_per_batch"] == int(name.split("_")[2])
        assert np.isfinite(sum(float(p.detach().sum()) for p in model.parameters()))


def test_shipped_long_model_tracks_an_easy_pair():
    """transformer_150_30 really tracks: low noise, fixed seeds, nearly every link right."""
    from napari_mpt.core.data import stack_frames
    from napari_mpt.evaluation.metrics import link_jaccard
    from napari_mpt.trackers.transformer import track_transformer_batch

    sims = [simulate(frames=150, measurement_noise=1.0, seed=70 + s) for s in range(4)]
    tracks = track_transformer_batch([stack_frames(s.detections) for s in sims],
                                     TransformerParams(device="cpu"))
    jc = [link_jaccard(t, s.truth).jaccard for t, s in zip(tracks, sims, strict=True)]
    assert np.mean(jc) > 0.9


HISTORICAL = {"weight_decay": 0.01, "grad_clip": 1.0, "warmup_steps": 100,
              "warmup_fraction": 0.1, "lr_floor": 0.05, "coord_scale": 10.0, "epochs": 0}
"""Training settings that were hard-coded before they became TrainParams fields."""


def test_checkpoints_that_predate_the_training_settings_read_as_the_old_values():
    for name in ("transformer_150_30", "transformer_8_30"):
        data = ckpt.read(available_checkpoints()[name])
        assert not set(HISTORICAL) & set(data["train"])       # written before the fields
        params = encdec_ckpt.train_params_of(data)
        assert {k: getattr(params, k) for k in HISTORICAL} == HISTORICAL
        assert params.frames == data["train"]["frames"] == int(name.split("_")[1])
        assert encdec_ckpt.train_params_of(name) == params           # by name too
        _, cfg = encdec_ckpt.build(data, name)
        assert cfg.coord_scale == 10.0 and cfg.to_dict() == data["model"]


def test_new_checkpoints_say_how_they_were_made(tiny_checkpoint):
    data = ckpt.read(tiny_checkpoint)
    assert {k: data["train"][k] for k in HISTORICAL} == HISTORICAL
    assert encdec_ckpt.train_params_of(data) == TINY
    # a setting from a newer version is left out, not an error
    data["train"]["from_the_future"] = 1
    assert encdec_ckpt.train_params_of(data) == TINY


def test_a_bad_model_configuration_is_named(tmp_path, tiny_checkpoint):
    data = ckpt.read(tiny_checkpoint)
    for change, message in (({"heads": 3}, r"'heads': 3 heads do not divide d_model=8"),
                            ({"decoder_lookback": 0}, r"'decoder_lookback': must be >= 1"),
                            ({"d_model": "8"}, r"'d_model': '8' is not an integer"),
                            ({"colour": 1}, r"'colour': unknown parameter")):
        bad = tmp_path / "bad.pt"
        payload = {k: v for k, v in data.items() if k not in ("format", "format_version")}
        ckpt.save(bad, {**payload, "model": {**data["model"], **change}})
        with pytest.raises(CheckpointError, match=r"bad\.pt: model configuration: parameter "
                           + message):
            load_checkpoint(bad)
