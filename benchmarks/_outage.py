"""Memory through a drain outage: RSS of the producer and the listener, then after recovery.

The receiver answers 503 for ``seconds`` while the producer logs at a steady ``rate``; then
it recovers and the run waits until every record arrived. The listener is given settings
that outlast the outage (enough retries, a deadline past its end, a 5 s cap on the back-off
so recovery is quick to observe); with the defaults (10 retries) a batch is given up after
about 75 s of a fresh outage on average. Memory is sampled every half second.
"""

from __future__ import annotations

import os
import time
from typing import Any, Dict, List, Tuple

from . import _loss, _proc
from ._receiving import Receiver, kind_for
from .systems.ours import Ours

SAMPLE = 0.5
STEP = 0.05  # seconds between the producer's small bursts


def run(system_name: str, _system: Any, opts: Dict[str, Any]) -> Dict[str, Any]:
    seconds, rate = float(opts["seconds"]), float(opts["rate"])
    system = Ours(max_retries=1_000_000, retry_deadline=seconds + 600, retry_max_delay=5.0)
    with Receiver(kind_for(system.receiver, opts)) as receiver:
        system.setup(receiver.url, gzip=True, burst=int(rate))
        system.emit(0, 1000)
        system.flush()
        receiver.counters.wait_distinct(1000, 60)
        seq = 1000
        listener = system.listener_pid() or 0
        me = os.getpid()
        samples: List[Tuple[float, int, int]] = []

        def sample(t0: float) -> None:
            samples.append((time.monotonic() - t0, _proc.rss_bytes(me),
                            _proc.rss_bytes(listener)))

        t0 = time.monotonic()
        sample(t0)
        before = samples[-1]
        receiver.outage(True)
        per_step = max(int(rate * STEP), 1)
        next_step = next_sample = t0
        while time.monotonic() - t0 < seconds:
            system.emit(seq, per_step)
            seq += per_step
            next_step += STEP
            if time.monotonic() >= next_sample:
                sample(t0)
                next_sample += SAMPLE
            time.sleep(max(next_step - time.monotonic(), 0))
        sample(t0)
        end_of_outage = samples[-1]
        outage_samples = list(samples)
        receiver.outage(False)
        t_back = time.monotonic()
        while not receiver.counters.wait_distinct(seq, SAMPLE):
            sample(t0)
            if time.monotonic() - t_back > 300:
                break
        recovery = time.monotonic() - t_back
        sample(t0)
        verdict = _loss.verdict(receiver.counters, seq, system.losses())
        system.close()
        return {
            "system": system_name,
            "label": system.label,
            "outage_seconds": seconds,
            "rate": rate,
            "records": seq,
            "recovery_seconds": recovery,
            "producer_rss": [before[1], max(s[1] for s in outage_samples), end_of_outage[1],
                             samples[-1][1]],
            "listener_rss": [before[2], max(s[2] for s in outage_samples), end_of_outage[2],
                             samples[-1][2]],
            "rejected_requests": receiver.counters.get("rejected_in_outage"),
            "samples": samples,
            "loss": verdict,
        }
