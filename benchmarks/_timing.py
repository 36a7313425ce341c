"""Timing one call in isolation, for the step-by-step tools (``hotpath``)."""

from __future__ import annotations

import importlib
import time
from typing import Any, Callable


def best(fn: Callable[[], Any], n: int, rounds: int = 5) -> float:
    """Best per-call CPU µs over ``rounds`` runs of ``n`` calls, minus the loop's own cost.

    Process CPU time, not wall time: on a shared 2-core machine a write(2) that wakes the
    listener often costs the writer a preemption, which is latency, not work.
    """
    clock = time.process_time_ns
    fastest = float("inf")
    for _ in range(rounds):
        t0 = clock()
        for _ in range(n):
            fn()
        fastest = min(fastest, clock() - t0)
    empty = float("inf")
    noop = _noop
    for _ in range(rounds):
        t0 = clock()
        for _ in range(n):
            noop()
        empty = min(empty, clock() - t0)
    return max(fastest - empty, 0) / n / 1e3


def _noop() -> None:
    pass


def helper(*candidates: str) -> Any:
    """The first ``module:name`` that exists: the encoder's private helpers move about."""
    for candidate in candidates:
        module, _, name = candidate.partition(":")
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    return None
