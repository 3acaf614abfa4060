"""Kalman filter arithmetic, batched over hypotheses and tracks, with exact FLOP counts.

Why a shared schedule works: every track starts with the same covariance ``P0`` and gets
exactly one measurement per frame, so ``P_t``, ``S_t``, ``S_t^-1`` and the gain ``K_t``
depend on ``t`` only, never on which detection a hypothesis assigned.  The exact MHT
computes them once per frame for all hypotheses; only the means differ.  The exhaustive
MHT instead runs :func:`kalman_step` (state and covariance) for every track of every
hypothesis, as a tracker that keeps one independent filter per hypothesis would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...core.flops import FlopCounter, inverse, matmul
from .motion import MotionModel


def inv(a: np.ndarray) -> np.ndarray:
    """Closed-form inverse of ``(..., d, d)`` matrices, d <= 3 (FLOPs: :func:`flops.inverse`).

    The adjugate formula keeps the FLOP count exact and is faster than LAPACK for the tiny
    innovation covariances used here.
    """
    d = a.shape[-1]
    if a.ndim == 2 and d in (2, 3):
        return _inv_one(a)
    if d == 1:
        return 1.0 / a
    if d == 2:
        r = 1.0 / (a[..., 0, 0] * a[..., 1, 1] - a[..., 0, 1] * a[..., 1, 0])
        out = np.empty_like(a)
        out[..., 0, 0] = a[..., 1, 1] * r
        out[..., 0, 1] = -a[..., 0, 1] * r
        out[..., 1, 0] = -a[..., 1, 0] * r
        out[..., 1, 1] = a[..., 0, 0] * r
        return out
    if d == 3:
        c = np.empty_like(a)
        for i in range(3):
            for j in range(3):
                i1, i2 = (i + 1) % 3, (i + 2) % 3
                j1, j2 = (j + 1) % 3, (j + 2) % 3
                # cofactor C_ij via cyclic indices (sign included); adjugate is C^T
                c[..., j, i] = a[..., i1, j1] * a[..., i2, j2] - a[..., i1, j2] * a[..., i2, j1]
        det = (a[..., 0, 0] * c[..., 0, 0] + a[..., 0, 1] * c[..., 1, 0]
               + a[..., 0, 2] * c[..., 2, 0])
        return c * (1.0 / det)[..., None, None]
    raise ValueError(f"closed-form inverse supports d <= 3, got {d}")


def _inv_one(a: np.ndarray) -> np.ndarray:
    """:func:`inv` of one 2x2 or 3x3 matrix in Python floats: the same IEEE operations in
    the same order as the batched formula (so bit-identical results), without the ~20
    numpy calls on one-element views that made it the costliest part of a covariance step
    (5 us instead of 1 us)."""
    if a.shape[-1] == 2:
        (a00, a01), (a10, a11) = a.tolist()
        r = 1.0 / (a00 * a11 - a01 * a10)
        return np.array([[a11 * r, -a01 * r], [-a10 * r, a00 * r]])
    m = a.tolist()
    c = [[0.0] * 3 for _ in range(3)]
    for i in range(3):
        for j in range(3):
            i1, i2 = (i + 1) % 3, (i + 2) % 3
            j1, j2 = (j + 1) % 3, (j + 2) % 3
            c[j][i] = m[i1][j1] * m[i2][j2] - m[i1][j2] * m[i2][j1]
    r = 1.0 / (m[0][0] * c[0][0] + m[0][1] * c[1][0] + m[0][2] * c[2][0])
    return np.array([[v * r for v in row] for row in c])


def det(a: np.ndarray) -> np.ndarray:
    """Closed-form determinant of ``(..., d, d)`` matrices, d <= 3 (FLOPs: :func:`det_flops`)."""
    d = a.shape[-1]
    if d == 1:
        return a[..., 0, 0].copy()
    if d == 2:
        return a[..., 0, 0] * a[..., 1, 1] - a[..., 0, 1] * a[..., 1, 0]
    if d == 3:
        return (a[..., 0, 0] * (a[..., 1, 1] * a[..., 2, 2] - a[..., 1, 2] * a[..., 2, 1])
                - a[..., 0, 1] * (a[..., 1, 0] * a[..., 2, 2] - a[..., 1, 2] * a[..., 2, 0])
                + a[..., 0, 2] * (a[..., 1, 0] * a[..., 2, 1] - a[..., 1, 1] * a[..., 2, 0]))
    raise ValueError(f"closed-form determinant supports d <= 3, got {d}")


def det_flops(d: int) -> int:
    """FLOPs of :func:`det`: 2x2 is 2 multiplies and a subtraction; 3x3 three 2x2 minors
    (9), three multiplies and two additions (5)."""
    return {1: 0, 2: 3, 3: 14}[d]


def gauss_jordan_inverse(a: np.ndarray) -> tuple[np.ndarray, int]:
    """Inverse of a symmetric positive semi-definite ``(s, s)`` matrix and its FLOPs.

    Gauss-Jordan without pivoting (fine for SPD).  A zero pivot whose row is zero (the
    velocity block of a constant-velocity model started with ``velocity_prior = 0``) is
    skipped, giving the pseudo-inverse on that block.  Used once per frame by the
    smoother, so plain loops keep the count exact at no real cost.
    """
    n = a.shape[0]
    aug = np.hstack([a.astype(np.float64), np.eye(n)])
    flops = 0
    scale = float(np.abs(a).max()) or 1.0
    for k in range(n):
        piv = aug[k, k]
        if abs(piv) <= 1e-14 * scale:
            aug[k, :] = 0.0
            continue
        aug[k] *= 1.0 / piv
        flops += 1 + 2 * n
        for i in range(n):
            if i != k:
                aug[i] -= aug[i, k] * aug[k]
                flops += 4 * n
    return aug[:, n:], flops


def step_covariance_flops(s: int, d: int) -> int:
    """FLOPs of one covariance predict/update, as written in :func:`covariance_step`."""
    return (2 * matmul(s, s, s) + s * s          # P' = F P F^T + Q
            + matmul(d, s, s) + matmul(d, s, d) + d * d  # S = H P' H^T + R
            + inverse(d)                          # S^-1
            + matmul(s, s, d) + matmul(s, d, d)   # K = P' H^T S^-1
            + matmul(s, d, s) + s * s + matmul(s, s, s))  # P = (I - K H) P'


def covariance_step(m: MotionModel, P: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One predict/update of covariance ``P`` (..., s, s): ``(P_new, S^-1, K, P_pred)``."""
    Pp = m.F @ P @ m.FT + m.Q
    S = m.H @ Pp @ m.HT + m.R
    Sinv = inv(S)
    K = Pp @ m.HT @ Sinv
    P_new = (m.I - K @ m.H) @ Pp
    return P_new, Sinv, K, Pp


