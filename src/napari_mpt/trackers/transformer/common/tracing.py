"""FLOP counting by fvcore on a ``torch.jit`` trace, shared by both models' counts."""

from __future__ import annotations

import threading
import warnings

import torch

TRACE_LOCK = threading.RLock()
"""fvcore counts FLOPs on a ``torch.jit`` trace, and two traces at once in one process
abort the interpreter: every trace (and code that must not interleave with one, e.g. a
``warnings.catch_warnings`` block around it in another thread) holds this lock.
Re-entrant, so a caller may hold it around a count.  Counts are cached per architecture
and shape, so it is held for real only once per shape."""


def fvcore_macs(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...]
                ) -> tuple[int, dict[str, int]]:
    """fvcore's multiply-adds of ``module(*inputs)``: total and by operator (layer norm
    counted as 0, so that only matrix products count).  Hold :data:`TRACE_LOCK`."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")          # tracer and jit deprecation chatter
        from fvcore.nn import FlopCountAnalysis

        fca = FlopCountAnalysis(module.eval(), inputs)
        # fvcore's set_op_handle(name, None) does not drop a default handle; a zero does
        fca.set_op_handle("aten::layer_norm", lambda inputs, outputs: 0)
        fca.unsupported_ops_warnings(False)
        fca.uncalled_modules_warnings(False)
        fca.tracer_warnings("none")
        return int(fca.total()), {k: int(v) for k, v in fca.by_operator().items() if v}
