"""One declarative spec per figure of the paper's section IV.

A field may name the x-axis instead of a number: ``"x"`` follows the figure's x value,
``"T"`` the sequence length and ``"sigma"`` the simulated measurement noise (a *known*
prior).  :func:`napari_mpt.experiments.reproduce.tasks.build_tasks` resolves them per point.

The paper gives T, the lookbacks, eta' and nu' and the training sizes, but not the sigma
grid, the values of i, the number of seeds nor the training batches of transformer_{T,i};
those choices are ours and are stated here once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

XName = Literal["sigma", "i", "K", "T"]
Metric = Literal["jaccard", "flops"]
Follow = Literal["x", "T", "sigma"]

MU = 1.5
"""Simulated process noise mu (paper: eta' = 1.5 is the matching prior)."""

ETA = 1.5
"""Process-noise prior eta' of the MHT in every figure."""

FIG2_SIGMAS: tuple[float, ...] = tuple(float(s) for s in range(0, 21, 2))
"""Our sigma axis for Fig. 2 (T=150): 0..20 px, i.e. up to twice the initial separation of
10 px, far enough to show where each method breaks (the paper gives no grid)."""

FIG3_SIGMAS: tuple[float, ...] = tuple(float(s) for s in range(11))
"""Our sigma axis for Fig. 3 (T=8): 0..10 px."""

QUICK_SIGMAS: tuple[float, ...] = (1.0, 5.0, 9.0)

SHORT_SEEDS = 100
"""Seeds per point at T=8: a sequence has only 14 links, so the Jaccard of one seed is
coarse; 100 seeds bring the 95% interval to a few hundredths (and cost little)."""

FIG2_EPOCHS = 100
"""Passes over Fig. 2's 6 training experiments in the extra "x 100 passes" curves.  The
paper's own reading, drawn as its curve, is literal: 6 optimisation steps, one fresh
experiment each."""

FIG3_I: tuple[int, ...] = (1, 2, 4, 8, 16, 30)
"""Training sizes i of transformer_{8,i} drawn in Fig. 3."""

FIG4_I: tuple[int, ...] = (*FIG3_I, 64, 128)
"""Training sizes swept in Fig. 4: further than Fig. 3 to show where returns diminish."""


def resolve(value: Any, x: float, frames: int, sigma: float) -> Any:
    """A field's value at one point: ``"x"``, ``"T"`` and ``"sigma"`` follow the point's
    x value, sequence length and simulated sigma; anything else is itself."""
    if isinstance(value, str):
        return {"x": x, "T": frames, "sigma": sigma}.get(value, value)
    return value


@dataclass(frozen=True)
class TrainSpec:
    """How the transformer of a curve was (or must be) trained: transformer_{T,i}.

    ``batches=None`` and ``sigma=None`` mean the transformer package's default protocol,
    the one its shipped checkpoints ``transformer_<T>_<i>`` were trained with; a number or
    ``"sigma"`` (train at the evaluated sigma, Fig. 2(a)) asks for a dedicated model.
    """

    frames: int | Follow
    per_batch: int | Follow
    batches: int | None = None
    sigma: float | Follow | None = None
    decoder: int | None = None     # K_D the model is built for; None: the package default
    encoder: int | Follow | None = None  # K_E; None: the package default (= T)
    epochs: int | None = None      # None: fresh batches every step; E: fixed data, E passes


@dataclass(frozen=True)
class Curve:
    """One line of a plot: a tracker and how it is parameterised."""

    label: str
    method: Literal["mht", "transformer"]
    lookback: int | Follow = 1            # K_MHT (MHT only)
    decoder_lookback: int | Follow = 8    # K_D (transformer only)
    encoder_lookback: int | Follow = "T"  # K_E (transformer only)
    # the MHT's noise priors, named as in MHTParams (MHT only)
    measurement_noise: float | Follow = "sigma"   # nu'
    process_noise: float = ETA                    # eta'
    mode: Literal["exact", "exhaustive"] = "exact"
    smooth: bool = False                  # MHT: RTS-smoothed positions (not in the paper)
    train: TrainSpec | None = None        # transformer: None = FLOPs of the architecture only
    color: str = "C0"
    linestyle: str = "-"
    quick: bool = True                    # drawn by --quick
    max_seeds: int | None = None          # cap on seeds (for data-independent costs)
    extra: bool = False                   # not in the paper (left out of overlays)


@dataclass(frozen=True)
class FigureSpec:
    """What one figure simulates, which curves it draws and how it is laid out."""

    name: str
    title: str
    claim: str                  # the paper's claim, one sentence
    x: XName
    xs: tuple[float, ...]
    quick_xs: tuple[float, ...]
    curves: tuple[Curve, ...]
    metric: Metric = "jaccard"
    frames: int | None = None   # T, unless the x-axis is T
    measurement_noise: float | None = None  # simulated sigma, unless the x-axis is sigma
    process_noise: float = MU               # simulated mu
    seeds: int = 20
    quick_seeds: int = 2
    logx: bool = False
    logy: bool = False
    overlay: str | None = None  # draw this figure's curves dashed (Fig. 2(c) shows 2(b))
    notes: tuple[str, ...] = field(default_factory=tuple)

    def curve(self, label: str) -> Curve:
        for c in self.curves:
            if c.label == label:
                return c
        raise KeyError(label)


def _mht(label: str, k: int | Follow, prior: float | Follow, color: str, **kw: Any) -> Curve:
    return Curve(label, "mht", lookback=k, measurement_noise=prior, color=color, **kw)


def _smoothed(k: int, prior: float | Follow) -> Curve:
    """Not in the paper: the same MHT associations with Rauch-Tung-Striebel smoothed
    positions, since the transformer's estimates use the whole sequence too."""
    nu = "sigma" if prior == "sigma" else f"{prior:g}"
    return _mht(f"MHT K={k}, nu'={nu}, RTS-smoothed", k, prior, "C7", linestyle="-.",
                smooth=True, extra=True)


def _fig2_transformer(label: str, decoder: int, sigma: float | Follow) -> tuple[Curve, Curve]:
    """Fig. 2's transformer as the paper states it (6 experiments, 1 per batch, 6 batches:
    6 optimisation steps) and, not in the paper, the same 6 experiments visited 100 times."""
    paper = Curve(label, "transformer", decoder_lookback=decoder, encoder_lookback="T",
                  color="C1",
                  train=TrainSpec(_FIG2_T, 1, batches=6, sigma=sigma, decoder=decoder),
                  quick=False)
    passes = Curve(f"{label}, x{FIG2_EPOCHS} passes", "transformer",
                   decoder_lookback=decoder, encoder_lookback="T", color="C4", linestyle="--",
                   quick=False, extra=True,
                   train=TrainSpec(_FIG2_T, 1, batches=6, sigma=sigma, decoder=decoder,
                                   epochs=FIG2_EPOCHS))
    return paper, passes


_FIG2_T = 150

_REF_150_30 = Curve(
    "transformer_{150,30} (K_D=8, default training)", "transformer", decoder_lookback=8,
    encoder_lookback="T",
    train=TrainSpec(150, 30), color="C2", linestyle=":", extra=True)
"""Not in the paper's Fig. 2: the package's main transformer, for reference."""

FIGURES: dict[str, FigureSpec] = {}


def _add(spec: FigureSpec) -> None:
    FIGURES[spec.name] = spec


_add(FigureSpec(
    name="fig2a",
    title="Fig. 2(a): known priors, T=150, K_MHT=K_D=1, K_E=T",
    claim="With exact priors (nu'=sigma, transformer trained at sigma) the transformer is "
          "significantly more robust to measurement noise than MHT on long sequences.",
    x="sigma", xs=FIG2_SIGMAS, quick_xs=QUICK_SIGMAS, frames=_FIG2_T,
    curves=(
        _mht("MHT K=1, nu'=sigma", 1, "sigma", "C0"),
        _smoothed(1, "sigma"),
        *_fig2_transformer("transformer K_D=1, trained at sigma, 6 experiments", 1, "sigma"),
        _REF_150_30,
    ),
))
_add(FigureSpec(
    name="fig2b",
    title="Fig. 2(b): fixed prior nu'=1, T=150, K_MHT=K_D=1, K_E=T",
    claim="With the prior fixed at nu'=1 (transformer trained at sigma=1) both methods "
          "degrade and the transformer stays more robust.",
    x="sigma", xs=FIG2_SIGMAS, quick_xs=QUICK_SIGMAS, frames=_FIG2_T,
    curves=(
        _mht("MHT K=1, nu'=1", 1, 1.0, "C0"),
        _smoothed(1, 1.0),
        *_fig2_transformer("transformer K_D=1, trained at sigma=1, 6 experiments", 1, 1.0),
        _REF_150_30,
    ),
))
_add(FigureSpec(
    name="fig2c",
    title="Fig. 2(c): fixed prior nu'=1, T=150, K_MHT=K_D=8, K_E=T (dashed: 2(b))",
    claim="With K_MHT=K_D=8 both methods become more robust and the transformer's advantage "
          "remains significant.",
    x="sigma", xs=FIG2_SIGMAS, quick_xs=QUICK_SIGMAS, frames=_FIG2_T, overlay="fig2b",
    curves=(
        _mht("MHT K=8, nu'=1", 8, 1.0, "C0"),
        _smoothed(8, 1.0),
        _fig2_transformer("transformer K_D=8, trained at sigma=1, 6 experiments", 8, 1.0)[0],
        _REF_150_30,
    ),
))
_add(FigureSpec(
    name="fig3",
    title="Fig. 3: short sequences, T=8, K_MHT=K_E=K_D=8, nu'=sigma",
    claim="Where MHT is optimal (T=K=8) transformer_{8,1} is much worse than MHT; more "
          "training brings it closer, non-uniformly, but never to MHT.",
    x="sigma", xs=FIG3_SIGMAS, quick_xs=QUICK_SIGMAS, frames=8, seeds=SHORT_SEEDS,
    curves=(
        _mht("MHT K=8, nu'=sigma", 8, "sigma", "k"),
        _smoothed(8, "sigma"),
        *(Curve(f"transformer_{{8,{i}}}", "transformer", decoder_lookback=8,
                encoder_lookback=8,
                train=TrainSpec(8, i), color=f"C{n}", quick=i in (1, 30))
          for n, i in enumerate(FIG3_I)),
    ),
))
_add(FigureSpec(
    name="fig4",
    title="Fig. 4: JC against training size i, T=8, sigma=7",
    claim="More training experiments help transformer_{8,i} with diminishing returns and it "
          "does not reach the optimal MHT.",
    x="i", xs=tuple(float(i) for i in FIG4_I), quick_xs=(1.0, 30.0), frames=8, measurement_noise=7.0,
    seeds=SHORT_SEEDS,
    logx=True,
    curves=(
        _mht("MHT K=8, nu'=sigma", 8, "sigma", "k"),
        _smoothed(8, "sigma"),
        Curve("transformer_{8,i}", "transformer", decoder_lookback=8, encoder_lookback=8,
              train=TrainSpec(8, "x"), color="C1"),
    ),
))
_add(FigureSpec(
    name="fig5",
    title="Fig. 5: FLOPs against lookback K, T=150, sigma=7",
    claim="MHT's cost grows exponentially with the lookback while the transformer's "
          "(K_E=K_D=K) grows about linearly, so the transformer is cheaper for long lookbacks.",
    x="K", xs=tuple(float(k) for k in range(1, 17)), quick_xs=(1.0, 2.0, 4.0),
    metric="flops", frames=150, measurement_noise=7.0, quick_seeds=1, logy=True,
    curves=(
        # every hypothesis is scored whatever the data, so its count is the same for every
        # seed; 3 seeds show that and spare minutes of K=16 searches
        _mht("MHT exhaustive (paper's cost model)", "x", "sigma", "C0", mode="exhaustive",
             max_seeds=3),
        _mht("MHT exact (branch and bound)", "x", "sigma", "C2"),
        Curve("transformer K_E=K_D=K", "transformer", decoder_lookback="x",
              encoder_lookback="x",
              train=None, color="C1"),  # FLOPs depend on the architecture only
    ),
))
_add(FigureSpec(
    name="fig6",
    title="Fig. 6: JC against sequence length T, sigma=7",
    claim="transformer_{150,30} is best overall and MHT (K=8) degrades as T grows; "
          "transformer_{T,30} and transformer_{150,1} start lower but improve with T.",
    x="T", xs=(8.0, 16.0, 32.0, 64.0, 100.0, 150.0), quick_xs=(8.0, 32.0), measurement_noise=7.0,
    seeds=50,
    curves=(
        _mht("MHT K=8, nu'=sigma", 8, "sigma", "k"),
        _smoothed(8, "sigma"),
        Curve("transformer_{T,30}", "transformer", decoder_lookback=8, encoder_lookback="T",
              train=TrainSpec("x", 30), color="C1", quick=False),
        Curve("transformer_{150,30}", "transformer", decoder_lookback=8, encoder_lookback="T",
              train=TrainSpec(150, 30), color="C2"),
        Curve("transformer_{150,1}", "transformer", decoder_lookback=8, encoder_lookback="T",
              train=TrainSpec(150, 1), color="C3", quick=False),
    ),
))

FIGURE_NAMES: tuple[str, ...] = tuple(FIGURES)
