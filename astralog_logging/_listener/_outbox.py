"""The listener's outbox: batches waiting for the sender, bounded in memory, spooled first.

The reader thread adds entries (the batcher inside decides where batches end) and markers;
the sender takes them in order. Three promises meet here, which is why they share one lock:
memory stays under ``max_buffer_bytes`` (``overflow`` chooses what goes when it is full);
with a spool every entry is on disk once the read that brought it is taken in (the open
batch is written ahead in parts under its final batch_id), before anyone may send it; and
``at_risk``
always says how many received entries would be lost if this process died now, so the
owner can count a killed listener's loss exactly.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from typing import Callable, Deque, List, Optional, Tuple, Union

from .._ipc._ledger import Ledger, Loss
from .._report import Reporter, records
from ._batching import Batcher
from ._delivery import Tally, new_batch_id
from ._spool import Segment, Spool


@dataclasses.dataclass
class Batch:
    entries: List[bytes]
    batch_id: str
    size: int
    segment: Optional[Segment] = None


Marker = Tuple[str, int, int]  # ("flush", slot, token), ("stopped", 0, 0) or ("end", 0, 0)
Item = Union[Batch, Marker]
END: Marker = ("end", 0, 0)
STOPPED: Marker = ("stopped", 0, 0)  # everything read before the owner's STOP is behind us


class Outbox:
    def __init__(self, batcher: Batcher, max_bytes: int, overflow: str,
                 spool: Optional[Spool], ledger: Ledger, reporter: Reporter) -> None:
        self.cv = threading.Condition()
        self.batcher = batcher
        self.max_bytes = max_bytes
        self.overflow = overflow
        self.spool = spool
        self.ledger = ledger
        self.reporter = reporter
        self._items: Deque[Item] = collections.deque()
        self._bytes = 0
        self._at_risk = 0
        self._dropped = 0
        self._open_segment: Optional[Segment] = None
        self._next_batch()

    # -- reader side (takes the lock itself) ----------------------------------------------

    def add(self, entries: List[bytes], then: Callable[[], None] = lambda: None) -> None:
        """Take entries in; ``then`` runs as soon as ``at_risk`` counts them (see _gaps)."""
        with self.cv:
            now = time.monotonic()
            self._risk(len(entries))
            then()
            for entry in entries:
                for closed in self.batcher.add(entry, now):
                    self._push(closed)
            if self.spool is not None:
                self._write_ahead(self.batcher.open_entries)
            self.cv.notify()

    def tick(self) -> None:
        """Close the open batch if its interval is up, from the reader's side too.

        The sender closes batches on time only when it is idle; while it waits on a slow
        or failing drain, this keeps the open batch (and so what a crash could lose)
        within one ``flush_interval``, and gets it into the spool.
        """
        with self.cv:
            closed = self.batcher.due(time.monotonic())
            if closed:
                self._push(closed)
                self.cv.notify()

    def idle(self) -> bool:
        """Nothing open and nothing waiting: no batch can come due (the reader's tick may
        sleep long). A delivery under way is the sender's; it needs no tick."""
        return not self._items and not len(self.batcher)

    def mark(self, marker: Marker) -> None:
        """Close the open batch, then queue ``marker`` behind everything before it."""
        with self.cv:
            self._push(self.batcher.take())
            self._items.append(marker)
            self.cv.notify()

    # -- sender side ---------------------------------------------------------------------

    def next(self) -> Item:
        """The next item in order; closes the open batch when its interval is up."""
        with self.cv:
            while not self._items:
                now = time.monotonic()
                closed = self.batcher.due(now)
                if closed:
                    self._push(closed)
                    break
                deadline = self.batcher.deadline
                self.cv.wait(None if deadline is None else max(deadline - now, 0.001))
            item = self._items.popleft()
            if isinstance(item, Batch):
                self._bytes -= item.size
            return item

    def resolved(self, batch: Batch, tally: Tally) -> None:
        """Record a delivery's outcome: a spooled batch is deleted or kept for later."""
        with self.cv:
            if batch.segment is not None and self.spool is not None:
                if tally.deferred:
                    self.spool.gave_up(batch.segment)
                    self.ledger.on_disk(tally.deferred)
                    self._enforce_spool_limit()
                else:
                    self.spool.delivered(batch.segment, batch.batch_id)
            else:
                self._risk(-len(batch.entries))

    # -- inside the lock -----------------------------------------------------------------

    def _next_batch(self) -> None:
        """The open batch's id is fixed when it opens, so the parts the spool writes ahead
        and the batch that is finally sent are one and the same."""
        self._open_id = new_batch_id()
        self._open_written = 0  # of its entries, how many are on disk
        self._open_segment = None
        self._open_unspooled = False  # the spool failed it: it goes from memory alone

    def _write_ahead(self, entries: List[bytes]) -> None:
        """Put what the spool does not have yet of the open batch on disk."""
        assert self.spool is not None
        new = entries[self._open_written :]
        if not new or self._open_unspooled:
            return
        try:
            self._open_segment = self.spool.append(self._open_id, new, self._open_segment)
        except OSError as exc:
            self._unspool_open(exc)
            return
        self._open_written = len(entries)
        self._risk(-len(new))  # on disk now: a crash no longer loses it

    def _unspool_open(self, error: OSError) -> None:
        """The spool cannot be written (disk full, directory gone): the open batch goes on
        from memory alone, exactly as without a spool; the next batch tries the disk again."""
        assert self.spool is not None
        if self._open_segment is not None:
            self.spool.delivered(self._open_segment, self._open_id)
        self._risk(self._open_written)  # in memory only again
        self._open_segment = None
        self._open_unspooled = True
        self.reporter.limited("spool-write", f"the spool cannot be written ({error}); "
                              "records wait in memory only until it can")

    def _push(self, entries: List[bytes]) -> None:
        if not entries:
            return
        batch = Batch(entries, self._open_id, sum(map(len, entries)))
        if self.spool is not None:
            self._write_ahead(entries)
            batch.segment = self._open_segment
        self._next_batch()
        while self._bytes + batch.size > self.max_bytes:
            if self.overflow == "drop_oldest" and self._drop_oldest():
                continue
            self._shed(batch)
            return
        self._items.append(batch)
        self._bytes += batch.size

    def _drop_oldest(self) -> bool:
        for i, item in enumerate(self._items):
            if isinstance(item, Batch):
                del self._items[i]
                self._bytes -= item.size
                self._shed(item)
                return True
        return False

    def _shed(self, batch: Batch) -> None:
        """Memory is full: a spooled batch waits on disk, otherwise it is dropped, counted."""
        count = len(batch.entries)
        if batch.segment is not None and self.spool is not None:
            self.spool.gave_up(batch.segment)
            self.ledger.on_disk(count)
            self._enforce_spool_limit()
            return
        self._risk(-count)
        self.ledger.lost(Loss.OVERFLOW, count)
        self._dropped += count
        self.reporter.limited("overflow", f"the drain is not keeping up: {records(self._dropped)}"
                              f" dropped so far (max_buffer_bytes={self.max_bytes} is full)")

    def _enforce_spool_limit(self) -> None:
        assert self.spool is not None
        lost = self.spool.enforce_limit()
        if lost:
            self.ledger.lost(Loss.SPOOL_FULL, lost)
            self.reporter.limited("spool-full", f"the spool is full (spool_max_bytes): "
                                  f"{records(lost)} deleted, the oldest")

    def _risk(self, change: int) -> None:
        self._at_risk += change
        self.ledger.held(self._at_risk)
