"""Motion models as data: the matrices of a linear-Gaussian state-space model.

``constant-velocity`` is the paper's filter (section III-B): state ``(pos, vel)``,
``x_{t+1} = F x_t + eta``, ``z = H x + nu``.  The paper writes ``eta ~ N(0, eta'^2 I_2)``,
a 2-D noise on a 4-D state; we let it act on the position (``G = [I; 0]``), so that the
velocity is a constant drift and the model is exactly the simulator's eq. 2 with
``delta`` as the velocity.  ``random-walk`` drops the velocity: ``x_{t+1} = x_t + eta``,
the Brownian model with no drift.  Both start from the first detection with covariance
``diag(nu'^2, v0^2)`` (``v0`` = ``velocity_prior``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ...core.params import MHTParams


@dataclass(frozen=True, eq=False)
class MotionModel:
    """``F`` (s, s), ``H`` (D, s), ``Q`` (s, s), ``R`` (D, D), ``P0`` (s, s).

    ``velocity`` says the state is ``(pos, vel)`` with ``F = [[I, I], [0, I]]``, which the
    trackers exploit (prediction is ``D`` additions instead of a full matrix product).
    """

    name: str
    F: np.ndarray
    H: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    P0: np.ndarray
    velocity: bool

    @cached_property
    def ndim(self) -> int:
        return int(self.H.shape[0])

    @cached_property
    def state_dim(self) -> int:
        return int(self.F.shape[0])

    # F^T, H^T and I, made once: the exact search runs a covariance step per frame, where
    # building them again was a tenth of the step's time
    @cached_property
    def FT(self) -> np.ndarray:
        return self.F.T

    @cached_property
    def HT(self) -> np.ndarray:
        return self.H.T

    @cached_property
    def I(self) -> np.ndarray:  # noqa: E743 - the identity's usual name
        return np.eye(self.state_dim)

    def initial_states(self, z0: np.ndarray) -> np.ndarray:
        """States ``(n, s)`` started at the detections ``z0`` (n, D), velocity 0."""
        x = np.zeros((z0.shape[0], self.state_dim))
        x[:, : self.ndim] = z0
        return x

    def predict_mean(self, x: np.ndarray) -> np.ndarray:
        """``F x`` for states ``(..., s)``; D additions per state for constant velocity."""
        if not self.velocity:
            return x.copy()
        d = self.ndim
        out = x.copy()
        out[..., :d] += x[..., d:]
        return out

    def predict_mean_flops(self) -> int:
        return self.ndim if self.velocity else 0


def motion_model(params: MHTParams, ndim: int) -> MotionModel:
    """Build the model ``params.motion_model`` for ``ndim``-D data.

    A noise left to "estimate" (None) has no data to be estimated from here: the paper's
    values (eta' = 1.5, nu' = 1) are used.  The trackers fill in estimates before they
    call this (:func:`napari_mpt.trackers.mht.tracker.resolve`).
    """
    eye = np.eye(ndim)
    zero = np.zeros((ndim, ndim))
    eta = 1.5 if params.process_noise is None else params.process_noise
    nu = 1.0 if params.measurement_noise is None else params.measurement_noise
    q = eta**2
    r = nu**2 * eye
    if params.motion_model == "random-walk":
        return MotionModel("random-walk", eye.copy(), eye.copy(), q * eye, r,
                           nu**2 * eye, velocity=False)
    F = np.block([[eye, eye], [zero, eye]])
    H = np.hstack([eye, zero])
    Q = np.block([[q * eye, zero], [zero, zero]])
    P0 = np.block([[nu**2 * eye, zero],
                   [zero, params.velocity_prior**2 * eye]])
    return MotionModel("constant-velocity", F, H, Q, r, P0, velocity=True)
