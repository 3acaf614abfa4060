"""Error rates without a truth: review a random sample of links, estimate every run's.

The population is every link any run made (:func:`~.agreement.link_support`), split into
cells by *which* runs made it (for two runs: A only, B only, both).  A cell is a stratum:
the review queue (:func:`review_order`) visits each cell in a random order and
interleaves the cells so that any prefix of the queue is a stratified random sample,
heavier where the runs disagree (a link that every run makes is rarely wrong; a contested
one is wrong for at least one of them).  The user says of each reviewed link whether it
is right; :func:`estimate_rates` turns the verdicts into each run's number of wrong
links, its error rate and its link Jaccard against the union, with 95 % intervals.

Why Bayesian per cell: within a cell the reviewed links are a simple random sample, so
the number of wrong links among the unreviewed ones follows a beta-binomial posterior
predictive (Jeffreys prior Beta(1/2, 1/2), whose intervals keep close to their nominal
coverage at small samples and rates near 0, where the normal interval fails).  Drawing
every cell's count jointly and summing per run gives intervals for any run-level number,
exact when everything is reviewed and as wide as the prior says when a cell has no
review yet.  The coverage is measured on simulations with a known truth
(``tests/evaluation/test_agreement.py``; the table in ``docs/guide/trust.md``).

What it cannot see: a true link that no run made is in no cell, so the Jaccard here is
against the union of the runs' links (a run's missed links are those another run found).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..core.errors import InputError
from .agreement import LinkSupport

CONTESTED_GUESS = 0.5
"""Guessed share of wrong links among links not every run makes (allocation only)."""
AGREED_GUESS = 0.05
"""... and among links every run makes."""
PRIOR = 0.5
"""Jeffreys prior Beta(PRIOR, PRIOR) on each cell's share of wrong links."""


def cells(support: LinkSupport) -> tuple[np.ndarray, np.ndarray]:
    """``(patterns, cell)``: the distinct made-by patterns (``(c, n_runs)`` booleans) and
    each link's cell index."""
    patterns, cell = np.unique(support.made_by, axis=0, return_inverse=True)
    return patterns, cell.reshape(-1)


def review_order(support: LinkSupport, seed: int = 0) -> np.ndarray:
    """The union's link indices in the order to review them.

    Within a cell the order is a random permutation, so the first ``m`` reviewed links of
    a cell are a simple random sample of it.  Cells are interleaved by Neyman allocation
    on a guess of their error share (``CONTESTED_GUESS`` where the runs disagree,
    ``AGREED_GUESS`` where all agree): each next link comes from the cell furthest below
    its share of the sample so far.
    """
    patterns, cell = cells(support)
    rng = np.random.default_rng(seed)
    n_runs = support.made_by.shape[1]
    queues = [rng.permutation(np.flatnonzero(cell == c)) for c in range(len(patterns))]
    guess = np.where(patterns.sum(axis=1) == n_runs, AGREED_GUESS, CONTESTED_GUESS)
    sizes = np.array([len(q) for q in queues], dtype=np.float64)
    weight = sizes * np.sqrt(guess * (1 - guess))
    weight = weight / weight.sum() if weight.sum() else weight
    taken = np.zeros(len(queues), dtype=np.int64)
    out = np.empty(int(sizes.sum()), dtype=np.int64)
    for i in range(len(out)):
        open_ = taken < sizes
        deficit = np.where(open_, weight * (i + 1) - taken, -np.inf)
        c = int(np.argmax(deficit))
        out[i] = queues[c][taken[c]]
        taken[c] += 1
    return out


@dataclass(frozen=True)
class RunEstimate:
    """One run's estimated errors (``*_lo``, ``*_hi``: the 95 % interval).

    ``wrong``: its links a reviewer would call wrong; ``rate``: ``wrong`` over its links;
    ``missed``: right links of the union it does not make; ``jaccard``: TP / (TP + FP +
    missed) against the union; ``reviewed``: its links reviewed so far; ``exact``: every
    link that matters to it is reviewed (the interval is a point)."""

    links: int
    reviewed: int
    wrong: float
    wrong_lo: float
    wrong_hi: float
    rate: float
    rate_lo: float
    rate_hi: float
    missed: float
    missed_lo: float
    missed_hi: float
    jaccard: float
    jaccard_lo: float
    jaccard_hi: float
    exact: bool


def estimate_rates(support: LinkSupport, verdicts: Mapping[int, bool], draws: int = 4000,
                   seed: int = 0) -> list[RunEstimate]:
    """Each run's errors from ``verdicts`` (union link index -> the link is right), which
    must come from a prefix of :func:`review_order` (or any per-cell random sample)."""
    patterns, cell = cells(support)
    n_cells = len(patterns)
    size = np.bincount(cell, minlength=n_cells)
    idx = np.fromiter(verdicts.keys(), dtype=np.int64, count=len(verdicts))
    ok = np.fromiter(verdicts.values(), dtype=bool, count=len(verdicts))
    if len(idx) and (idx.min() < 0 or idx.max() >= len(cell)):
        raise InputError("verdicts", f"a reviewed link index is outside the {len(cell)} links "
                         "of these runs")
    reviewed = np.bincount(cell[idx], minlength=n_cells)
    wrong_seen = np.bincount(cell[idx], weights=~ok, minlength=n_cells).astype(np.int64)
    rng = np.random.default_rng(seed)
    rest = size - reviewed
    # joint posterior draws of each cell's wrong count among its unreviewed links
    p = rng.beta(PRIOR + wrong_seen, PRIOR + reviewed - wrong_seen, size=(draws, n_cells))
    wrong = wrong_seen + rng.binomial(np.broadcast_to(rest, p.shape), p)        # (draws, c)
    mean_wrong = wrong_seen + rest * (PRIOR + wrong_seen) / (2 * PRIOR + reviewed)
    out = []
    for r in range(patterns.shape[1]):
        mine = patterns[:, r]
        links = int(size[mine].sum())
        w = wrong[:, mine].sum(axis=1).astype(np.float64)
        missed = (size[~mine] - wrong[:, ~mine]).sum(axis=1).astype(np.float64)
        tp = links - w
        denom = tp + w + missed
        jc = np.divide(tp, denom, out=np.ones_like(tp), where=denom > 0)
        w_mean = float(mean_wrong[mine].sum())
        missed_mean = float((size[~mine] - mean_wrong[~mine]).sum())
        (w_lo, w_hi), (m_lo, m_hi), (j_lo, j_hi) = (
            np.percentile(x, [2.5, 97.5]) for x in (w, missed, jc))
        d = links + missed_mean
        out.append(RunEstimate(
            links=links, reviewed=int(reviewed[mine].sum()),
            wrong=w_mean, wrong_lo=float(w_lo), wrong_hi=float(w_hi),
            rate=w_mean / links if links else 0.0,
            rate_lo=float(w_lo) / links if links else 0.0,
            rate_hi=float(w_hi) / links if links else 0.0,
            missed=missed_mean, missed_lo=float(m_lo), missed_hi=float(m_hi),
            jaccard=(links - w_mean) / d if d else 1.0,
            jaccard_lo=float(j_lo), jaccard_hi=float(j_hi),
            exact=bool((rest == 0).all())))
    return out
