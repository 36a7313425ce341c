"""The applications of tests/test_processes.py that set their handler up their own way.

``python tests/programs/processes_bare.py SCENARIO``: ``dead_drain`` closes a handler whose
drain never answers and prints how long close() took; ``threads`` runs where no listener
process can start (sys.executable is a missing file, set before astralog_logging loads).
"""

from __future__ import annotations

import logging
import os
import sys
import time


def dead_drain() -> None:
    """100 warnings, then close() against a drain answering 503; prints its duration."""
    import astralog_logging

    handler = astralog_logging.AstralogHandler(shutdown_timeout=2, flush_interval=0.1)
    logging.getLogger().addHandler(handler)
    for i in range(100):
        logging.getLogger("x").warning("lost %d", i)
    t = time.monotonic()
    handler.close()
    print(round(time.monotonic() - t, 2))


def threads() -> None:
    """500 records from this process and 500 from a forked child, delivered from threads."""
    sys.executable = "/nonexistent/python"  # as in a sandbox that forbids starting processes
    import astralog_logging

    handler = astralog_logging.AstralogHandler(flush_interval=0.2)
    logging.getLogger().addHandler(handler)
    log = logging.getLogger("inline")
    for i in range(500):
        log.warning("parent %d", i, extra={"meta": {"i": i}})
    pid = os.fork()
    if pid == 0:
        for i in range(500, 1000):
            log.warning("child %d", i, extra={"meta": {"i": i}})
        handler.hand_over(time.monotonic() + 10)
        os._exit(0)
    os.waitpid(pid, 0)
    print(handler.flush(20))


if __name__ == "__main__":
    {"dead_drain": dead_drain, "threads": threads}[sys.argv[1]]()
