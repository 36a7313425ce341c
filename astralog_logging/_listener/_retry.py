"""When to try a batch again, and how long to wait first. Pure functions of the result,
the attempt number and a random source, so they are tested without a network or a clock.

The protocol's response table decides what is retried: no answer at all (refused, reset,
timed out), 408, 429 and the 5xx family. Waits grow exponentially with full jitter, capped,
and never undercut a drain's Retry-After.
"""

from __future__ import annotations

import random
from typing import Callable, Optional

from ._transport import SendResult

RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
BASE_DELAY = 0.5


def retryable(result: SendResult) -> bool:
    return result.status is None or result.status in RETRYABLE


def wait_seconds(attempt: int, result: Optional[SendResult], cap: float,
                 rng: Callable[[float, float], float] = random.uniform) -> float:
    """Seconds before attempt ``attempt + 1``; ``attempt`` counts from 1."""
    if result is not None and result.retry_after is not None:
        return result.retry_after  # the drain's own word; "not sooner" (protocol.md)
    ceiling = min(cap, BASE_DELAY * 2 ** min(attempt - 1, 30))
    return rng(0.0, ceiling)
