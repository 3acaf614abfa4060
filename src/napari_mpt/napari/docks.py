"""How the plugin's widgets sit in napari's dock area.

Docked one under another, five widgets with their natural heights made the window 1536 px
tall on a 1000 px screen, and a long layer name widened a combo box past its dock, cutting
off the controls at its right (issue 25).  So every dock widget of the plugin is a
:class:`ScrollingContainer`:

* its controls scroll vertically in a scroll area of its own (napari docks a magicgui
  widget's ``native``, the inner widget even of a ``scrollable`` container), so a dock
  shrinks to any height and never grows the window;
* its width is what its controls need at least, followed as they change, so no control is
  ever clipped; and no control asks for the width of its text: a combo box shows its
  choice elided, the whole text in its tooltip, and labels wrap (:func:`.messages.wrap_label`);
* once docked, it joins the plugin's docks already in that area as a tab, as napari's own
  ``napari -w PLUGIN`` docks a plugin's widgets (a tab can still be dragged out);
* :meth:`ScrollingContainer.reveal` scrolls the given controls into view (the Track
  widget's readout and run table after a run).
"""

from __future__ import annotations

import time
from typing import Any

from magicgui.widgets import Container
from qtpy.QtCore import QEvent, QObject, Qt, QTimer
from qtpy.QtWidgets import QComboBox, QDockWidget, QFrame, QMainWindow, QScrollArea, QToolTip

COMBO_CHARS = 12
"""Characters a combo box shows at least; a longer choice is elided (tooltip: all of it)."""
MIN_HEIGHT = 60
"""Least height of a dock's scroll area: a title's worth of rows, the rest scrolls."""
REVEAL_S = 1.0
"""How long :meth:`ScrollingContainer.reveal` keeps its widgets in view as the layout
settles."""


def combo_tooltip(combo: QComboBox) -> str:
    """What hovering a combo box says: its whole current choice, then its own tooltip."""
    text, tip = combo.currentText(), combo.toolTip()
    return "\n".join(t for t in (text, tip) if t)


def fit_combo(combo: QComboBox) -> None:
    """A combo box as wide as :data:`COMBO_CHARS` characters, not as its longest choice."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(COMBO_CHARS)


class _Events(QObject):
    """Qt events a scrolling dock reacts to (an event filter must be a QObject)."""

    def __init__(self, owner: ScrollingContainer):
        super().__init__()
        self.owner = owner

    def eventFilter(self, obj: Any, event: Any) -> bool:
        kind = event.type()
        if obj is self.owner.body.native and kind in (QEvent.Type.LayoutRequest,
                                                      QEvent.Type.Resize):
            if kind == QEvent.Type.LayoutRequest:
                self.owner.fit_width()
            if self.owner.revealing():          # once the body has laid itself out
                QTimer.singleShot(0, self.owner.keep_revealed)
        elif kind == QEvent.Type.ParentChange and obj is self.owner.native:
            QTimer.singleShot(0, self.owner.join_tabs)   # once napari has added the dock
        elif kind == QEvent.Type.ToolTip and isinstance(obj, QComboBox):
            QToolTip.showText(event.globalPos(), combo_tooltip(obj), obj)
            return True
        return False


class ScrollingContainer(Container):
    """A dock widget whose controls sit in ``body``, in a vertical scroll area."""

    def __init__(self, **kwargs: Any):
        super().__init__(labels=False)
        self.body = Container(**kwargs)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setMinimumHeight(MIN_HEIGHT)
        scroll.setWidget(self.body.native)
        # controls packed at the top; only a widget given room with grow() stretches
        self.body.native.layout().addStretch(0)
        self.native.layout().addWidget(scroll)
        self.native.layout().setContentsMargins(0, 0, 0, 0)
        self.scroll_area = scroll
        self._events = _Events(self)
        self.body.native.installEventFilter(self._events)
        self.native.installEventFilter(self._events)
        self._combos: set[int] = set()
        self._revealed: list[Any] = []
        self._reveal_until = 0.0

    def extend(self, widgets: Any) -> None:
        """Add ``widgets`` to the scrolling body."""
        self.body.extend(widgets)
        self.fit_width()

    def pin(self, widgets: Any) -> None:
        """Add ``widgets`` below the scroll area: always in view (a Run button)."""
        Container.extend(self, widgets)

    def add_native(self, widget: Any) -> None:
        """Add a plain Qt widget (a table, a plot) to the scrolling body; it gets the
        room the dock has to spare."""
        layout = self.body.native.layout()
        layout.insertWidget(layout.count() - 1, widget)
        self.grow(widget)
        self.fit_width()

    def grow(self, widget: Any) -> None:
        """Give ``widget`` (magicgui or Qt, in the body) the room the dock has to spare."""
        self.body.native.layout().setStretchFactor(getattr(widget, "native", widget), 1)

    def fit_width(self) -> None:
        """Keep every combo box short and the dock as wide as the controls need."""
        for combo in self.body.native.findChildren(QComboBox):
            if id(combo) not in self._combos:
                self._combos.add(id(combo))
                fit_combo(combo)
                combo.installEventFilter(self._events)
        bar = self.scroll_area.verticalScrollBar()
        extra = bar.sizeHint().width() if bar is not None else 0
        self.scroll_area.setMinimumWidth(self.body.native.minimumSizeHint().width() + extra)

    def reveal(self, *widgets: Any) -> None:
        """Scroll so that ``widgets`` (magicgui or Qt) are in view, the first one last:
        when they do not all fit, the first one shows."""
        self._revealed = [getattr(w, "native", w) for w in reversed(widgets)]
        self._reveal_until = time.monotonic() + REVEAL_S
        QTimer.singleShot(0, self.keep_revealed)

    def revealing(self) -> bool:
        return time.monotonic() <= self._reveal_until

    def keep_revealed(self) -> None:
        """Scroll to what :meth:`reveal` was given again while the layout settles (a
        wrapped label's height follows its width only after the layout ran)."""
        if not self.revealing():
            return
        for w in self._revealed:
            self.scroll_area.ensureWidgetVisible(w, 0, 0)

    def dock(self) -> QDockWidget | None:
        """The dock this widget sits in (None before it is docked)."""
        parent = self.native.parentWidget()
        while parent is not None and not isinstance(parent, QDockWidget):
            parent = parent.parentWidget()
        return parent

    def join_tabs(self) -> None:
        """Tab this widget's dock with the plugin's other docks in the same area."""
        dock = self.dock()
        window = dock.parentWidget() if dock is not None else None
        if dock is None or not isinstance(window, QMainWindow) or dock.isFloating():
            return
        area = window.dockWidgetArea(dock)
        ours = [d for d in window.findChildren(QDockWidget)
                if d is not dock and not d.isFloating() and not d.isHidden()
                and window.dockWidgetArea(d) == area
                and isinstance(getattr(d.widget(), "_magic_widget", None), ScrollingContainer)]
        if ours:
            window.tabifyDockWidget(ours[0], dock)
            dock.show()
            dock.raise_()

    def reset_choices(self, *args: Any) -> None:
        super().reset_choices(*args)
        self.body.reset_choices(*args)
