"""The one training loop of both transformers; what differs between them is a
:class:`Recipe` of hooks (the model, its batches, its loss).

The loop: seed torch and build the model (or the one of the checkpoint being resumed),
AdamW, then per step the learning rate of :func:`learning_rate`, the batch, the model's
loss, a clipped optimiser step and a row of the loss curve; the checkpoint is written
every ``save_every`` steps, when the run ends, and on Ctrl-C (when the weights,
optimiser and counters describe a whole number of steps, so the run resumes exactly).
A loss that is not finite stops the run with a :class:`CheckpointError`.

Deterministic for a seed with one thread: the weights start from
``torch.manual_seed(seed)`` and nothing after that draws from torch's generator (the
batches come from numpy generators seeded per step), so a resumed run continues exactly
as if it had never stopped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import torch
from torch import nn

from ....core.errors import CheckpointError
from ....core.version import __version__
from ....io import atomic_write
from . import checkpoint as ckpt
from .threads import torch_threads

ProgressHook = Callable[[int, int, float], None]
"""``on_batch(done, total, loss)``, called after every step."""


class Settings(Protocol):
    """The training settings both models' parameter classes hold."""

    @property
    def seed(self) -> int: ...
    @property
    def threads(self) -> int: ...
    @property
    def save_every(self) -> int: ...
    @property
    def learning_rate(self) -> float: ...
    @property
    def weight_decay(self) -> float: ...
    @property
    def grad_clip(self) -> float: ...
    @property
    def warmup_steps(self) -> int: ...
    @property
    def lr_floor(self) -> float: ...

    def to_dict(self) -> dict[str, Any]: ...


M = TypeVar("M", bound=nn.Module)


@dataclass
class Recipe(Generic[M]):
    """A model kind's part of a training run.

    ``record``: the checkpoint's first entries (``name``, and ``kind``/``description``
    where the kind has them); ``model``: its ``model`` entry.  ``new_model()`` builds the
    starting model on its device (torch is seeded just before); ``restore(state,
    source)`` the model of a checkpoint being resumed.  ``loss(model, batch(step))``
    gives the loss and its named parts (``parts``, columns of the loss curve between
    ``loss`` and ``lr``).
    """

    params: Settings
    steps: int
    warmup_fraction: float
    record: dict[str, Any]
    model: dict[str, Any]
    new_model: Callable[[], M]
    restore: Callable[[dict[str, Any], str], M]
    batch: Callable[[int], Any]
    loss: Callable[[M, Any], tuple[torch.Tensor, dict[str, torch.Tensor]]]
    parts: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        return ["batch", "loss", *self.parts, "lr"]


def learning_rate(params: Settings, step: int, total: int, warmup_fraction: float) -> float:
    """Linear warm-up over ``max(1, min(warmup_steps, int(total * warmup_fraction)))``
    steps, then cosine decay to ``lr_floor`` of the peak at step ``total``."""
    warm = max(1, min(params.warmup_steps, int(total * warmup_fraction)))
    if step < warm:
        return params.learning_rate * (step + 1) / warm
    frac = (step - warm) / max(1, total - warm)
    floor = params.lr_floor
    return params.learning_rate * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * frac)))


def differences(stored: dict[str, Any], mine: dict[str, Any], ignore: tuple[str, ...]
                ) -> list[str]:
    """Settings that differ between a checkpoint's ``train`` record (completed with the
    defaults of settings it predates) and this run, ``ignore`` excepted."""
    return [f"{k}: checkpoint {stored[k]!r}, now {mine[k]!r}" for k in mine
            if k not in ignore and stored[k] != mine[k]]


