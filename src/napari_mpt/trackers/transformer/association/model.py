"""The association transformer: one token per detection, attention over spatial neighbours.

A point-cloud take on trackastra (Gallusser et al., ECCV 2024), written for this package.
A *window* holds every detection of ``window`` consecutive frames, any number per frame
(none allowed).  Each token attends to its ``neighbours`` nearest detections in every
frame of the window (a KD-tree query, :mod:`.graph`), so time and memory grow
linearly with the number of detections.  Tokens carry no absolute position: a token
starts from its frame's offset in the window (and optional per-detection features), and
every attention adds an embedding of the *relative* position and frame offset of the
key, so the model is translation invariant and, as the neighbour lists are sets,
permutation equivariant over the detections of a frame.

Heads: for a detection i of frame a and each candidate j among its neighbours in frames
a+1..a+gap, a link logit; and two "no link" logits per token (no successor within the
gap: a death, a miss longer than the gap or a spurious spot; no predecessor: a birth).
Training reads them as a softmax over {candidates, no link} forwards and over
{predecessor candidates, no link} backwards (:mod:`.training`); linking turns the
two into costs (:mod:`.link`).

Attention is written with explicit ``matmul`` (never ``scaled_dot_product_attention``),
so fvcore counts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ....core.errors import CheckpointError, ParameterError
from ....core.params import AssociationTrainParams
from ....core.params.base import _f, _Validated
from ..common.layers import Stack

_P = AssociationTrainParams.__dataclass_fields__


def _shared(name: str) -> Any:
    from dataclasses import field

    return field(default=_P[name].default, metadata=_P[name].metadata)


@dataclass(frozen=True)
class AssocConfig(_Validated):
    """The association model's architecture (what a checkpoint's ``model`` entry holds)."""

    ndim: int = _shared("ndim")
    d_model: int = _shared("d_model")
    heads: int = _shared("heads")
    ff: int = _shared("ff")
    layers: int = _shared("layers")
    window: int = _shared("window")
    gap: int = _shared("gap")
    neighbours: int = _shared("neighbours")
    coord_scale: float = _shared("coord_scale")
    stride: int = _f(0, "inference: frames between window starts; 0: window - gap (every "
                     "token's forward candidates complete in one window, backward in "
                     "another)", lo=0, hi=64)
    features: tuple[str, ...] = _f((), "per-detection feature columns the model reads "
                                   "(standardised per sequence); empty: positions only")

    def _check(self) -> None:
        if self.d_model % self.heads:
            raise ParameterError("heads", f"{self.heads} heads do not divide d_model={self.d_model}")
        if self.gap >= self.window:
            raise ParameterError("gap", f"gap={self.gap} needs window > gap, got {self.window}")
        object.__setattr__(self, "features", tuple(str(f) for f in self.features))

    @property
    def window_stride(self) -> int:
        return self.stride or self.window - self.gap

    @property
    def rel_width(self) -> int:
        """Relative-position input: offset/scale (D), distance/scale, one-hot frame offset."""
        return self.ndim + 1 + 2 * self.window - 1

    @classmethod
    def from_params(cls, p: AssociationTrainParams) -> AssocConfig:
        return cls(ndim=p.ndim, d_model=p.d_model, heads=p.heads, ff=p.ff, layers=p.layers,
                   window=p.window, gap=p.gap, neighbours=p.neighbours,
                   coord_scale=p.coord_scale)


class NeighbourAttention(nn.Module):
    """Pre-norm multi-head attention of each token over its K gathered neighbours, with
    the relative-position embedding added to keys and values, then a feed-forward."""

    def __init__(self, cfg: AssocConfig):
        super().__init__()
        d = cfg.d_model
        self.heads, self.hd = cfg.heads, d // cfg.heads
        self.norm1 = nn.LayerNorm(d)
        self.q = nn.Linear(d, d)
        self.kv = nn.Linear(d, 2 * d)
        self.out = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d)
        self.up = nn.Linear(d, cfg.ff)
        self.down = nn.Linear(cfg.ff, d)

    def forward(self, x: torch.Tensor, nbr: torch.Tensor, mask: torch.Tensor,
                rel: torch.Tensor) -> torch.Tensor:
        """``x`` (M, d); ``nbr`` (M, K) token indices (padding: any valid index);
        ``mask`` (M, K) bool, True where a neighbour exists; ``rel`` (M, K, d), the
        relative-position embedding, added to keys and values (computed once for all
        layers: a per-layer projection of it tripled the cost per neighbour)."""
        m, k = nbr.shape
        h, hd = self.heads, self.hd
        y = self.norm1(x)
        q = self.q(y).view(m, h, 1, hd) * hd ** -0.5
        kv = self.kv(y)[nbr]                                          # (M, K, 2d)
        key = (kv[..., : h * hd] + rel).view(m, k, h, hd)
        val = (kv[..., h * hd:] + rel).view(m, k, h, hd)
        s = torch.matmul(q, key.permute(0, 2, 3, 1))                  # (M, H, 1, K)
        s = s.masked_fill(~mask[:, None, None, :], float("-inf"))
        a = torch.matmul(s.softmax(-1), val.transpose(1, 2))          # (M, H, 1, hd)
        x = x + self.out(a.reshape(m, h * hd))
        return x + self.down(F.relu(self.up(self.norm2(x))))


class TokenEncoder(nn.Module):
    """Tokens -> embeddings: frame offset (and features), then the attention layers."""

    def __init__(self, cfg: AssocConfig):
        super().__init__()
        d = cfg.d_model
        self.offset = nn.Embedding(cfg.window, d)
        self.feat = nn.Linear(len(cfg.features), d) if cfg.features else None
        self.rel1 = nn.Linear(cfg.rel_width, d)
        self.rel2 = nn.Linear(d, d)
        self.layers = Stack(NeighbourAttention(cfg) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(d)

    def forward(self, offset: torch.Tensor, feats: torch.Tensor, nbr: torch.Tensor,
                mask: torch.Tensor, relin: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Token embeddings (M, d) and the relative-position embeddings (M, K, d)."""
        x = self.offset(offset)
        if self.feat is not None:
            x = x + self.feat(feats)
        rel = self.rel2(F.relu(self.rel1(relin)))
        for layer in self.layers:
            x = layer(x, nbr, mask, rel)
        return self.norm(x), rel


