"""The disk spool on its own: what is written reads back, torn tails are detected, bounds hold."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

from astralog_logging._ipc._ledger import Ledger
from astralog_logging._ipc._shared import SharedStats
from astralog_logging._listener._batching import Batcher
from astralog_logging._listener._outbox import END, Batch, Outbox
from astralog_logging._listener._spool import Spool, read_segment
from astralog_logging._report import Reporter

ID = "0" * 31 + "1"


def test_written_batches_read_back_in_order(tmp_path: Path) -> None:
    """Batches come back with their ids and entries, oldest first."""
    spool = Spool(str(tmp_path), 1 << 30)
    spool.append(ID, [b'{"a":1}', b'{"b":2}'])
    seg = spool.append("f" * 32, [b'{"c":3}'])
    assert list(read_segment(seg.path)) == [(ID, [b'{"a":1}', b'{"b":2}']),
                                            ("f" * 32, [b'{"c":3}'])]
    assert stat.S_IMODE(os.stat(seg.path).st_mode) == 0o600


def test_torn_tail_is_detected_not_parsed(tmp_path: Path) -> None:
    """A crash mid-append loses that batch only; nothing after it is trusted."""
    spool = Spool(str(tmp_path), 1 << 30)
    seg = spool.append(ID, [b'{"a":1}'])
    spool.append("f" * 32, [b'{"long":"' + b"x" * 100 + b'"}'])
    data = Path(seg.path).read_bytes()
    Path(seg.path).write_bytes(data[:-10])
    assert [bid for bid, _ in read_segment(seg.path)] == [ID]
    Path(seg.path).write_bytes(data[:20] + b"\xff" + data[21:])
    assert list(read_segment(seg.path)) == []


def test_delivered_segments_are_deleted_given_up_kept(tmp_path: Path) -> None:
    """A segment goes once its batches are delivered; one that gave up stays, resendable."""
    spool = Spool(str(tmp_path), 1 << 30)
    seg = spool.append(ID, [b"{}"])
    spool.gave_up(seg)
    assert spool.resendable() == [seg] and os.path.exists(seg.path)
    spool.resent(seg)
    assert not os.path.exists(seg.path)
    seg2 = spool.append(ID, [b"{}"])
    spool.delivered(seg2, ID)
    assert os.path.exists(seg2.path)  # still the open segment
    spool._rotate()
    assert not os.path.exists(seg2.path)


def test_a_new_spool_finds_the_old_runs_segments(tmp_path: Path) -> None:
    """Segments left by a crashed or stopped run are resendable by the next one."""
    first = Spool(str(tmp_path), 1 << 30)
    first.append(ID, [b"{}", b"{}"])
    first.close()  # as a killed listener's lock goes with its process
    second = Spool(str(tmp_path), 1 << 30)
    [seg] = second.resendable()
    assert seg.records == 2


def test_a_live_listeners_segments_are_not_taken(tmp_path: Path) -> None:
    """Two applications with the same settings share the directory: a starting listener
    leaves a live one's segments alone (its open batch may be half written)."""
    live = Spool(str(tmp_path), 1 << 30)
    live.append(ID, [b"{}"])
    assert Spool(str(tmp_path), 1 << 30).resendable() == []
    live.close()
    later = Spool(str(tmp_path), 1 << 30)
    assert [s.records for s in later.resendable()] == [1]
    assert Spool(str(tmp_path), 1 << 30).resendable() == []  # adopted: now held by later


def test_limit_deletes_oldest_and_counts(tmp_path: Path) -> None:
    """Past spool_max_bytes the oldest resendable segments go, and their entries are counted."""
    spool = Spool(str(tmp_path), 1 << 30)
    kept = []
    for _ in range(3):
        seg = spool.append(ID, [b"x" * 1000] * 5)
        spool.gave_up(seg)
        kept.append(seg)
    spool.max_bytes = 2 * kept[0].size
    assert spool.enforce_limit() == 5
    assert not os.path.exists(kept[0].path)
    assert all(os.path.exists(s.path) for s in kept[1:])


def test_a_restarted_listener_resends_only_undelivered_batches(tmp_path: Path) -> None:
    """Batches delivered before a crash are noted beside their segment and not sent again;
    the note goes with the segment."""
    first = Spool(str(tmp_path), 1 << 30)
    seg = first.append(ID, [b'{"a":1}'])
    first.append("f" * 32, [b'{"b":2}'])
    first.delivered(seg, ID)  # the drain took the first; then the listener was killed
    first.close()
    second = Spool(str(tmp_path), 1 << 30)
    [found] = second.resendable()
    assert [bid for bid, _ in second.pending(found)] == ["f" * 32]
    second.resent(found)
    second.close()
    assert list(tmp_path.iterdir()) == []  # segments, notes and lock files all gone


def test_parts_of_a_batch_read_back_as_one_and_stay_in_one_segment(tmp_path: Path) -> None:
    """The open batch is written ahead in parts; they read back as one batch, in order, and
    later parts follow the first into its segment even after that segment was closed."""
    spool = Spool(str(tmp_path), 1 << 30)
    other = spool.append("f" * 32, [b'{"z":0}'])
    seg = spool.append(ID, [b'{"a":1}'])
    assert seg is other
    spool.gave_up(other)  # closes the segment while the batch behind it is still open
    assert spool.append(ID, [b'{"b":2}', b'{"c":3}'], seg) is seg
    assert list(read_segment(seg.path)) == [("f" * 32, [b'{"z":0}']),
                                            (ID, [b'{"a":1}', b'{"b":2}', b'{"c":3}'])]
    assert spool.resendable() == []  # the open batch is still outstanding there
    spool.delivered(seg, ID)
    assert spool.resendable() == [seg]


def test_a_spool_that_cannot_be_written_leaves_the_batch_in_memory(tmp_path: Path) -> None:
    """The disk fails mid-batch (full, or the directory gone): the open batch goes on from
    memory alone, counted at risk, said once; the listener keeps reading."""
    stats = SharedStats.create()
    out = io.StringIO()
    try:
        where = tmp_path / "spool"
        spool = Spool(str(where), 1 << 30)
        outbox = Outbox(Batcher(100, 1 << 20, 3600.0), 1 << 20, "drop_newest", spool,
                        Ledger(stats), Reporter(stream=out))
        outbox.add([b'{"a":1}'])
        assert stats.get("at_risk") == 0  # on disk already, its batch still open
        where.rename(tmp_path / "moved")
        where.write_text("a file where the directory was")
        outbox.add([b'{"b":2}'])
        assert stats.get("at_risk") == 2  # both wait in memory only now
        outbox.mark(END)
        batch = outbox.next()
        assert isinstance(batch, Batch)
        assert (batch.entries, batch.segment) == ([b'{"a":1}', b'{"b":2}'], None)
        assert "the spool cannot be written" in out.getvalue()
    finally:
        stats.close()
        stats.unlink()
