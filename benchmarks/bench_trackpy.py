"""trackpy beside the package's trackers on the real bulk-water movie (not a test): the
table in docs/guide/trackpy.md.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_trackpy.py \
        ../shared/realdata/trackpy_bulk_water/bulk_water_green_300.tif [--repeats 1]

Spots: trackpy's own, as its walkthrough finds them (``trackpy.batch(frames, 11,
minmass=20, invert=True)``: 624 features in frame 299), so every linker gets the same
detections.  Linkers: ``trackpy.link(f, 5, memory=3)`` called directly (the
walkthrough's), ``--method trackpy`` with those settings (must give the same tracks) and
with its estimated defaults, ``--method lap``, ``--method mht`` and the association
transformer, all with their defaults.  Times are of the linking call alone, the linkers
alternating within each repeat, and are given as ratios to trackpy.link's time in the
same run.  Physics as the walkthrough computes it: tracks of 25 points or more, drift
subtracted, the ensemble MSD's power law A t^n (the walkthrough: n = 1.080, A = 1.602
um^2/s; 1 um spheres in water: n = 1, A = 4D ~ 1.66 um^2/s).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from napari_mpt import api
from napari_mpt.core.data import Detections
from napari_mpt.core.params import StatsParams

PIXEL_UM = 100 / 285
FRAME_S = 1 / 24


def trackpy_spots(movie: np.ndarray) -> Detections:
    import trackpy

    trackpy.quiet()
    f = trackpy.batch(movie, 11, minmass=20, invert=True, processes=1)
    feats = {k: f[k].to_numpy(float) for k in ("mass", "size", "ecc", "signal")}
    return Detections(f["frame"].to_numpy(), f[["y", "x"]].to_numpy(float), "bulk water",
                      features=feats)


def trackpy_link(det: Detections) -> api.Tracks:
    """trackpy.link on the spots table, as the walkthrough calls it."""
    import pandas as pd
    import trackpy

    df = pd.DataFrame({"frame": det.frame, "y": det.coords[:, 0], "x": det.coords[:, 1],
                       "row": np.arange(len(det))})
    t = trackpy.link(df, 5, memory=3)
    return api.Tracks(t["particle"].to_numpy(), t["frame"].to_numpy(),
                      t[["y", "x"]].to_numpy(float), t["row"].to_numpy())


def physics(tracks: api.Tracks) -> tuple[int, int, float, float]:
    stats = api.analyze(tracks, StatsParams(pixel_size=PIXEL_UM, frame_interval=FRAME_S,
                                            min_length=25, drift="subtract"))
    ens = stats.ensemble()
    return len(tracks.ids()), len(stats), float(ens.n), float(ens.A)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("movie")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip", nargs="*", default=[], help="linkers to leave out")
    args = parser.parse_args()
    from napari_mpt.io import read_movie

    t0 = time.perf_counter()
    det = trackpy_spots(np.asarray(read_movie(args.movie).data))
    print(f"trackpy.batch: {len(det)} spots, {int((det.frame == 299).sum())} in frame 299 "
          f"({time.perf_counter() - t0:.0f} s)")
    linkers = {
        "trackpy.link(f, 5, memory=3)": lambda: trackpy_link(det),
        "--method trackpy --search-range 5 --memory 3":
            lambda: api.track(det, api.TrackpyParams(search_range=5, memory=3)).tracks,
        "--method trackpy (estimated)": lambda: api.track(det, api.TrackpyParams()).tracks,
        "--method lap": lambda: api.track(det, api.LAPParams()).tracks,
        "--method mht": lambda: api.track(det, api.MHTParams()).tracks,
        "association transformer": lambda: api.track(
            det, api.TransformerParams(checkpoint="association", device="cpu")).tracks,
    }
    linkers = {k: v for k, v in linkers.items() if not any(s in k for s in args.skip)}
    # warm-up: trackpy's numba linker compiles on its first call, which no run should pay
    first = Detections(det.frame[det.frame < 3], det.coords[det.frame < 3], "warm-up")
    trackpy_link(first)
    api.track(first, api.TrackpyParams(search_range=5, memory=3))
    times: dict[str, list[float]] = {k: [] for k in linkers}
    results = {}
    for _ in range(args.repeats):
        for name, fn in linkers.items():
            t = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - t)
    base = np.median(times["trackpy.link(f, 5, memory=3)"])
    same = {tuple(results["trackpy.link(f, 5, memory=3)"].detection[
        results["trackpy.link(f, 5, memory=3)"].track_id == t]) for t in
        results["trackpy.link(f, 5, memory=3)"].ids()}
    est = api.track(det, api.TrackpyParams()).info
    print(f"(--method trackpy estimated: search range {est['search_range']:.2f} px, memory "
          f"{est['memory']} from P_D {est.get('detection_probability', 1):.3f})")
    print(f"\ntimes: median of {args.repeats} run(s), as a ratio to trackpy.link's "
          f"{base:.2f} s in the same run\n")
    print("| linker | time / trackpy.link | tracks | tracks >= 25 points | n | A (um^2/s) |")
    print("|---|---|---|---|---|---|")
    for name, tracks in results.items():
        n_tracks, kept, n, a = physics(tracks)
        print(f"| {name} | {np.median(times[name]) / base:.2f} | {n_tracks} | {kept} | "
              f"{n:.3f} | {a:.3f} |")
    ours = results.get("--method trackpy --search-range 5 --memory 3")
    if ours is not None:
        mine = {tuple(ours.detection[ours.track_id == t]) for t in ours.ids()}
        print(f"\n--method trackpy with the walkthrough's settings gives trackpy.link's tracks: "
              f"{mine == same}")


if __name__ == "__main__":
    main()
