"""The drain's own counters, which the page shows and watches.

``stored`` and the others run on the request's thread after each batch is judged: a few
integer updates under a lock, the only thing ingest does for the page. An open page's
stream notices new entries by ``version`` moving (and by the store's newest id) and reads
them from the store itself, once per tick, so ingest never queues, copies or holds an
entry for a page however many are open.
"""

from __future__ import annotations

import datetime
import threading
from typing import Any, Dict, Optional


class Counters:
    """Requests as the drain judged them: stored, repeated, refused (by status) or faked."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batches = 0
        self._entries = 0
        self._duplicates = 0
        self._injected = 0
        self._rejected: Dict[str, int] = {}
        self._last: Optional[Dict[str, Any]] = None
        self.version = 0  # bumped on every change, so a watcher sends only what moved

    def stored(self, entries: int) -> None:
        with self._lock:
            self._batches += 1
            self._entries += entries
            self.version += 1

    def duplicate(self) -> None:
        with self._lock:
            self._duplicates += 1
            self.version += 1

    def refused(self, status: Optional[int], error: Optional[str], injected: bool) -> None:
        """A request answered 4xx/5xx or dropped; ``injected`` ones are a test's faults."""
        at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._lock:
            if injected:
                self._injected += 1
            else:
                key = "closed" if status is None else str(status)
                self._rejected[key] = self._rejected.get(key, 0) + 1
                self._last = {"status": status, "error": error, "at": at}
            self.version += 1

    def snapshot(self) -> Dict[str, Any]:
        with self._lock:
            return {"batches": self._batches, "entries": self._entries,
                    "duplicates": self._duplicates, "rejected": dict(self._rejected),
                    "last_rejected": self._last, "injected_faults": self._injected}
