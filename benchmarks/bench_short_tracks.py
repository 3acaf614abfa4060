"""How far per-track D and alpha scatter on Brownian tracks of N points (not a test): the
measurements behind StatsParams' fit_min_points (10) and alpha_min_points (20), and the
table in docs/guide/statistics.md.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_short_tracks.py [--tracks 2000]

Tracks: 2-D Brownian, step sigma mu = 1 px per axis (D = 0.5 px^2/frame), localisation
error sigma = 0, 0.5 and 1 px (reduced error x = sigma^2 / (D dt) = 0, 0.5, 2), default
fits (D on lags 1-4, alpha on lags 1-10).  Prints, per N, the share of negative D, the
5 / 50 / 95 % quantiles of D / D_true and of alpha.
"""

from __future__ import annotations

import argparse

import numpy as np

from napari_mpt.analysis.stats import track_statistics
from napari_mpt.core.data import Tracks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print("| sigma (px) | N | D < 0 | D / D_true 5-50-95 % | alpha 5-50-95 % |")
    print("|---|---|---|---|---|")
    for sigma in (0.0, 0.5, 1.0):
        for n in (5, 7, 10, 15, 20, 30, 50, 100):
            steps = rng.normal(0, 1.0, (args.tracks, n, 2))
            steps[:, 0] = 0
            pos = steps.cumsum(axis=1) + rng.normal(0, sigma, (args.tracks, n, 2))
            tracks = Tracks(np.repeat(np.arange(args.tracks), n), np.tile(np.arange(n), args.tracks),
                            pos.reshape(-1, 2))
            s = track_statistics(tracks, min_length=1)
            d = s["D"] / 0.5
            q = [f"{v:.2f}" for v in np.nanpercentile(d, [5, 50, 95])]
            a = [f"{v:.2f}" for v in np.nanpercentile(s["alpha"], [5, 50, 95])]
            print(f"| {sigma:g} | {n} | {np.mean(d < 0):.1%} | {' / '.join(q)} | {' / '.join(a)} |")


if __name__ == "__main__":
    main()
