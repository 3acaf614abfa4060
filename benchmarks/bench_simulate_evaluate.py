"""Simulate and evaluate at ISBI-like scale (prints a table; not a test).

    .venv/bin/python benchmarks/bench_simulate_evaluate.py [--presets vesicle-high ...]

For each preset: the median wall time of ``simulate`` and of ``evaluate`` of tracks that
trackpy's nearest-neighbour linker (search range 5 px, memory 2 frames) makes from the
simulated detections, so the scores and the timing are those of realistic, imperfect tracks
(fragments, clutter tracks, gap-bridging links).  Issue 9's target: each under 5 s on the
2-core development machine for ``vesicle-high`` (1000 particles x 100 frames).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from napari_mpt import api
from napari_mpt.core.data import Tracks
from napari_mpt.simulation.presets import preset_params


def trackpy_tracks(det: api.Detections) -> Tracks:
    import pandas as pd
    import trackpy

    trackpy.quiet()
    frame = pd.DataFrame({"frame": det.frame, "y": det.coords[:, 0], "x": det.coords[:, 1]})
    linked = trackpy.link(frame, search_range=5.0, memory=2)
    return Tracks(linked["particle"].to_numpy(), linked["frame"].to_numpy(),
                  linked[["y", "x"]].to_numpy(), linked.index.to_numpy())


def median_time(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["vesicle-high", "receptor-high",
                                                     "microtubule-high"])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"{'preset':<18} {'detections':>10} {'true tracks':>11} {'simulate s':>10} "
          f"{'evaluate s':>10} {'JC':>6} {'assoc JC':>8} {'alpha':>6} {'beta':>6} "
          f"{'JSC':>6} {'JSCth':>6} {'RMSE':>6}")
    for name in args.presets:
        params = preset_params(name)
        t_sim, sim = median_time(lambda p=params: api.simulate(p), args.repeats)
        tracks = trackpy_tracks(sim.detections)
        t_ev, score = median_time(lambda t=tracks, s=sim: api.evaluate(t, s.truth), args.repeats)
        s = score.summary()
        print(f"{name:<18} {len(sim.detections):>10} {len(np.unique(sim.truth.track_id)):>11} "
              f"{t_sim:>10.3f} {t_ev:>10.3f} {s['jaccard']:>6.3f} "
              f"{s['association_jaccard']:>8.3f} {s['alpha']:>6.3f} {s['beta']:>6.3f} "
              f"{s['jsc']:>6.3f} {s['jsc_theta']:>6.3f} {s['rmse']:>6.3f}")


if __name__ == "__main__":
    main()
