"""Parameter model -> command-line options, for every subcommand.

Below the CLI modules on purpose: ``cli.py``, ``transformer/cli.py``, ``napari/demo.py`` and
``reproduce/cli.py`` all build their options here, so none of them imports another's CLI.
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Any, TypeVar

from .base import field_default

P = TypeVar("P")


def add_param_options(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = (),
                      prefix: str = "", only: tuple[str, ...] | None = None) -> None:
    """Add one ``--option`` per field of a parameter dataclass, help and choices included.

    ``only`` limits the options to those fields; ``skip`` leaves fields out.  An option left
    unset is ``None`` in the namespace, so the model's own default applies.
    """
    group = parser.add_argument_group(cls.__name__)
    for f in fields(cls):
        if f.name in skip or (only is not None and f.name not in only):
            continue
        meta = f.metadata
        flag = "--" + (meta.get("cli") or prefix + f.name.replace("_", "-"))
        default = field_default(f)
        text = str(meta.get("help", "")).replace("%", "%%")   # argparse formats help with %
        kwargs: dict[str, Any] = {"dest": prefix.replace("-", "_") + f.name, "default": None,
                                  "help": f"{text} (default: {default})"}
        if meta.get("choices"):
            kwargs["choices"] = meta["choices"]
        if default is None and meta.get("estimate") is not None:
            # None means "estimated from the data"; the option takes a number or "estimate"
            kwargs.update(type=_number_or_estimate(meta["estimate"]), metavar="V|estimate",
                          help=f"{text} (default: estimate)")
        elif isinstance(default, tuple) and default and all(isinstance(v, str) for v in default):
            kwargs.update(nargs="+", metavar="NAME")     # several of the choices
        elif isinstance(default, tuple):
            kwargs.update(nargs="+", type=float, metavar="V")
        elif isinstance(default, bool):
            kwargs["action"] = argparse.BooleanOptionalAction
        elif isinstance(default, int):
            kwargs["type"] = int
        elif isinstance(default, float):
            kwargs["type"] = float
        group.add_argument(flag, **kwargs)


def _number_or_estimate(kind: type) -> Any:
    def parse(text: str) -> Any:
        if text.strip().lower() == "estimate":
            return "estimate"  # the parameter model turns it into None
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is neither a number nor 'estimate'") from None

    parse.__name__ = kind.__name__
    return parse


def params_from_args(cls: type[P], args: argparse.Namespace, prefix: str = "",
                     **extra: Any) -> P:
    """Build (and so validate) a parameter object from the options the user gave."""
    values = {}
    for f in fields(cls):  # type: ignore[arg-type]
        v = getattr(args, prefix + f.name, None)
        if v is not None:
            values[f.name] = tuple(v) if isinstance(v, list) else v
    values.update(extra)
    return cls(**values)
