"""One parameter model for the CLI, the Python API and the widgets.

Each field carries its help text and its accepted range in ``metadata``; the CLI builds
its options from it and the widgets their controls, so a setting means the same thing
everywhere.  Validation happens on construction and raises :class:`ParameterError`
naming the field.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any, Literal

from .errors import ParameterError

MotionModelName = Literal["constant-velocity", "random-walk"]
MHTMode = Literal["exact", "exhaustive"]
DeviceName = Literal["auto", "cpu", "cuda"]

MOTION_MODELS: tuple[str, ...] = ("constant-velocity", "random-walk")
MHT_MODES: tuple[str, ...] = ("exact", "exhaustive")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


def _f(default: Any, help: str, *, lo: float | None = None, hi: float | None = None,
       choices: tuple[str, ...] | None = None, cli: str | None = None) -> Any:
    """A dataclass field whose metadata drives validation, CLI options and widgets."""
    meta = {"help": help, "min": lo, "max": hi, "choices": choices, "cli": cli}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


class _Validated:
    """Mixin: range/choice checks from field metadata, then ``_check`` for cross-field rules."""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            meta = f.metadata
            if meta.get("choices") and value not in meta["choices"]:
                raise ParameterError(f.name, f"{value!r} is not one of {', '.join(meta['choices'])}")
            values = value if isinstance(value, tuple) else (value,)
            for v in values:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    continue
                if isinstance(v, float) and not math.isfinite(v):
                    raise ParameterError(f.name, f"must be a finite number, got {v}")
                if meta.get("min") is not None and v < meta["min"]:
                    raise ParameterError(f.name, f"must be >= {meta['min']}, got {v}")
                if meta.get("max") is not None and v > meta["max"]:
                    raise ParameterError(f.name, f"must be <= {meta['max']}, got {v}")
        self._check()

    def _check(self) -> None:
        """Cross-field rules; subclasses override."""

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        """Build from a mapping (params.json, a checkpoint); unknown keys are an error."""
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - names)
        if unknown:
            raise ParameterError(unknown[0], f"unknown parameter for {cls.__name__}")
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**kwargs)

    def replace(self, **changes: Any):
        return replace(self, **changes)  # type: ignore[type-var]

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        out = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if f.default is not MISSING:
                out[f.name] = f.default
            elif f.default_factory is not MISSING:
                out[f.name] = f.default_factory()
        return out


@dataclass(frozen=True)
class SimulationParams(_Validated):
    """Brownian particles with drift, observed with Gaussian noise (paper eq. 2-3)."""

    particles: int = _f(2, "number of particles N", lo=1, hi=10_000)
    frames: int = _f(150, "number of frames T", lo=2, hi=1_000_000)
    process_noise: float = _f(1.5, "process noise scale mu (std of each Brownian step, px)", lo=0.0)
    measurement_noise: float = _f(1.0, "measurement noise scale sigma (px)", lo=0.0)
    drift: tuple[float, ...] = _f(
        (0.0, 0.0), "drift per frame (px): ndim values shared by all particles, or "
        "particles*ndim values, one (dy, dx) per particle")
    separation: float = _f(10.0, "initial distance between the two particles of a pair (px)", lo=0.0)
    field_of_view: float = _f(
        512.0, "side of the square/cube in which N > 2 particles start (px)", lo=1.0)
    ndim: int = _f(2, "spatial dimensions: 2 (y, x) or 3 (z, y, x)", lo=2, hi=3)
    seed: int = _f(0, "random seed", lo=0)

    def _check(self) -> None:
        if len(self.drift) not in (self.ndim, self.ndim * self.particles):
            raise ParameterError(
                "drift", f"needs {self.ndim} values (shared) or {self.ndim * self.particles} "
                f"(one per particle) for ndim={self.ndim}, got {len(self.drift)}")

    def drift_array(self):
        """Drift as an ``(N, ndim)`` array."""
        import numpy as np

        d = np.asarray(self.drift, dtype=np.float64).reshape(-1, self.ndim)
        return np.broadcast_to(d, (self.particles, self.ndim)).copy()


@dataclass(frozen=True)
class MHTParams(_Validated):
    """Multiple Hypothesis Tracker with lookback K (paper III-B)."""

    lookback: int = _f(8, "lookback window K: association steps enumerated jointly", lo=1, hi=64)
    motion_model: str = _f("constant-velocity", "Kalman motion model", choices=MOTION_MODELS)
    process_noise: float = _f(1.5, "process noise prior eta' (px per frame)", lo=1e-9)
    measurement_noise: float = _f(1.0, "measurement noise prior nu' (px)", lo=1e-9)
    velocity_prior: float = _f(
        1.5, "std of the initial velocity (drift) prior, constant-velocity model only (px/frame)",
        lo=0.0)
    mode: str = _f("exact", "exact: shared filters + branch and bound; exhaustive: score every "
                   "hypothesis with its own filters (the paper's cost model)", choices=MHT_MODES)
    gate: float = _f(
        50.0, "squared-Mahalanobis gate used only to split N > 2 particles into independent "
        "clusters", lo=1.0)
    max_hypotheses: int = _f(
        50_000_000, "refuse a window (cluster) with more hypotheses than this, up front", lo=1)

    method = "mht"

    def label(self) -> str:
        extra = "" if self.mode == "exact" else " exhaustive"
        return f"MHT K={self.lookback}{extra}"


@dataclass(frozen=True)
class TransformerParams(_Validated):
    """Inference with a trained encoder-decoder transformer (paper III-C)."""

    checkpoint: str = _f("transformer_150_30", "shipped checkpoint name or path to a .pt file")
    device: str = _f("auto", "torch device", choices=DEVICES)
    batch_size: int = _f(64, "sequences inferred together", lo=1, hi=65536)

    method = "transformer"

    def label(self) -> str:
        from pathlib import Path

        return Path(self.checkpoint).stem


TrackerParams = MHTParams | TransformerParams
