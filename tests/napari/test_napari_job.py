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


def _run(time_left, clock, start_s, end_s, until_s, step_s=0.5):
    """Reports of a run whose work starts at ``start_s`` and ends at ``end_s`` at an even
    pace (after a set-up without reports), up to ``until_s``."""
    t = start_s
    while t <= until_s:
        clock.t = t
        time_left.report(round(1000 * (t - start_s) / (end_s - start_s)), 1000)
        t += step_s


@pytest.mark.parametrize(("start_s", "end_s", "early_s", "later_s"), [
    (5.0, 47.0, 6.0, 10.0),      # issue 25: "about 289 s left" at 6 s of a 47 s run
    (37.0, 173.0, 42.0, 50.0),   # and "1373 s left" at 42 s of a 173 s run
])
def test_time_left_comes_from_the_work_done_not_the_set_up(start_s, end_s, early_s, later_s):
    from napari_mpt.napari.job import TimeLeft

    clock = Clock()
    time_left = TimeLeft(clock=clock)
    _run(time_left, clock, start_s, end_s, early_s)
    assert time_left.seconds() is None                 # too little done to tell: "estimating"
    _run(time_left, clock, clock.t + 0.5, end_s, later_s)
    left = time_left.seconds()
    assert left == pytest.approx(end_s - clock.t, rel=0.05)


def test_time_left_follows_a_change_of_pace_and_counts_down():
    from napari_mpt.napari.job import TimeLeft

    clock = Clock()
    time_left = TimeLeft(clock=clock)
    for i in range(41):                 # 0 .. 20 s: 1 % per second; then 4 % per second
        clock.t = i * 0.5
        time_left.report(i * 5, 1000)
    for i in range(1, 21):
        clock.t = 20 + i * 0.5
        time_left.report(200 + i * 20, 1000)
    # at 30 s, 60 % done at 4 %/s: 10 s left (the whole run's average would say 20 s)
    assert time_left.seconds() == pytest.approx(10.0, rel=0.05)
    clock.t += 3.0                      # no report for 3 s: the estimate counts down
    assert time_left.seconds() == pytest.approx(7.0, rel=0.05)
    time_left.report(0, 50)             # a new stage of work: estimating again
    assert time_left.seconds() is None
