"""Real heterogeneous tracks: saspt's sample trajectories re-linked by every tracker at its
defaults (prints the Markdown table of docs/guide/which-tracker.md; not a test).

    python benchmarks/bench_saspt.py --csv ../shared/realdata/saspt_tracks/sample_tracks.csv

``sample_tracks.csv`` (PyPI ``saspt==0.4.0``, MIT) holds 1000 live-cell single-molecule
trajectories (5,071 localisations in 300 frames; 0.122 um per px, 10 ms frames):
immobile, slow and fast molecules in one population.  The track ids are stripped, the
localisations re-linked by each tracker with every parameter left to its defaults, and
compared with the authors' links, which are *not* ground truth (another tracker made
them):

- links recovered: the share of the authors' links (consecutive localisations of one of
  their trajectories) that a tracker also makes, and the share of its own links that
  they made;
- diffusion coefficients: per track of 3 or more points, ``D = mean |step|^2 / (4 dt)``
  in um^2/s over the localisations it took (not the tracker's estimated positions: a
  Kalman filter's are smoother, which would lower D for a reason other than linking);
  one estimator for every set of tracks, the authors' included, so the distributions
  compare (saspt's own state-array model gives a dominant state near 5 um^2/s and 24-28 %
  below 0.1 um^2/s on this sample): the median and 90 % quantile, and the share below
  0.1 um^2/s.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from napari_mpt.api import (
    HybridParams,
    LAPParams,
    MHTParams,
    TrackpyParams,
    TransformerParams,
    track,
)
from napari_mpt.core.data import Detections, Tracks

PX_UM, DT_S = 0.122, 0.01


def links_of(track_id: np.ndarray, frame: np.ndarray, row: np.ndarray) -> set[tuple[int, int]]:
    """Consecutive localisations (rows) of each track, in frame order."""
    order = np.lexsort((frame, track_id))
    t, r = track_id[order], row[order]
    same = t[1:] == t[:-1]
    return set(zip(r[:-1][same].tolist(), r[1:][same].tolist(), strict=True))


def diffusion(tracks: Tracks, coords: np.ndarray) -> np.ndarray:
    """Per track of 3+ localisations (``coords``: every localisation's position, by
    row): mean squared step between consecutive frames / (4 dt)."""
    took = tracks.detection >= 0
    tid, fr = tracks.track_id[took], tracks.frame[took]
    xy = coords[tracks.detection[took]] * PX_UM
    step = (tid[1:] == tid[:-1]) & (fr[1:] == fr[:-1] + 1)
    sq = np.sum(np.diff(xy, axis=0) ** 2, axis=1)[step]
    owner = tid[1:][step]
    _, inv, n = np.unique(owner, return_inverse=True, return_counts=True)
    msd = np.bincount(inv, weights=sq) / n
    return (msd / (4 * DT_S))[n >= 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, required=True,
                    help="saspt's sample_tracks.csv (trajectory, frame, y, x)")
    args = ap.parse_args()
    import pandas as pd

    table = pd.read_csv(args.csv)
    frame = table["frame"].to_numpy()
    coords = table[["y", "x"]].to_numpy(dtype=float)
    rows = np.arange(len(table))
    theirs = links_of(table["trajectory"].to_numpy(), frame, rows)
    det = Detections(frame, coords, source=str(args.csv))
    authors = Tracks(table["trajectory"].to_numpy(), frame, coords, rows)
    d0 = diffusion(authors, coords)
    print(f"{len(table)} localisations, {len(theirs)} links by the authors, "
          f"{table['trajectory'].nunique()} trajectories\n")
    print("| tracks | links recovered | of its links, the authors' | tracks (3+ points) | "
          "D median (um^2/s) | D 90 % | share D < 0.1 | s | defaults chose |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| the authors' | 1 | 1 | {len(d0)} | {np.median(d0):.2f} | "
          f"{np.quantile(d0, 0.9):.2f} | {np.mean(d0 < 0.1):.3f} | — | — |")
    for name, params in (("LAP", LAPParams()), ("MHT", MHTParams()),
                         ("association transformer", TransformerParams(checkpoint="association")),
                         ("hybrid", HybridParams()), ("trackpy", TrackpyParams())):
        t0 = time.perf_counter()
        result = track(det, params)
        wall = time.perf_counter() - t0
        t = result.tracks
        took = t.detection >= 0
        ours = links_of(t.track_id[took], t.frame[took], t.detection[took])
        d = diffusion(t, coords)
        chose = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in (result.info.get("estimated") or {}).items())
        print(f"| {name} | {len(ours & theirs) / len(theirs):.3f} | "
              f"{len(ours & theirs) / max(len(ours), 1):.3f} | {len(d)} | {np.median(d):.2f} | "
              f"{np.quantile(d, 0.9):.2f} | {np.mean(d < 0.1):.3f} | {wall:.1f} | {chose} |",
              flush=True)


if __name__ == "__main__":
    main()
