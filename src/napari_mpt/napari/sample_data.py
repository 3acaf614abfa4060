"""Sample data contributions: layer data tuples napari adds to the viewer.

"Brownian pair" is simulated on the fly with the default parameters; the others are the
example files shipped in ``sample_data/`` (see its README.txt), read with the plugin's
own reader so they arrive exactly as a dropped file would, truth included.
"""

from __future__ import annotations

from pathlib import Path

from ..params import SimulationParams
from ..simulate import simulate
from .layers import simulation_layers
from .reader import read_csv

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"

EXAMPLES = {
    "pair_T150_sigma1": "Brownian pair, T=150, sigma=1 (file)",
    "pair_T150_sigma5": "Brownian pair, T=150, sigma=5 (file)",
    "pair_T8_sigma1.2": "Brownian pair, T=8, sigma=1.2 (file)",
}


def brownian_pair() -> list[tuple]:
    """A Brownian pair simulated on the fly with the default parameters."""
    return simulation_layers(simulate(SimulationParams(seed=0)))


def example(name: str) -> list[tuple]:
    """A shipped example's detections (Points) and truth (Tracks)."""
    return read_csv(SAMPLE_DIR / f"{name}_detections.csv")


def pair_t150_sigma1() -> list[tuple]:
    return example("pair_T150_sigma1")


def pair_t150_sigma5() -> list[tuple]:
    return example("pair_T150_sigma5")


def pair_t8_sigma1_2() -> list[tuple]:
    return example("pair_T8_sigma1.2")
