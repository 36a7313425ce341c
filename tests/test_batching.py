"""Batch boundaries are pure functions of entries and a clock."""

from __future__ import annotations

from astralog_logging._listener._batching import ENVELOPE_ALLOWANCE, Batcher


def test_closes_at_max_size() -> None:
    """The batch closes on the entry that makes it max_size long."""
    b = Batcher(max_size=3, max_bytes=1 << 20, interval=1.0)
    assert b.add(b"a", 0.0) == ()
    assert b.add(b"b", 0.0) == ()
    assert b.add(b"c", 0.0) == [[b"a", b"b", b"c"]]
    assert len(b) == 0


def test_closes_before_exceeding_max_bytes() -> None:
    """An entry that would push the body past max_bytes starts the next batch."""
    b = Batcher(max_size=100, max_bytes=ENVELOPE_ALLOWANCE + 25, interval=1.0)
    assert b.add(b"x" * 10, 0.0) == ()
    assert b.add(b"y" * 10, 0.0) == ()
    assert b.add(b"z" * 10, 0.0) == [[b"x" * 10, b"y" * 10]]
    assert b.take() == [b"z" * 10]


def test_oversized_entry_after_others_closes_two() -> None:
    """An entry that alone fills a batch closes the open one and then its own."""
    b = Batcher(max_size=100, max_bytes=ENVELOPE_ALLOWANCE + 20, interval=1.0)
    b.add(b"a", 0.0)
    assert b.add(b"b" * 30, 0.0) == [[b"a"], [b"b" * 30]]


def test_interval_counts_from_first_entry() -> None:
    """A batch is due flush_interval after its first entry, not its last."""
    b = Batcher(max_size=100, max_bytes=1 << 20, interval=1.0)
    assert b.deadline is None
    b.add(b"a", 10.0)
    b.add(b"b", 10.9)
    assert b.deadline == 11.0
    assert b.due(10.99) is None
    assert b.due(11.0) == [b"a", b"b"]
    assert b.deadline is None


def test_take_empties() -> None:
    """take() closes whatever is open, even nothing."""
    b = Batcher(max_size=10, max_bytes=1 << 20, interval=1.0)
    assert b.take() == []
    b.add(b"a", 0.0)
    assert b.take() == [b"a"]
