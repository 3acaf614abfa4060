"""The transformer trackers: the paper's encoder-decoder (III-C) and the association
transformer (any number of detections per frame): models, training, checkpoints,
inference, FLOPs.

Importing this package is cheap; torch is imported when one of its functions is first
used (``napari_mpt.cli.train`` must stay import-light for ``napari-mpt --help``).
The names below are the package's public surface: code outside the package (the API,
the front ends, ``napari_mpt.experiments.reproduce``) uses these and not the modules behind them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "track_transformer": "infer",
    "track_transformer_batch": "infer",
    "cached_model": "infer",
    "available_devices": "infer",
    "resolve_device": "infer",
    "available_checkpoints": "checkpoint",
    "load_checkpoint": "checkpoint",
    "train_params_of": "checkpoint",
    "checkpoint_descriptions": "checkpoint",
    "train": "trainer",
    "model_config": "trainer",
    "count_flops": "flops",
    "closed_form_flops": "flops",
    "torch_counter_flops": "flops",
    "TRACE_LOCK": "flops",
    "ModelConfig": "config",
    "TrackerTransformer": "model",
    "train_association": "assoc_train",
    "AssocConfig": "assoc_model",
    "AssociationTransformer": "assoc_model",
    "association_flops": "assoc_flops",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
