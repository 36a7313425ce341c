"""Sequence numbers: the records a dead listener read but never counted are found and
counted by its successor, exactly; records a producer dropped itself are never a gap."""

from __future__ import annotations

import os
from typing import List

from astralog_logging._app._channel import Channel
from astralog_logging._ipc import _shared, _wire
from astralog_logging._ipc._ledger import Ledger
from astralog_logging._ipc._shared import SharedStats
from astralog_logging._listener._gaps import Gaps
from astralog_logging._report import Reporter


def test_frames_in_order_have_no_gaps(stats: SharedStats) -> None:
    gaps = Gaps(Ledger(stats))
    assert [gaps.see(7, seq, 5) for seq in (0, 5, 10)] == [0, 0, 0]
    assert gaps.see(7, 15, 0) == 0  # a flush frame counts no records
    assert gaps.see(7, 15, 1) == 0


def test_successor_counts_what_was_read_but_never_committed(stats: SharedStats) -> None:
    """A listener that read two frames and died before counting them: its successor,
    loading the shared table, finds exactly their records missing."""
    first = Gaps(Ledger(stats))
    first.see(7, 0, 20)
    first.see(9, 0, 3)
    first.commit()
    first.see(7, 20, 30)  # read, then killed before commit
    first.see(9, 3, 4)
    second = Gaps(Ledger(stats))
    assert second.see(7, 50, 10) == 30
    assert second.see(9, 7, 1) == 4
    assert second.see(7, 60, 1) == 0


def test_a_hole_is_counted_once_even_if_its_finder_dies_too(stats: SharedStats) -> None:
    """A listener that found a hole and was killed before its next commit: the one after
    it does not count that hole again."""
    first = Gaps(Ledger(stats))
    first.see(7, 0, 10)
    first.commit()
    assert Gaps(Ledger(stats)).see(7, 30, 5) == 20  # then killed, nothing committed
    assert Gaps(Ledger(stats)).see(7, 30, 5) == 0
    assert stats.get("lost") == 20


def test_unknown_producer_past_zero_lost_its_first_frames(stats: SharedStats) -> None:
    """A producer first heard at sequence 40 wrote 40 records someone read and lost."""
    assert Gaps(Ledger(stats)).see(3, 40, 1) == 40


def test_sequence_numbers_wrap(stats: SharedStats) -> None:
    gaps = Gaps(Ledger(stats))
    top = 0xFFFFFFFF
    gaps.see(5, 0, top - 1)
    assert gaps.see(5, top - 1, 3) == 0
    assert gaps.see(5, 1, 1) == 0
    assert gaps.see(5, 12, 1) == 10


def test_a_full_table_forgets_the_quietest_producer(stats: SharedStats) -> None:
    """Past SEQ_ENTRIES producers the least recently heard is forgotten; from then on an
    unknown producer proves nothing, so nothing is counted for it."""
    gaps = Gaps(Ledger(stats))
    for producer in range(1, _shared.SEQ_ENTRIES + 1):
        gaps.see(producer, 0, 1)
    gaps.see(1, 1, 1)  # producer 1 is recent again; producer 2 is now the quietest
    gaps.see(10_000, 0, 1)
    gaps.commit()
    assert stats.seq_forgot
    known = {producer for _, producer, _ in stats.seq_table()}
    assert 1 in known and 10_000 in known and 2 not in known
    assert len(known) == _shared.SEQ_ENTRIES
    assert gaps.see(2, 1, 1) == 0
    assert Gaps(Ledger(stats)).see(1, 2, 1) == 0


def _frames(read_fd: int) -> List[_wire.Frame]:
    reader = _wire.FrameReader()
    frames: List[_wire.Frame] = []
    while True:
        try:
            data = os.read(read_fd, 1 << 16)
        except BlockingIOError:
            return frames
        frames.extend(reader.feed(data))


def test_records_a_producer_drops_are_not_a_gap() -> None:
    """A full pipe makes the channel drop (counted as dropped); the frames that do get
    through are numbered by what was written, so the listener sees no hole."""
    stats = SharedStats.create()  # left mapped: the channel's helper thread outlives the test
    stats.unlink()
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)
    channel = Channel(write_fd, stats, 50, Reporter(), overflow="drop_oldest")
    gaps = Gaps(Ledger(stats))
    seen = 0
    try:
        for round_ in range(3):
            for i in range(3000):  # far more than a 64 KiB pipe holds
                channel.put(b'{"message":"r%d-%d","pad":"%s"}' % (round_, i, b"x" * 60))
            channel.push(0.0)
            for kind, producer, seq, body in _frames(read_fd):
                count = len(body.split(b"\n")) if kind == _wire.RECORDS else 0
                assert gaps.see(producer, seq, count) == 0
                seen += count
    finally:
        with channel._lock:  # its helper thread lives on: never let it write to a reused fd
            channel.fd = -1
        os.close(read_fd)
        os.close(write_fd)
    assert channel.dropped > 0
    assert seen + channel.dropped + channel.queue_depth == channel.enqueued
