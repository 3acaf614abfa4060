"""napari-mpt: compare a Multiple Hypothesis Tracker and a transformer on the same particles.

The core (this package minus :mod:`napari_mpt.napari`) needs neither napari nor Qt.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("napari-mpt")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+unknown"

from .api import evaluate, simulate, track
from .params import MHTParams, SimulationParams, TransformerParams

__all__ = ["MHTParams", "SimulationParams", "TransformerParams", "__version__", "evaluate",
           "simulate", "track"]
