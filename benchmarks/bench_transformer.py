"""Transformer speed and cost tables (not a test: numbers depend on the machine).

    .venv/bin/python benchmarks/bench_transformer.py [--threads 1] [--quick]

1. Inference wall time (ms per sequence, batch 1 and batch 64) and fvcore FLOPs against
   the lookbacks (K_E, K_D), T = 150, N = 2, on the CPU (and the GPU where there is one).
   Timings use the shipped architecture with its weights (time and FLOPs depend on the
   sizes only); "track" is the whole ``track_transformer_batch`` (normalise, decode,
   Hungarian, Tracks), the best of a few repeats.
2. Training time of each shipped checkpoint, as recorded in it.
3. The paper's Fig. 5 crossover: the smallest K at which the transformer (K_E = K_D = K)
   needs fewer FLOPs than the exhaustive MHT with lookback K on the same sequence.
4. ``--any-n``: the N = 2 checkpoints run on N = 3, 4, 10 particles (slots = frame 0's
   detections): link Jaccard (paper's measure), mean and 95 % interval over seeds, at the
   paper's density (one particle per 10 x 10 px at the start) and sparse (512 px field).
   Only this table: ``benchmarks/bench_transformer.py --any-n [--seeds 10]``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from napari_mpt.core.params import MHTParams, SimulationParams, TrainParams, TransformerParams
from napari_mpt.simulation.simulate import simulate
from napari_mpt.trackers.transformer import (
    TrackerTransformer,
    available_checkpoints,
    available_devices,
    count_flops,
    model_config,
    train_params_of,
)
from napari_mpt.trackers.transformer.common.checkpoint import read
from napari_mpt.trackers.transformer.encdec.decode import decode
from napari_mpt.trackers.transformer.encdec.infer import assign

T = 150


def reference_train_params() -> TrainParams:
    if "transformer_150_30" not in available_checkpoints():
        return TrainParams()
    return train_params_of("transformer_150_30")


def build(ke: int, kd: int, device: str) -> TrackerTransformer:
    """The reference architecture with K_E, K_D (weights of the shipped model when they fit)."""
    p = reference_train_params().replace(frames=T, encoder_lookback=min(ke, T),
                                         decoder_lookback=kd)
    torch.manual_seed(0)
    model = TrackerTransformer(model_config(p))
    shipped = available_checkpoints().get("transformer_150_30")
    if shipped is not None:
        state = read(shipped)["state_dict"]
        model.load_state_dict(state)      # the sizes do not depend on K_E or K_D
    return model.eval().to(device)


def time_track(model: TrackerTransformer, coords: np.ndarray, batch: int, device: str,
               repeats: int) -> tuple[float, float]:
    """Best ms per sequence of (decode only, whole tracking) for ``batch`` sequences."""
    cfg = model.cfg
    best_dec = best_all = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        ref = coords[:, 0].mean(axis=1)
        zn = (coords - ref[:, None, None, :]) / cfg.coord_scale
        z = torch.as_tensor(zn, dtype=torch.float32, device=device)
        with torch.inference_mode():
            t1 = time.perf_counter()
            est = decode(model, z)
            if device == "cuda":
                torch.cuda.synchronize()
            t2 = time.perf_counter()
        e = est.double().cpu().numpy() * cfg.coord_scale + ref[:, None, None, :]
        assign(e, coords)
        t3 = time.perf_counter()
        best_dec = min(best_dec, (t2 - t1) / batch)
        best_all = min(best_all, (t3 - t0) / batch)
    return best_dec * 1e3, best_all * 1e3


def lookback_table(devices: list[str], quick: bool) -> None:
    sims = [simulate(SimulationParams(frames=T, measurement_noise=7.0, seed=900 + s))
            for s in range(64)]
    from napari_mpt.core.data import stack_frames

    coords = np.stack([stack_frames(s.detections).coords for s in sims])
    configs = [(150, 1), (150, 8), (8, 8)] + [(k, k) for k in (1, 2, 4, 8, 16, 32, 64, 150)]
    if quick:
        configs = [(150, 1), (150, 8), (8, 8)]
    print(f"\n1. Inference, T={T}, N=2, threads={torch.get_num_threads()} "
          "(ms per sequence; best of 5 at batch 1, of 3 at batch 64; decode = network only, "
          "track = + Hungarian, Tracks)")
    print(f"{'device':>6} {'K_E':>4} {'K_D':>4} {'GFLOP/seq':>10} {'b1 decode':>10} "
          f"{'b1 track':>9} {'b64 decode':>11} {'b64 track':>10}")
    for dev in devices:
        for ke, kd in configs:
            model = build(ke, kd, dev)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fl = count_flops(model, T).value
            time_track(model, coords[:2], 1, dev, 1)                         # warm up
            d1, a1 = time_track(model, coords[:1], 1, dev, 5)
            d64, a64 = time_track(model, coords, 64, dev, 3)
            print(f"{dev:>6} {ke:>4} {kd:>4} {fl / 1e9:>10.4f} {d1:>10.2f} {a1:>9.2f} "
                  f"{d64:>11.3f} {a64:>10.3f}")


def training_table() -> None:
    print("\n2. Shipped checkpoints (training time as recorded in each file)")
    print(f"{'checkpoint':<22} {'T':>4} {'i':>4} {'batches':>8} {'sigma':>12} "
          f"{'train s':>8} {'final loss':>10} {'size kB':>8}")
    for name, path in available_checkpoints().items():
        data = read(path)
        tr, prog = data["train"], data["progress"]
        sig = tr["measurement_noise_range"] or tr["measurement_noise"]
        loss = np.mean([r[1] for r in prog["loss"][-50:]])
        print(f"{name:<22} {tr['frames']:>4} {tr['experiments_per_batch']:>4} "
              f"{prog['batches_done']:>8} {sig!s:>12} {prog['elapsed_s']:>8.0f} "
              f"{loss:>10.4f} {path.stat().st_size / 1e3:>8.0f}")


def crossover_table(ks: list[int]) -> None:
    from napari_mpt.api import track

    print(f"\n3. FLOPs against the lookback K, T={T}, sigma=7 (paper Fig. 5): transformer "
          "K_E=K_D=K vs MHT exhaustive (K)")
    sim = simulate(SimulationParams(frames=T, measurement_noise=7.0, seed=5))
    print(f"{'K':>3} {'transformer':>14} {'MHT exhaustive':>16} {'MHT source':>10} "
          f"{'cheaper':>12}")
    crossover = None
    for k in ks:
        model = build(k, k, "cpu")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tf = count_flops(model, T).value
        try:
            res = track(sim.detections, MHTParams(lookback=k, mode="exhaustive",
                                                  process_noise=1.5, measurement_noise=7.0))
            mf, src = res.flops.value, res.flops.source
        except Exception as exc:  # too many hypotheses for this machine
            print(f"{k:>3} {tf:>14,d} {'(' + type(exc).__name__ + ')':>16}")
            continue
        cheaper = "transformer" if tf < mf else "MHT"
        if cheaper == "transformer" and crossover is None:
            crossover = k
        print(f"{k:>3} {tf:>14,d} {mf:>16,d} {src:>10} {cheaper:>12}")
    print(f"crossover: the transformer is cheaper from K = {crossover}" if crossover else
          "no crossover in this range")


def any_n_table(seeds: int, frames: int = T) -> None:
    from napari_mpt.api import evaluate, track
    from napari_mpt.experiments.sweep import mean_ci

    print(f"\n4. N = 2 checkpoints on other N: link Jaccard, mean [95 % interval] over {seeds} "
          f"seeds, T={frames}, mu=1.5, sigma=1")
    print(f"{'checkpoint':<20} {'N':>3} {'field px':>9} {'Jaccard':>24}")
    for name in ("transformer_150_30", "transformer_8_30"):
        for n in (2, 3, 4, 10):
            for fov in (10.0 * np.sqrt(n), 512.0):
                jc = []
                for seed in range(seeds):
                    sp = SimulationParams(particles=n, frames=frames, field_of_view=float(fov),
                                          seed=seed)
                    sim = simulate(sp)
                    res = track(sim.detections, TransformerParams(checkpoint=name, device="cpu"))
                    jc.append(evaluate(res.tracks, sim.truth).jaccard)
                mean, lo, hi, _ = mean_ci(jc)
                label = "pair 10" if n == 2 and fov < 512 else f"{fov:.0f}"
                print(f"{name:<20} {n:>3} {label:>9} {mean:>8.3f} [{lo:.3f}, {hi:.3f}]",
                      flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="fewer rows")
    ap.add_argument("--max-k", type=int, default=12, help="largest K for the crossover table")
    ap.add_argument("--any-n", action="store_true", help="only table 4 (N = 2 checkpoints on N > 2)")
    ap.add_argument("--seeds", type=int, default=10, help="seeds per row of table 4")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.any_n:
        any_n_table(args.seeds)
        return
    lookback_table(available_devices(), args.quick)
    training_table()
    crossover_table(list(range(1, args.max_k + 1)))
    _ = TransformerParams  # the defaults the GUI uses: checkpoint transformer_150_30


if __name__ == "__main__":
    main()
