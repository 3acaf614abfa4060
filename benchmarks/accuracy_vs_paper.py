"""Link Jaccard of the shipped transformers against MHT on fresh simulations (not a test).

    .venv/bin/python benchmarks/accuracy_vs_paper.py [--n 200] [--seed0 1000000]

Paper claims checked (N = 2, mu = 1.5, separation 10 px):

* Fig. 6, T = 150, sigma = 7: transformer_{150,30} (K_E = T, K_D = 8) beats MHT K = 8.
* Fig. 3, T = 8, sigma = 1.2 and Fig. 4, T = 8, sigma = 7: MHT K = 8 (optimal there) wins
  or ties against transformer_{8,i}.

MHT priors: eta' = 1.5, nu' = sigma (known), constant-velocity.  Every sequence is a fresh
simulation with a seed outside the training streams; both trackers see the same ones.
Prints the mean JC with a 95 % confidence interval (normal approximation, 1.96 standard
errors) and the paired difference with its own 95 % interval.  A diagnostic column keeps
the MHT's links but replaces its filtered positions by a random-walk RTS smoother's (the
link Jaccard matches positions to the truth, so smoothing alone changes it).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from napari_mpt.api import track
from napari_mpt.core.data import Tracks, stack_frames
from napari_mpt.core.params import MHTParams, SimulationParams, TransformerParams
from napari_mpt.evaluation.metrics import link_jaccard
from napari_mpt.simulation.simulate import simulate
from napari_mpt.trackers.transformer import available_checkpoints, track_transformer_batch


def ci(x: np.ndarray) -> str:
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else float("nan")
    return f"{x.mean():.4f} ± {half:.4f}"


def rts_positions(tracks: Tracks, detections_xy: np.ndarray, mu: float, sigma: float
                  ) -> Tracks:
    """The same tracks (same links) with positions from a random-walk Kalman smoother
    (Rauch-Tung-Striebel) run on each track's detections: what the link Jaccard gives an
    association when its positions are smoothed rather than filtered."""
    q, r = mu * mu, max(sigma * sigma, 1e-12)
    coords = tracks.coords.copy()
    for k in tracks.ids():
        rows = np.flatnonzero(tracks.track_id == k)
        z = detections_xy[tracks.detection[rows]]
        t = len(z)
        x, p = np.empty_like(z), np.empty(t)
        x[0], p[0] = z[0], r
        for i in range(1, t):
            pp = p[i - 1] + q
            gain = pp / (pp + r)
            x[i] = x[i - 1] + gain * (z[i] - x[i - 1])
            p[i] = (1 - gain) * pp
        for i in range(t - 2, -1, -1):
            c = p[i] / (p[i] + q)
            x[i] = x[i] + c * (x[i + 1] - x[i])
        coords[rows] = x
    return Tracks(tracks.track_id, tracks.frame, coords, tracks.detection)


def compare(frames: int, sigma: float, checkpoint: str, n: int, seed0: int) -> dict:
    sims = [simulate(SimulationParams(frames=frames, measurement_noise=sigma, seed=seed0 + s))
            for s in range(n)]
    t0 = time.perf_counter()
    tr = track_transformer_batch([stack_frames(s.detections) for s in sims],
                                 TransformerParams(checkpoint=checkpoint, device="cpu",
                                                   batch_size=64))
    t_tf = time.perf_counter() - t0
    jt = np.array([link_jaccard(t, s.truth).jaccard for t, s in zip(tr, sims, strict=True)])
    mp = MHTParams(lookback=8, process_noise=1.5, measurement_noise=max(sigma, 1e-6),
                   motion_model="constant-velocity")
    t0 = time.perf_counter()
    mht = [track(s.detections, mp).tracks for s in sims]
    t_mht = time.perf_counter() - t0
    jm = np.array([link_jaccard(m, s.truth).jaccard for m, s in zip(mht, sims, strict=True)])
    js = np.array([link_jaccard(rts_positions(m, s.detections.coords, 1.5, sigma), s.truth)
                   .jaccard for m, s in zip(mht, sims, strict=True)])
    return {"frames": frames, "sigma": sigma, "checkpoint": checkpoint, "tf": jt, "mht": jm,
            "rts": js, "t_tf": t_tf / n, "t_mht": t_mht / n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="sequences per comparison")
    ap.add_argument("--seed0", type=int, default=1_000_000, help="first simulation seed")
    ap.add_argument("--short", default=None, help="checkpoint for T = 8 (default: the "
                    "shipped transformer_8_<i> with the largest i)")
    ap.add_argument("--sweep", type=float, nargs="*", default=[],
                    help="also compare transformer_150_30 and MHT K=8 at T=150 at these sigmas")
    args = ap.parse_args()
    torch.set_num_threads(1)
    shipped = available_checkpoints()
    short = args.short or max((k for k in shipped if k.startswith("transformer_8_")),
                              key=lambda k: int(k.split("_")[2]))
    rows = [compare(150, 7.0, "transformer_150_30", args.n, args.seed0),
            compare(8, 1.2, short, args.n, args.seed0),
            compare(8, 7.0, short, args.n, args.seed0)]
    rows += [compare(150, s, "transformer_150_30", args.n, args.seed0) for s in args.sweep]
    print(f"N=2, mu=1.5, {args.n} sequences per row, seeds {args.seed0}..; MHT K=8 "
          "(eta'=1.5, nu'=sigma, constant-velocity); mean JC ± 95% CI")
    print(f"{'T':>4} {'sigma':>5} {'transformer':<20} {'JC transformer':>17} {'JC MHT K=8':>17} "
          f"{'transformer - MHT':>19} {'MHT links, RTS pos.':>19} {'ms/seq tf':>9} "
          f"{'ms/seq MHT':>10}")
    for r in rows:
        print(f"{r['frames']:>4} {r['sigma']:>5.1f} {r['checkpoint']:<20} {ci(r['tf']):>17} "
              f"{ci(r['mht']):>17} {ci(r['tf'] - r['mht']):>19} {ci(r['rts']):>19} "
              f"{1e3 * r['t_tf']:>9.2f} {1e3 * r['t_mht']:>10.2f}")


if __name__ == "__main__":
    main()
