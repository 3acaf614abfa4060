"""FLOP accounting: hardware counters through PyPAPI when the machine has them, else an
exact analytic count of the arithmetic the implementation executes.

Convention everywhere in the project: a multiply and an add are two FLOPs, a division is
one; a length-k dot product is ``k`` multiplies and ``k - 1`` adds; sign flips and
comparisons are not FLOPs.  The trackers add to a :class:`FlopCounter` at each line that
does arithmetic, from the shapes involved, so the count is exact for the code as written.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .results import FlopCount

T = TypeVar("T")


def matmul(m: int, k: int, n: int) -> int:
    """FLOPs of an ``(m, k) @ (k, n)`` product: ``m n`` dot products of length ``k``.

    Examples
    --------
    A 2 x 2 Kalman covariance times a 2 x 2 matrix: 4 dot products of 2 multiplications
    and 1 addition each.

    >>> matmul(2, 2, 2)
    12
    """
    return m * n * (2 * k - 1)


def inverse(d: int) -> int:
    """FLOPs of the closed-form (adjugate) inverse used for ``d <= 3`` (see kalman.inv)."""
    return {1: 1, 2: 8, 3: 42}[d]


@dataclass
class FlopCounter:
    """A running total; ``add`` is called where the arithmetic happens."""

    total: int = 0

    def add(self, n: int) -> None:
        self.total += int(n)


# --- hardware counters ---------------------------------------------------------------

_PAPI_LOCK = threading.Lock()


@functools.cache
def papi_status() -> tuple[bool, str]:
    """Whether PAPI can count double-precision FLOPs here, and why not when it cannot."""
    try:
        from pypapi import events
        from pypapi import papi_low as papi
        from pypapi.exceptions import PapiError
    except Exception as exc:  # pragma: no cover - python-papi is a dependency
        return False, f"pypapi not importable ({exc})"
    try:
        papi.library_init()
        es = papi.create_eventset()
        papi.add_event(es, events.PAPI_DP_OPS)
        papi.start(es)
        papi.stop(es)
        papi.cleanup_eventset(es)
        papi.destroy_eventset(es)
    except PapiError as exc:
        return False, f"PAPI cannot count PAPI_DP_OPS on this machine ({exc})"
    except Exception as exc:  # pragma: no cover - defensive: broken PAPI install
        return False, f"PAPI failed ({exc.__class__.__name__}: {exc})"
    return True, "PAPI_DP_OPS hardware counter"


def measured(run: Callable[[FlopCounter], T]) -> tuple[T, FlopCount]:
    """Run ``run(counter)``; report PAPI's count when available, else the analytic one.

    The analytic count is always computed; when PAPI works its figure is returned and the
    analytic one kept in ``detail`` so the two can be compared.
    """
    counter = FlopCounter()
    ok, why = papi_status()
    if not ok:
        result = run(counter)
        return result, FlopCount(counter.total, "analytic", f"analytic count; {why}")
    from pypapi import events  # pragma: no cover - needs hardware counters
    from pypapi import papi_low as papi

    with _PAPI_LOCK:  # pragma: no cover
        es = papi.create_eventset()
        papi.add_event(es, events.PAPI_DP_OPS)
        papi.start(es)
        try:
            result = run(counter)
        finally:
            values = papi.stop(es)
            papi.cleanup_eventset(es)
            papi.destroy_eventset(es)
    return result, FlopCount(int(values[0]), "papi",  # pragma: no cover
                             f"PAPI_DP_OPS; analytic count {counter.total}")
