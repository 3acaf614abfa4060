"""The MHT with links a user decided (:class:`~napari_mpt.core.fixed.FixedLinks`).

* A forbidden link ``a -> b`` is refused before gating, as the hybrid refuses the links
  its scores prune (:attr:`.detection_level.Scene.allowed`): no branch whose latest
  detection is ``a`` takes ``b``.
* A pinned link adds :data:`PIN_BONUS` to the score of every branch that makes it
  (:attr:`.detection_level.Scene.bonus`).  A window's hypotheses differ by far less than
  that (a score is a sum of log-likelihood ratios of a window's detections), so every best
  hypothesis makes every pinned link the search can make, and among those it is the best
  of the model's own scores: the search, exact within its gates, stays exact on the
  hypotheses that hold the pins (``tests/trackers/mht/test_fixed_links.py`` against brute force).  A
  pin outside the gate, or one that earlier commits made impossible, is not made; the run
  reports how many were (``info["fixed"]``), and the bonuses are taken out of its score.
"""

from __future__ import annotations

import numpy as np

from ...core.fixed import FixedLinks

PIN_BONUS = 1e6
"""Score added per pinned link made (module docstring)."""


class FixedFilter:
    """``Scene.allowed`` and ``Scene.bonus`` for ``fixed`` links on the frames' ``rows``
    (each frame's table rows, in order)."""

    def __init__(self, fixed: FixedLinks, rows: list[np.ndarray], n_rows: int):
        self.width = n_rows + 1
        self.pinned, self.forbidden = fixed.keys(self.width)
        self.frame_of = np.full(n_rows, -1, dtype=np.int64)
        for t, r in enumerate(rows):
            self.frame_of[r] = t
        self.first = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
        self.flat_rows = (np.concatenate([np.asarray(r, dtype=np.int64) for r in rows])
                          if rows else np.zeros(0, dtype=np.int64))

    def allowed(self, last_row: np.ndarray, gap: np.ndarray, cand: np.ndarray) -> np.ndarray:
        """May the branch whose latest detection is ``last_row`` take candidate ``cand``
        (a position in the frame ``gap`` frames later)?"""
        t = self.frame_of[last_row] + gap
        row = self.flat_rows[self.first[t] + cand]
        return ~np.isin(last_row.astype(np.int64) * self.width + row, self.forbidden)

    def bonus(self, last_row: np.ndarray, row: np.ndarray) -> np.ndarray:
        """:data:`PIN_BONUS` for each link ``last_row -> row`` that is pinned, else 0."""
        key = last_row.astype(np.int64) * self.width + row
        return np.where(np.isin(key, self.pinned), PIN_BONUS, 0.0)
