"""The architecture of a tracker transformer as plain data (what a checkpoint stores).

Only ints, floats, strings and lists, so a checkpoint loads with
``torch.load(weights_only=True)`` and never needs to run code to rebuild its model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..errors import CheckpointError

DEFAULT_WAVELENGTHS: tuple[float, ...] = (8.0, 16.0, 32.0, 64.0, 128.0, 256.0)
"""Spatial Fourier features (px): resolve a few px up to a field a few hundred px wide."""

DEFAULT_PERIODS: tuple[float, ...] = (3.0, 9.0, 27.0, 81.0)
"""Rotary time periods (frames): sharp at one frame apart, still ordered at ~100."""


@dataclass(frozen=True)
class ModelConfig:
    """Sizes, lookbacks and encodings; N and ndim say which data the weights fit."""

    particles: int = 2
    ndim: int = 2
    d_model: int = 32
    heads: int = 2
    ff: int = 64
    encoder_layers: int = 2
    decoder_layers: int = 1
    encoder_lookback: int = 150
    decoder_lookback: int = 8
    coord_scale: float = 10.0
    wavelengths: tuple[float, ...] = field(default=DEFAULT_WAVELENGTHS)
    time_periods: tuple[float, ...] = field(default=DEFAULT_PERIODS)

    def __post_init__(self) -> None:
        problems = []
        for name in ("particles", "ndim", "d_model", "heads", "ff", "encoder_layers",
                     "decoder_layers", "encoder_lookback", "decoder_lookback"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                problems.append(f"{name}={v!r} is not a positive integer")
        if self.ndim not in (2, 3):
            problems.append(f"ndim={self.ndim} is not 2 or 3")
        if not problems and self.d_model % self.heads:
            problems.append(f"heads={self.heads} does not divide d_model={self.d_model}")
        if not problems and 2 * len(self.time_periods) > self.head_dim:
            problems.append(f"{len(self.time_periods)} rotary time periods need head_dim >= "
                            f"{2 * len(self.time_periods)}, got {self.head_dim}")
        if not (isinstance(self.coord_scale, (int, float)) and self.coord_scale > 0):
            problems.append(f"coord_scale={self.coord_scale!r} is not positive")
        if problems:
            raise CheckpointError("model configuration: " + "; ".join(problems))
        object.__setattr__(self, "wavelengths", tuple(float(w) for w in self.wavelengths))
        object.__setattr__(self, "time_periods", tuple(float(p) for p in self.time_periods))

    @property
    def head_dim(self) -> int:
        return self.d_model // self.heads

    @property
    def n_features(self) -> int:
        """Width of a position's input features: raw coordinates plus sin/cos per wavelength."""
        return self.ndim * (1 + 2 * len(self.wavelengths))

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Any, source: str = "checkpoint") -> ModelConfig:
        if not isinstance(data, dict):
            raise CheckpointError(f"{source}: the model configuration is not a mapping")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise CheckpointError(f"{source}: unknown model setting(s) {', '.join(unknown)}")
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        try:
            return cls(**kwargs)
        except CheckpointError as exc:
            raise CheckpointError(f"{source}: {exc}") from None
        except TypeError as exc:
            raise CheckpointError(f"{source}: bad model configuration ({exc})") from None


def time_periods_for(head_dim: int) -> tuple[float, ...]:
    """The default rotary periods that fit a head (two dimensions per period)."""
    return DEFAULT_PERIODS[: max(0, min(len(DEFAULT_PERIODS), head_dim // 4))]
