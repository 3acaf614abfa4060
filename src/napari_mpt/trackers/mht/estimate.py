"""Parameters a user does not have to guess: the motion model and its noises, P_D,
lambda_FA and lambda_B, estimated from the detections themselves.

The estimator (documented here because the defaults of :class:`MHTParams` depend on it):

1. *A first linking pass and its step statistics* (:mod:`napari_mpt.trackers.steps`):
   mutual nearest neighbours of consecutive frames, the mixture of their step sizes, each
   link's probability of being a real step (not a link to a spurious detection), and the
   detection, clutter and birth rates.
2. *Chains*: runs of first-pass links, cut at links more likely spurious than real,
   pieces of 3 to :data:`MAX_CHAIN` points, at most :data:`MAX_CHAINS` of them.
3. *Motion models fitted by maximum likelihood* on the chains: each model scores a chain
   exactly as the MHT scores a track (the Kalman filters of :mod:`.motion`, the switching
   model's bank with its weights), and the free parameters maximise the summed
   log-likelihood (L-BFGS-B on their logarithms): random walk (eta', nu'), constant
   velocity (eta', nu', the velocity prior v0 and the velocity noise q_v) and switching
   (those four, the directed share and the switch probability).  Values the user gave are
   held fixed.  Started from the step mixture: the slow component's scale for the noises,
   the fast one's for the velocity.
4. *The model* (``motion_model="auto"``): the lowest Bayesian information criterion
   ``-2 ln L + k ln n`` (k free parameters, n steps); so a model with velocities is chosen
   only where it explains the steps better than its extra parameters cost: never on
   Brownian data, which a random walk fits as well with fewer parameters.  A model with
   velocities must also beat :data:`REFERENCE`, a random walk that switches between two
   noise levels (no velocity): real steps are heavy-tailed (particles of several sizes,
   stuck and free phases, localisation errors of several sizes), and without that
   reference the switching model wins on them only because its directed mode is the one
   wide component on offer (trackpy's bulk-water beads, Brownian: switch probability at
   its bound 0.5, velocity prior 0.002 px, the "directed" mode a memoryless wider random
   walk; the reference beats it by 730 in BIC; ``docs/tutorials/bulk-water.md``).  When
   the reference wins, the data show no velocity persistence beyond a spread of step
   sizes, and the tracker gets the random walk with the reference's fast noise and its
   measurement noise: one Gaussian fitted to two step scales has their root mean square
   and cuts the fast population's tracks at its longer steps (bulk-water crop: longest
   linked step 2.0 px against trackpy's 2.5 px, 531 tracks against 501), while the slow
   population's steps stay well inside the fast noise.

Fewer than :data:`MIN_STEPS` chained steps: the paper's values (eta' = 1.5, nu' = 1, v0 =
1.5, no velocity noise) and, for "auto", the random walk.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from .. import steps
from .kalman import covariance_step, det
from .motion import (
    PAPER_MEASUREMENT_NOISE,
    PAPER_PROCESS_NOISE,
    PAPER_VELOCITY_PRIOR,
    MotionBank,
    constant_velocity,
    random_walk,
    switching_matrices,
)

field_of_view = steps.field_of_view

MAX_CHAIN = 10
MAX_CHAINS = 400
MIN_STEPS = 20
MOTION_FIELDS: dict[str, tuple[str, ...]] = {
    "random-walk": ("process_noise", "measurement_noise"),
    "constant-velocity": ("process_noise", "measurement_noise", "velocity_prior",
                          "velocity_noise"),
    "switching": ("process_noise", "measurement_noise", "velocity_prior", "velocity_noise",
                  "directed_share", "switch_probability"),
}
"""The parameters each motion model has."""
REFERENCE = "two-speed random walk"
"""The velocity-free model a model with velocities must beat (module docstring, 4);
fitted for the choice only."""
FIELDS: dict[str, tuple[str, ...]] = {
    **MOTION_FIELDS, REFERENCE: ("process_noise", "fast_process_noise", "measurement_noise",
                                 "fast_share", "switch_probability")}
FLOOR = 1e-3
"""Smallest noise or velocity scale the fit tries (px): 0 would make a covariance
singular."""


def chain_loglik(bank: MotionBank, Z: np.ndarray, lengths: np.ndarray) -> float:
    """Summed log-likelihood of the chains ``Z`` (C, L, D), ``lengths`` points each,
    under ``bank``: every chain a track detected in every frame, scored as the MHT scores
    one (innovation likelihoods; with several modes, the weighted ones)."""
    C, L, d = Z.shape
    models = bank.models
    x = [m.initial_states(Z[:, 0]) for m in models]
    P = [m.P0 for m in models]
    lw = np.tile(bank.log_initial, (C, 1))
    total = 0.0
    const = 0.5 * d * math.log(2 * math.pi)
    for k in range(1, L):
        active = lengths > k
        ll = []
        for j, m in enumerate(models):
            P_new, Sinv, K, Pp = covariance_step(m, P[j])
            S = m.H @ Pp @ m.HT + m.R
            xp = m.predict_mean(x[j])
            y = Z[:, k] - xp[:, :d]
            d2 = np.einsum("ci,ij,cj->c", y, Sinv, y)
            ll.append(-0.5 * d2 - 0.5 * math.log(float(det(S))) - const)
            x[j] = xp + y @ K.T
            P[j] = P_new
        if len(models) == 1:
            step = ll[0]
        else:
            lwp = np.logaddexp.reduce(lw[:, :, None] + bank.log_transition[None], axis=1)
            each = lwp + np.column_stack(ll)
            step = np.logaddexp.reduce(each, axis=1)
            lw = np.where(active[:, None], each - step[:, None], lw)
        total += float(step[active].sum())
    return total


def _bank(model: str, v: dict[str, float], d: int) -> MotionBank:
    eta, nu = v["process_noise"], v["measurement_noise"]
    if model == REFERENCE:
        T, w0 = switching_matrices(v["fast_share"], v["switch_probability"])
        return MotionBank((random_walk(eta, nu, d), random_walk(v["fast_process_noise"], nu, d)),
                          T, w0)
    if model == "random-walk":
        return MotionBank((random_walk(eta, nu, d),), np.zeros((1, 1)), np.zeros(1))
    cv = constant_velocity(eta, nu, v["velocity_prior"], v["velocity_noise"], d)
    if model == "constant-velocity":
        return MotionBank((cv,), np.zeros((1, 1)), np.zeros(1))
    T, w0 = switching_matrices(v["directed_share"], v["switch_probability"])
    return MotionBank((random_walk(eta, nu, d), cv), T, w0)


# the fit's parameters live on a log (scales) or logit (shares, probabilities) axis
_LOGIT = {"directed_share": (0.0, 1.0), "fast_share": (0.0, 1.0),
          "switch_probability": (0.0, 0.5)}


def _to_axis(name: str, value: float) -> float:
    if name in _LOGIT:
        lo, hi = _LOGIT[name]
        u = min(max((value - lo) / (hi - lo), 1e-4), 1 - 1e-4)
        return math.log(u / (1 - u))
    return math.log(max(value, FLOOR))


def _from_axis(name: str, a: float) -> float:
    if name in _LOGIT:
        lo, hi = _LOGIT[name]
        return lo + (hi - lo) / (1.0 + math.exp(-a))
    return math.exp(a)


def fit_motion(model: str, Z: np.ndarray, lengths: np.ndarray, start: dict[str, float],
               fixed: dict[str, float]) -> tuple[dict[str, float], float]:
    """Maximum-likelihood values of ``model``'s parameters (those not in ``fixed``) on
    the chains, from ``start``; returns them (with the fixed ones) and the
    log-likelihood."""
    names = [n for n in FIELDS[model] if n not in fixed]
    d = Z.shape[2]

    def values(a: np.ndarray) -> dict[str, float]:
        return {**fixed, **{n: _from_axis(n, float(x)) for n, x in zip(names, a, strict=True)}}

    def cost(a: np.ndarray) -> float:
        ll = chain_loglik(_bank(model, values(a), d), Z, lengths)
        return -ll if math.isfinite(ll) else 1e300

    a0 = np.array([_to_axis(n, start[n]) for n in names])
    if not names:
        return values(a0), -cost(a0)
    bounds = [(-12.0, 12.0) if n in _LOGIT else (math.log(FLOOR), math.log(1e3)) for n in names]
    res = minimize(cost, a0, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": 40, "ftol": 1e-6})
    return values(res.x), -float(res.fun)


def _start(mix: steps.StepMixture | None, autocorr: float) -> dict[str, float]:
    """Starting values from the step mixture: the slow component's per-axis scale s
    (``eta^2 + 2 nu^2 = s^2``, split evenly), the fastest one's for the velocity."""
    if mix is None:
        return {"process_noise": PAPER_PROCESS_NOISE,
                "measurement_noise": PAPER_MEASUREMENT_NOISE,
                "velocity_prior": PAPER_VELOCITY_PRIOR, "velocity_noise": 0.1,
                "directed_share": 0.5, "switch_probability": 0.1,
                "fast_process_noise": 2.0 * PAPER_PROCESS_NOISE, "fast_share": 0.5}
    slow, fast = mix.scales[0], mix.scales[-1]
    share = mix.weights[-1] / sum(mix.weights) if len(mix.scales) > 1 else 0.5
    return {"process_noise": slow / math.sqrt(2), "measurement_noise": slow / 2,
            "velocity_prior": max(fast, FLOOR), "velocity_noise": max(0.1 * fast, FLOOR),
            "directed_share": min(max(share, 0.05), 0.95),
            "switch_probability": 0.1 if autocorr > 0 else 0.3,
            "fast_process_noise": max(fast, FLOOR), "fast_share": min(max(share, 0.05), 0.95)}


