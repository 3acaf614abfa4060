"""The detector's one Levenberg-Marquardt loop: many small least-squares problems (one
spot's window, or one cluster of overlapping spots) solved side by side in numpy.

scipy's ``least_squares`` solves one problem per call (about a millisecond each), and a
frame holds hundreds to thousands of spots, so the problems are batched: each line of
``theta`` is one problem, the normal equations of all lines are formed and solved at
once, and a line leaves the batch when it has converged.  The single-spot fits
(:mod:`napari_mpt.detection.fit`) and the joint fits of
overlapping spots (:mod:`napari_mpt.detection.multi`) are two models of this loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

STEP_TOL = 1e-2
"""A line stops when no parameter moves by more than this in its ``scale`` (positions in
px, intensities relative to the starting amplitude): a hundredth of a pixel, ten times
below the localisation error at SNR 7; a noiseless spot still converges to 1e-3 px (the
last steps shrink quadratically), and 1e-3 would cost 10 % more time."""

COST_TOL = 1e-9
"""... or when a step changes its sum of squares by less than this fraction (at the
optimum a refused step would otherwise be retried with ever more damping)."""


class Problem(Protocol):
    """Sums of squares and normal equations of the lines still being fitted."""

    def residuals(self, theta: np.ndarray) -> np.ndarray:
        """Sum of squares of the weighted residuals ``(m,)`` at ``theta`` ``(m, P)``, one
        line per problem still in the batch."""

    def normal(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``J^T J`` ``(len(rows), P, P)`` and ``J^T r`` ``(len(rows), P)`` (``J`` the
        weighted Jacobian of the model, ``r`` the weighted residuals) at the ``theta`` of
        the last :meth:`residuals` call, for its lines ``rows``."""

    def keep(self, lines: np.ndarray) -> None:
        """Drop the lines where ``lines`` is False (they have converged)."""


def levenberg_marquardt(problem: Problem, theta: np.ndarray, scale: np.ndarray,
                        iterations: int, fixed: np.ndarray | None = None,
                        constrain: Callable[[np.ndarray], np.ndarray] | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Minimise every line's sum of squares from ``theta`` ``(n, P)``; returns the fitted
    parameters and sums of squares.

    A step solves ``(H + lambda diag H) step = J^T r``; it is taken where it lowers the
    sum of squares (lambda shrinks by 0.3), else refused (lambda grows tenfold).  A line
    stops after a taken step smaller than :data:`STEP_TOL` in units of ``scale`` ``(n,
    P)``, a step that changes its sum of squares by less than :data:`COST_TOL`, or
    lambda above 1e6.  ``fixed`` ``(n, P)`` holds parameters where True (padding);
    ``constrain`` maps trial parameters into their domain (e.g. a positive width).  Only
    the normal equations are kept per line, not the Jacobians.
    """
    theta = np.array(theta, dtype=np.float64)
    n, p = theta.shape
    out, cost_out = theta.copy(), np.empty(n)
    idx = np.arange(n)
    cost = problem.residuals(theta)
    h, grad = problem.normal(idx)
    lam = np.full(n, 1e-3)
    scale = np.asarray(scale, dtype=np.float64)
    free = None if fixed is None else ~np.asarray(fixed, dtype=bool)
    eye = np.eye(p)
    for _ in range(iterations):
        damp = lam[:, None] * np.einsum("npp->np", h) + 1e-12
        if free is not None:
            damp += ~free
        step = np.linalg.solve(h + damp[:, :, None] * eye, grad[..., None])[..., 0]
        if free is not None:
            step *= free
        trial = theta + step
        if constrain is not None:
            trial = constrain(trial)
        c_new = problem.residuals(trial)
        better = np.isfinite(c_new) & (c_new < cost)
        flat = np.abs(c_new - cost) <= COST_TOL * cost
        if better.any():
            rows = np.flatnonzero(better)
            theta[rows], cost[rows] = trial[rows], c_new[rows]
            h[rows], grad[rows] = problem.normal(rows)
        lam = np.where(better, lam * 0.3, lam * 10.0)
        moving = ~flat & np.where(better, np.abs(step / scale).max(axis=1) > STEP_TOL, lam < 1e6)
        if not moving.all():
            done = ~moving
            out[idx[done]], cost_out[idx[done]] = theta[done], cost[done]
            idx, theta, cost, h, grad, lam, scale = (idx[moving], theta[moving], cost[moving],
                                                     h[moving], grad[moving], lam[moving],
                                                     scale[moving])
            if free is not None:
                free = free[moving]
            problem.keep(moving)
        if not len(idx):
            break
    out[idx], cost_out[idx] = theta, cost
    return out, cost_out
