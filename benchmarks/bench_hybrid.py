"""The MHT + association-transformer hybrid against the MHT alone and the transformer alone.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_hybrid.py \
        [--presets receptor-mid vesicle-mid microtubule-mid] [--frames 30] [--seeds 3] \
        [--lookback 3] [--settings 0.05:2 0.2:1] [--device cpu] [--threads 1]
    ... bench_hybrid.py --sweep-k 1 2 3 4 5 [--presets receptor-mid] [--frames 20]

For each preset and seed, the same simulated detections (``preset_params(name, frames,
seed)``) are tracked by

* ``association``: the shipped association transformer alone (scores + per-frame LAP);
* ``MHT``: the detection-level MHT with lookback K and the simulation's own priors, run as
  the hybrid with ``min_score = 0`` (no transformer, every gated link: the same tracks as
  ``--method mht``, proved in ``tests/trackers/test_hybrid.py``; run this way for its node count);
* ``hybrid s/t``: the same MHT with links kept when their transformer score is >= s or
  among the detection's t best (``HybridParams(min_score=s, top_links=t)``).

Columns: association link Jaccard and ISBI alpha, wall time of the tracker call, MHT
nodes (branches) created per frame, FLOPs per frame (transformer fvcore + MHT analytic),
for the hybrid the share of the gated candidates it kept and the time in scoring vs
search; mean and [Student-t 95 % interval] over seeds (``sweep.mean_ci``).
``--sweep-k K...``: instead, one seed of the first preset tracked by the MHT and each
hybrid setting at every lookback K given: what the pruning buys as the MHT's window grows.
Not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from napari_mpt import api
from napari_mpt.core.params import HybridParams, known_priors
from napari_mpt.experiments.sweep import mean_ci
from napari_mpt.trackers.hybrid import track_hybrid

COLUMNS = ("aj", "alpha", "wall", "nodes", "flops")


def one(sim: Any, method: str, params: Any) -> dict[str, float]:
    t0 = time.perf_counter()
    res = track_hybrid(sim.detections, params) if isinstance(params, HybridParams) \
        else api.track(sim.detections, params)
    wall = time.perf_counter() - t0
    s = api.evaluate(res.tracks, sim.truth).summary()
    frames = len(sim.detections.frames())
    row = {"aj": s["association_jaccard"], "alpha": s["alpha"], "wall": wall,
           "flops": res.flops.value / frames}
    if "nodes_created" in res.info:
        row["nodes"] = res.info["nodes_created"] / frames
    if "kept_candidates" in res.info:
        row["kept"] = res.info["kept_candidates"] / max(res.info["gate_candidates"], 1)
        row["scores_s"] = res.info["scores_s"]
        row["search_s"] = res.info["search_s"]
    return row


def cell(values: list[float], fmt: str) -> str:
    if not values:
        return "-"
    m, lo, hi, _ = mean_ci(values)
    return f"{m:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["receptor-mid", "vesicle-mid",
                                                     "microtubule-mid"])
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--lookback", type=int, default=3)
    ap.add_argument("--settings", nargs="+", default=["0.05:2", "0.2:1"],
                    help="hybrid settings min_score:top_links")
    ap.add_argument("--checkpoint", default="association")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sweep-k", type=int, nargs="+", metavar="K",
                    help="lookbacks to sweep on one seed of the first preset")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    settings = [(float(a), int(b)) for a, b in (s.split(":") for s in args.settings)]
    warm = api.simulate(api.preset_params("vesicle-low", frames=5))
    api.track(warm.detections, api.TransformerParams(checkpoint=args.checkpoint,
                                                     device=args.device))  # load the model
    if args.sweep_k:
        sweep_k(args, settings)
        return
    print(f"Hybrid vs MHT vs association transformer: K={args.lookback}, {args.frames} "
          f"frames, seeds 0..{args.seeds - 1}, {args.device}, {args.threads} torch "
          f"thread(s); mean [95 % interval]")
    head = (f"{'preset':<16} {'method':<15} {'assoc. Jaccard':>24} {'alpha':>24} "
            f"{'wall s':>22} {'nodes/frame':>24} {'MFLOP/frame':>22} {'kept':>6} "
            f"{'scores s':>8} {'search s':>8}")
    print(head, flush=True)
    for name in args.presets:
        rows: dict[str, list[dict[str, float]]] = {}
        for seed in range(args.seeds):
            sp = api.preset_params(name, frames=args.frames, seed=seed)
            sim = api.simulate(sp)
            priors = dict(known_priors(sp))
            runs: list[tuple[str, Any]] = [
                ("association", api.TransformerParams(checkpoint=args.checkpoint,
                                                      device=args.device)),
                ("MHT", HybridParams(lookback=args.lookback, min_score=0.0, **priors))]
            runs += [(f"hybrid {s:g}/{t}",
                      HybridParams(lookback=args.lookback, min_score=s, top_links=t,
                                   checkpoint=args.checkpoint, device=args.device, **priors))
                     for s, t in settings]
            for method, params in runs:
                rows.setdefault(method, []).append(one(sim, method, params))
        for method, rs in rows.items():
            def col(key: str) -> list[float]:
                return [r[key] for r in rs if key in r]  # noqa: B023 (used at once)

            kept = col("kept")
            extra = (f"{sum(kept) / len(kept):6.3f} {sum(col('scores_s')) / len(kept):8.2f} "
                     f"{sum(col('search_s')) / len(kept):8.2f}" if kept else "")
            print(f"{name:<16} {method:<15} {cell(col('aj'), '.4f'):>24} "
                  f"{cell(col('alpha'), '.4f'):>24} {cell(col('wall'), '.2f'):>22} "
                  f"{cell(col('nodes'), '.0f'):>24} "
                  f"{cell([f / 1e6 for f in col('flops')], '.2f'):>22} {extra}", flush=True)


def sweep_k(args: argparse.Namespace, settings: list[tuple[float, int]]) -> None:
    name = args.presets[0]
    sp = api.preset_params(name, frames=args.frames, seed=0)
    sim = api.simulate(sp)
    priors = dict(known_priors(sp))
    print(f"Hybrid vs MHT, lookback sweep: {name}, {args.frames} frames, seed 0, "
          f"{args.device}, {args.threads} torch thread(s)")
    print(f"{'K':>2} {'method':<15} {'assoc. JC':>9} {'alpha':>7} {'wall s':>8} "
          f"{'nodes/frame':>11} {'search s':>8}", flush=True)
    for k in args.sweep_k:
        runs = [("MHT", HybridParams(lookback=k, min_score=0.0, **priors))]
        runs += [(f"hybrid {s:g}/{t}",
                  HybridParams(lookback=k, min_score=s, top_links=t, checkpoint=args.checkpoint,
                               device=args.device, **priors)) for s, t in settings]
        for method, params in runs:
            t0 = time.perf_counter()
            res = track_hybrid(sim.detections, params)
            wall = time.perf_counter() - t0
            sm = api.evaluate(res.tracks, sim.truth).summary()
            print(f"{k:>2} {method:<15} {sm['association_jaccard']:9.4f} {sm['alpha']:7.4f} "
                  f"{wall:8.2f} {res.info['nodes_created'] / args.frames:11.0f} "
                  f"{res.info['search_s']:8.2f}", flush=True)


if __name__ == "__main__":
    main()
