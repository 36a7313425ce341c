"""Frames fit one atomic pipe write and read back whole, whatever the read boundaries."""

from __future__ import annotations

import multiprocessing
import os
import pickle

from astralog_logging._ipc import _wire


def test_frame_is_a_multiprocessing_queue_item() -> None:
    """A frame is read back by the queue's own connection and unpickler as one bytes item."""
    q = multiprocessing.get_context("spawn").Queue()
    try:
        body = b'{"a":1}\n{"b":2}'
        os.write(q._writer.fileno(), _wire.frame(_wire.RECORDS, 42, 7, body))  # type: ignore[attr-defined]
        payload = pickle.loads(q._reader.recv_bytes())  # type: ignore[attr-defined]
        assert payload[13:] == body
    finally:
        q.close()
        q.join_thread()


def test_largest_body_fits_pipe_buf() -> None:
    """A frame with the largest body is exactly PIPE_BUF bytes: one atomic write."""
    assert len(_wire.frame(_wire.RECORDS, 1, 1, b"x" * _wire.MAX_BODY)) == _wire.PIPE_BUF


def test_reader_reassembles_across_arbitrary_cuts() -> None:
    """Frames split at every possible byte boundary come out whole and in order."""
    frames = [_wire.frame(_wire.RECORDS, 1, n, b"e%d" % n) for n in range(3)]
    stream = b"".join(frames)
    for cut in range(len(stream) + 1):
        reader = _wire.FrameReader()
        got = list(reader.feed(stream[:cut])) + list(reader.feed(stream[cut:]))
        assert [f.body for f in got] == [b"e0", b"e1", b"e2"]
        assert [f.seq for f in got] == [0, 1, 2]


def test_parts_split_and_carry_order() -> None:
    """An oversized entry splits into PART bodies that each fit one frame."""
    entry = os.urandom(3 * _wire.MAX_PART + 5)
    bodies = _wire.part_bodies(entry)
    assert len(bodies) == 4
    assert all(len(b) <= _wire.MAX_BODY for b in bodies)
    parts = [_wire.parse_part(b) for b in bodies]
    assert [(i, t) for i, t, _ in parts] == [(0, 4), (1, 4), (2, 4), (3, 4)]
    assert b"".join(c for _, _, c in parts) == entry


def test_malformed_payload_is_counted_not_trusted() -> None:
    """A length-prefixed payload without our pickle shape is skipped and counted."""
    reader = _wire.FrameReader()
    bogus = (20).to_bytes(4, "big") + b"z" * 20
    good = _wire.frame(_wire.FLUSH, 3, 1, _wire.flush_body(5, 9))
    got = list(reader.feed(bogus + good))
    assert reader.malformed == 1
    assert [(f.kind, _wire.parse_flush(f.body)) for f in got] == [(_wire.FLUSH, (5, 9))]
