"""One parameter model for the CLI, the Python API and the widgets.

Each field carries its help text and its accepted range in ``metadata``; the CLI builds
its options from it (:mod:`.options`) and the widgets their controls, so a setting means
the same thing everywhere.  Validation happens on construction and raises
:class:`~napari_mpt.core.errors.ParameterError` naming the field.  One module per
concept: :mod:`.simulation`, :mod:`.detection`, :mod:`.trackers`, :mod:`.training`,
:mod:`.analysis`, :mod:`.advice`, on the machinery of :mod:`.base`.
"""

from .advice import TRACKER_METHODS, AdviseParams
from .analysis import StatsParams
from .base import ESTIMATE, field_default
from .detection import DetectParams
from .simulation import SIM_MOTIONS, MovieParams, SimulationParams
from .trackers import (
    DEVICES,
    MHT_MODES,
    MOTION_MODELS,
    PAPER_FILTER,
    PRIOR_FLOOR,
    HybridParams,
    LAPParams,
    MHTParams,
    Priors,
    TrackerParams,
    TrackpyParams,
    TransformerParams,
    known_priors,
)
from .training import AssociationTrainParams, TrainParams

__all__ = ["DEVICES", "ESTIMATE", "MHT_MODES", "MOTION_MODELS", "PAPER_FILTER", "PRIOR_FLOOR", "SIM_MOTIONS",
           "TRACKER_METHODS", "AdviseParams", "AssociationTrainParams", "DetectParams",
           "HybridParams", "LAPParams", "MHTParams",
           "MovieParams", "Priors", "SimulationParams", "StatsParams", "TrackerParams",
           "TrackpyParams", "TrainParams", "TransformerParams", "field_default", "known_priors"]
