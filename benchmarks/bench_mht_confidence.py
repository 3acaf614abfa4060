"""What the MHT's link confidence costs and says (not a test): the figures in
docs/guide/trust.md.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_mht_confidence.py [--repeats 3]

A crowded scene (80 particles in 120 x 120 px, 20 frames, step 2 px, P_D 0.9, 3 spurious
spots per frame, seed 3), MHT K = 3 with estimated priors: the detection-level search
with and without the link margins (:mod:`napari_mpt.trackers.mht.link_margins`),
alternated ``--repeats`` times (the machine is shared: compare the ratio), then how often
links of each confidence band are right.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from napari_mpt import api
from napari_mpt.core.flops import FlopCounter
from napari_mpt.evaluation.agreement import CONFIDENCE, arriving_vertices
from napari_mpt.evaluation.metrics import detection_links
from napari_mpt.trackers.mht.tracker import frames_of, resolve, run_detection_level


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sim = api.simulate(api.SimulationParams(particles=80, frames=20, field_of_view=120.0,
                                            process_noise=2.0, detection_probability=0.9,
                                            clutter=3, seed=3))
    numbers, coords, rows = frames_of(sim.detections)
    params, _, _ = resolve(api.MHTParams(lookback=3), numbers, coords, rows)
    times: dict[bool, list[float]] = {True: [], False: []}
    tracks = None
    for _ in range(args.repeats):
        for on in (False, True):
            t0 = time.perf_counter()
            out, _, _ = run_detection_level(numbers, coords, rows, params, FlopCounter(), None,
                                            confidence=on)
            times[on].append(time.perf_counter() - t0)
            tracks = out if on else tracks
    assert tracks is not None
    off, on = np.median(times[False]), np.median(times[True])
    print(f"search {off:.2f} s, with the link margins {on:.2f} s (x {on / off:.2f}; medians "
          f"of {args.repeats})")
    true = {tuple(x) for x in detection_links(sim.truth).tolist()}
    right = np.array([tuple(x) in true for x in detection_links(tracks).tolist()])
    conf = np.asarray(tracks.features[CONFIDENCE])[arriving_vertices(tracks)]
    print("| link_confidence | links | right |")
    print("|---|---|---|")
    for lo, hi in ((0.0, 0.8), (0.8, 0.95), (0.95, 0.99), (0.99, 1.01)):
        m = (conf >= lo) & (conf < hi)
        print(f"| {lo:g}-{min(hi, 1):g} | {m.sum()} | "
              f"{right[m].mean():.1%} |" if m.any() else f"| {lo:g}-{min(hi, 1):g} | 0 | — |")


if __name__ == "__main__":
    main()
