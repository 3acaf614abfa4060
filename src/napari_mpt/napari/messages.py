"""User-facing messages: a napari notification plus the widget's own status line."""

from __future__ import annotations

from typing import Literal

Level = Literal["info", "warning", "error"]


def notify(text: str, level: Level = "error") -> str:
    """Show ``text`` as a napari notification of ``level``; returns it for a status label."""
    from napari.utils import notifications

    {"info": notifications.show_info, "warning": notifications.show_warning,
     "error": notifications.show_error}[level](text)
    return text
