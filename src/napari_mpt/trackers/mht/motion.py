"""Motion models as data: the matrices of a linear-Gaussian state-space model, and the
bank of them a switching track is scored with.

``constant-velocity`` is the paper's filter (section III-B): state ``(pos, vel)``,
``x_{t+1} = F x_t + eta``, ``z = H x + nu``.  The paper writes ``eta ~ N(0, eta'^2 I_2)``,
a 2-D noise on a 4-D state; we let it act on the position, so that with no velocity noise
the velocity is a constant drift and the model is exactly the simulator's eq. 2 with
``delta`` as the velocity; ``velocity_noise`` (default estimated, 0 in the paper) lets the
velocity change a little every frame (``Q = diag(eta'^2 I, q_v^2 I)``), which directed
phases of real particles need.  ``random-walk`` drops the velocity: ``x_{t+1} = x_t +
eta``, the Brownian model with no drift.  Both start from the first detection with
covariance ``diag(nu'^2, v0^2)`` (``v0`` = ``velocity_prior``).

``switching`` (:class:`MotionBank`): a track is, frame by frame, either Brownian or
directed, and switches between the two as a Markov chain: it leaves a mode of long-run
share s with probability ``2 q (1 - s)`` (``directed_share``, ``switch_probability``).
It is scored with a bank of filters, one per mode, each run on the track's own detections
(a random walk and a constant velocity filter, each with its own covariance), and a
weight per mode: the chain's prediction of the weights, then Bayes' rule with each
filter's likelihood of the detection (the forward recursion of a hidden Markov model whose
emissions are the filters' innovations).  The track's score adds the log of the weighted
likelihood; its position is the weighted mean of the filters'.  What it leaves out: the
filters do not mix their states at a switch (an interacting multiple model filter would);
each runs on every detection, so the directed filter knows the velocity when a directed
phase starts.  Why this one: with unmixed filters each filter's covariance depends only on
the track's pattern of detections and misses, so the MHT's shared covariance rows
(:mod:`.nodes`) still work and the search stays exact within its gates.
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


PAPER_PROCESS_NOISE = 1.5
PAPER_MEASUREMENT_NOISE = 1.0
PAPER_VELOCITY_PRIOR = 1.5
"""The paper's priors (eta' = 1.5, nu' = 1, v0 = 1.5): what a noise left to "estimate"
(None) becomes when nothing was estimated (the trackers estimate first)."""


def random_walk(eta: float, nu: float, ndim: int) -> MotionModel:
    eye = np.eye(ndim)
    return MotionModel("random-walk", eye.copy(), eye.copy(), eta**2 * eye, nu**2 * eye,
                       nu**2 * eye, velocity=False)


def constant_velocity(eta: float, nu: float, v0: float, qv: float, ndim: int) -> MotionModel:
    eye = np.eye(ndim)
    zero = np.zeros((ndim, ndim))
    F = np.block([[eye, eye], [zero, eye]])
    H = np.hstack([eye, zero])
    Q = np.block([[eta**2 * eye, zero], [zero, qv**2 * eye]])
    P0 = np.block([[nu**2 * eye, zero], [zero, v0**2 * eye]])
    return MotionModel("constant-velocity", F, H, Q, nu**2 * eye, P0, velocity=True)


def _values(params: MHTParams) -> tuple[float, float, float, float]:
    eta = PAPER_PROCESS_NOISE if params.process_noise is None else params.process_noise
    nu = PAPER_MEASUREMENT_NOISE if params.measurement_noise is None else params.measurement_noise
    v0 = PAPER_VELOCITY_PRIOR if params.velocity_prior is None else params.velocity_prior
    qv = 0.0 if params.velocity_noise is None else params.velocity_noise
    return eta, nu, v0, qv


def motion_model(params: MHTParams, ndim: int) -> MotionModel:
    """The single model ``params.motion_model`` (random-walk or constant-velocity) for
    ``ndim``-D data.

    A value left to "estimate" (None) has no data to be estimated from here: the paper's
    values are used.  The trackers fill in estimates before they call this
    (:func:`napari_mpt.trackers.mht.tracker.resolve`).
    """
    eta, nu, v0, qv = _values(params)
    if params.motion_model == "random-walk":
        return random_walk(eta, nu, ndim)
    if params.motion_model == "constant-velocity":
        return constant_velocity(eta, nu, v0, qv, ndim)
    raise ValueError(f"{params.motion_model!r} is not a single motion model")


@dataclass(frozen=True, eq=False)
class MotionBank:
    """The modes a track is scored with: one model per mode, the log of the Markov
    chain's transition matrix ``(M, M)`` (row: from) and of the first frame's weights.
    One mode is an ordinary Kalman filter."""

    models: tuple[MotionModel, ...]
    log_transition: np.ndarray
    log_initial: np.ndarray

    @property
    def ndim(self) -> int:
        return self.models[0].ndim

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(m.state_dim for m in self.models)

    @property
    def name(self) -> str:
        return "switching" if len(self.models) > 1 else self.models[0].name


def switching_matrices(share: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Log transition matrix and log initial weights of the modes (Brownian, directed):
    a mode of long-run share s is left with probability ``2 q (1 - s)``."""
    up, down = 2.0 * q * share, 2.0 * q * (1.0 - share)
    T = np.array([[1.0 - up, up], [down, 1.0 - down]])
    with np.errstate(divide="ignore"):
        return np.log(T), np.log(np.array([1.0 - share, share]))


def motion_bank(params: MHTParams, ndim: int) -> MotionBank:
    """The bank of ``params.motion_model``: one model, or for ``switching`` a random walk
    and a constant velocity (module docstring), with the paper's values where nothing
    was estimated and a directed share of 1/2, switch probability 0.1."""
    if params.motion_model != "switching":
        return MotionBank((motion_model(params, ndim),), np.zeros((1, 1)), np.zeros(1))
    eta, nu, v0, qv = _values(params)
    share = 0.5 if params.directed_share is None else params.directed_share
    q = 0.1 if params.switch_probability is None else params.switch_probability
    T, w0 = switching_matrices(share, q)
    return MotionBank((random_walk(eta, nu, ndim), constant_velocity(eta, nu, v0, qv, ndim)),
                      T, w0)
