"""MHT wall time and FLOPs against the lookback K (prints tables; not a test).

    .venv/bin/python benchmarks/bench_mht.py            # everything (about 2 minutes)
    .venv/bin/python benchmarks/bench_mht.py --quick    # K <= 8, fewer repeats
    .venv/bin/python benchmarks/bench_mht.py --detections   # misses, clutter (issue 10)
    .venv/bin/python benchmarks/bench_mht.py --scaling --particles 100 300 1000 --lookbacks 3
    .venv/bin/python benchmarks/bench_mht.py --pair-estimated   # the whole call, estimator included
    .venv/bin/python benchmarks/bench_mht.py --defaults --repeats 3   # the default MHT vs trackpy.link
    .venv/bin/python benchmarks/bench_mht.py --defaults --scenes receptor-low mixture-low

Wall time is the median of ``--repeats`` runs of ``track_mht`` (whole call: validation,
search, result); FLOPs are the analytic count (or PAPI's where the machine has counters).
"""

from __future__ import annotations

import argparse
import statistics
import time

from napari_mpt import MHTParams, evaluate, simulate
from napari_mpt.core.errors import TooManyHypotheses
from napari_mpt.trackers.mht import track_mht


def timed(sim, params: MHTParams, repeats: int):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = track_mht(sim.detections, params)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), res


def pair_table(sigma: float, ks: list[int], max_exhaustive: int, repeats: int, seed: int) -> None:
    sim = simulate(frames=150, measurement_noise=sigma, seed=seed)
    print(f"\nN=2, T=150, mu=1.5, sigma={sigma}, seed={seed} (priors eta'=1.5, nu'={sigma})")
    print(f"{'K':>3} | {'exact ms':>9} {'exact FLOPs':>13} {'nodes':>8} {'JC':>6} | "
          f"{'exhaustive ms':>13} {'exhaustive FLOPs':>17} | {'same tracks':>11}")
    for k in ks:
        p = MHTParams(lookback=k, process_noise=1.5, measurement_noise=sigma)
        t_ex, r_ex = timed(sim, p, repeats if k <= 12 else 1)
        jc = evaluate(r_ex.tracks, sim.truth).jaccard
        row = (f"{k:>3} | {t_ex * 1e3:9.1f} {r_ex.flops.value:13,d} "
               f"{r_ex.info['nodes_expanded']:8,d} {jc:6.3f} | ")
        if k <= max_exhaustive:
            t_full, r_full = timed(sim, p.replace(mode="exhaustive"), 1)
            same = (r_full.tracks.detection == r_ex.tracks.detection).all()
            row += f"{t_full * 1e3:13.1f} {r_full.flops.value:17,d} | {'yes' if same else 'NO':>11}"
        else:
            row += f"{'-':>13} {'-':>17} | {'-':>11}"
        print(row, flush=True)


def many_table(repeats: int) -> None:
    print("\nMany particles (exact mode, gated clusters), mu=1.5, sigma=1")
    print(f"{'N':>3} {'T':>4} {'FOV':>5} {'K':>3} | {'ms':>8} {'FLOPs':>13} "
          f"{'largest cluster':>15} {'JC':>6}")
    for n, t, fov, k in [(10, 100, 128, 3), (10, 100, 128, 8), (10, 100, 256, 8),
                         (50, 100, 512, 3), (50, 100, 512, 8), (50, 100, 256, 3)]:
        sim = simulate(particles=n, frames=t, field_of_view=fov, seed=1)
        try:
            dt, res = timed(sim, MHTParams(lookback=k, process_noise=1.5, measurement_noise=1.0), repeats)
        except TooManyHypotheses as exc:
            print(f"{n:>3} {t:>4} {fov:>5g} {k:>3} | refused: {str(exc)[:70]}...")
            continue
        jc = evaluate(res.tracks, sim.truth).jaccard
        print(f"{n:>3} {t:>4} {fov:>5g} {k:>3} | {dt * 1e3:8.1f} {res.flops.value:13,d} "
              f"{res.info['clusters_max']:>15} {jc:6.3f}", flush=True)


