"""Shutdown: how long ``close()`` takes to deliver a burst still in flight, and whether it does.

The system is warmed up (threads started, connection open), then 10,000 records are logged
as fast as the loop goes and the system is shut down at once. What counts as delivered is
what the receiver holds when ``close`` returns; a short grace covers only a receiver that is
still decoding what was already sent (a TCP stream), and using it is reported.
"""

from __future__ import annotations

import time
from typing import Any, Dict

from . import _loss
from ._receiving import Receiver, kind_for
from .systems import System

GRACE = 2.0


def run(system_name: str, system: System, opts: Dict[str, Any]) -> Dict[str, Any]:
    count, warmup = int(opts["count"]), int(opts["warmup"])
    with Receiver(kind_for(system.receiver, opts)) as receiver:
        system.setup(receiver.url, gzip=bool(opts.get("gzip", True)), burst=count)
        system.emit(0, warmup)
        system.flush()
        receiver.counters.wait_distinct(warmup, 60)
        system.emit(warmup, count)
        t0 = time.perf_counter()
        system.close()
        took = time.perf_counter() - t0
        at_return = receiver.counters.get("distinct") - warmup
        late = not receiver.counters.wait_distinct(warmup + count, 0) and \
            receiver.counters.wait_distinct(warmup + count, GRACE)
        verdict = _loss.verdict(receiver.counters, warmup + count, system.losses())
        return {
            "system": system_name,
            "label": system.label,
            "records": count,
            "close_seconds": took,
            "delivered_at_return": at_return,
            "late": late,
            "loss": verdict,
        }
