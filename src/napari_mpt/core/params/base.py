"""The machinery of the parameter model: a field carries its help text and range in its
metadata, and construction validates it, raising :class:`ParameterError` naming the field."""

from __future__ import annotations

import math
from dataclasses import MISSING, Field, asdict, field, fields, replace
from typing import Any

from ..errors import ParameterError


def _f(default: Any, help: str, *, lo: float | None = None, hi: float | None = None,
       choices: tuple[str, ...] | None = None, cli: str | None = None,
       estimate: type | None = None) -> Any:
    """A dataclass field whose metadata drives validation, CLI options and widgets.

    ``estimate`` (a number type) marks a field whose default ``None`` means "estimated
    from the data": the CLI accepts a number or the word ``estimate`` for it.
    """
    meta = {"help": help, "min": lo, "max": hi, "choices": choices, "cli": cli,
            "estimate": estimate}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


def field_default(f: Field[Any]) -> Any:
    """The default of dataclass field ``f`` (its default or what its factory makes)."""
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    raise ParameterError(f.name, "has no default")


class _Validated:
    """Mixin: range/choice checks from field metadata, then ``_check`` for cross-field rules.

    A field estimated from the data (``estimate`` metadata) may be handed over as text by
    the widgets and files: ``"estimate"``, ``""`` or ``"None"`` become None, a number
    its value.
    """

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            kind = f.metadata.get("estimate")
            value = getattr(self, f.name)
            if kind is None or not isinstance(value, str):
                continue
            text = value.strip().lower()
            try:
                parsed = None if text in ("", "none", ESTIMATE) else kind(text)
            except ValueError:
                raise ParameterError(f.name, f"{value!r} is neither a number nor "
                                     f"'{ESTIMATE}'") from None
            object.__setattr__(self, f.name, parsed)
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            meta = f.metadata
            if meta.get("choices"):
                picks = value if isinstance(value, tuple) else (value,)  # a tuple picks several
                bad = [v for v in picks if v not in meta["choices"]]
                if bad or not picks:
                    raise ParameterError(f.name, f"{(bad or [value])[0]!r} is not one of "
                                         f"{', '.join(meta['choices'])}")
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
        return {f.name: field_default(f) for f in fields(cls)}  # type: ignore[arg-type]


ESTIMATE = "estimate"
"""What the CLI and the widgets show for a parameter estimated from the data (``None``)."""
