"""A full queue: what emit does with a record it is going to drop anyway."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

from astralog_logging.testing import LocalDrain

from ._procs import ROOT, drain_env

APP = """
import logging, os, signal, sys
sys.path.insert(0, %r)
import astralog_logging
handler = astralog_logging.AstralogHandler(max_queue_size=50)
log = logging.getLogger("full")
log.addHandler(handler)
listener = handler._link.stats.listener_pid
print(listener, flush=True)
os.kill(listener, signal.SIGSTOP)  # the pipe fills, then the queue, then records drop
for i in range(100_000):
    log.warning("filler %%d", i, extra={"pad": "p" * 200})
    if handler.stats()["dropped"]:
        break

class Counted:
    encoded = 0

    def __str__(self):
        Counted.encoded += 1
        return "counted"

before = handler.stats()["dropped"]
for _ in range(100):
    log.warning("%%s", Counted())
print(before > 0, handler.stats()["dropped"] - before, Counted.encoded, flush=True)
os.kill(listener, signal.SIGKILL)
os._exit(0)
""" % ROOT


def test_a_dropped_record_is_counted_and_not_encoded(drain: LocalDrain) -> None:
    """With the queue full (listener stopped, overflow="drop_newest"), each further record
    is counted as dropped and never encoded: a stalled drain costs emit a comparison."""
    proc = subprocess.Popen([sys.executable, "-c", APP], env=drain_env(drain.endpoint,
                            drain.token), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    listener = int(proc.stdout.readline())
    try:
        out, err = proc.communicate(timeout=120)
    finally:  # a stopped listener must not outlive a failed run
        proc.kill()
        with contextlib.suppress(ProcessLookupError):
            os.kill(listener, signal.SIGKILL)
    assert out.split() == ["True", "100", "0"], err
