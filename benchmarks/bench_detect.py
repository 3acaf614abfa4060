"""Spot detection on ISBI-like simulated movies, beside trackpy.locate (prints a table; not a test).

    .venv/bin/python benchmarks/bench_detect.py            # 100 frames, 100/300/1000 spots (~25 min)
    .venv/bin/python benchmarks/bench_detect.py --quick    # 20 frames, 100/1000 spots (~5 min)

Movies: 512 x 512 px, the simulator's Brownian particles (``SimulationParams(particles=N,
frames=T, field_of_view=512)``, mu = 1.5 px) drawn as Gaussian spots (PSF sigma 1.3 px) on a
background of 10 photons with Poisson noise, at the ISBI SNR 1, 2, 4, 7
(:mod:`napari_mpt.simulation.movie`).  Truth: the particles' true positions inside the image (a few
drift out over 100 frames).  A detection matches a true position within 2 px, one to one
per frame (:func:`napari_mpt.evaluation.detections.evaluate_detections`); RMSE is Euclidean.

napari-mpt runs with its defaults (no tuning), and once more without multi-emitter
fitting (``multi_emitter="off"``: each spot fitted alone).  trackpy (benchmark-only) runs
``locate(frame, diameter=7)`` with ``minmass`` tuned per SNR and density to the best F1 on
a separate calibration movie (another seed), which favours trackpy.  Wall times are for
the whole movie in memory, on this machine, single process.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

from napari_mpt.core.params import DetectParams, MovieParams, SimulationParams
from napari_mpt.detection.detect import detect
from napari_mpt.evaluation.detections import evaluate_detections
from napari_mpt.simulation.movie import render_movie
from napari_mpt.simulation.simulate import simulate

SIZE = 512
SNRS = (1.0, 2.0, 4.0, 7.0)
TP_DIAMETER = 7


def scene(particles: int, frames: int, snr: float, seed: int):
    sim = simulate(SimulationParams(particles=particles, frames=frames, field_of_view=SIZE,
                                    seed=seed))
    movie = render_movie(sim, MovieParams(snr=snr, psf_sigma=1.3, background=10.0,
                                          seed=seed + 1000))
    c = sim.truth.coords
    inside = np.all((c >= -0.5) & (c <= SIZE - 0.5), axis=1)
    return movie, (sim.truth.frame[inside], c[inside])


def trackpy_locate(movie: np.ndarray, minmass: float):
    import trackpy

    frames, coords = [], []
    for t in range(len(movie)):
        df = trackpy.locate(movie[t], TP_DIAMETER, minmass=minmass)
        frames.append(np.full(len(df), t))
        coords.append(df[["y", "x"]].to_numpy())
    return np.concatenate(frames), np.concatenate(coords)


def tune_minmass(particles: int, snr: float, frames: int) -> float:
    """trackpy's best-F1 minmass on a calibration movie (seed 99, not the benchmark's).

    ``locate`` runs once with ``minmass=0``; each candidate minmass then keeps the features
    of at least that mass (what ``minmass`` does after refinement)."""
    import trackpy

    movie, truth = scene(particles, frames, snr, seed=99)
    found = [trackpy.locate(movie[t], TP_DIAMETER, minmass=0) for t in range(len(movie))]
    masses = np.concatenate([df["mass"].to_numpy() for df in found])
    best, best_f1 = 0.0, -1.0
    # noise maxima far outnumber spots: search minmass on a log grid up to the brightest
    for mm in np.geomspace(max(float(np.median(masses)), 1.0), float(masses.max()), 60):
        kept = [df[df["mass"] >= mm] for df in found]
        det = (np.concatenate([np.full(len(df), t) for t, df in enumerate(kept)]),
               np.concatenate([df[["y", "x"]].to_numpy() for df in kept]))
        f1 = evaluate_detections(det, truth).f1
        if f1 > best_f1:
            best, best_f1 = float(mm), f1
    return best


def fmt(v: float) -> str:
    return "—" if not np.isfinite(v) else f"{v:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 frames; 100 and 1000 spots")
    ap.add_argument("--frames", type=int, default=None)
    ap.add_argument("--no-trackpy", action="store_true")
    ap.add_argument("--speed-only", action="store_true", help="only the speed table")
    ap.add_argument("--snrs", type=float, nargs="+", default=list(SNRS),
                    help="ISBI SNRs of the accuracy table (default: 1 2 4 7)")
    args = ap.parse_args()
    frames = args.frames or (20 if args.quick else 100)
    densities = (100, 1000) if args.quick else (100, 300, 1000)
    import trackpy

    trackpy.quiet()
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="trackpy")
    print(f"512 x 512, {frames} frames, PSF sigma 1.3 px, background 10, Poisson; "
          f"{os.cpu_count()} cores; napari-mpt defaults {DetectParams().to_dict()}")
    print()
    print("| spots | SNR | napari-mpt recall | precision | RMSE px | s | single-spot fits: "
          "recall | precision | RMSE px | trackpy recall | precision | RMSE px | s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in () if args.speed_only else densities:
        for snr in args.snrs:
            movie, truth = scene(n, frames, snr, seed=int(n + 10 * snr))
            t0 = time.perf_counter()
            ours = evaluate_detections(detect(movie), truth)
            t_ours = time.perf_counter() - t0
            alone = evaluate_detections(detect(movie, DetectParams(multi_emitter="off")), truth)
            row = (f"| {n} | {snr:g} | {fmt(ours.recall)} | {fmt(ours.precision)} | "
                   f"{fmt(ours.rmse)} | {t_ours:.1f} | {fmt(alone.recall)} | "
                   f"{fmt(alone.precision)} | {fmt(alone.rmse)} |")
            if args.no_trackpy:
                print(row + " | | | |")
                continue
            mm = tune_minmass(n, snr, max(3, frames // 10))
            t0 = time.perf_counter()
            theirs = evaluate_detections(trackpy_locate(movie, mm), truth)
            t_tp = time.perf_counter() - t0
            print(row + f" {fmt(theirs.recall)} | {fmt(theirs.precision)} | "
                  f"{fmt(theirs.rmse)} | {t_tp:.1f} |", flush=True)

    load = os.getloadavg()[0]
    print(f"\nSpeed, {frames} frames 512 x 512, SNR 4 (median of 3; load average {load:.1f} "
          f"on {os.cpu_count()} cores: wall time grows with other users' load, CPU time "
          "does not):")
    print("| spots | multi-emitter | workers | wall s per movie | CPU s per movie | "
          "wall, 2 workers / 1 |")
    print("|---:|---|---:|---:|---:|---:|")
    for n in (100, 1000):
        movie, _ = scene(n, frames, 4.0, seed=7)
        for multi in ("on", "off"):
            # 1 and 2 workers alternate, so both see the same load from other users
            walls: dict[int, list[float]] = {1: [], 2: []}
            cpus: dict[int, list[float]] = {1: [], 2: []}
            for _ in range(3):
                for workers in (1, 2):
                    t0, c0 = time.perf_counter(), time.process_time()
                    detect(movie, DetectParams(workers=workers, multi_emitter=multi))
                    walls[workers].append(time.perf_counter() - t0)
                    cpus[workers].append(time.process_time() - c0)
            ratio = np.median(walls[2]) / np.median(walls[1])
            for workers in (1, 2):
                print(f"| {n} | {multi} | {workers} | "
                      f"{np.median(walls[workers]):.2f} | {np.median(cpus[workers]):.2f} | "
                      + (f"{ratio:.2f} |" if workers == 2 else "|"), flush=True)


if __name__ == "__main__":
    main()
