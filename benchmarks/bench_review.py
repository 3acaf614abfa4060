"""Do the error rates estimated from a reviewed sample hold the truth? (not a test): the
coverage table of docs/guide/trust.md.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_review.py [--scenes 6] [--orders 40]

Scenes: the ISBI-like presets vesicle, receptor and mixture at mid density, shrunk to 60
particles in 177 x 177 px (the preset's density) for 30 frames, seeds 1..``--scenes``
each.  Runs: LAP, trackpy and the MHT with lookback 1 (estimated priors), on the same
detections.  For each scene, ``--orders`` stratified review orders
(:func:`~napari_mpt.evaluation.sampling.review_order`, seeds 0..orders-1) are reviewed
by an oracle (the simulation's truth) for the first 50, 100 and 200 links, and
:func:`~napari_mpt.evaluation.sampling.estimate_rates` gives every run's wrong links
(hence its error rate: the run's link count is known) and its Jaccard against the union,
with 95 % intervals.  Printed per scenario and sample size: how often the interval holds
the true value (coverage; nominal 95 %) and the mean width of the error-rate interval.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from napari_mpt import api
from napari_mpt.core.params import TrackpyParams
from napari_mpt.evaluation.agreement import link_support
from napari_mpt.evaluation.metrics import detection_links
from napari_mpt.evaluation.sampling import estimate_rates, review_order

SCENARIOS = ("vesicle", "receptor", "mixture")
SIZES = (50, 100, 200)
SHRINK = {"particles": 60, "field_of_view": 177.0, "frames": 30}


def scene(scenario: str, seed: int):
    """The runs' link support, which union links are right, and each run's true wrong
    count and Jaccard against the union."""
    sim = api.simulate(api.preset_params(f"{scenario}-mid", **SHRINK, seed=seed,
                                         clutter=0.02 * SHRINK["particles"],
                                         birth_rate=2.0))
    runs = [api.track(sim.detections, p).tracks
            for p in (api.LAPParams(), TrackpyParams(), api.MHTParams(lookback=1))]
    s = link_support(runs)
    true = {tuple(x) for x in detection_links(sim.truth).tolist()}
    right = np.array([tuple(x) in true for x in s.links.tolist()], dtype=bool)
    wrong = [int((~right & s.made_by[:, r]).sum()) for r in range(len(runs))]
    jc = []
    for r in range(len(runs)):
        tp = int((right & s.made_by[:, r]).sum())
        missed = int((right & ~s.made_by[:, r]).sum())
        jc.append(tp / (tp + wrong[r] + missed))
    return s, right, wrong, jc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=6)
    parser.add_argument("--orders", type=int, default=40)
    args = parser.parse_args()
    t0 = time.perf_counter()
    print("| scenario | links reviewed | runs x scenes x orders | error rate covered | "
          "JC vs union covered | mean error-rate interval (points) | union links, mean |")
    print("|---|---|---|---|---|---|---|")
    for scenario in SCENARIOS:
        hits = {n: [0, 0, 0] for n in SIZES}
        width = {n: [] for n in SIZES}
        union = []
        for seed in range(1, args.scenes + 1):
            s, right, wrong, jc = scene(scenario, seed)
            union.append(len(s.links))
            for rep in range(args.orders):
                order = review_order(s, seed=rep)
                for n in SIZES:
                    verdicts = {int(i): bool(right[i]) for i in order[:n]}
                    for r, e in enumerate(estimate_rates(s, verdicts, draws=2000, seed=rep)):
                        hits[n][0] += e.wrong_lo <= wrong[r] <= e.wrong_hi
                        hits[n][1] += e.jaccard_lo <= jc[r] <= e.jaccard_hi
                        hits[n][2] += 1
                        width[n].append(100 * (e.rate_hi - e.rate_lo))
        for n in SIZES:
            ok_rate, ok_jc, total = hits[n]
            print(f"| {scenario} | {n} | {total} | {ok_rate / total:.3f} | {ok_jc / total:.3f} "
                  f"| {np.mean(width[n]):.1f} | {np.mean(union):.0f} |")
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
