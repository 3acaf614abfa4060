"""Does the data twin's advice name the tracker that wins? (not a test): the validation
table of docs/guide/trust.md.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_advise.py [--fresh 4] [--density mid]

For each ISBI-like scenario (vesicle, receptor, microtubule, mixture) at ``--density``,
shrunk to 60 particles at the preset's density for 30 frames: ``napari-mpt advise`` (its
defaults: 3 twins of at most 40 particles and 20 frames) on one scene (seed 100) names a
tracker; every tracker then runs on ``--fresh`` fresh scenes of the same preset (seeds
1..fresh) and is ranked the same way (pooled association Jaccard, 95 % paired bootstrap
interval over frames).  Printed per scenario: the advice with its Jaccard on the twins,
the winner on the fresh scenes, whether they agree, the advised tracker's Jaccard on the
fresh scenes and the winner's, the advice's wall time, and the twin's motion against the
preset's.
"""

from __future__ import annotations

import argparse
import math
import time

from napari_mpt import api
from napari_mpt.core.params import AdviseParams
from napari_mpt.twin.advise import rank

SCENARIOS = ("vesicle", "receptor", "microtubule", "mixture")
PARTICLES, FRAMES = 60, 30


def preset(scenario: str, density: str, seed: int) -> api.SimulationParams:
    p = api.preset_params(f"{scenario}-{density}")
    scale = PARTICLES / p.particles
    return api.preset_params(f"{scenario}-{density}", particles=PARTICLES, frames=FRAMES,
                             field_of_view=round(p.field_of_view * math.sqrt(scale), 1),
                             clutter=round(p.clutter * scale, 2),
                             birth_rate=round(p.birth_rate * scale, 2), seed=seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", type=int, default=4)
    parser.add_argument("--density", default="mid", choices=("low", "mid", "high"))
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS))
    args = parser.parse_args()
    print("| scenario | advice (JC on twins) | winner on fresh scenes (JC) | agree | advised on "
          "fresh | advice time | twin motion (preset) |")
    print("|---|---|---|---|---|---|---|")
    for scenario in args.scenarios:
        user = api.simulate(preset(scenario, args.density, 100))
        t0 = time.perf_counter()
        advice = api.advise(user.detections, AdviseParams())
        took = time.perf_counter() - t0
        fresh = (api.simulate(preset(scenario, args.density, s))
                 for s in range(1, args.fresh + 1))
        ranking, _ = rank(fresh, AdviseParams().methods, total=args.fresh)
        best, won = advice.best, ranking[0]
        mine = next(r for r in ranking if r.method == best.method)
        tw, pr = advice.recipe.params, preset(scenario, args.density, 100)

        def jc(r) -> str:
            return f"{r.value:.3f} [{r.lo:.3f}, {r.hi:.3f}]"

        agree = "yes" if best.method == won.method else (
            "tie" if mine.hi >= won.lo else "no")
        print(f"| {scenario} | {best.method} {jc(best)} | {won.method} {jc(won)} | {agree} | "
              f"{jc(mine)} | {took:.0f} s | {tw.motion} mu {tw.process_noise:.2f} "
              f"({pr.motion} mu {pr.process_noise:.2f}) |", flush=True)


if __name__ == "__main__":
    main()
