"""The window selection (mht/select.py): relaxation first, integer program when it is
fractional, branch and bound on small clusters; every path against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from napari_mpt.trackers.mht.select import Owner, SelectStats, select


def _brute(owners: list[Owner]) -> float:
    """Best total over every choice (each owner one option or, if optional, none)."""
    ranges = [range(-1 if not o.required else 0, len(o.options)) for o in owners]
    best = -np.inf
    for ch in itertools.product(*ranges):
        used: list[int] = []
        score = 0.0
        for o, c in zip(owners, ch, strict=True):
            if c >= 0:
                score += o.options[c][0]
                used.extend(o.options[c][1])
        if len(used) == len(set(used)):
            best = max(best, score)
    return float(best)


def _check(owners: list[Owner], total: float) -> float:
    """The choices are legal and add up to ``total``; returns their score."""
    used: list[int] = []
    score = 0.0
    for o in owners:
        assert o.choice >= 0 or not o.required
        if o.choice >= 0:
            score += o.options[o.choice][0]
            used.extend(o.options[o.choice][1])
    assert len(used) == len(set(used))
    assert score == pytest.approx(total, abs=1e-12)
    return score


def test_fractional_relaxation_goes_to_the_integer_program():
    """An odd cycle: three new tracks, each pair sharing a detection.  The relaxation takes
    each at 1/2 (1.5 > any hypothesis), so it proves nothing and HiGHS's milp decides: 1."""
    owners = [Owner(False, [(1.0, (1, 2))]), Owner(False, [(1.0, (2, 3))]),
              Owner(False, [(1.0, (3, 1))])]
    stats = SelectStats()
    total = select(owners, 1, stats)  # a one-node search budget: straight to HiGHS
    assert total == pytest.approx(1.0)
    assert sum(o.choice >= 0 for o in owners) == 1
    assert (stats.milp, stats.lp, stats.exact, stats.bounded) == (1, 0, 1, 0)


def test_integral_relaxation_is_taken_as_exact():
    """13 tracks, each preferring its own detection (5), and 12 new tracks on two neighbouring
    detections each (1): a cluster too large for the branch and bound, whose relaxation is
    integral (every track takes its detection, no new track), so no integer program runs."""
    owners = [Owner(True, [(5.0, (i,)), (0.0, ())]) for i in range(13)]
    owners += [Owner(False, [(1.0, (i, i + 1))]) for i in range(12)]
    stats = SelectStats()
    total = select(owners, 2000, stats)
    assert total == pytest.approx(65.0)
    assert [o.choice for o in owners] == [0] * 13 + [-1] * 12
    assert (stats.milp, stats.lp, stats.exact, stats.largest) == (1, 1, 1, 25)


@pytest.mark.parametrize("budget", [1, 200])
def test_selection_equals_brute_force_on_random_clusters(budget):
    """Random set packings (tracks with an empty all-miss option, optional new tracks),
    through HiGHS (budget 1) and through the branch and bound (200)."""
    rng = np.random.default_rng(7)
    relaxed = milp = fixed = 0
    for _ in range(60):
        owners = []
        for i in range(int(rng.integers(2, 7))):
            required = bool(i < 3 and rng.random() < 0.7)
            opts = [(float(rng.normal(2.0, 2.0)),
                     tuple(sorted(set(rng.integers(0, 8, int(rng.integers(1, 4))).tolist()))))
                    for _ in range(int(rng.integers(1, 5)))]
            if required:
                opts.append((float(rng.normal(-1.0, 1.0)), ()))
            else:
                opts = [o for o in opts if o[0] > 0] or [(0.5, (int(rng.integers(0, 8)),))]
            owners.append(Owner(required, opts))
        stats = SelectStats()
        total = select(owners, budget, stats)
        assert _check(owners, total) == pytest.approx(_brute(owners), abs=1e-9)
        assert stats.bounded == 0
        relaxed += stats.lp
        milp += stats.milp - stats.lp
        fixed += stats.fixed
    if budget == 1:  # both HiGHS paths were exercised, and reduced-cost fixing
        assert relaxed > 0 and milp > 0 and fixed > 0


def test_enumerating_small_clusters_picks_what_the_search_picks_ties_included():
    """Random clusters of 2 to 4 owners with integer scores (many exact ties): the
    vectorised enumeration returns the branch and bound's own choice, option by option,
    and the brute force's best score."""
    from napari_mpt.trackers.mht.select import Options, _cluster_masks, _enumerated, _search, clusters

    rng = np.random.default_rng(4)
    compared = 0
    for _ in range(300):
        owners = []
        for _ in range(int(rng.integers(2, 5))):
            opts = [(float(rng.integers(-2, 4)), tuple(sorted(set(
                rng.integers(0, 5, int(rng.integers(0, 3))).tolist()))))
                for _ in range(int(rng.integers(1, 4)))]
            required = bool(rng.random() < 0.5)
            if required:
                opts.append((float(rng.integers(-3, 1)), ()))
            opts.sort(key=lambda o: -o[0])
            owners.append(Owner(required, opts))
        flat = Options.of(owners)
        for g in clusters(flat):
            if len(g) < 2:
                continue
            got = _enumerated(flat, [g], 64).get(int(g[0]))
            if got is None:
                continue
            best, choice, exact, _ = _search(flat, g, _cluster_masks(flat, [g]), 10**6)
            assert exact and got[1] == choice and got[0] == best
            assert best == _brute([owners[i] for i in g.tolist()])
            compared += 1
    assert compared > 150
