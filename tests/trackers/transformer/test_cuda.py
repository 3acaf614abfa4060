"""The transformers' CUDA path against their CPU path (skipped where torch sees no GPU).

CI has no GPU, so these run only on a lent GPU machine (``scripts/gpu_check.sh``).  They
hold the CUDA path to the CPU's answers: the same tracks, scores within float32
round-off, the same FLOP count, and training steps that run on the GPU and write a
checkpoint any machine can read.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_mpt import api  # noqa: E402
from napari_mpt.core.params import AssociationTrainParams, TransformerParams  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")


def _both(detections, checkpoint):
    cpu = api.track(detections, TransformerParams(checkpoint=checkpoint, device="cpu"))
    gpu = api.track(detections, TransformerParams(checkpoint=checkpoint, device="cuda"))
    return cpu, gpu


@pytest.mark.parametrize("particles", [2, 4])
def test_encoder_decoder_on_cuda_gives_the_cpu_tracks(particles):
    sim = api.simulate(api.SimulationParams(particles=particles, frames=60, seed=3))
    cpu, gpu = _both(sim.detections, "transformer_150_30")
    assert gpu.device == "cuda" and cpu.device == "cpu"
    np.testing.assert_array_equal(gpu.tracks.detection, cpu.tracks.detection)
    np.testing.assert_array_equal(gpu.tracks.track_id, cpu.tracks.track_id)
    # estimated positions: float32 on two devices, px-sized numbers
    np.testing.assert_allclose(gpu.tracks.coords, cpu.tracks.coords, atol=1e-3)
    assert gpu.flops.value == cpu.flops.value > 0


def test_association_model_on_cuda_gives_the_cpu_scores_and_tracks():
    from napari_mpt.trackers.transformer import cached_model
    from napari_mpt.trackers.transformer.association.infer import scores

    sim = api.simulate(api.preset_params("vesicle-mid").replace(frames=12, seed=2))
    s_cpu = scores(cached_model("association", "cpu")[0], sim.detections)
    s_gpu = scores(cached_model("association", "cuda")[0], sim.detections)
    np.testing.assert_array_equal(s_gpu["i"], s_cpu["i"])
    np.testing.assert_array_equal(s_gpu["j"], s_cpu["j"])
    for key in ("pf", "pb", "none_b"):
        np.testing.assert_allclose(s_gpu[key], s_cpu[key], atol=1e-4)
    cpu, gpu = _both(sim.detections, "association")
    np.testing.assert_array_equal(gpu.tracks.detection, cpu.tracks.detection)
    assert gpu.flops.value == cpu.flops.value > 0
    truth = api.evaluate(gpu.tracks, sim.truth).association
    assert truth is not None and truth.jaccard > 0.5


def test_auto_device_picks_the_gpu():
    sim = api.simulate(api.SimulationParams(frames=20, seed=1))
    res = api.track(sim.detections, TransformerParams(device="auto"))
    assert res.device == "cuda"


def test_association_training_runs_on_cuda_and_writes_a_cpu_readable_checkpoint(tmp_path):
    from napari_mpt.trackers.transformer import load_checkpoint
    from napari_mpt.trackers.transformer.association.model import AssocConfig, AssociationTransformer
    from napari_mpt.trackers.transformer.association.training import (
        loss_of,
        simulate_batch,
        train_association,
    )

    tiny = AssociationTrainParams(d_model=8, heads=2, ff=8, layers=1, batches=3,
                                  experiments_per_batch=2, particles_range=(5.0, 15.0))
    path = train_association(tiny.replace(device="cuda"), tmp_path / "g.pt", progress_bar=False)
    data = torch.load(path, map_location="cpu", weights_only=True)
    assert all(v.device.type == "cpu" for v in data["state_dict"].values())
    assert data["progress"]["batches_done"] == 3
    assert all(np.isfinite(row[1]) for row in data["progress"]["loss"])
    model, _ = load_checkpoint(path, "cpu")   # readable on a machine without a GPU
    assert next(model.parameters()).device.type == "cpu"
    # the loss of one batch is the same function on both devices
    torch.manual_seed(0)
    net = AssociationTransformer(AssocConfig.from_params(tiny))
    batch = simulate_batch(tiny, 0)
    on_cpu = float(loss_of(net, batch).detach())
    on_gpu = float(loss_of(net.to("cuda"), batch).detach())
    assert on_gpu == pytest.approx(on_cpu, rel=1e-4)


def test_hybrid_scores_on_cuda_and_prunes_like_the_cpu():
    from napari_mpt.core.params import HybridParams, known_priors

    sim = api.simulate(api.preset_params("receptor-mid").replace(
        particles=120, field_of_view=250.0, frames=10, seed=4))
    base = HybridParams(lookback=2, **known_priors(sim.params))
    cpu = api.track(sim.detections, base.replace(device="cpu"))
    gpu = api.track(sim.detections, base.replace(device="cuda"))
    np.testing.assert_array_equal(gpu.tracks.detection, cpu.tracks.detection)
    np.testing.assert_array_equal(gpu.tracks.track_id, cpu.tracks.track_id)
