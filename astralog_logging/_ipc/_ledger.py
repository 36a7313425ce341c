"""The counters of the shared file, written only through named operations.

Each word of the counters file has exactly one writer, so plain aligned stores suffice (see
``_shared``). The listener writes its counters through ``Ledger``; the owner, when its
listener has died, counts what that listener held through ``OwnerLedger`` into words of its
own. And every record given up is recorded through one door, ``lost(reason, count)`` (as
sentry-python's ``record_lost_event``), whatever the reason.
"""

from __future__ import annotations

import enum
from typing import Tuple

from ._shared import Counter, SharedStats


class Loss(enum.Enum):
    """Why records will never arrive, and the counter ``stats()`` shows them under."""

    REJECTED = ("rejected, or out of retries", Counter.FAILED)
    OVERFLOW = ("the listener's memory bound was full", Counter.LISTENER_DROPPED)
    SPOOL_FULL = ("deleted from a full spool", Counter.LISTENER_DROPPED)
    GAP = ("read by a listener killed before it counted them", Counter.LOST)

    def __init__(self, why: str, counter: Counter) -> None:
        self.why = why
        self.counter = counter


class Ledger:
    """The listener's side: what it read, holds, sends, settles, and gives up."""

    def __init__(self, stats: SharedStats) -> None:
        self.stats = stats

    def received(self, count: int) -> None:
        self.stats.bump(Counter.RECEIVED, count)

    def malformed(self, count: int = 1) -> None:
        self.stats.bump(Counter.MALFORMED, count)

    def held(self, count: int) -> None:
        """Records in memory only: a kill now would lose them (``at_risk``)."""
        self.stats.write(Counter.AT_RISK, count)

    def sending(self, count: int) -> None:
        """Records of an unspooled batch on the wire: a kill now leaves them unconfirmed."""
        self.stats.write(Counter.IN_FLIGHT, count)

    def on_disk(self, count: int) -> None:
        """Records kept in the spool for a later attempt."""
        self.stats.bump(Counter.SPOOLED, count)

    def settled(self, sent: int, retried: int, batches: int, bytes_sent: int, status: int,
                resent: bool = False) -> None:
        """A delivery's outcome, but for what it gave up (see ``lost``)."""
        stats = self.stats
        for counter, count in ((Counter.SENT, sent), (Counter.RETRIED, retried),
                               (Counter.BATCHES, batches), (Counter.BYTES_SENT, bytes_sent),
                               (Counter.UNSPOOLED, sent if resent else 0)):
            if count:
                stats.bump(counter, count)
        stats.write(Counter.LAST_STATUS, status)

    def lost(self, reason: Loss, count: int) -> None:
        """The one door for a record given up by the listener."""
        if count:
            self.stats.bump(reason.counter, count)


class OwnerLedger:
    """The owner's side: what its dead listener held. The owner takes over that listener's
    ``at_risk`` and ``in_flight`` words (their writer is dead; the next listener starts
    after this) and counts the loss into words of its own."""

    def __init__(self, stats: SharedStats) -> None:
        self.stats = stats

    def listener_died(self) -> Tuple[int, int]:
        """What the dead listener held is lost, but for the batch it was sending: the drain
        may have stored that one, so it is unconfirmed. Returns (lost, unconfirmed)."""
        stats = self.stats
        held = stats.get(Counter.AT_RISK)
        sending = min(stats.get(Counter.IN_FLIGHT), held)
        stats.write(Counter.AT_RISK, 0)
        stats.write(Counter.IN_FLIGHT, 0)
        stats.bump(Counter.DIED_LOST, held - sending)
        stats.bump(Counter.DIED_UNCONFIRMED, sending)
        return held - sending, sending
