"""User-facing messages: a napari notification plus the widget's own status line.

A status line wraps inside its dock rather than widening it: a long refusal (a path, a
frame count) must neither push the canvas aside nor be cut off.
"""

from __future__ import annotations

import re
from typing import Any, Literal

Level = Literal["info", "warning", "error"]
ZWSP = "\u200b"   # a break opportunity Qt's word wrap honours inside long paths


def notify(text: str, level: Level = "error") -> str:
    """Show ``text`` as a napari notification of ``level``; returns it for a status label."""
    from napari.utils import notifications

    {"info": notifications.show_info, "warning": notifications.show_warning,
     "error": notifications.show_error}[level](text)
    return text


def breakable(text: str) -> str:
    """``text`` with break opportunities after path separators and in long runs of
    characters, so that word wrap never has to cut a path."""
    text = re.sub(r"([/\\])(?=\S)", rf"\1{ZWSP}", text)
    return re.sub(r"(\S{40})(?=\S)", rf"\1{ZWSP}", text)


def plain(text: str) -> str:
    """The message as written (without the break opportunities)."""
    return text.replace(ZWSP, "")


def wrap_label(label: Any) -> Any:
    """Make a magicgui ``Label`` wrap its text and never ask its dock for more width."""
    from qtpy.QtWidgets import QSizePolicy

    native = label.native
    native.setWordWrap(True)
    policy = QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
    policy.setHeightForWidth(True)
    native.setSizePolicy(policy)
    # an explicit minimum: a wrapped label's own minimum is its height at 0 px width,
    # which would stretch the window (its real height comes from height-for-width)
    native.setMinimumSize(50, native.fontMetrics().height())
    return label
