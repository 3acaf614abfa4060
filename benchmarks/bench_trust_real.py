"""The trust tools on real data (not a test): the figures of docs/guide/trust.md's real-data
section, on the shipped crop of trackpy's bulk-water movie (sample_data/bulk_water_crop.tif:
120 frames of 256 x 256 px, dark 1 um beads on a bright textured field).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_trust_real.py

Spots detected with the detector's defaults; LAP, trackpy, the association transformer
and the MHT with their defaults on them (the MHT with its link confidence asked for);
each run's time, tracks, links and ``link_confidence`` (median, share under 0.5), the
pairwise disagreement and the links not every run makes.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from napari_mpt import api
from napari_mpt.core.params import DetectParams, TrackpyParams
from napari_mpt.detection.detect import detect
from napari_mpt.evaluation.agreement import (
    CONFIDENCE,
    arriving_vertices,
    disagreement_matrix,
    link_support,
)
from napari_mpt.io import read_movie

MOVIE = Path(__file__).resolve().parents[1] / "sample_data" / "bulk_water_crop.tif"


def main() -> None:
    movie = np.asarray(read_movie(MOVIE).data)
    t0 = time.perf_counter()
    det = detect(movie, DetectParams())
    print(f"spots: {len(det)} in {movie.shape[0]} frames ({len(det) / movie.shape[0]:.0f} per "
          f"frame), {time.perf_counter() - t0:.0f} s")
    runs = {}
    print("| run | time | tracks | links | confidence median | confidence < 0.5 |")
    print("|---|---|---|---|---|---|")
    for name, params in (("LAP", api.LAPParams()), ("trackpy", TrackpyParams()),
                         ("association", api.TransformerParams(checkpoint="association")),
                         ("MHT", api.MHTParams(link_confidence=True))):
        t0 = time.perf_counter()
        res = api.track(det, params)
        runs[name] = res.tracks
        conf = np.asarray(res.tracks.features[CONFIDENCE])[arriving_vertices(res.tracks)]
        print(f"| {name} | {time.perf_counter() - t0:.0f} s | {len(res.tracks.ids())} | "
              f"{len(conf)} | {np.nanmedian(conf):.3f} | {np.nanmean(conf < 0.5):.2%} |")
    names = list(runs)
    print("\n| disagreement | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for n, row in zip(names, disagreement_matrix(list(runs.values())), strict=True):
        print(f"| {n} | " + " | ".join(f"{100 * v:.1f} %" for v in row) + " |")
    s = link_support(list(runs.values()))
    print(f"\nunion of the runs' links: {len(s.links)}, not made by every run: "
          f"{len(s.contested())}, made by all: {int((s.support == len(names)).sum())}")


if __name__ == "__main__":
    main()
