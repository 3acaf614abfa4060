"""Torch's intra-op thread count, set for the duration of a computation.

The decoder multiplies small matrices one step at a time; splitting them over threads
only adds synchronisation, and when another process holds the cores (2 here) a second
thread stalls badly (measured: 40x slower).  Training uses one thread for determinism.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    old = torch.get_num_threads()
    if n != old:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != old:
            torch.set_num_threads(old)
