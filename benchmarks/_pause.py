"""``python -m benchmarks._pause PID SECONDS``: SIGSTOP a process until told, or SECONDS.

A stopped process runs again only when someone sends it SIGCONT. The stall benchmark does
so in a ``finally``, but a worker killed by the runner's timeout runs no ``finally``, and
the listener, in a session of its own, would then stay stopped for good. So a guard process
stops it, says "stopped", and resumes it as soon as its stdin closes (the worker said so,
or died) or after SECONDS at the latest.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
from typing import List


def main(argv: List[str]) -> int:
    pid, limit = int(argv[0]), float(argv[1])
    os.kill(pid, signal.SIGSTOP)
    try:
        print("stopped", flush=True)
        select.select([sys.stdin], [], [], limit)  # readable at EOF too
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