def kalman_step_flops(s: int, d: int) -> int:
    """FLOPs of :func:`kalman_step` for one track: covariance, mean and Mahalanobis."""
    return (step_covariance_flops(s, d)
            + matmul(s, s, 1)                     # x' = F x
            + matmul(d, s, 1) + d                 # y = z - H x'
            + matmul(s, d, 1) + s                 # x = x' + K y
            + matmul(1, d, d) + matmul(1, d, 1))  # d2 = y^T S^-1 y


def kalman_step(m: MotionModel, x: np.ndarray, P: np.ndarray, z: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A full, independent Kalman predict+update of states ``x`` (..., s) with their own
    covariances ``P`` (..., s, s) and measurements ``z`` (..., d).

    Returns ``(x_new, P_new, d2)`` with ``d2`` the squared Mahalanobis distance of the
    innovation.  Written like a textbook filter (generic products) on purpose: this is the
    per-hypothesis cost the paper's complexity analysis assumes.
    """
    P_new, Sinv, K, _ = covariance_step(m, P)
    xp = x @ m.F.T
    y = z - xp @ m.H.T
    x_new = xp + (K @ y[..., None])[..., 0]
    d2 = ((y[..., None, :] @ Sinv) @ y[..., :, None])[..., 0, 0]
    return x_new, P_new, d2


@dataclass
class Schedule:
    """Covariances, inverse innovation covariances and gains shared by every track.

    ``Sinv[t]`` and ``K[t]`` are those of the step into frame ``t`` (t >= 1); ``P[t]`` is
    the filtered covariance after frame ``t``.  Extended lazily, frame by frame, and each
    frame's work is counted once.
    """

    model: MotionModel
    counter: FlopCounter
    P: list[np.ndarray] = field(default_factory=list)
    Sinv: list[np.ndarray] = field(default_factory=list)
    K: list[np.ndarray] = field(default_factory=list)
    Ppred: list[np.ndarray] = field(default_factory=list)  # F P F^T + Q into frame t

    def __post_init__(self) -> None:
        self.P.append(self.model.P0)
        self.Sinv.append(np.full((self.model.ndim,) * 2, np.nan))
        self.K.append(np.full((self.model.state_dim, self.model.ndim), np.nan))
        self.Ppred.append(np.full_like(self.model.P0, np.nan))

    def upto(self, t: int) -> None:
        m = self.model
        if len(self.P) > t:
            return
        flops = step_covariance_flops(m.state_dim, m.ndim)
        while len(self.P) <= t:
            P_new, Sinv, K, Pp = covariance_step(m, self.P[-1])
            self.counter.add(flops)
            self.Ppred.append(Pp)
            self.P.append(P_new)
            self.Sinv.append(Sinv)
            self.K.append(K)
