"""magicgui controls generated from a parameter dataclass's field metadata.

The CLI builds its options from the same metadata (:func:`napari_mpt.core.params.options.add_param_options`),
so a control's tooltip, range and choices are exactly what the option accepts; the
parameter object is built (and so validated) by the core, never by the widget.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSpinBox,
    LineEdit,
    Slider,
    SpinBox,
    Widget,
)

from ..core.errors import ParameterError
from ..core.params import field_default

ESTIMATE = "estimate"   # what a parameter estimated from the data (None) shows
# spin boxes need a finite range; fields without a maximum get this one
_FLOAT_MAX = 1e9
_INT_MAX = 2**31 - 1


def _tuple_text(values: tuple[float, ...]) -> str:
    return ", ".join(f"{v:g}" for v in values)


def control_for(f, label: str | None = None, slider: bool = False,
                maximum: float | None = None) -> Widget:
    """One control for dataclass field ``f``: combo for choices, spin box or slider for
    numbers (range from metadata), a comma-separated line edit for tuples."""
    meta = f.metadata
    default = field_default(f)
    common = {"name": f.name, "label": label or f.name.replace("_", " "),
              "tooltip": meta.get("help", "")}
    if default is None and meta.get("estimate") is not None:
        # None means "estimated from the data": the parameter model reads this word (or a
        # number) from a widget, as the CLI option does
        common["tooltip"] = f"{common['tooltip']} (a number, or '{ESTIMATE}')"
        return LineEdit(value=ESTIMATE, **common)
    if meta.get("choices"):
        return ComboBox(value=default, choices=list(meta["choices"]), **common)
    if isinstance(default, tuple):
        return LineEdit(value=_tuple_text(default), **common)
    if isinstance(default, bool):
        return CheckBox(value=default, **common)
    if not isinstance(default, (int, float)):
        return LineEdit(value=str(default), **common)
    lo = meta.get("min")
    hi = meta.get("max") if maximum is None else maximum
    if isinstance(default, int):
        lo = int(lo) if lo is not None else -_INT_MAX
        hi = int(hi) if hi is not None else _INT_MAX
        cls = Slider if slider else SpinBox
        return cls(value=default, min=lo, max=hi, **common)
    lo = float(lo) if lo is not None else -_FLOAT_MAX
    hi = float(hi) if hi is not None else _FLOAT_MAX
    return FloatSpinBox(value=default, min=lo, max=hi, step=0.1, **common)


class ParamForm(Container):
    """A column of controls for some fields of a parameter class; ``params()`` builds it.

    ``labels`` renames controls (e.g. ``eta'``), ``sliders`` lists int fields shown as
    sliders and ``maxima`` caps a control's range below the model's (the model still
    validates).  Fields not shown keep their defaults, the values the last
    :meth:`set_params` gave them, or the values in ``fixed``.
    """

    def __init__(self, cls: type, names: tuple[str, ...] | None = None, *,
                 labels: dict[str, str] | None = None, sliders: tuple[str, ...] = (),
                 maxima: dict[str, float] | None = None, **kwargs: Any):
        labels = labels or {}
        maxima = maxima or {}
        self.param_cls = cls
        self._fields = {f.name: f for f in fields(cls)}
        shown = names if names is not None else tuple(self._fields)
        widgets = [control_for(self._fields[n], labels.get(n), n in sliders, maxima.get(n))
                   for n in shown]
        super().__init__(widgets=widgets, **kwargs)
        self._hidden: dict[str, Any] = {}

    def values(self) -> dict[str, Any]:
        """Control values converted to the field types (tuples parsed from text)."""
        out: dict[str, Any] = {}
        for w in self:
            f = self._fields[w.name]
            default = field_default(f)
            value = w.value
            if isinstance(default, tuple):
                try:
                    value = tuple(float(p) for p in str(value).replace(";", ",").split(",")
                                  if p.strip())
                except ValueError:
                    raise ParameterError(
                        f.name, f"{value!r} is not a comma-separated list of numbers") from None
            out[w.name] = value
        return out

    def params(self, **fixed: Any):
        """The validated parameter object; raises :class:`ParameterError` naming the field."""
        return self.param_cls(**{**self._hidden, **self.values(), **fixed})

    def set_params(self, params: Any) -> None:
        shown = {w.name for w in self}
        self._hidden = {name: getattr(params, name) for name in self._fields
                        if name not in shown and hasattr(params, name)}
        for w in self:
            value = getattr(params, w.name)
            if self._fields[w.name].metadata.get("estimate") is not None and not isinstance(
                    value, (bool, tuple)):
                # a text field: a number as its text (magicgui shows a falsy 0.0 as empty,
                # which reads back as "estimate")
                value = ESTIMATE if value is None else f"{value:.12g}"
            w.value = _tuple_text(value) if isinstance(value, tuple) else value
