"""A full queue: what emit does with a record it is going to drop anyway."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

from astralog_logging.testing import LocalDrain

from ._procs import drain_env, program


def test_a_dropped_record_is_counted_and_not_encoded(drain: LocalDrain) -> None:
    """With the queue full (listener stopped, overflow="drop_newest"), each further record
    is counted as dropped and never encoded: a stalled drain costs emit a comparison."""
    proc = subprocess.Popen(program("full_queue"), env=drain_env(drain.endpoint, drain.token),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    listener = int(proc.stdout.readline())
    try:
        out, err = proc.communicate(timeout=120)
    finally:  # a stopped listener must not outlive a failed run
        proc.kill()
        with contextlib.suppress(ProcessLookupError):
            os.kill(listener, signal.SIGKILL)
    assert out.split() == ["True", "100", "0"], err
