"""Sample data contributions: layer data tuples napari adds to the viewer."""

from __future__ import annotations

from ..params import SimulationParams
from ..simulate import simulate
from .layers import simulation_layers


def brownian_pair() -> list[tuple]:
    """A Brownian pair simulated on the fly with the default parameters."""
    return simulation_layers(simulate(SimulationParams(seed=0)))
