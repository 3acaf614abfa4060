"""Which transformer each curve needs, how it is trained, where it comes from, and how a
task runs it.

A model is *shipped* (a checkpoint of :mod:`napari_mpt.trackers.transformer`), *cached* (trained
by an earlier ``--train`` run, under :func:`cache_dir`) or *missing*; missing models are
trained with ``--train`` and otherwise their curves are skipped with a note.  Trained
checkpoints travel to the workers as bytes, so a remote Dask cluster needs no shared
file system.  Torch is imported only inside the functions that need it, and only the
transformer package's public names are used.

Training protocols (both the transformer package's one training loop,
:func:`napari_mpt.trackers.transformer.train`):

* ``epochs=None`` — every optimisation step draws a fresh batch of i experiments.
  transformer_{T,i} of Figs. 3, 4 and 6 use it, with the settings the shipped checkpoints
  were trained with (read from ``transformer_150_30``), so a trained transformer_{16,30}
  differs from the shipped transformer_{150,30} only in T.  So do Fig. 2's transformers,
  read literally: "6 experiments, 1 per batch, 6 batches" is 6 steps on 6 fresh
  experiments.
* ``epochs=E`` — a fixed data set of ``batches`` batches of i experiments, visited E
  times: Fig. 2's extra curves (not in the paper), the other reading of "trained with 6
  experiments" (as many passes as one likes over the same 6 sequences).

Both are deterministic for a seed (one torch thread) and return the checkpoint as bytes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ...core.params import TrainParams
from .figures import TrainSpec, resolve

if TYPE_CHECKING:
    from ...core.data import Detections
    from ...core.results import TrackingResult

Source = Literal["shipped", "cached", "train", "missing"]

REFERENCE_CHECKPOINT = "transformer_150_30"
"""The shipped checkpoint whose training settings define the package's default protocol."""

FALLBACK_NOISE_RANGE = (0.0, 10.0)
"""sigma range of the training data when no reference checkpoint is shipped: Fig. 3's axis."""


def seed_of(text: str) -> int:
    """A 31-bit seed from a text alone (a task's or a model's identity): the first four
    bytes of its SHA-256, so it is the same on every machine and Python version."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFF_FFFF


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
        return resolve(v, x, frames, sigma)

    def opt_int(v: Any) -> int | None:
        return None if v is None else int(r(v))

    def opt_float(v: Any) -> float | None:
        return None if v is None else float(r(v))

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
    return seed_of(model.name)


@functools.cache
def reference_params() -> TrainParams:
    """Training settings of the shipped reference checkpoint; without one, TrainParams
    defaults with sigma drawn in :data:`FALLBACK_NOISE_RANGE`."""
    from ...trackers.transformer import available_checkpoints, train_params_of

    if REFERENCE_CHECKPOINT in available_checkpoints():
        return train_params_of(REFERENCE_CHECKPOINT)
    return TrainParams(measurement_noise_range=FALLBACK_NOISE_RANGE)


def train_params(model: ModelSpec) -> TrainParams:
    """TrainParams of ``model``: the reference protocol with the model's own settings and
    seed (:func:`model_seed`), one thread, one checkpoint write at the end."""
    p = reference_params().replace(
        frames=model.frames, experiments_per_batch=model.per_batch, seed=model_seed(model),
        threads=1, epochs=model.epochs or 0,
        encoder_lookback=0 if model.encoder is None else min(model.encoder, model.frames))
    if model.batches is not None:
        p = p.replace(batches=model.batches)
    if model.sigma is not None:
        p = p.replace(measurement_noise=model.sigma, measurement_noise_range=())
    if model.decoder is not None:
        p = p.replace(decoder_lookback=model.decoder)
    return p.replace(save_every=max(p.steps, 1))


RECORDED_LATER = ("epochs", "weight_decay", "grad_clip", "warmup_steps", "warmup_fraction",
                  "lr_floor", "coord_scale")
"""Training settings that were hard-coded before TrainParams held them."""


def protocol_tag(model: ModelSpec) -> str:
    """8 hex digits identifying every setting ``model`` is trained with.

    Hashed as before TrainParams held :data:`RECORDED_LATER`, so a cache written then keeps
    its tags (its checkpoints are bit-identical to the ones training gives now): those
    settings only when they differ from their defaults (the values hard-coded then),
    ``epochs`` beside the settings, and ``save_every`` (which does not change the result)
    as it was then, one write per ``batches``.
    """
    params = train_params(model)
    defaults = TrainParams.defaults()
    record = {k: v for k, v in params.to_dict().items()
              if k not in RECORDED_LATER or (k != "epochs" and v != defaults[k])}
    record["save_every"] = max(params.batches, 1)
    text = json.dumps({"train": record, "epochs": model.epochs}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def cached_path(model: ModelSpec, cache: Path) -> Path:
    """``<cache>/transformers/<name>-<protocol>.pt``: the tag hashes every training setting,
    so a changed protocol (e.g. new shipped reference checkpoints) never reuses a stale file."""
    return cache / "transformers" / f"{model.name}-{protocol_tag(model)}.pt"


def shipped_names() -> set[str]:
    """Names of the checkpoints the transformer package ships (empty until it exists)."""
    try:
        from ...trackers.transformer import available_checkpoints
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
    """Train ``model``; returns ``{"blob": checkpoint bytes, "seconds": training time}``."""
    import torch

    from ...trackers.transformer import train

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="napari-mpt-train-") as tmp:
        out = Path(tmp) / f"{model.name}.pt"
        train(train_params(model), out, progress_bar=False, name=model.name)
        blob = out.read_bytes()
    return {"blob": blob, "seconds": time.perf_counter() - t0}


def _materialise(blob: bytes) -> str:
    """Write checkpoint bytes once per worker, named by their hash; return the path."""
    digest = hashlib.sha256(blob).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / "napari-mpt-reproduce"
    path = folder / f"ckpt-{digest}.pt"
    if not path.is_file():
        from ...io import atomic_write

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


def track_with(detections: Detections, checkpoint: Any) -> TrackingResult:
    """Run the transformer ``checkpoint`` (what a task received) on ``detections`` on the
    CPU, one torch thread."""
    import torch

    from ...core.params import TransformerParams
    from ...trackers.transformer import TRACE_LOCK, cached_model, count_flops, track_transformer

    torch.set_num_threads(1)
    params = TransformerParams(checkpoint=checkpoint_argument(checkpoint), device="cpu",
                               batch_size=1)
    with warnings.catch_warnings():  # fvcore's tracer notes, once per architecture
        warnings.simplefilter("ignore")
        with TRACE_LOCK:  # fill the FLOP cache one thread at a time (see TRACE_LOCK)
            model, _ = cached_model(params.checkpoint, "cpu")
            count_flops(model, len(detections.frames()))
        return track_transformer(detections, params)


def architecture_flops(frames: int, encoder: int, decoder: int) -> Any:
    """fvcore FLOPs of one inference of T frames by a transformer with K_E, K_D and the
    reference architecture (the count depends on the sizes only, not on the weights)."""
    import torch

    from ...trackers.transformer import TRACE_LOCK, TrackerTransformer, count_flops, model_config

    torch.set_num_threads(1)
    params = reference_params().replace(frames=frames, encoder_lookback=min(encoder, frames),
                                        decoder_lookback=decoder)
    with warnings.catch_warnings(), TRACE_LOCK:  # tracer notes are not for users
        warnings.simplefilter("ignore")
        return count_flops(TrackerTransformer(model_config(params)), frames)
