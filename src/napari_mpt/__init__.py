"""napari-mpt: compare a Multiple Hypothesis Tracker and a transformer on the same particles.

The core (this package minus :mod:`napari_mpt.napari`) needs neither napari nor Qt.
"""

from .api import evaluate, simulate, track
from .core.params import MHTParams, SimulationParams, TransformerParams
from .core.version import __version__

__all__ = ["MHTParams", "SimulationParams", "TransformerParams", "__version__", "evaluate",
           "simulate", "track"]