class PairHead(nn.Module):
    """A link logit for every neighbour slot and two no-link logits for every token.

    Only slots whose frame difference is 1..gap (forwards) or -gap..-1 (backwards) are
    read; the others are computed too (a dense table is cheaper than gathering pairs).
    """

    def __init__(self, cfg: AssocConfig):
        super().__init__()
        d = cfg.d_model
        self.src = nn.Linear(d, d)
        self.dst = nn.Linear(d, d, bias=False)
        self.score = nn.Linear(d, 1)
        self.none = nn.Linear(d, 2)       # [no successor, no predecessor]

    def forward(self, x: torch.Tensor, rel: torch.Tensor, nbr: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (M, S) of token m linking to its neighbour in slot s, and (M, 2)."""
        hid = self.src(x)[:, None, :] + self.dst(x)[nbr] + rel
        return self.score(F.relu(hid)).squeeze(-1), self.none(x)


class AssociationTransformer(nn.Module):
    """Token encoder plus pair head; ``forward`` takes the tensors of a
    :class:`~napari_mpt.trackers.transformer.association.graph.Graph`."""

    def __init__(self, cfg: AssocConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = TokenEncoder(cfg)
        self.head = PairHead(cfg)

    def forward(self, offset: torch.Tensor, feats: torch.Tensor, nbr: torch.Tensor,
                mask: torch.Tensor, relin: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, rel = self.encoder(offset, feats, nbr, mask, relin)
        return self.head(x, rel, nbr)


def graph_tensors(g: Any, device: torch.device | str = "cpu") -> tuple[torch.Tensor, ...]:
    """A Graph's arrays as the model's input tensors, in ``forward``'s order."""
    return (torch.as_tensor(g.offset, device=device), torch.as_tensor(g.feats, device=device),
            torch.as_tensor(g.nbr, device=device), torch.as_tensor(g.mask, device=device),
            torch.as_tensor(g.relin, device=device))


def build_association(data: dict[str, Any], source: str) -> AssociationTransformer:
    """The association model a checkpoint dict describes, weights loaded, eval mode."""
    try:
        cfg = AssocConfig.from_dict(data["model"])
    except (ParameterError, TypeError) as exc:
        raise CheckpointError(f"{source}: association model configuration: {exc}") from None
    model = AssociationTransformer(cfg)
    state = data["state_dict"]
    expected = model.state_dict()
    bad = sorted(set(expected) ^ set(state)) or sorted(
        k for k in expected if not isinstance(state[k], torch.Tensor)
        or state[k].shape != expected[k].shape)
    if bad:
        raise CheckpointError(f"{source}: weights do not fit the stored association "
                              f"configuration (first: {bad[0]})")
    model.load_state_dict(state)
    model.eval()
    return model
