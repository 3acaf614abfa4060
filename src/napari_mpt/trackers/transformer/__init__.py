"""The transformer trackers: the paper's encoder-decoder (III-C) and the association
transformer (any number of detections per frame): models, training, checkpoints,
inference, FLOPs.

Sub-packages: ``common`` (devices, threads, the checkpoint file, FLOP tracing, shared
layers, training helpers), ``encdec`` (the encoder-decoder) and ``association`` (the
association transformer), which do not import each other; ``loading`` and ``tracking``
choose between the two by a checkpoint's ``kind``.

Importing this package is cheap; torch is imported when one of its functions is first
used (``napari_mpt.cli.train`` must stay import-light for ``napari-mpt --help``).
The names below are the package's public surface: code outside the package (the API,
the front ends, ``napari_mpt.experiments.reproduce``) uses these and not the modules behind them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "track_transformer": "tracking",
    "track_transformer_batch": "tracking",
    "cached_model": "loading",
    "load_checkpoint": "loading",
    "checkpoint_descriptions": "loading",
    "available_devices": "common.devices",
    "resolve_device": "common.devices",
    "available_checkpoints": "common.checkpoint",
    "TRACE_LOCK": "common.tracing",
    "train_params_of": "encdec.checkpoint",
    "train": "encdec.training",
    "model_config": "encdec.config",
    "count_flops": "encdec.flops",
    "closed_form_flops": "encdec.flops",
    "torch_counter_flops": "encdec.flops",
    "ModelConfig": "encdec.config",
    "TrackerTransformer": "encdec.model",
    "train_association": "association.training",
    "AssocConfig": "association.model",
    "AssociationTransformer": "association.model",
    "association_flops": "association.flops",
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
