"""The histogram of a run's linked step lengths, under the Track widget's readout.

Users set LAP's link distance (and judge any tracker's) from exactly this picture: where
the steps a run linked lie, and whether the distance the run used cuts their tail.  The
numbers come from :func:`step_lengths` and :func:`reference_lines` (no Qt, tested alone);
the widget only draws them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from magicgui.widgets import Container

from ..analysis import motility
from ..core.data import Tracks
from ..core.results import TrackingResult


def step_lengths(tracks: Tracks) -> np.ndarray:
    """Length of every step a track makes between consecutive frames (px); steps across
    a gap are left out (they span several frames)."""
    return motility.step_lengths(tracks.track_id, tracks.frame, tracks.coords)[0]


def reference_lines(result: TrackingResult) -> dict[str, float]:
    """The distances the run itself used, to draw over its steps: LAP's (and trackpy's)
    link distance, and LAP's gap-closing distance."""
    info = result.info
    out = {}
    for key, name in (("max_link_distance", "link distance"), ("search_range", "search range"),
                      ("gap_closing_distance", "gap distance")):
        value = info.get(key)
        if isinstance(value, (int, float)) and value > 0:
            out[name] = float(value)
    return out


class StepHistogram(Container):
    """A small matplotlib histogram: the run's step lengths, their median and 99.5 %
    quantile, and the distances the run used."""

    def __init__(self, **kwargs: Any):
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        super().__init__(labels=False, **kwargs)
        self.figure = Figure(figsize=(3.6, 1.8), dpi=90)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(150)
        self.canvas.setToolTip("lengths of the steps this run linked between consecutive "
                               "frames; lines: the distances it used")
        self.native.layout().addWidget(self.canvas)
        self.lengths = np.zeros(0)
        self.canvas.setVisible(False)     # an empty white plot until a run has steps

    def draw(self, label: str, result: TrackingResult | None) -> None:
        """Draw ``result``'s steps (nothing for None)."""
        self.figure.clear()
        self.lengths = np.zeros(0) if result is None else step_lengths(result.tracks)
        if result is not None and len(self.lengths):
            ax = self.figure.add_subplot(111)
            ax.hist(self.lengths, bins=min(60, max(10, len(self.lengths) // 20)),
                    color="0.55")
            q50, q995 = np.quantile(self.lengths, [0.5, 0.995])
            for value, style in ((q50, ":"), (q995, "--")):
                ax.axvline(value, color="0.2", linestyle=style, linewidth=1)
            for (name, value), colour in zip(reference_lines(result).items(),
                                             ("tab:red", "tab:orange", "tab:purple"),
                                             strict=False):
                ax.axvline(value, color=colour, linewidth=1.2, label=f"{name} {value:.3g}")
            ax.set_xlabel("step length (px)", fontsize=8)
            ax.set_title(f"{label}: steps, median {q50:.3g}, 99.5 % {q995:.3g} px",
                         fontsize=8)
            ax.tick_params(labelsize=7)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7, frameon=False)
            self.figure.tight_layout()
        self.canvas.setVisible(bool(len(self.lengths)))
        self.canvas.draw_idle()
