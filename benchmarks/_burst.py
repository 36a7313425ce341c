"""A peer at its default queue size under a burst: how much it drops (issue 6 quotes 29-42 %).

Not a figure of merit and not a zero-loss check: the loss is the finding. The count is read
once it has stopped growing for two seconds after a flush.
"""

from __future__ import annotations

import time
from typing import Any, Dict

from ._receiving import Receiver
from .systems.peer_otel import OpenTelemetry


def run(system_name: str, _system: Any, opts: Dict[str, Any]) -> Dict[str, Any]:
    count = int(opts["count"])
    system = OpenTelemetry(default_queue=True)
    with Receiver(system.receiver) as receiver:
        system.setup(receiver.url, gzip=False, burst=count)
        system.emit(0, count)
        system.flush()
        last, still_since = -1, time.monotonic()
        while time.monotonic() - still_since < 2.0:
            now = receiver.counters.get("distinct")
            if now != last:
                last, still_since = now, time.monotonic()
            if now >= count:
                break
            time.sleep(0.05)
        system.close()
        got = receiver.counters.get("distinct")
        return {
            "system": system_name,
            "label": system.label + " (default queue)",
            "records": count,
            "delivered": got,
            "dropped_pct": 100.0 * (count - got) / count,
        }