def detection_table(ns: list[int], ks: list[int], frames: int) -> None:
    """Detection-level MHT: P_D 0.9, 50 spurious detections per 1000 particles per frame,
    the density of 1000 particles in 512 x 512 px, every parameter estimated."""
    import sys
    from pathlib import Path

    # the scene generator of the MHT tests (until the part-1 simulator with misses lands)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from mht_cases import link_jaccard, scene

    print(f"\nDetection level: P_D 0.9, clutter 5 % of N per frame, T={frames}, "
          "1000 particles / 512^2 px, step 1 px, noise 0.5 px; all parameters estimated")
    print(f"{'N':>5} {'K':>2} | {'s':>7} {'link JC':>7} {'exact':>6} {'bounded':>7} "
          f"{'largest':>7} {'capped':>6} {'tree MiB':>8}")
    for n in ns:
        fov = 512 * (n / 1000) ** 0.5
        det, truth = scene(n, frames, p_d=0.9, clutter=0.05 * n, fov=fov, step=1.0,
                           noise=0.5, lifetimes=False, seed=1)
        for k in ks:
            t0 = time.perf_counter()
            r = track_mht(det, MHTParams(lookback=k))
            dt = time.perf_counter() - t0
            i = r.info
            print(f"{n:>5} {k:>2} | {dt:7.2f} {link_jaccard(r.tracks, truth):7.3f} "
                  f"{i['exact_clusters']:>6} {i['bounded_clusters']:>7} {i['largest_cluster']:>7} "
                  f"{i['capped_owners']:>6} {i['peak_memory_mb']:8.1f}", flush=True)


def scaling_table(ns: list[int], ks: list[int], frames: int, seed: int, max_s: float) -> None:
    """Detection-level MHT on the part-1 simulator: the density of 1000 particles in
    512 x 512 px (the ISBI "high" density), Brownian steps of 1.5 px, localisation noise
    0.5 px, P_D 0.9, 50 spurious detections per 1000 particles per frame, births and deaths
    as in the vesicle-high preset, every MHT parameter estimated.  Wall and CPU seconds of
    the whole ``track_mht`` call; a K row is skipped once the previous K took over
    ``max_s``."""
    import resource

    from napari_mpt.simulation.presets import preset_params

    print(f"\nDetection level (part-1 simulator, vesicle-high density), T={frames}, P_D 0.9, "
          "50 spurious per 1000 particles per frame, seed", seed, "; all parameters estimated")
    print(f"{'N':>5} {'K':>2} | {'wall s':>7} {'CPU s':>7} {'ms/frame':>8} {'assoc JC':>8} "
          f"{'exact':>6} {'bounded':>7} {'largest':>7} {'HiGHS':>5} {'LP int':>6} "
          f"{'tree MiB':>8} {'RSS MiB':>7}")
    for n in ns:
        fov = 512.0 * (n / 1000) ** 0.5
        p = preset_params("vesicle-high", particles=n, field_of_view=fov, frames=frames,
                          clutter=0.05 * n, seed=seed)
        sim = simulate(p)
        last, k_last = 0.0, 0
        for k in ks:
            if last > max_s:
                print(f"{n:>5} {k:>2} | skipped (K={k_last} took {last:.0f} s)", flush=True)
                continue
            k_last = k
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            t0, c0 = time.perf_counter(), time.process_time()
            r = track_mht(sim.detections, MHTParams(lookback=k))
            last, cpu = time.perf_counter() - t0, time.process_time() - c0
            rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
            i = r.info
            jc = evaluate(r.tracks, sim.truth).summary()["association_jaccard"]
            print(f"{n:>5} {k:>2} | {last:7.2f} {cpu:7.2f} {1e3 * last / frames:8.1f} {jc:8.3f} "
                  f"{i['exact_clusters']:>6} {i['bounded_clusters']:>7} {i['largest_cluster']:>7} "
                  f"{i['milp_clusters']:>5} {i['lp_integral_clusters']:>6} "
                  f"{i['peak_memory_mb']:8.1f} {rss:7.0f}", flush=True)


def pair_estimated(repeats: int, seed: int) -> None:
    """The paper's pair (N=2, T=150), every parameter estimated: the whole call."""
    sim = simulate(frames=150, seed=seed)
    print(f"\nN=2, T=150, seed={seed}, all parameters estimated (whole track_mht call, "
          f"min / median of {repeats})")
    for k in (1, 3, 8):
        p = MHTParams(lookback=k)
        track_mht(sim.detections, p)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            track_mht(sim.detections, p)
            times.append(time.perf_counter() - t0)
        print(f"  K={k}: {min(times) * 1e3:6.2f} / {statistics.median(times) * 1e3:6.2f} ms",
              flush=True)


def default_scenes() -> list[tuple[str, object]]:
    """The scenes of :func:`defaults_table`: the receptor-like and mixture presets (100
    particles x 100 frames, seed 0) and issue 21's Brownian ragged scenes (100 and 1000
    particles at the vesicle-high density, steps 1.5 px, localisation 0.5 px, P_D 0.9,
    5 % of N spurious detections per frame)."""
    from napari_mpt.simulation.presets import preset_params

    scenes: list[tuple[str, object]] = [
        (name, simulate(preset_params(name, seed=0))) for name in ("receptor-low", "mixture-low")]
    for n in (100, 1000):
        scenes.append((f"{n} Brownian", simulate(
            particles=n, frames=100, field_of_view=512.0 * (n / 1000) ** 0.5,
            process_noise=1.5, measurement_noise=0.5, detection_probability=0.9,
            clutter=0.05 * n, seed=0)))
    return scenes