def estimate_parameters(frames: list[np.ndarray], motion_model: str = "auto",
                        fixed: dict[str, float] | None = None,
                        first: steps.FirstPass | None = None) -> dict[str, Any]:
    """Estimates for every frame's ``(n_t, D)`` detections (empty frames included, in
    order); see the module docstring.  ``motion_model``: the model to fit, or "auto";
    ``fixed``: parameter values the user gave (held in the fit); ``first``: another
    first linking pass than mutual nearest neighbours (:func:`.steps.first_pass_of`).
    Returns the model, its parameters, the detection rates and the statistics they came
    from."""
    fixed = dict(fixed or {})
    fp = steps.first_pass(frames) if first is None else first
    v = fp.displacements()
    mix = steps.fit_step_mixture(v, fp.radius)
    inlier = mix.inlier(v) if mix is not None else np.ones(len(v))
    autocorr = steps.autocorrelation(fp, inlier)
    _, _, area = field_of_view(frames)
    out: dict[str, Any] = {"link_radius": fp.radius, "links": fp.links, "area": area,
                           "autocorrelation": autocorr}
    if mix is not None:
        out["step_mixture"] = mix.summary()
    out.update(steps.detection_rates(frames, fp))
    Z, lengths = fp.chains(inlier >= 0.5, MAX_CHAIN, MAX_CHAINS)
    n = int((lengths - 1).sum())
    out["chain_steps"] = n
    start = {**_start(mix, autocorr), **fixed}
    candidates = [*MOTION_FIELDS, REFERENCE] if motion_model == "auto" else [motion_model]
    if n < MIN_STEPS:
        chosen = "random-walk" if motion_model == "auto" else motion_model
        paper = {**_start(None, 0.0), "velocity_noise": 0.0}
        out.update({"motion_model": chosen, "fit": "too few chained steps: the paper's values",
                    **{k: fixed.get(k, paper[k]) for k in MOTION_FIELDS[chosen]}})
        return out
    fits: dict[str, tuple[dict[str, float], float]] = {}
    # thousands of tiny matrix products: a threaded BLAS only adds its wake-ups (2-3 x
    # slower on a busy 2-core machine)
    with threadpool_limits(1, "blas"):
        for model in candidates:
            fits[model] = fit_motion(model, Z, lengths, start,
                                     {k: fixed[k] for k in FIELDS[model] if k in fixed})
    bic = {m: -2.0 * ll + sum(k not in fixed for k in FIELDS[m]) * math.log(n)
           for m, (_, ll) in fits.items()}
    chosen = min(bic, key=bic.__getitem__)
    values, ll = fits[chosen]
    if chosen == REFERENCE:     # no velocity persistence beyond a spread of step sizes
        chosen = "random-walk"
        values = {"process_noise": fixed.get("process_noise", values["fast_process_noise"]),
                  "measurement_noise": values["measurement_noise"]}
    out.update({"motion_model": chosen, **{k: float(values[k]) for k in MOTION_FIELDS[chosen]},
                "bic": bic, "loglik_per_step": ll / n})
    return out
