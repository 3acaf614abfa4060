"""The association transformer against laptrack on the ISBI-like presets, and its speed.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_association.py \
        [--presets vesicle-mid receptor-mid microtubule-mid] [--frames 100] [--seeds 3] \
        [--speed] [--checkpoint association] [--device cpu]

1. Accuracy: for each preset and seed, the same simulated detections are tracked by the
   shipped association checkpoint and by laptrack (the package's LAP tracker,
   ``napari_mpt.trackers.lap``: frame-to-frame LAP plus gap closing over up to 2 missed
   frames, splitting and merging off; link distance 4 x the median nearest-next-frame
   distance, estimated; starting/ending a track costs the cutoff).  Association
   link Jaccard (by detection identity) and the ISBI alpha/beta, mean and Student-t 95 %
   interval over seeds, and wall time.
2. ``--speed``: wall time of tracking ``vesicle-high`` (1000 particles per frame) over 100
   frames on the CPU with one torch thread: scores (windows through the model) and
   linking, and the fvcore FLOPs.
Not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from napari_mpt import api
from napari_mpt.core.params import LAPParams
from napari_mpt.experiments.sweep import mean_ci

LAP = LAPParams(gap_closing_frames=2)
"""laptrack through ``napari_mpt.trackers.lap``: link distance estimated, gap closing over
up to 2 missed frames (the association model's gap of 2 frames bridges one)."""


def accuracy(presets: list[str], frames: int, seeds: int, checkpoint: str, device: str) -> None:
    print(f"1. Association transformer ({checkpoint}) vs laptrack (gap closing "
          f"{LAP.gap_closing_frames}), "
          f"{frames} frames, seeds 0..{seeds - 1}: mean [95 % interval]")
    print(f"{'preset':<18} {'method':<12} {'assoc. Jaccard':>24} {'alpha':>24} {'beta':>24} "
          f"{'wall s':>7}")
    for name in presets:
        rows: dict[str, dict[str, list[float]]] = {}
        for seed in range(seeds):
            sim = api.simulate(api.preset_params(name, frames=frames, seed=seed))
            t0 = time.perf_counter()
            res = api.track(sim.detections, api.TransformerParams(checkpoint=checkpoint,
                                                                  device=device))
            t_a = time.perf_counter() - t0
            t0 = time.perf_counter()
            lap = api.track(sim.detections, LAP).tracks
            t_l = time.perf_counter() - t0
            for label, tracks, wall in (("association", res.tracks, t_a),
                                        ("laptrack", lap, t_l)):
                s = api.evaluate(tracks, sim.truth).summary()
                r = rows.setdefault(label, {"aj": [], "alpha": [], "beta": [], "wall": []})
                r["aj"].append(s["association_jaccard"])
                r["alpha"].append(s["alpha"])
                r["beta"].append(s["beta"])
                r["wall"].append(wall)
        for label, r in rows.items():
            cells = []
            for key in ("aj", "alpha", "beta"):
                m, lo, hi, _ = mean_ci(r[key])
                cells.append(f"{m:.4f} [{lo:.4f}, {hi:.4f}]")
            print(f"{name:<18} {label:<12} {cells[0]:>24} {cells[1]:>24} {cells[2]:>24} "
                  f"{np.mean(r['wall']):>7.2f}", flush=True)


def speed(checkpoint: str, device: str) -> None:
    from napari_mpt.trackers.transformer import cached_model
    from napari_mpt.trackers.transformer.association.infer import scores, tracks_from_scores

    sim = api.simulate(api.preset_params("vesicle-high", frames=100, seed=0))
    det = sim.detections
    model, _ = cached_model(checkpoint, device)
    api.track(api.simulate(api.preset_params("vesicle-low", frames=5)).detections,
              api.TransformerParams(checkpoint=checkpoint, device=device))   # warm up
    t0 = time.perf_counter()
    sc = scores(model, det)       # type: ignore[arg-type]  # an association checkpoint
    t1 = time.perf_counter()
    tracks = tracks_from_scores(det, sc, model.cfg.gap)   # type: ignore[attr-defined]
    t2 = time.perf_counter()
    res = api.track(det, api.TransformerParams(checkpoint=checkpoint, device=device))
    aj = api.evaluate(tracks, sim.truth).summary()["association_jaccard"]
    print(f"\n2. Speed, vesicle-high x 100 frames ({len(det)} detections, "
          f"{sc['tokens']} window tokens), {device}, {torch.get_num_threads()} torch thread(s)")
    print(f"scores {t1 - t0:.2f} s + linking {t2 - t1:.2f} s = {t2 - t0:.2f} s; api.track "
          f"{res.wall_s:.2f} s; {res.flops.value / 1e9:.1f} GFLOPs (fvcore); association "
          f"Jaccard {aj:.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["vesicle-mid", "receptor-mid",
                                                     "microtubule-mid"])
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--checkpoint", default="association")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--speed", action="store_true", help="only the speed measurement")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.speed:
        speed(args.checkpoint, args.device)
        return
    accuracy(args.presets, args.frames, args.seeds, args.checkpoint, args.device)


if __name__ == "__main__":
    main()
