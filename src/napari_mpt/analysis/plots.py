"""The statistics' figures on matplotlib Axes, shared by ``analyze --plot`` and the Track
statistics widget: the ensemble MSD with its linear fit, the same in log-log with the
power law, the drift, and the step-length histogram.  matplotlib is imported by the
caller (these only draw on the Axes they are given) or by :func:`save_plots`."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ..core.errors import InputError
from ..io import atomic_write
from .stats import EnsembleMSD, TrackStatistics

PLOTS = ("MSD", "MSD log-log", "drift", "step lengths")
"""What :func:`draw` can show, in the order of ``analyze --plot``'s panels."""


def pretty(unit: str) -> str:
    """A unit as people write it: um -> µm, ^2 -> ²."""
    return unit.replace("um", "\u00b5m").replace("^2", "\u00b2")


def _no_data(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)


def plot_msd(ax: Any, ens: EnsembleMSD) -> None:
    """The ensemble MSD (points), its fit (solid on the fitted lags, dashed beyond) and
    labels."""
    ok = np.isfinite(ens.msd)
    ax.plot(ens.tau[ok], ens.msd[ok], "o", ms=3, color="tab:blue", label="ensemble MSD")
    if math.isfinite(ens.D) and ok.any():
        fitted = ens.lag <= ens.fit_lags
        t_fit = np.concatenate([[0.0], ens.tau[ok & fitted]])
        ax.plot(t_fit, ens.fit_line(t_fit), "-", lw=2, color="tab:orange",
                label=f"fit, lags 1-{ens.fit_lags}: D = {ens.D:.3g} {pretty(ens.units.D)}")
        t_out = ens.tau[ok & (ens.lag >= ens.fit_lags)]
        ax.plot(t_out, ens.fit_line(t_out), "--", lw=1, color="tab:orange")
    ax.set_xlabel(f"lag ({pretty(ens.units.time)})")
    ax.set_ylabel(f"MSD ({pretty(ens.units.msd)})")
    alpha = f"\u03b1 = {ens.alpha:.2f}" if math.isfinite(ens.alpha) else "\u03b1: n/a"
    loc = (f", loc. error {ens.loc_error:.2g} {pretty(ens.units.length)}"
           if math.isfinite(ens.loc_error) else "")
    ax.set_title(f"{ens.n_tracks} tracks, {alpha}{loc}", fontsize="medium")
    if ok.any():
        ax.legend(fontsize="small", loc="upper left")


def plot_msd_loglog(ax: Any, ens: EnsembleMSD) -> None:
    """The ensemble MSD on log-log axes with the power law ``A tau^n`` (trackpy's
    ``fit_powerlaw``) and, for reference, the slope-1 line of the linear fit's D."""
    ok = np.isfinite(ens.msd) & (ens.msd > 0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"lag ({pretty(ens.units.time)})")
    ax.set_ylabel(f"MSD ({pretty(ens.units.msd)})")
    if not ok.any():
        _no_data(ax, "no MSD to plot")
        return
    ax.plot(ens.tau[ok], ens.msd[ok], "o", ms=3, color="tab:blue", label="ensemble MSD")
    if math.isfinite(ens.n):
        ax.plot(ens.tau[ok], ens.power_law(ens.tau[ok]), "-", lw=2, color="tab:red",
                label=f"A \u03c4\u207f: n = {ens.n:.3f}, A = {ens.A:.4g} "
                f"{pretty(ens.units.powerlaw_A)}")
    if math.isfinite(ens.D) and ens.D > 0:
        ax.plot(ens.tau[ok], 2 * ens.ndim * ens.D * ens.tau[ok], ":", lw=1, color="tab:gray",
                label=f"2dD\u03c4, D = {ens.D:.3g} {pretty(ens.units.D)}")
    ax.set_title(f"{ens.n_tracks} tracks, power law on {int(ok.sum())} lags", fontsize="medium")
    ax.legend(fontsize="small", loc="upper left")


def plot_drift(ax: Any, stats: TrackStatistics) -> None:
    """The drift per axis against frame, and whether it was subtracted."""
    drift = stats.drift
    unit = pretty(stats.units.length)
    ax.set_xlabel("frame")
    ax.set_ylabel(f"drift ({unit})")
    if not len(drift.frame):
        _no_data(ax, "no tracks")
        return
    names = ("z", "y", "x")[-drift.offset.shape[1]:] if drift.offset.shape[1] <= 3 else None
    for j in range(drift.offset.shape[1]):
        ax.plot(drift.frame, drift.offset[:, j], lw=1.5,
                label=names[j] if names else f"axis {j}")
    state = "subtracted" if stats.params.drift == "subtract" else "not subtracted"
    ax.set_title(f"drift up to {drift.extent:.3g} {unit}, {state}", fontsize="medium")
    ax.legend(fontsize="small", loc="best")


def plot_steps(ax: Any, stats: TrackStatistics, mask: np.ndarray | None = None) -> None:
    """Histogram of the one-frame step lengths (of the tracks where ``mask`` is true) and
    the Brownian (chi) expectation of the same mean square step."""
    hist = stats.step_histogram(mask)
    unit = pretty(stats.units.length)
    ax.set_xlabel(f"step length ({unit})")
    ax.set_ylabel("steps")
    if not len(hist.counts):
        _no_data(ax, "no one-frame steps")
        return
    ax.stairs(hist.counts, hist.edges, fill=True, color="tab:blue", alpha=0.6, label="steps")
    centre = 0.5 * (hist.edges[1:] + hist.edges[:-1])
    ax.plot(centre, hist.brownian, "-", color="tab:orange", lw=1.5,
            label="Brownian, same mean square step")
    ax.set_title(f"{int(hist.counts.sum())} steps, median {hist.median:.3g} {unit}",
                 fontsize="medium")
    ax.legend(fontsize="small", loc="upper right")


def draw(ax: Any, what: str, stats: TrackStatistics, mask: np.ndarray | None = None) -> None:
    """Draw one of :data:`PLOTS` for the tracks where ``mask`` is true (all by default;
    the drift is of every track the statistics kept: it was estimated from them)."""
    if what == "MSD":
        plot_msd(ax, stats.ensemble(mask))
    elif what == "MSD log-log":
        plot_msd_loglog(ax, stats.ensemble(mask))
    elif what == "drift":
        plot_drift(ax, stats)
    elif what == "step lengths":
        plot_steps(ax, stats, mask)
    else:
        raise ValueError(f"unknown plot {what!r}: one of {', '.join(PLOTS)}")


def save_plots(path: str | os.PathLike, stats: TrackStatistics) -> None:
    """Write the four :data:`PLOTS` as one PNG (matplotlib's Agg canvas, no pyplot state)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ModuleNotFoundError as exc:
        raise InputError(str(path), "plotting needs matplotlib (pip install matplotlib)") from exc
    fig = Figure(figsize=(11, 8), dpi=100)
    FigureCanvasAgg(fig)
    for i, what in enumerate(PLOTS):
        draw(fig.add_subplot(2, 2, i + 1), what, stats)
    fig.tight_layout()
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png")
