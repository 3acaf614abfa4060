"""Training the association transformer on fresh simulated windows.

Batch ``k`` is simulated from ``numpy.random.default_rng([seed, k])``: for each of its i
windows, settings are drawn from the AssociationTrainParams ranges (particles, spacing,
P_D, clutter, motion type, step size, speed, localisation noise, survival) and the
part-1 simulator makes ``window`` frames of them.  The loss is two cross-entropies per
token: over its forward candidates plus "no link" (target: the next detection of the same
particle within the gap, when it is a candidate; else no link) and over its backward
candidates plus "no link".  Weights start from ``torch.manual_seed(seed)``; with one
thread a run is deterministic and resumes exactly.

These are the hooks of the one training loop (:func:`..common.training.run`), which the
encoder-decoder's training shares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ....core.params import AssociationTrainParams, SimulationParams
from ....simulation.simulate import simulate
from ..common.checkpoint import ASSOCIATION
from ..common.devices import resolve_device
from ..common.training import ProgressHook, Recipe, differences, existing_run, run
from .graph import Graph, NeighbourCache, build, sequence
from .model import AssocConfig, AssociationTransformer, build_association, graph_tensors

DESCRIPTION = ("association transformer: any number of detections per frame (missed and "
               "spurious spots, empty frames, births and deaths), gap closing")


@dataclass
class AssocBatch:
    graph: Graph
    fwd_target: np.ndarray     # (M,) slot of the true successor, S: no link
    bwd_target: np.ndarray     # (M,) slot of the true predecessor, S: no link


def draw_simulation(p: AssociationTrainParams, rng: np.random.Generator) -> SimulationParams:
    """One training window's simulation settings, drawn from the ranges of ``p``."""
    def u(r: tuple[float, ...]) -> float:
        return float(rng.uniform(r[0], r[1]))

    n = round(u(p.particles_range))
    side = u(p.spacing_range) * math.sqrt(n)
    surv = u(p.survival_range)
    clutter = min(u(p.clutter_range) * n, p.max_clutter)
    motion = p.motions[int(rng.integers(len(p.motions)))]
    return SimulationParams(
        particles=n, frames=p.window, field_of_view=side, ndim=p.ndim,
        process_noise=u(p.process_noise_range), measurement_noise=u(p.measurement_noise_range),
        detection_probability=u(p.detection_probability_range), clutter=clutter,
        birth_rate=n * (1.0 - surv), survival=surv, motion=motion, speed=u(p.speed_range),
        end_at_edge=True, seed=int(rng.integers(2 ** 31 - 1)))


