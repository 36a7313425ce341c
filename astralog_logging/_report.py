"""The shipper's own diagnostics: straight to stderr, rate-limited, never through logging.

Logging a logging failure through the same pipeline recurses or deadlocks, so the package
speaks on stderr only. Repeated trouble is folded into at most one line per ``every``
seconds per topic, with the count of what was folded; a few events (a rejected token) are
said once and loudly.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Callable, Dict, Set, TextIO, Tuple


class Reporter:
    def __init__(self, every: float = 10.0, clock: Callable[[], float] = time.monotonic,
                 stream: TextIO | None = None) -> None:
        self.every = every
        self._clock = clock
        self._stream = stream
        self._lock = threading.Lock()
        self._last: Dict[str, Tuple[float, int]] = {}
        self._said: Set[str] = set()

    def say(self, message: str) -> None:
        stream = self._stream or sys.stderr
        try:
            stream.write(f"astralog-logging[{os.getpid()}]: {message}\n")
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass  # stderr closed or replaced by something odd: nothing better to do

    def once(self, topic: str, message: str) -> None:
        with self._lock:
            if topic in self._said:
                return
            self._said.add(topic)
        self.say(message)

    def limited(self, topic: str, message: str) -> bool:
        """Say ``message`` unless this topic spoke less than ``every`` seconds ago."""
        now = self._clock()
        with self._lock:
            last, folded = self._last.get(topic, (-1e18, 0))
            if now - last < self.every:
                self._last[topic] = (last, folded + 1)
                return False
            self._last[topic] = (now, 0)
        if folded:
            message += f" ({folded} similar reports folded since the last one)"
        self.say(message)
        return True
