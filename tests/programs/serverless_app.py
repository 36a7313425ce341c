"""The application of tests/test_serverless.py's freeze tests: N decorated invocations.

``python tests/programs/serverless_app.py N [no-processes]``: one handler whose batches
never close on their own (flush_interval=60), so whatever is at the drain when an
invocation returns was sent by flush_after. Prints the listener's pid, then after each
invocation "returned i" and waits for a line on stdin (the test looks at the drain, maybe
freezes us, then says go). ``no-processes`` makes starting the listener's interpreter fail
with an OSError, as in a sandbox that forbids new processes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from typing import Any, Dict

if sys.argv[2:] == ["no-processes"]:
    sys.executable = "/nonexistent/python"  # before astralog_logging looks at it

from astralog_logging import AstralogHandler
from astralog_logging.serverless import flush_after

PER_INVOCATION = 5  # as tests/test_serverless.py expects

handler = AstralogHandler(flush_interval=60)
logging.getLogger().addHandler(handler)
logging.getLogger().setLevel(logging.INFO)
log = logging.getLogger("fn")


class Context:
    """What AWS Lambda passes: the time left before the invocation is killed."""

    def __init__(self, millis: int) -> None:
        self.until = time.monotonic() + millis / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self.until - time.monotonic()) * 1000)


def work(i: int) -> None:
    for k in range(PER_INVOCATION):
        log.info("invocation %d record %d", i, k, extra={"meta": {"inv": i, "k": k}})


@flush_after
def sync_handler(event: Dict[str, int], context: Any) -> Dict[str, int]:
    work(event["i"])
    return {"i": event["i"]}


@flush_after(flush_timeout=5)
async def async_handler(event: Dict[str, int], context: Any) -> Dict[str, int]:
    await asyncio.sleep(0)
    work(event["i"])
    return {"i": event["i"]}


def listener_pid() -> int:
    """The listener's pid, or ours when its threads serve."""
    pid: int = handler.stats()["listener_pid"]
    return pid


print(listener_pid(), flush=True)
for i in range(int(sys.argv[1])):
    event = {"i": i}
    if i % 2:
        out = asyncio.run(async_handler(event, Context(2500)))
    else:
        out = sync_handler(event, Context(2500))
    assert out == event, out
    print("returned", i, flush=True)
    sys.stdin.readline()  # the test looks at the drain, maybe freezes us, then says go
print("done", listener_pid(), flush=True)
os._exit(0)  # as a sandbox that is never thawed: no atexit, no logging.shutdown
