"""The application of tests/test_full_queue.py: prints the listener's pid (no public form),
stops it, logs until a record is dropped, then logs 100 records whose message counts its
own encodings; prints whether drops began, the further drops and the encodings."""

from __future__ import annotations

import logging
import os
import signal

import astralog_logging

handler = astralog_logging.AstralogHandler(max_queue_size=50)
log = logging.getLogger("full")
log.addHandler(handler)
listener = handler.stats()["listener_pid"]
print(listener, flush=True)
os.kill(listener, signal.SIGSTOP)  # the pipe fills, then the queue, then records drop
for i in range(100_000):
    log.warning("filler %d", i, extra={"pad": "p" * 200})
    if handler.stats()["dropped"]:
        break


class Counted:
    encoded = 0

    def __str__(self) -> str:
        Counted.encoded += 1
        return "counted"


before = handler.stats()["dropped"]
for _ in range(100):
    log.warning("%s", Counted())
print(before > 0, handler.stats()["dropped"] - before, Counted.encoded, flush=True)
os.kill(listener, signal.SIGKILL)
os._exit(0)
