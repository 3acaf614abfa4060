"""The bulk-water tutorial (docs/tutorials/bulk-water.md) end to end: the command line with
its defaults on trackpy's walkthrough movie, then the figures and the napari screenshot.

    PYTHONPATH=src .venv/bin/python scripts/bulk_water_tutorial.py \\
        ../shared/realdata/trackpy_bulk_water/bulk_water_green_300.tif --out out/bulk_water \\
        [--variants] [--trackpy [--link-trackpy-features]] [--images docs/images]

Runs, timing each and printing one markdown table row per pipeline:

1. ``napari-mpt detect MOVIE`` -> ``track`` (default MHT) -> ``analyze --pixel-size 0.3509
   --frame-interval 0.04167 --min-length 25 --drift subtract``;
2. with ``--trackpy`` (trackpy installed): trackpy's own walkthrough (``tp.batch(frames, 11,
   minmass=20, invert=True)``, ``tp.link(f, 5, memory=3)``, ``tp.filter_stubs(t, 25)``),
   its drift-corrected ``tp.emsd`` power law (as published: features filtered by mass,
   size and eccentricity; and every track), and the same trackpy tracks through
   ``napari-mpt analyze`` with the options of step 1; with ``--link-trackpy-features``
   also trackpy's features linked by ``napari-mpt track`` (the MHT's defaults).

With ``--variants`` the same spots are also linked with each of :data:`VARIANTS` (which
step decides the numbers).  With ``--images`` it writes ``bulk-water-stats.png``
(analyze's four panels for step 1) and ``bulk-water-napari.png`` (napari at 1400 x 880 on
its own Xvfb: the movie, the spots and the tracks at frame 150, the Track statistics dock).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

PIXEL_SIZE, FRAME_INTERVAL = 0.3509, 0.04167     # 100/285 um per px, 24 frames per s
ANALYZE = ["--pixel-size", str(PIXEL_SIZE), "--frame-interval", str(FRAME_INTERVAL),
           "--min-length", "25", "--drift", "subtract"]


def cli(*args: str) -> tuple[dict, float]:
    """Run ``napari-mpt ARGS --json``; its JSON and the wall time."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", "import sys; from napari_mpt.cli import main; "
                          "sys.exit(main())", *args, "--json"], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"napari-mpt {' '.join(args)} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1]), time.perf_counter() - t0


def row(label: str, summary: dict, seconds: str) -> str:
    e = summary["ensemble"]
    return (f"| {label} | {summary['tracks']} | {e['powerlaw']['n']:.3f} | "
            f"{e['powerlaw']['A']:.3f} | {e['D']:.3f} | {e['alpha']:.2f} | "
            f"{summary['drift']['extent']:.2f} | {seconds} |")


def ours(movie: Path, out: Path, images: Path | None) -> tuple[str, Path, Path]:
    spots, tracks = out / "spots.csv", out / "tracks.csv"
    det, t_det = cli("detect", str(movie), "--out", str(spots))
    print(f"detect: {det['detections']} spots, {min(det['counts'])}-{max(det['counts'])} per "
          f"frame, {t_det:.0f} s", file=sys.stderr)
    trk, t_trk = cli("track", str(spots), "--out", str(tracks))
    print(f"track: {trk['label']}, {t_trk:.0f} s, estimated {trk.get('estimated')}",
          file=sys.stderr)
    plot = ["--plot", str(images / "bulk-water-stats.png")] if images else []
    stats, t_an = cli("analyze", str(tracks), *ANALYZE, "--out", str(out / "stats.csv"), *plot)
    times = f"{t_det:.0f} + {t_trk:.0f} + {t_an:.0f} s"
    label = f"napari-mpt: detect, track ({trk['label']}), analyze (defaults)"
    return row(label, stats, times), spots, tracks


VARIANTS = (("--motion-model", "random-walk"), ("--method", "trackpy"))
"""``track`` options tried on the same spots with ``--variants``: which step decides."""


def variant_rows(spots: Path, out: Path) -> list[str]:
    """The same spots linked with each of :data:`VARIANTS`, through the same analyze."""
    rows = []
    for option in VARIANTS:
        tracks = out / f"tracks_{option[1]}.csv"
        trk, t_trk = cli("track", str(spots), *option, "--out", str(tracks))
        stats, t_an = cli("analyze", str(tracks), *ANALYZE, "--out", str(out / "stats_v.csv"))
        rows.append(row(f"the same spots, track {' '.join(option)} ({trk['label']}), analyze",
                        stats, f"{t_trk:.0f} + {t_an:.0f} s"))
    return rows


