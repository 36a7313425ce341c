"""Frames on the queue's pipe: how records travel from an app process to the listener.

Every item an app process puts on the queue is written with a single ``write(2)`` of at most
``PIPE_BUF`` bytes. Linux makes such a write atomic: it lands whole or not at all, so no lock
is needed between writers and a writer killed mid-call (SIGKILL, OOM) can neither leave half
an item in the pipe nor a lock held. That is the whole reason for this module.

A frame is exactly what ``multiprocessing.Queue`` itself puts on its pipe for a ``bytes``
item: the ``Connection`` framing (a 4-byte big-endian length) around a protocol-3 pickle,
so the queue's own reader and unpickler read it back. Building the pickle by hand costs one
``struct.pack``. We write frames ourselves instead of calling ``put`` because ``put`` hands
items to a feeder thread (gone after ``fork``) that serializes writers with a shared lock
(left held by a writer killed mid-write); see docs/design.md.

Payload layout::

    kind (1 byte) | producer id (8) | sequence (4) | body

``RECORDS`` bodies are serialized entries joined by ``\\n`` (orjson never emits a raw
newline). An entry too large for one frame travels as ``PART`` frames whose body starts with
``index, total`` (2 + 2 bytes); the listener reassembles them per producer. ``FLUSH`` asks the
listener to deliver everything before it and then acknowledge ``token`` in the producer's
shared slot. ``STOP`` is sent by the owner only; its body is how many seconds of
``shutdown_timeout`` are left for delivery.

The listener trusts no frame's shape: ``valid`` checks each body against its kind before
anything is parsed, and a datagram from the attach socket (``parse_datagram``) must be
exactly one whole frame, never a piece of a stream, so a bad one is dropped alone.
"""

from __future__ import annotations

import select
import struct
from typing import Iterator, NamedTuple

# 4096 on Linux, 512 on macOS (the POSIX minimum): frames are cut to what is atomic here.
PIPE_BUF: int = getattr(select, "PIPE_BUF", 512)

RECORDS = 1
PART = 2
FLUSH = 3
STOP = 4

_LENGTH = struct.Struct("!i")
_PICKLE_HEAD = struct.Struct("<2scI")  # PROTO 3, BINBYTES, length
_HEAD = struct.Struct("!BQI")
_PART = struct.Struct("!HH")
_FLUSH = struct.Struct("!IQ")

OVERHEAD = _LENGTH.size + _PICKLE_HEAD.size + 1 + _HEAD.size
MAX_BODY = PIPE_BUF - OVERHEAD
MAX_PART = MAX_BODY - _PART.size


class Frame(NamedTuple):
    kind: int
    producer: int
    seq: int
    body: bytes


def frame(kind: int, producer: int, seq: int, body: bytes) -> bytes:
    """Return one frame; the caller keeps ``len(body) <= MAX_BODY`` for atomicity."""
    size = _HEAD.size + len(body)
    return b"".join(
        (
            _LENGTH.pack(size + _PICKLE_HEAD.size + 1),
            _PICKLE_HEAD.pack(b"\x80\x03", b"B", size),
            _HEAD.pack(kind, producer, seq),
            body,
            b".",
        )
    )


def part_bodies(entry: bytes) -> list[bytes]:
    """Split one oversized entry into ``PART`` bodies, each fitting one atomic frame."""
    chunks = [entry[i : i + MAX_PART] for i in range(0, len(entry), MAX_PART)]
    total = len(chunks)
    return [_PART.pack(i, total) + c for i, c in enumerate(chunks)]


def valid(kind: int, body: bytes) -> bool:
    """Whether ``body`` has the shape its ``kind`` promises (checked before any parsing)."""
    if kind == RECORDS:
        return bool(body)
    if kind == PART:
        if len(body) <= _PART.size:
            return False
        index, total = _PART.unpack_from(body)
        return bool(index < total)
    if kind == FLUSH:
        return len(body) == _FLUSH.size
    if kind == STOP:
        return len(body) == _STOP.size
    return False


def parse_part(body: bytes) -> tuple[int, int, bytes]:
    index, total = _PART.unpack_from(body)
    return index, total, body[_PART.size :]


_STOP = struct.Struct("!d")


def stop_body(seconds_left: float) -> bytes:
    return _STOP.pack(seconds_left)


def parse_stop(body: bytes) -> float:
    return float(_STOP.unpack(body)[0]) if len(body) == _STOP.size else 0.0


def flush_body(slot: int, token: int) -> bytes:
    return _FLUSH.pack(slot, token)


def parse_flush(body: bytes) -> tuple[int, int]:
    slot, token = _FLUSH.unpack(body)
    return slot, token


class FrameReader:
    """Cuts a byte stream read from the pipe back into frames.

    Reads return whatever the pipe holds, so a read can end inside a frame; the remainder
    waits here for the next read. A payload that is not our pickle shape is skipped and
    counted rather than trusted.
    """

    def __init__(self) -> None:
        self._buf = b""
        self.malformed = 0

    def feed(self, data: bytes) -> Iterator[Frame]:
        buf = self._buf + data if self._buf else data
        pos, end = 0, len(buf)
        while end - pos >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(buf, pos)
            if not 0 <= size <= _MAX_SIZE:
                # No frame of ours has this length: the stream's framing is lost, and no
                # later byte of it can be trusted to start a frame.
                self.malformed += 1
                pos = end
                break
            stop = pos + _LENGTH.size + size
            if stop > end:
                break
            frame = _payload(buf, pos, stop) if size >= _MIN_SIZE else None
            if frame is None:
                self.malformed += 1
            else:
                yield frame
            pos = stop
        self._buf = buf[pos:]


_MIN_SIZE = _PICKLE_HEAD.size + _HEAD.size + 1
_MAX_SIZE = PIPE_BUF - _LENGTH.size


def _payload(buf: bytes, pos: int, stop: int) -> Frame | None:
    """The frame in ``buf[pos:stop]`` (length prefix included), or None if not our shape."""
    start = pos + _LENGTH.size
    magic, op, size = _PICKLE_HEAD.unpack_from(buf, start)
    if (magic, op) != (b"\x80\x03", b"B") or size != stop - start - _PICKLE_HEAD.size - 1:
        return None
    if buf[stop - 1 : stop] != b".":
        return None
    kind, producer, seq = _HEAD.unpack_from(buf, start + _PICKLE_HEAD.size)
    body = buf[start + _PICKLE_HEAD.size + _HEAD.size : stop - 1]
    return Frame(kind, producer, seq, body) if valid(kind, body) else None


def parse_datagram(data: bytes) -> Frame | None:
    """The one frame a datagram must be, or None: each datagram stands alone."""
    if len(data) < _LENGTH.size + _MIN_SIZE:
        return None
    (size,) = _LENGTH.unpack_from(data)
    if size != len(data) - _LENGTH.size:
        return None
    return _payload(data, 0, len(data))
