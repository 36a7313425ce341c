"""The application of tests/test_serverless.py's 20-second freeze test.

Prints the listener's pid, logs numbered records until a line arrives on stdin, then prints
how many it logged, whether flush() was clean, and the listener's pid again.
"""

from __future__ import annotations

import logging
import select
import sys

from astralog_logging import AstralogHandler

handler = AstralogHandler(flush_interval=0.2)
logging.getLogger().addHandler(handler)
logging.getLogger().setLevel(logging.INFO)
log = logging.getLogger("stream")
print(handler.stats()["listener_pid"], flush=True)
i = 0
while not select.select([sys.stdin], [], [], 0.002)[0]:  # until the test says stop
    log.info("stream %d", i, extra={"meta": {"i": i}})
    i += 1
print(i, handler.flush(30), handler.stats()["listener_pid"], flush=True)