def trackpy_rows(movie: Path, out: Path, link_features: bool) -> list[str]:
    """trackpy's walkthrough, its emsd power law, and its tracks through ``analyze``: as
    published (features filtered by mass, size and eccentricity before the drift) and all
    tracks of 25 points or more; with ``link_features``, its features linked by our MHT."""
    import tifffile
    import trackpy as tp

    tp.quiet()
    frames = tifffile.imread(movie)
    t0 = time.perf_counter()
    f = tp.batch(frames, 11, minmass=20, invert=True, processes=1)
    t1 = tp.filter_stubs(tp.link(f, 5, memory=3), 25)
    wall = time.perf_counter() - t0
    published = t1[(t1["mass"] > 50) & (t1["size"] < 2.6) & (t1["ecc"] < 0.3)]
    rows = []
    for name, tracks in (("as published (mass, size, ecc filter)", published),
                         ("every track of 25 points", t1)):
        path = out / f"trackpy_{len(tracks)}.csv"
        tracks.to_csv(path, index=False)
        em = tp.emsd(tp.subtract_drift(tracks.copy(), tp.compute_drift(tracks)), PIXEL_SIZE,
                     1 / FRAME_INTERVAL)
        fit = tp.utils.fit_powerlaw(em, plot=False)
        # every track trackpy's emsd averages (its filter_stubs already applied): min length 1
        stats, t_an = cli("analyze", str(path), *ANALYZE[:-4], "--min-length", "1", "--drift",
                          "subtract", "--out", str(out / "stats_tp.csv"))
        rows.append(f"| trackpy 0.7 walkthrough, {name}: emsd, fit_powerlaw | "
                    f"{tracks['particle'].nunique()} | {float(fit['n'].iloc[0]):.3f} | "
                    f"{float(fit['A'].iloc[0]):.3f} | | | | {wall:.0f} s |")
        rows.append(row("the same trackpy tracks, napari-mpt analyze --min-length 1", stats,
                        f"{t_an:.0f} s"))
    if link_features:
        spots = out / "trackpy_features.csv"
        f.to_csv(spots, index=False)
        _, t_trk = cli("track", str(spots), "--out", str(out / "mht_on_trackpy.csv"))
        stats, t_an = cli("analyze", str(out / "mht_on_trackpy.csv"), *ANALYZE, "--out",
                          str(out / "stats_mht_tp.csv"))
        rows.append(row("trackpy's features, napari-mpt track (MHT), analyze", stats,
                        f"{t_trk:.0f} + {t_an:.0f} s"))
    return rows


def screenshot(movie: Path, spots: Path, tracks: Path, path: Path, frame: int = 150) -> None:
    """napari at 1400 x 880 on its own Xvfb: movie, spots and tracks (tails of 25 frames),
    and the Track statistics dock with the drift subtracted and the log-log MSD."""
    from napari_mpt.napari.demo import virtual_display

    with virtual_display():
        import napari
        import tifffile
        from qtpy.QtWidgets import QApplication

        from napari_mpt.io import read_detections, read_tracks
        from napari_mpt.napari.layers import detections_layer, tracks_layer

        viewer = napari.Viewer(show=True)
        viewer.window._qt_window.resize(1400, 880)
        frames = tifffile.imread(movie)
        lo, hi = np.percentile(frames[frame], [0.5, 99.5])
        viewer.add_image(frames, name="bulk water", colormap="gray", contrast_limits=(lo, hi))
        data, kw, _ = detections_layer(read_detections(spots), "spots")
        kw.update(size=8, border_color="yellow", border_width=0.1, face_color="transparent")
        viewer.add_points(data, **kw)
        data, kw, _ = tracks_layer(read_tracks(tracks), "tracks (MHT)")
        kw.update(tail_length=25, tail_width=3, blending="translucent")
        layer = viewer.add_tracks(data, **kw)
        layer.scale = (FRAME_INTERVAL, PIXEL_SIZE, PIXEL_SIZE)   # the statistics' units ...
        layer.units = ("s", "um", "um")
        for other in viewer.layers[:2]:                          # ... and the same for all
            other.scale, other.units = layer.scale, layer.units
        _, stats = viewer.window.add_plugin_dock_widget("napari-mpt", "Track statistics")
        stats.min_length.value = 25
        stats.subtract_drift.value = True
        stats.plot.value = "MSD log-log"
        deadline = time.time() + 600
        while (stats.busy or stats.stats is None or stats.stats.params.drift != "subtract") \
                and time.time() < deadline:
            QApplication.processEvents()
            time.sleep(0.1)
        viewer.dims.set_point(0, frame * FRAME_INTERVAL)
        viewer.reset_view()
        camera = viewer.scene.camera
        camera.center = (0.0, 50.0, 70.0)            # um: the upper left of the field
        camera.zoom *= 4.5
        for _ in range(30):
            QApplication.processEvents()
            time.sleep(0.05)
        viewer.window._qt_window.grab().save(str(path))
        viewer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("movie", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--trackpy", action="store_true")
    parser.add_argument("--variants", action="store_true",
                        help="also link our spots with each of VARIANTS' track options")
    parser.add_argument("--link-trackpy-features", action="store_true",
                        help="with --trackpy: also track trackpy's features with the MHT")
    parser.add_argument("--images", type=Path)
    parser.add_argument("--screenshot-of", nargs=2, type=Path, metavar=("SPOTS", "TRACKS"),
                        help="only the napari screenshot, of these spots and tracks files")
    args = parser.parse_args()
    if args.screenshot_of:
        screenshot(args.movie, *args.screenshot_of, args.images / "bulk-water-napari.png")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    print("| pipeline | tracks | n | A (µm²/s) | D lags 1-4 (µm²/s) | α lags 1-10 | drift (µm) "
          "| time |\n|---|---|---|---|---|---|---|---|")
    line, spots, tracks = ours(args.movie, args.out, args.images)
    print(line, flush=True)
    if args.variants:
        print("\n".join(variant_rows(spots, args.out)), flush=True)
    if args.trackpy:
        print("\n".join(trackpy_rows(args.movie, args.out, args.link_trackpy_features)),
              flush=True)
    if args.images:
        screenshot(args.movie, spots, tracks, args.images / "bulk-water-napari.png")


if __name__ == "__main__":
    main()
