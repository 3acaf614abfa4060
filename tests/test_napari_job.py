"""The progress throttle behind every widget's job (no Qt needed)."""

from __future__ import annotations

import pytest

pytest.importorskip("qtpy")

from napari_mpt.napari.job import Throttle


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_throttle_passes_a_new_percent_at_most_once_per_interval_and_always_the_last():
    clock = Clock()
    th = Throttle(0.25, clock)
    assert th.due(0, 1000)                 # the first report
    assert not th.due(5, 1000)             # same percent
    clock.t = 0.1
    assert not th.due(50, 1000)            # new percent, too soon
    clock.t = 0.3
    assert th.due(60, 1000)
    assert not th.due(60, 1000)
    clock.t = 0.31
    assert th.due(1000, 1000)              # the end is never held back
    assert not th.due(1000, 1000)


def test_throttle_lets_a_new_total_through():
    clock = Clock()
    th = Throttle(0.25, clock)
    assert th.due(0, 10)
    clock.t = 1.0
    assert th.due(0, 20)
