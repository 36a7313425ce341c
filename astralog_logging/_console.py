"""``console=True``: each record also on stdout or stderr, written by a thread of its own.

A stdout nobody reads (a stalled log collector, a pipe into a stopped pager) blocks a write
forever, and ``emit`` must never block. So the caller formats the line and hands it over;
one writer thread writes the lines in order, and alone may block. What waits is bounded
(``_MAX_WAITING`` characters); past that, lines are dropped, counted
(``stats()["console_dropped"]``) and said on stderr through the reporter. Lines may
therefore appear a moment after ``emit`` returned; ``flush()`` and ``close()`` wait for
them, bounded.
"""

from __future__ import annotations

import collections
import os
import threading
import time
import weakref
from typing import Deque, Optional, TextIO, Tuple

from ._report import Reporter, agree, call_if_alive

_MAX_WAITING = 4 * 1024 * 1024  # characters: a burst of tens of thousands of lines


class Console:
    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.dropped = 0
        self._lines: Deque[Tuple[TextIO, str]] = collections.deque()
        self._new_state()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: call_if_alive(ref, "_new_state"))

    def _new_state(self) -> None:
        # Also after a fork, which keeps no writer thread and maybe a lock it held.
        self._lock = threading.RLock()  # emit may run again from a signal handler
        self._wake = threading.Condition(self._lock)
        self._writer: Optional[threading.Thread] = None
        self._waiting = 0  # characters in _lines and the line being written
        self._lines.clear()

    def put(self, stream: TextIO, line: str) -> None:
        """Queue ``line`` for ``stream``; never blocks on the stream."""
        with self._lock:
            if self._waiting + len(line) > _MAX_WAITING:
                self.dropped += 1
                dropped = self.dropped
            elif self._started():
                self._lines.append((stream, line))
                self._waiting += len(line)
                self._wake.notify()
                return
            else:  # at interpreter shutdown (3.12+) no thread can start: write it here
                dropped = 0
        if dropped:
            self.reporter.limited("console", f"console=True: {dropped} "
                                  f"{agree(dropped, 'line', 'lines')} not printed so far: "
                                  "stdout or stderr is not being read")
        else:
            _write(stream, line)

    def _started(self) -> bool:
        if self._writer is None:
            writer = threading.Thread(target=self._run, name="astralog-console", daemon=True)
            try:
                writer.start()
            except RuntimeError:
                return False
            self._writer = writer
        return True

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._lines:
                    self._wake.wait()
                stream, line = self._lines.popleft()
            try:
                _write(stream, line)  # the one place allowed to block on the stream
            finally:
                with self._lock:
                    self._waiting -= len(line)
                    self._wake.notify_all()

    def wait_written(self, timeout: float) -> bool:
        """Wait, at most ``timeout`` seconds, until every waiting line is written."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._waiting:
                left = deadline - time.monotonic()
                if left <= 0 or self._writer is None:
                    return False
                self._wake.wait(left)
        return True

    def close(self, timeout: float) -> None:
        """The handler is closing: what is not written within ``timeout`` is counted."""
        if self.wait_written(timeout):
            return
        with self._lock:
            left = len(self._lines)
            self.dropped += left
        if left:
            self.reporter.say(f"console=True: {left} {agree(left, 'line', 'lines')} not "
                              "printed at close: stdout or stderr is not being read")


def _write(stream: TextIO, line: str) -> None:
    try:
        stream.write(line)
        stream.flush()
    except Exception:  # an odd or closed stream must not end the writer or the caller
        pass
