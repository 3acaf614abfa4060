"""The architecture of a tracker transformer as plain data (what a checkpoint stores).

Only ints, floats, strings and lists, so a checkpoint loads with
``torch.load(weights_only=True)`` and never needs to run code to rebuild its model.

One model of the architecture: the fields shared with
:class:`~napari_mpt.core.params.TrainParams` (sizes, lookbacks, N, ndim, coordinate scale)
take their default, help and accepted range from it, and the rules that tie fields
together (heads divide d_model, the rotary periods fit a head) live here only.
``encoder_lookback`` is K_E, the encoder window in frames, always resolved (>= 1) here;
a sequence no longer than it is encoded whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ....core.errors import CheckpointError, ParameterError
from ....core.params import TrainParams
from ....core.params.base import _f, _Validated

DEFAULT_WAVELENGTHS: tuple[float, ...] = (8.0, 16.0, 32.0, 64.0, 128.0, 256.0)
"""Spatial Fourier features (px): resolve a few px up to a field a few hundred px wide."""

DEFAULT_PERIODS: tuple[float, ...] = (3.0, 9.0, 27.0, 81.0)
"""Rotary time periods (frames): sharp at one frame apart, still ordered at ~100."""

_TRAIN_FIELDS = TrainParams.__dataclass_fields__


def _shared(name: str) -> Any:
    """A field defined by TrainParams' field of the same name (default, help, range)."""
    return field(default=_TRAIN_FIELDS[name].default, metadata=_TRAIN_FIELDS[name].metadata)


_INT_FIELDS = ("particles", "ndim", "d_model", "heads", "ff", "encoder_layers",
               "decoder_layers", "encoder_lookback", "decoder_lookback")


@dataclass(frozen=True)
class ModelConfig(_Validated):
    """Sizes, lookbacks and encodings; N and ndim say which data the weights fit."""

    particles: int = _shared("particles")
    ndim: int = _shared("ndim")
    d_model: int = _shared("d_model")
    heads: int = _shared("heads")
    ff: int = _shared("ff")
    encoder_layers: int = _shared("encoder_layers")
    decoder_layers: int = _shared("decoder_layers")
    encoder_lookback: int = _f(_TRAIN_FIELDS["frames"].default, "encoder window K_E in frames",
                               lo=1)
    decoder_lookback: int = _shared("decoder_lookback")
    coord_scale: float = _shared("coord_scale")
    wavelengths: tuple[float, ...] = _f(DEFAULT_WAVELENGTHS, "Fourier feature wavelengths (px)",
                                        lo=1e-9)
    time_periods: tuple[float, ...] = _f(DEFAULT_PERIODS, "rotary time periods (frames)",
                                         lo=1e-9)

    def _check(self) -> None:
        for name in _INT_FIELDS:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ParameterError(name, f"{v!r} is not an integer")
        if self.d_model % self.heads:
            raise ParameterError("heads", f"{self.heads} heads do not divide d_model={self.d_model}")
        if 2 * len(self.time_periods) > self.head_dim:
            raise ParameterError("time_periods", f"{len(self.time_periods)} rotary time periods "
                                 f"need head_dim >= {2 * len(self.time_periods)}, got {self.head_dim}")
        object.__setattr__(self, "wavelengths", tuple(float(w) for w in self.wavelengths))
        object.__setattr__(self, "time_periods", tuple(float(p) for p in self.time_periods))

    @property
    def head_dim(self) -> int:
        return self.d_model // self.heads

    @property
    def n_features(self) -> int:
        """Width of a position's input features: raw coordinates plus sin/cos per wavelength."""
        return self.ndim * (1 + 2 * len(self.wavelengths))

    @classmethod
    def from_checkpoint(cls, data: Any, source: str = "checkpoint") -> ModelConfig:
        """:meth:`from_dict` for a checkpoint's ``model`` entry: any problem is a
        CheckpointError naming the file."""
        if not isinstance(data, dict):
            raise CheckpointError(f"{source}: the model configuration is not a mapping")
        try:
            return cls.from_dict(data)
        except ParameterError as exc:
            raise CheckpointError(f"{source}: model configuration: {exc}") from None
        except TypeError as exc:
            raise CheckpointError(f"{source}: bad model configuration ({exc})") from None


def time_periods_for(head_dim: int) -> tuple[float, ...]:
    """The default rotary periods that fit a head (two dimensions per period)."""
    return DEFAULT_PERIODS[: max(0, min(len(DEFAULT_PERIODS), head_dim // 4))]


def model_config(params: TrainParams) -> ModelConfig:
    """The architecture a TrainParams asks for (K_E = T when encoder_lookback is 0);
    ParameterError naming the field when it is not a valid one."""
    return ModelConfig(
        particles=params.particles, ndim=params.ndim, d_model=params.d_model,
        heads=params.heads, ff=params.ff, encoder_layers=params.encoder_layers,
        decoder_layers=params.decoder_layers,
        encoder_lookback=params.encoder_lookback or params.frames,
        decoder_lookback=params.decoder_lookback, coord_scale=params.coord_scale,
        wavelengths=DEFAULT_WAVELENGTHS, time_periods=time_periods_for(params.d_model // params.heads))
