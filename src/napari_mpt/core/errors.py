"""Exceptions that carry a message a user can act on.

Every error the core raises on bad input derives from :class:`MPTError`, so the CLI
prints one line and exits 2, and the widgets show a notification, instead of a traceback.
"""

from __future__ import annotations


class MPTError(Exception):
    """Base class: ``str(err)`` is the whole user-facing message."""


class ParameterError(MPTError, ValueError):
    """A parameter is out of range; the message names it and the accepted range."""

    def __init__(self, name: str, problem: str):
        self.name = name
        self.problem = problem
        super().__init__(f"parameter {name!r}: {problem}")


class InputError(MPTError, ValueError):
    """A file or array cannot be used; names the source, where in it, and the problem.

    ``line`` is a 1-based line of a text file (the header is line 1); ``row`` a 0-based
    index into an array.
    """

    def __init__(self, source: str, problem: str, row: int | None = None,
                 line: int | None = None):
        self.source = source
        self.row = row
        self.line = line
        self.problem = problem
        where = source
        if line is not None:
            where = f"{source}, line {line}"
        elif row is not None:
            where = f"{source}, row {row}"
        super().__init__(f"{where}: {problem}")


class TooManyHypotheses(MPTError):
    """Refused up front: a window would enumerate more hypotheses than fit in memory."""


class CheckpointError(MPTError):
    """A checkpoint file is unreadable, not a napari-mpt checkpoint, or does not fit."""


class DeviceError(MPTError):
    """The requested torch device does not exist on this machine."""


class Cancelled(MPTError):
    """The user cancelled a run; nothing was produced."""
