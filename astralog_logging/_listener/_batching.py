"""Which entries form the next batch, and when it closes. Pure: no I/O, the clock is passed in.

A batch closes when it holds ``max_size`` entries, when one more entry would push its body
past ``max_bytes``, or ``interval`` seconds after its first entry arrived, whichever comes
first. Entries are already-serialized bytes, so a batch's size is known exactly.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

# Bytes the envelope adds around the entries, with room for long project and service names.
ENVELOPE_ALLOWANCE = 1024


class Batcher:
    def __init__(self, max_size: int, max_bytes: int, interval: float) -> None:
        self.max_size = max_size
        self.max_bytes = max_bytes - ENVELOPE_ALLOWANCE
        self.interval = interval
        self._entries: List[bytes] = []
        self._bytes = 0
        self._opened_at = 0.0

    @property
    def deadline(self) -> Optional[float]:
        """When the open batch must close on time alone; None when nothing is open."""
        return self._opened_at + self.interval if self._entries else None

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def open_entries(self) -> List[bytes]:
        """The open batch so far (the spool writes it ahead, part by part); do not modify."""
        return self._entries

    def add(self, entry: bytes, now: float) -> Sequence[List[bytes]]:
        """Add one entry; return the batches that adding it closed (usually none).

        Two close at once only when an entry that alone fills a batch follows others.
        """
        size = len(entry) + 1  # the comma that joins it
        closed: Sequence[List[bytes]] = ()
        if self._entries and self._bytes + size > self.max_bytes:
            closed = [self.take()]
        if not self._entries:
            self._opened_at = now
        self._entries.append(entry)
        self._bytes += size
        if len(self._entries) >= self.max_size or self._bytes >= self.max_bytes:
            closed = [*closed, self.take()]
        return closed

    def due(self, now: float) -> Optional[List[bytes]]:
        """Close the open batch if its interval has passed."""
        deadline = self.deadline
        if deadline is not None and now >= deadline:
            return self.take()
        return None

    def take(self) -> List[bytes]:
        """Close the open batch now (flush, shutdown), whatever its size."""
        entries, self._entries, self._bytes = self._entries, [], 0
        return entries
