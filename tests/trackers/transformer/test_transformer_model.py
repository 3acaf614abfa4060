"""Transformer model: shapes, any N and ndim, step-wise decoding = parallel pass, FLOPs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_mpt.trackers.transformer.common.tracing import fvcore_macs  # noqa: E402
from napari_mpt.trackers.transformer.encdec.config import ModelConfig  # noqa: E402
from napari_mpt.trackers.transformer.encdec.decode import DecodeGraph, decode  # noqa: E402
from napari_mpt.trackers.transformer.encdec.flops import (  # noqa: E402
    closed_form_flops,
    count_flops,
    torch_counter_flops,
)
from napari_mpt.trackers.transformer.encdec.model import TrackerTransformer, encoder_windows  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _model(**kw) -> TrackerTransformer:
    torch.manual_seed(0)
    cfg = ModelConfig(**{"d_model": 16, "heads": 2, "ff": 32, **kw})
    model = TrackerTransformer(cfg)
    with torch.no_grad():        # non-trivial weights (the output head starts at zero)
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return model.eval()


@pytest.mark.parametrize(("n", "ndim"), [(2, 2), (3, 2), (1, 3), (4, 3)])
def test_shapes_for_any_n_and_ndim(n, ndim):
    model = _model(particles=n, ndim=ndim, encoder_lookback=6, decoder_lookback=3)
    z = torch.randn(5, 9, n, ndim)
    inputs = torch.randn(5, 9, n, ndim)
    est, logits = model(z, inputs)
    assert est.shape == (5, 9, n, ndim)
    assert logits.shape == (5, 9, n, n)
    with torch.no_grad():
        out = decode(model, z)
    assert out.shape == (5, 9, n, ndim)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(("frames", "ke", "kd", "layers"),
                         [(12, 12, 4, 1), (17, 5, 3, 2), (6, 8, 8, 2), (9, 9, 1, 1)])
def test_stepwise_decoding_equals_parallel_pass(frames, ke, kd, layers):
    """The cached, sliding-window decoding computes what the training pass computes when
    fed its own previous outputs: K_D band, encoder windows and caches agree."""
    model = _model(encoder_lookback=ke, decoder_lookback=kd, decoder_layers=layers,
                   encoder_layers=layers)
    z = torch.randn(3, frames, 2, 2)
    with torch.no_grad():
        est = decode(model, z)
        inputs = torch.cat([z[:, :1], est[:, :-1]], dim=1)
        par, _ = model(z, inputs)
    # float32, values up to ~3.5: the step-wise pass fuses q/k/v and folds 1/sqrt(d_h) into
    # the weights, so its sums round differently by a few ulps (measured: <= 9e-7)
    np.testing.assert_allclose(par.numpy(), est.numpy(), rtol=0, atol=1e-6)


def test_time_shift_invariance():
    """Only frame differences enter (rotary time): decoding a window alone gives the
    same as decoding it inside a longer, shifted sequence would by construction."""
    model = _model(encoder_lookback=8, decoder_lookback=4)
    z = torch.randn(2, 8, 2, 2)
    from napari_mpt.trackers.transformer.encdec.encoding import rotary_tables

    cos0, sin0 = rotary_tables(torch.arange(8), model.cfg)
    cos1, sin1 = rotary_tables(torch.arange(8) + 1000, model.cfg)
    q, k = torch.randn(8, model.cfg.head_dim), torch.randn(8, model.cfg.head_dim)
    from napari_mpt.trackers.transformer.encdec.encoding import rotate

    s0 = rotate(q, cos0, sin0, model.perm) @ rotate(k, cos0, sin0, model.perm).T
    s1 = rotate(q, cos1, sin1, model.perm) @ rotate(k, cos1, sin1, model.perm).T
    np.testing.assert_allclose(s0.numpy(), s1.numpy(), atol=1e-4)
    with torch.no_grad():
        assert torch.isfinite(decode(model, z)).all()


def test_encoder_windows_cover_every_frame_centrally():
    starts, which, kw = encoder_windows(40, 8)
    assert kw == 8 and starts[0] == 0 and starts[-1] == 32
    t = np.arange(40)
    s = starts[which]
    assert np.all((s <= t) & (t < s + kw))
    # away from the ends a frame sits in the middle half of its window
    inner = (t >= 4) & (t < 36)
    assert np.all(np.minimum(t - s, s + kw - 1 - t)[inner] >= 2)
    starts, which, kw = encoder_windows(5, 8)
    assert list(starts) == [0] and kw == 5 and np.all(which == 0)


@pytest.mark.slow                   # fvcore traces the whole unrolled decoding: 2-5 s each
@pytest.mark.parametrize(("frames", "ke", "kd", "layers", "n"),
                         [(16, 16, 4, 1, 2), (14, 5, 3, 2, 2), (6, 8, 8, 1, 3)])
def test_flops_fvcore_matches_flopcounter_and_closed_form(frames, ke, kd, layers, n):
    model = _model(encoder_lookback=ke, decoder_lookback=kd, decoder_layers=layers,
                   particles=n)
    fv = count_flops(model, frames)          # encoder + T x one step, as reported
    whole, by_op = fvcore_macs(DecodeGraph(model), (torch.randn(1, frames, n, 2),))
    tc = torch_counter_flops(model, frames)
    cf = closed_form_flops(model.cfg, frames)
    assert fv.source == "fvcore" and fv.value > 0
    assert 2 * whole == fv.value             # multiply-adds x 2, whole unrolled trace
    assert fv.value == tc == cf              # three independent counts agree exactly
    # attention (explicit matmuls) is a large share, so fvcore must be counting it
    assert by_op.get("matmul", 0) > 0.1 * sum(by_op.values())


def test_flops_grow_about_linearly_with_lookback():
    """Paper section III-E: with K_E = K_D = K, cost ~ K d^2 + K^2 d (T fixed)."""
    vals = [closed_form_flops(ModelConfig(encoder_lookback=k, decoder_lookback=k), 150)
            for k in (2, 4, 8, 16)]
    assert all(a < b for a, b in itertools.pairwise(vals))
    assert vals[-1] / vals[0] < 8      # far from exponential
