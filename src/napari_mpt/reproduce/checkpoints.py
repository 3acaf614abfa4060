"""Which transformer each curve needs, where it comes from, and how a task runs it.

A model is *shipped* (a checkpoint of :mod:`napari_mpt.transformer`), *cached* (trained
by an earlier ``--train`` run, under :func:`cache_dir`) or *missing*; missing models are
trained with ``--train`` and otherwise their curves are skipped with a note.  Trained
checkpoints travel to the workers as bytes, so a remote Dask cluster needs no shared
file system.  Torch is imported only inside the functions that need it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ..data import Detections
    from ..runtime import TrackingResult
    from .figures import TrainSpec

Source = Literal["shipped", "cached", "train", "missing"]

_TRACE_LOCK = threading.Lock()
"""fvcore counts FLOPs on a ``torch.jit`` trace, and two traces at once in one process
abort it; Dask workers that are threads of one process take turns here.  The count is
cached per architecture and length, so the lock is held for real only once per shape."""


@dataclass(frozen=True)
class ModelSpec:
    """A concrete transformer_{T,i}: a TrainSpec with every field resolved."""

    frames: int
    per_batch: int
    batches: int | None = None
    sigma: float | None = None
    decoder: int | None = None
    encoder: int | None = None
    epochs: int | None = None

    @property
    def base(self) -> str:
        return f"transformer_{self.frames}_{self.per_batch}"

    @property
    def default_protocol(self) -> bool:
        """Trained like the shipped checkpoints (so a shipped one of that name fits)."""
        return (self.batches is None and self.sigma is None and self.decoder is None
                and self.encoder is None and self.epochs is None)

    @property
    def name(self) -> str:
        parts = [self.base]
        if self.batches is not None:
            parts.append(f"b{self.batches}")
        if self.sigma is not None:
            parts.append(f"sigma{self.sigma:g}")
        if self.decoder is not None:
            parts.append(f"kd{self.decoder}")
        if self.encoder is not None:
            parts.append(f"ke{self.encoder}")
        if self.epochs is not None:
            parts.append(f"ep{self.epochs}")
        return "_".join(parts)


def model_for(spec: TrainSpec, *, x: float, frames: int, sigma: float) -> ModelSpec:
    """Resolve a curve's TrainSpec at one point of the x-axis."""
    def r(v: Any) -> Any:
        return {"x": x, "T": frames, "sigma": sigma}.get(v, v) if isinstance(v, str) else v

    opt_int = lambda v: None if v is None else int(r(v))  # noqa: E731
    opt_float = lambda v: None if v is None else float(r(v))  # noqa: E731
    return ModelSpec(frames=int(r(spec.frames)), per_batch=int(r(spec.per_batch)),
                     batches=opt_int(spec.batches), sigma=opt_float(spec.sigma),
                     decoder=opt_int(spec.decoder), encoder=opt_int(spec.encoder),
                     epochs=opt_int(spec.epochs))


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """Where ``--train`` keeps its checkpoints: ``$NAPARI_MPT_CACHE``, else
    ``$XDG_CACHE_HOME/napari-mpt``, else ``~/.cache/napari-mpt`` (never the repository)."""
    if override:
        return Path(override)
    if os.environ.get("NAPARI_MPT_CACHE"):
        return Path(os.environ["NAPARI_MPT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "napari-mpt"


def model_seed(model: ModelSpec) -> int:
    """Training seed of a model, from its name alone."""
    return int.from_bytes(hashlib.sha256(model.name.encode()).digest()[:4], "big") & 0x7FFF_FFFF


def cached_path(model: ModelSpec, cache: Path) -> Path:
    """``<cache>/transformers/<name>-<protocol>.pt``: the tag hashes every training setting,
    so a changed protocol (e.g. new shipped reference checkpoints) never reuses a stale file."""
    from .training import protocol_tag

    return cache / "transformers" / f"{model.name}-{protocol_tag(model)}.pt"


def shipped_names() -> set[str]:
    """Names of the checkpoints the transformer package ships (empty until it exists)."""
    try:
        from ..transformer import available_checkpoints
    except ImportError:
        return set()
    return set(available_checkpoints())


def locate(model: ModelSpec, cache: Path, shipped: set[str]) -> tuple[Source, Path | str | None]:
    """Where ``model`` comes from: a shipped name, a cached file, or nowhere yet."""
    if model.default_protocol and model.base in shipped:
        return "shipped", model.base
    path = cached_path(model, cache)
    if path.is_file():
        return "cached", path
    return "missing", None


def train_model(model: ModelSpec) -> dict[str, Any]:
    """Train ``model`` (see :mod:`.training`): ``{"blob": bytes, "seconds": float}``."""
    from .training import train_model as _train

    return _train(model, model_seed(model))


def _materialise(blob: bytes) -> str:
    """Write checkpoint bytes once per worker, named by their hash; return the path."""
    digest = hashlib.sha256(blob).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / "napari-mpt-reproduce"
    path = folder / f"ckpt-{digest}.pt"
    if not path.is_file():
        from ..io import atomic_write

        with atomic_write(path, "wb") as fh:
            fh.write(blob)
    return str(path)


def checkpoint_argument(checkpoint: Any) -> str:
    """A shipped name or a local path for what a task received (name, bytes or a
    training result)."""
    if isinstance(checkpoint, dict):
        checkpoint = checkpoint["blob"]
    if isinstance(checkpoint, (bytes, bytearray)):
        return _materialise(bytes(checkpoint))
    if isinstance(checkpoint, (str, Path)):
        return str(checkpoint)
    raise TypeError(f"no checkpoint for this transformer task (got {type(checkpoint).__name__})")


def track_with(task: Any, detections: Detections, checkpoint: Any) -> TrackingResult:
    """Run the transformer of ``task`` on ``detections`` on the CPU, one torch thread."""
    import torch

    from ..params import TransformerParams
    from ..transformer import count_flops, track_transformer
    from ..transformer.infer import cached_model

    torch.set_num_threads(1)
    params = TransformerParams(checkpoint=checkpoint_argument(checkpoint), device="cpu",
                               batch_size=1)
    with warnings.catch_warnings():  # fvcore's tracer notes, once per architecture
        warnings.simplefilter("ignore")
        with _TRACE_LOCK:  # fill the FLOP cache one thread at a time (see _TRACE_LOCK)
            model, _ = cached_model(params.checkpoint, "cpu")
            count_flops(model, len(detections.frames()))
        return track_transformer(detections, params)


def architecture_flops(frames: int, encoder: int, decoder: int) -> Any:
    """fvcore FLOPs of one inference of T frames by a transformer with K_E, K_D and the
    reference architecture (the count depends on the sizes only, not on the weights)."""
    import torch

    from ..transformer import TrackerTransformer, count_flops, model_config
    from .training import reference_params

    torch.set_num_threads(1)
    params = reference_params().replace(frames=frames, encoder_lookback=min(encoder, frames),
                                        decoder_lookback=decoder)
    with warnings.catch_warnings(), _TRACE_LOCK:  # tracer notes are not for users
        warnings.simplefilter("ignore")
        return count_flops(TrackerTransformer(model_config(params)), frames)
