"""What the page watches live: the drain's own counters, and new entries as they are stored.

Both are fed on the request's thread right after a batch is stored, so each step here is
a few dictionary and list operations under a lock, and nothing waits on a reader: a page
that falls behind loses entries from its own bounded queue (counted and shown), never
slows ingest. With no page open, ``publish`` returns at once.
"""

from __future__ import annotations

import datetime
import threading
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

Batch = Tuple[int, str, Sequence[Dict[str, Any]], Sequence[bytes]]  # first id, service, ...

# Per open page: a tick's worth at 10,000 records/s. The page shows the newest 250 of a
# tick, so holding more would only keep parsed entries alive longer.
QUEUE_ENTRIES = 2_500


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


class Subscriber:
    """One open page's queue of stored batches, bounded in entries (one batch at least)."""

    def __init__(self, capacity: int) -> None:
        self._lock = threading.Lock()
        self._capacity = capacity
        self._batches: List[Batch] = []
        self._held = 0
        self._dropped = 0

    def offer(self, batch: Batch) -> None:
        """Queue a batch; the oldest ones go (counted) when over capacity: a live view
        wants the newest."""
        with self._lock:
            self._batches.append(batch)
            self._held += len(batch[2])
            while self._held > self._capacity and len(self._batches) > 1:
                gone = len(self._batches.pop(0)[2])
                self._held -= gone
                self._dropped += gone

    def take(self) -> Tuple[List[Batch], int]:
        """Everything queued since the last call, and how many entries did not fit."""
        with self._lock:
            batches, dropped = self._batches, self._dropped
            self._batches, self._held, self._dropped = [], 0, 0
        return batches, dropped


class Hub:
    """Hands each stored batch to every open page."""

    def __init__(self, capacity: int = QUEUE_ENTRIES) -> None:
        self._lock = threading.Lock()
        self._capacity = capacity
        self._subscribers: Set[Subscriber] = set()

    def publish(self, batch: Batch) -> None:
        if not self._subscribers:  # read without the lock: a page opening now catches up
            return
        with self._lock:
            for subscriber in self._subscribers:
                subscriber.offer(batch)

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber(self._capacity)
        with self._lock:
            self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)

    def __len__(self) -> int:
        return len(self._subscribers)
