"""The listener's sender: take the outbox's items in order and get each batch delivered.

One batch at a time, so batches reach the drain in the order they closed; a batch that is
being retried holds the ones behind it in the outbox (bounded there). After a success, and
at start, batches left in the spool by earlier failures or an earlier run are sent again,
oldest first, with their original batch ids.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Optional

from .._ipc._ledger import Ledger, Loss
from .._report import Reporter
from ._delivery import Delivery, Tally
from ._outbox import END, STOPPED, Batch, Outbox
from ._spool import Spool

_RESEND_PAUSE = 5.0  # seconds between attempts to empty the spool while the drain fails


class Sender:
    def __init__(self, outbox: Outbox, delivery: Delivery, ledger: Ledger,
                 reporter: Reporter, spool: Optional[Spool],
                 on_error: Optional[Callable[[str, int], Any]] = None,
                 on_success: Optional[Callable[[int], Any]] = None) -> None:
        self.outbox = outbox
        self.delivery = delivery
        self.ledger = ledger
        self.stats = ledger.stats
        self.reporter = reporter
        self.spool = spool
        self.on_error = on_error
        self.on_success = on_success
        self.total = Tally()
        self._next_resend = 0.0
        self.on_stopped: Callable[[], None] = lambda: None  # said before the stop is acked

    def run(self) -> Tally:
        self._resend()
        while True:
            item = self.outbox.next()
            if item is END:
                if self.spool is not None:
                    self.spool.close()
                self.stats.stopped_pid = os.getpid()
                return self.total
            if item is STOPPED:
                if self.spool is None:  # with one, its files are tidied at END first
                    self.on_stopped()
                    self.stats.stopped_pid = os.getpid()
                continue
            if not isinstance(item, Batch):
                self.stats.ack_flush(item[1], item[2])
                continue
            if time.monotonic() >= self.delivery.shutdown.deadline:
                tally = Tally(deferred=len(item.entries), last_error="shutdown_timeout ran out")
            else:
                tally = self._deliver(item)
            self._account(tally)  # first: a kill between the two counts twice, never zero
            self.outbox.resolved(item, tally)
            if tally.sent and not tally.deferred:
                self._resend()

    def _deliver(self, batch: Batch) -> Tally:
        """Deliver; while a request of an unspooled batch is out, say how many records it
        carries: if this process is killed then, the drain may or may not have them
        (``unconfirmed``). Spooled records are safe on disk either way."""
        if batch.segment is not None:
            return self.delivery.deliver(batch.entries, batch.batch_id)
        return self.delivery.deliver(batch.entries, batch.batch_id, on_wire=self.ledger.sending)

    def _resend(self) -> None:
        """Send spooled batches again, oldest first, until one fails."""
        spool = self.spool
        now = time.monotonic()
        if spool is None or now < self._next_resend:
            return
        self._next_resend = now + _RESEND_PAUSE
        segments = spool.resendable()  # the reader adds segments meanwhile
        for segment in segments:
            for batch_id, entries in spool.pending(segment):
                if time.monotonic() >= self.delivery.shutdown.deadline:
                    return
                tally = self.delivery.deliver(entries, batch_id)
                self._account(tally, resent=True)
                if tally.deferred:
                    return  # still failing: the segment stays, its delivered batches noted
                spool.mark_done(segment, batch_id)
            spool.resent(segment)

    def _account(self, tally: Tally, resent: bool = False) -> None:
        failed = tally.failed + (0 if self.spool is not None else tally.deferred)
        self.ledger.settled(tally.sent, tally.retried, tally.batches, tally.bytes_sent,
                            tally.last_status, resent=resent)
        self.ledger.lost(Loss.REJECTED, failed)
        self.total.sent += tally.sent
        self.total.failed += failed
        if tally.last_error:
            self.stats.set_text(tally.last_error)
        self._call(self.on_success, tally.sent)
        lost = tally.failed + tally.deferred
        if lost and self.on_error is not None:
            self._call(self.on_error, tally.last_error, lost)

    def _call(self, callback: Optional[Callable[..., Any]], *args: Any) -> None:
        if callback is None or not args[-1]:
            return
        try:
            callback(*args)
        except Exception as exc:  # a user's callback must not stop delivery
            self.reporter.limited("callback", f"{callback!r} raised {exc!r}")