def successors(truth_tid: np.ndarray, truth_det: np.ndarray, n_rows: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Next and previous detected row of the same particle, per detection row (-1: none).

    ``truth_tid``/``truth_det`` are a truth table's columns sorted by (track, frame)."""
    nxt = np.full(n_rows, -1, dtype=np.int64)
    prv = np.full(n_rows, -1, dtype=np.int64)
    seen = truth_det >= 0
    tid, det = truth_tid[seen], truth_det[seen]
    same = tid[:-1] == tid[1:]
    nxt[det[:-1][same]] = det[1:][same]
    prv[det[1:][same]] = det[:-1][same]
    return nxt, prv


def targets(g: Graph, nxt: np.ndarray, prv: np.ndarray, gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Slot of each token's true successor / predecessor among its candidates (else S).

    ``nxt``/``prv`` are in the Sequence's index."""
    s = g.nbr.shape[1]
    nb_det = g.det[g.nbr]
    out = []
    for truth, lo, hi in ((nxt, 1, gap), (prv, -gap, -1)):
        want = truth[g.det]
        hit = g.mask & (g.dt >= lo) & (g.dt <= hi) & (nb_det == want[:, None]) & (want[:, None] >= 0)
        out.append(np.where(hit.any(1), hit.argmax(1), s))
    return out[0], out[1]


def concat(graphs: list[Graph]) -> Graph:
    """Graphs of separate windows as one (token indices shifted)."""
    shift = np.cumsum([0] + [gr.tokens for gr in graphs[:-1]])
    return Graph(
        det=np.concatenate([gr.det for gr in graphs]),
        offset=np.concatenate([gr.offset for gr in graphs]),
        nbr=np.concatenate([gr.nbr + s for gr, s in zip(graphs, shift, strict=True)]),
        mask=np.concatenate([gr.mask for gr in graphs]),
        dt=np.concatenate([gr.dt for gr in graphs]),
        relin=np.concatenate([gr.relin for gr in graphs]),
        fwd_ok=np.concatenate([gr.fwd_ok for gr in graphs]),
        bwd_ok=np.concatenate([gr.bwd_ok for gr in graphs]),
        feats=np.concatenate([gr.feats for gr in graphs]))


def simulate_batch(p: AssociationTrainParams, index: int) -> AssocBatch:
    """Batch ``index``: ``experiments_per_batch`` windows from ``default_rng([seed, index])``."""
    rng = np.random.default_rng([p.seed, index])
    graphs, fwd, bwd = [], [], []
    for _ in range(p.experiments_per_batch):
        sim = simulate(draw_simulation(p, rng))
        if len(sim.detections) == 0 or len(np.unique(sim.detections.frame)) < 2:
            continue
        seq = sequence(sim.detections)
        nxt_row, prv_row = successors(sim.truth.track_id, sim.truth.detection,
                                      len(sim.detections))
        pos = np.empty(len(seq.rows), dtype=np.int64)
        pos[seq.rows] = np.arange(len(seq.rows))          # table row -> sequence index

        def to_seq(a: np.ndarray, pos: np.ndarray = pos, seq: Any = seq) -> np.ndarray:
            v = a[seq.rows]
            return np.where(v >= 0, pos[np.maximum(v, 0)], -1)

        g = build(seq, NeighbourCache(seq, p.neighbours), np.zeros(1, dtype=np.int64),
                  p.window, p.gap, p.coord_scale)
        f, b = targets(g, to_seq(nxt_row), to_seq(prv_row), p.gap)
        graphs.append(g)
        fwd.append(f)
        bwd.append(b)
    return AssocBatch(concat(graphs), np.concatenate(fwd), np.concatenate(bwd))


def masked_logits(logits: torch.Tensor, none: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """(M, S+1): candidate logits where ``ok`` (else -inf), then the no-link logit."""
    return torch.cat([logits.masked_fill(~ok, float("-inf")), none[:, None]], dim=1)


def direction_masks(mask: torch.Tensor, dt: torch.Tensor, gap: int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    return mask & (dt >= 1) & (dt <= gap), mask & (dt <= -1) & (dt >= -gap)


def loss_of(model: AssociationTransformer, batch: AssocBatch) -> torch.Tensor:
    g = batch.graph
    dev = next(model.parameters()).device
    logits, none = model(*graph_tensors(g, dev))
    fmask, bmask = direction_masks(torch.as_tensor(g.mask, device=dev),
                                   torch.as_tensor(g.dt, device=dev), model.cfg.gap)
    terms = []
    for m_dir, col, tgt, ok in ((fmask, 0, batch.fwd_target, g.fwd_ok),
                                (bmask, 1, batch.bwd_target, g.bwd_ok)):
        sel = torch.as_tensor(ok, device=dev)
        lg = masked_logits(logits, none[:, col], m_dir)[sel]
        terms.append(F.cross_entropy(lg, torch.as_tensor(tgt, device=dev)[sel]))
    return 0.5 * (terms[0] + terms[1])


WARMUP_FRACTION = 0.1
"""The warm-up lasts ``min(warmup_steps, batches // 10)`` steps, as it always has for this
model (``int(batches * 0.1) == batches // 10`` for every count of batches up to 10^7, the
most ``batches`` accepts)."""

IGNORED = ("save_every", "threads", "device")
"""Settings a resumed run may change (where it runs, how often it saves)."""


def train_association(params: AssociationTrainParams, out: str | Path, *, resume: bool = False,
                      overwrite: bool = False, progress_bar: bool = True,
                      log: str | Path | None = None, name: str | None = None,
                      on_batch: ProgressHook | None = None) -> Path:
    """Train the association model and write its checkpoint to ``out``; return the path.

    As :func:`~napari_mpt.trackers.transformer.train` for the encoder-decoder: the same
    loop (:func:`..common.training.run`), resume, overwrite, log and ``on_batch``."""
    out = Path(out)
    cfg = AssocConfig.from_params(params)
    # a setting the checkpoint predates had its default then
    state = existing_run(out, resume, overwrite, lambda st: differences(
        {**AssociationTrainParams().to_dict(), **(st.get("train") or {})}, params.to_dict(),
        IGNORED))
    device, _ = resolve_device(params.device)
    label = name or out.stem
    recipe = Recipe(
        params=params, steps=params.batches, warmup_fraction=WARMUP_FRACTION,
        record={"kind": ASSOCIATION, "name": label,
                "description": f"{DESCRIPTION}; {cfg.ndim}-D"},
        model=cfg.to_dict(),
        new_model=lambda: AssociationTransformer(cfg).to(device),
        restore=lambda st, src: build_association(st, src).to(device),
        batch=lambda step: simulate_batch(params, step),
        loss=lambda model, batch: (loss_of(model, batch), {}))
    return run(recipe, out, state, progress_bar=progress_bar, log=log, on_batch=on_batch)
