"""A thread that writes lines to their streams, so the thread handing them over never blocks.

A stream nobody reads (stderr piped to a stuck log collector, stdout into a stopped pager)
blocks a write forever, and ``emit`` must not. So callers hand lines over and one daemon
thread writes them in order; it alone may block. What waits is bounded by ``limit``, in
the weight ``weigh`` gives each line (1 per line, or its length); past it the newest line
is refused, or with ``drop_oldest`` the oldest make room. After a fork the writer starts
afresh: the thread did not survive it, and a lock may have been held.
"""

from __future__ import annotations

import collections
import os
import sys
import threading
import time
import weakref
from typing import Any, Callable, Deque, Optional, TextIO, Tuple

Line = Tuple[Optional[TextIO], str]


class LineWriter:
    def __init__(self, name: str, limit: int, weigh: Callable[[str], int],
                 drop_oldest: bool = False) -> None:
        self.name = name
        self.limit = limit
        self.weigh = weigh
        self.drop_oldest = drop_oldest
        self._lines: Deque[Line] = collections.deque()
        self._new_state()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: call_if_alive(ref, "_new_state"))

    def _new_state(self) -> None:
        self._lock = threading.RLock()  # re-entered from a signal handler, never deadlocked
        self._wake = threading.Condition(self._lock)
        self._writer: Optional[threading.Thread] = None
        self._waiting = 0  # weight of the waiting lines and of the one being written
        self._lines.clear()

    def put(self, stream: Optional[TextIO], line: str) -> bool:
        """Queue ``line`` for ``stream`` (None: sys.stderr as it is when written); False
        when the limit refused it."""
        weight = self.weigh(line)
        with self._lock:
            while self.drop_oldest and self._lines and self._waiting + weight > self.limit:
                self._waiting -= self.weigh(self._lines.popleft()[1])
            if self._waiting + weight > self.limit:
                return False
            if self._started():
                self._lines.append((stream, line))
                self._waiting += weight
                self._wake.notify()
                return True
        write_line(stream, line)  # at interpreter shutdown (3.12+) no thread can start
        return True

    def _started(self) -> bool:
        if self._writer is None:
            writer = threading.Thread(target=self._run, name=self.name, daemon=True)
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
                write_line(stream, line)  # the one place allowed to block on the stream
            finally:
                with self._lock:
                    self._waiting -= self.weigh(line)
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

    def waiting_lines(self) -> int:
        with self._lock:
            return len(self._lines)


def write_line(stream: Optional[TextIO], line: str) -> None:
    try:
        target = stream or sys.stderr
        target.write(line)
        target.flush()
    except Exception:  # a closed or odd stream: nothing better to do, and never raise
        pass


def call_if_alive(ref: weakref.ref[Any], method: str) -> None:
    """For fork and exit hooks, which must not keep their object alive."""
    obj = ref()
    if obj is not None:
        getattr(obj, method)()
