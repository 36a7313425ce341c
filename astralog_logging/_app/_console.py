"""``console=True``: each record also on stdout or stderr, written by a thread of its own.

A stdout nobody reads blocks a write forever, and ``emit`` must never block (see
``_lines``). So the caller formats the line (the record may change later) and hands it
over. What waits is bounded (``_MAX_WAITING`` characters); past that, lines are dropped,
counted (``stats()["console_dropped"]``) and said on stderr through the reporter. Lines may
therefore appear a moment after ``emit`` returned; ``flush()`` and ``close()`` wait for
them, bounded.
"""

from __future__ import annotations

from typing import TextIO

from .._lines import LineWriter
from .._report import Reporter, agree

_MAX_WAITING = 4 * 1024 * 1024  # characters: a burst of tens of thousands of lines


class Console:
    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.dropped = 0
        self._out = LineWriter("astralog-console", _MAX_WAITING, len)

    def put(self, stream: TextIO, line: str) -> None:
        """Queue ``line`` for ``stream``; never blocks on the stream."""
        if self._out.put(stream, line):
            return
        self.dropped += 1
        self.reporter.limited("console", f"console=True: {self.dropped} "
                              f"{agree(self.dropped, 'line', 'lines')} not printed so far: "
                              "stdout or stderr is not being read")

    def wait_written(self, timeout: float) -> bool:
        return self._out.wait_written(timeout)

    def close(self, timeout: float) -> None:
        """The handler is closing: what is not written within ``timeout`` is counted."""
        if self._out.wait_written(timeout):
            return
        left = self._out.waiting_lines()
        self.dropped += left
        if left:
            self.reporter.say(f"console=True: {left} {agree(left, 'line', 'lines')} not "
                              "printed at close: stdout or stderr is not being read")