def defaults_table(repeats: int, only: list[str] | None) -> None:
    """The MHT at its defaults (every parameter, the motion model and the lookback chosen
    from the data), the whole call, against ``trackpy.link`` on the same detections with
    the search range and memory the project's trackpy tracker estimates (the link call
    alone): the two timed alternately, ``repeats`` times each, medians and their ratio;
    and the MHT's search with and without the per-link confidence (:mod:`.link_margins`),
    the parameters as resolved, once each."""
    import pandas as pd
    import trackpy

    from napari_mpt.api import TrackpyParams, track
    from napari_mpt.core.flops import FlopCounter
    from napari_mpt.trackers.mht.tracker import frames_of, resolve, run_detection_level
    from napari_mpt.trackers.trackpy_linker import link_settings

    trackpy.quiet()
    print(f"\nThe default MHT against trackpy.link (median of {repeats}, alternated)")
    print("| scene | detections | MHT s | trackpy s | ratio | K | model | exact | search s "
          "(confidence on / off) | MHT assoc JC | trackpy assoc JC |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, sim in default_scenes():
        if only and name not in only:
            continue
        det = sim.detections
        settings = link_settings(det, TrackpyParams(), frames_of(det)[1])
        df = pd.DataFrame({"frame": det.frame, "y": det.coords[:, 0], "x": det.coords[:, 1]})
        t_mht, t_tp = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            r = track_mht(det, MHTParams())
            t_mht.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            trackpy.link(df, search_range=settings["search_range"], memory=settings["memory"])
            t_tp.append(time.perf_counter() - t0)
        a, b = statistics.median(t_mht), statistics.median(t_tp)
        numbers, coords, rows = frames_of(det)
        params, _, _ = resolve(MHTParams(), numbers, coords, rows)
        search = []
        for conf in (True, False):
            t0 = time.perf_counter()
            run_detection_level(numbers, coords, rows, params, FlopCounter(), None,
                                confidence=conf)
            search.append(time.perf_counter() - t0)
        jc = evaluate(r.tracks, sim.truth).association.jaccard
        jc_tp = evaluate(track(det, TrackpyParams()).tracks, sim.truth).association.jaccard
        est = r.info["estimated"]
        print(f"| {name} | {len(det.frame):,} | {a:.1f} | {b:.2f} | {a / b:.1f} | "
              f"{est.get('lookback', '-')} | {est.get('motion_model', r.params['motion_model'])} "
              f"| {'yes' if r.info['exact'] else 'no'} | {search[0]:.1f} / {search[1]:.1f} | "
              f"{jc:.3f} | {jc_tp:.3f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--max-exhaustive-k", type=int, default=14)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--detections", action="store_true",
                    help="only the detection-level table (misses and clutter)")
    ap.add_argument("--particles", type=int, nargs="+", default=[50, 100, 200])
    ap.add_argument("--lookbacks", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--scaling", action="store_true",
                    help="only the detection-level scaling table on the part-1 simulator")
    ap.add_argument("--max-seconds", type=float, default=300.0,
                    help="--scaling: skip larger K once a run took longer than this")
    ap.add_argument("--pair-estimated", action="store_true",
                    help="only the paper's pair with every parameter estimated")
    ap.add_argument("--defaults", action="store_true",
                    help="only the default MHT against trackpy.link (default_scenes)")
    ap.add_argument("--scenes", nargs="+", help="--defaults: only these scenes")
    args = ap.parse_args()
    if args.defaults:
        defaults_table(args.repeats, args.scenes)
        return
    if args.scaling:
        scaling_table(args.particles, args.lookbacks, args.frames, args.seed, args.max_seconds)
        return
    if args.pair_estimated:
        pair_estimated(max(args.repeats, 20), args.seed)
        return
    if args.detections:
        detection_table(args.particles, args.lookbacks, args.frames)
        return
    ks = list(range(1, 9)) if args.quick else list(range(1, 17))
    reps = 3 if args.quick else args.repeats
    pair_table(1.0, ks, min(args.max_exhaustive_k, 8 if args.quick else 99), reps, args.seed)
    pair_table(7.0, ks, min(args.max_exhaustive_k, 8 if args.quick else 99), reps, args.seed)
    many_table(reps)


if __name__ == "__main__":
    main()
