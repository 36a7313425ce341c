"""What an idle application and its listener cost: ``python -m benchmarks.idle``.

One handler logs one record, which is delivered; then nothing is logged for ``--minutes``.
Every ``--every`` seconds this prints, for the application process and the listener, the
CPU time used (user + system, all threads, from ``/proc``) and the wakeups per second
(voluntary + involuntary context switches, all threads) over the interval. A flat series
means no timer that fires more often than it says and no CPU that grows over time. The
app's count includes this tool's own wakeup once a line (1/``--every`` per second). Linux
only. The receiver runs in its own process, so its server thread is not counted.
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import time
from typing import List, Optional, Tuple

from ._receiving import our_handler

_TICKS = os.sysconf("SC_CLK_TCK")


def sample(pid: int) -> Tuple[float, int]:
    """CPU seconds and context switches so far, summed over the process's threads."""
    cpu, switches = 0.0, 0
    for task in glob.glob(f"/proc/{pid}/task/*"):
        try:
            with open(f"{task}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"{task}/status") as f:
                status = f.read().splitlines()
        except OSError:  # a thread that ended between the listing and the read
            continue
        cpu += (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
        switches += sum(int(line.split()[1]) for line in status
                        if line.startswith(("voluntary_ctxt", "nonvoluntary_ctxt")))
    return cpu, switches


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.idle", description=__doc__)
    p.add_argument("--minutes", type=float, default=60.0, help="how long to stay idle")
    p.add_argument("--every", type=float, default=300.0, help="seconds per printed line")
    args = p.parse_args(argv)
    logger = logging.getLogger("bench.idle")
    with our_handler(logger, service="idle") as (handler, _):
        logger.warning("one record, then nothing")
        assert handler.flush(timeout=60), "the first record was not delivered"
        pids = {"app": os.getpid(), "listener": handler.stats()["listener_pid"]}
        last = {name: sample(pid) for name, pid in pids.items()}
        start = then = time.monotonic()
        while time.monotonic() - start < args.minutes * 60:
            time.sleep(min(args.every, args.minutes * 60))  # idle on purpose: the subject
            now = time.monotonic()
            parts = []
            for name, pid in pids.items():
                cpu, switches = sample(pid)
                parts.append(f"{name} {cpu - last[name][0]:.2f} s CPU, "
                             f"{(switches - last[name][1]) / (now - then):.2f} wakeups/s")
                last[name] = (cpu, switches)
            print(f"{(now - start) / 60:6.1f} min: " + "; ".join(parts), flush=True)
            then = now
        logger.warning("and one after the idle time")
        print("delivered after the idle time:", handler.flush(timeout=60))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