def existing_run(out: Path, resume: bool, overwrite: bool,
                 mismatch: Callable[[dict[str, Any]], list[str]]) -> dict[str, Any] | None:
    """What to do with a checkpoint already at ``out``: its state when ``resume`` and the
    settings agree (``mismatch`` lists those that differ), None when there is none or it is
    to be replaced; otherwise a :class:`CheckpointError` saying how to proceed, so a run
    is never silently overwritten."""
    if not out.exists():
        return None
    if resume:
        state = ckpt.read(out)
        diff = mismatch(state)
        if diff:
            raise CheckpointError(f"{out}: cannot resume, the settings differ: " + "; ".join(diff))
        return state
    if not overwrite:
        raise CheckpointError(f"{out}: already exists; resume it (--resume) or replace it "
                              "(--overwrite)")
    return None


def run(recipe: Recipe[Any], out: Path, state: dict[str, Any] | None, *, progress_bar: bool = True,
        log: str | Path | None = None, on_batch: ProgressHook | None = None) -> Path:
    """Train ``recipe`` from scratch (``state`` None) or from the checkpoint ``state`` read
    at ``out``, writing its checkpoint to ``out``; the loss curve to ``log`` as CSV."""
    p = recipe.params
    label = recipe.record["name"]
    total = recipe.steps
    with torch_threads(p.threads):
        torch.manual_seed(p.seed)
        model = recipe.new_model()
        losses: list[list[float]] = []
        done, elapsed = 0, 0.0
        if state is not None:
            model = recipe.restore(state, str(out))
        opt = torch.optim.AdamW(model.parameters(), lr=p.learning_rate,
                                weight_decay=p.weight_decay)
        if state is not None:
            if "optimizer" in state:
                opt.load_state_dict(state["optimizer"])
            prog = state.get("progress") or {}
            done = int(prog.get("batches_done", 0))
            elapsed = float(prog.get("elapsed_s", 0.0))
            losses = [list(r) for r in prog.get("loss", [])]
        model.train()

        def payload(finished: bool) -> dict[str, Any]:
            return {
                **recipe.record, "model": recipe.model, "train": p.to_dict(),
                "package_version": __version__,
                "progress": {"batches_done": done, "elapsed_s": round(elapsed, 3),
                             "finished": finished, "loss": losses,
                             "loss_columns": recipe.columns},
                "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                "optimizer": opt.state_dict(),
            }

        bar = None
        if progress_bar:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=done, desc=f"train {label}", unit="batch",
                       dynamic_ncols=True)
        consistent = True          # weights, optimiser and counters describe `done` steps
        try:
            while done < total:
                t0 = time.perf_counter()
                lr = learning_rate(p, done, total, recipe.warmup_fraction)
                batch = recipe.batch(done)
                consistent = False
                for g in opt.param_groups:
                    g["lr"] = lr
                loss, parts = recipe.loss(model, batch)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), p.grad_clip)
                opt.step()
                value = float(loss.item())
                if not math.isfinite(value):
                    raise CheckpointError(f"training {label}: the loss became {value} at step "
                                          f"{done + 1}")
                done += 1
                elapsed += time.perf_counter() - t0
                losses.append([done, round(value, 6),
                               *(round(parts[k].item(), 6) for k in recipe.parts), lr])
                consistent = True
                if done % p.save_every == 0 and done < total:
                    ckpt.save(out, payload(False))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{value:.4f}",
                                    **{k: f"{parts[k].item():.3f}" for k in recipe.parts})
                if on_batch is not None:
                    on_batch(done, total, value)
        except KeyboardInterrupt:
            if consistent and done < total:
                ckpt.save(out, payload(False))     # resume from exactly here
            raise
        finally:
            if bar is not None:
                bar.close()
        model.eval()
        ckpt.save(out, payload(True))
    if log is not None:
        write_loss_log(log, recipe.columns, losses)
    return out


def write_loss_log(path: str | Path, columns: list[str], losses: list[list[float]]) -> None:
    """The loss curve as CSV, one row per step."""
    with atomic_write(path) as fh:
        fh.write(",".join(columns) + "\n")
        for row in losses:
            fh.write(",".join(f"{v:g}" for v in row) + "\n")
