"""The application of tests/test_serverless.py's read-only /dev/shm test.

Run inside a mount namespace whose /dev/shm is a read-only empty tmpfs: prints whether
/dev/shm is writable and what it holds, then one flush_after invocation in which the
parent, a forked child and a multiprocessing child each log 50 records; prints its result.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from typing import Any

from astralog_logging import AstralogHandler
from astralog_logging.serverless import flush_after

print(os.access("/dev/shm", os.W_OK), os.listdir("/dev/shm"), flush=True)
handler = AstralogHandler(flush_interval=60)
logging.getLogger().addHandler(handler)
logging.getLogger().setLevel(logging.INFO)
log = logging.getLogger("fn")


def burst(who: str) -> None:
    for k in range(50):
        log.info("%s %d", who, k, extra={"meta": {"who": who, "k": k}})


@flush_after
def handler_fn(event: Any, context: Any) -> str:
    burst("parent")
    pid = os.fork()
    if pid == 0:
        burst("forked")
        logging.shutdown()  # what a child leaving by sys.exit would do
        os._exit(0)
    os.waitpid(pid, 0)
    child = multiprocessing.get_context("fork").Process(target=burst, args=("process",))
    child.start()
    child.join()
    return "ok"


print(handler_fn({}, None), flush=True)
os._exit(0)  # no atexit: only flush_after delivered
