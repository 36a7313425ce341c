"""Every counter of the shared file is written through the ledger, each loss through one door."""

from __future__ import annotations

import pytest

from astralog_logging._ipc._ledger import Ledger, Loss, OwnerLedger
from astralog_logging._ipc._shared import Counter, SharedStats


@pytest.mark.parametrize(("reason", "shown_as"), [
    (Loss.REJECTED, "failed"), (Loss.OVERFLOW, "listener_dropped"),
    (Loss.SPOOL_FULL, "listener_dropped"), (Loss.GAP, "lost")])
def test_each_loss_is_shown_under_its_counter(stats: SharedStats, reason: Loss,
                                              shown_as: str) -> None:
    """Ledger.lost(reason, n) adds n to the stats() counter that reason is shown under, and
    moves losses() by n; nothing else changes."""
    before = stats.totals()
    Ledger(stats).lost(reason, 3)
    after = stats.totals()
    assert {k: after[k] - before[k] for k in after if after[k] != before[k]} == {shown_as: 3}
    assert stats.losses() == 3


def test_a_dead_listener_is_counted_once_into_the_owners_words(stats: SharedStats) -> None:
    """What a dead listener held is lost but for the batch on the wire (unconfirmed); the
    owner writes that into its own words, and a second count finds nothing."""
    listener = Ledger(stats)
    listener.held(5)
    listener.sending(2)
    owner = OwnerLedger(stats)
    assert owner.listener_died() == (3, 2)
    figures = stats.totals()
    assert (figures["lost"], figures["unconfirmed"], figures["at_risk"]) == (3, 2, 0)
    assert (stats.get(Counter.LOST), stats.get(Counter.DIED_LOST)) == (0, 3)
    assert owner.listener_died() == (0, 0)
    assert stats.totals()["lost"] == 3


def test_settled_counts_a_delivery_and_a_resend(stats: SharedStats) -> None:
    """settled() adds what was sent (and unspooled, when resent) and keeps the last status."""
    ledger = Ledger(stats)
    ledger.settled(sent=4, retried=1, batches=1, bytes_sent=100, status=200)
    ledger.settled(sent=2, retried=0, batches=1, bytes_sent=50, status=202, resent=True)
    figures = stats.totals()
    assert [figures[k] for k in ("sent", "unspooled", "retried", "batches", "bytes_sent",
                                 "last_status")] == [6, 2, 1, 2, 150, 202]
    assert stats.losses() == 0
