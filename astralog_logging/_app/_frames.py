"""The channel's frames: seal entries into frames, write them in order, count what is dropped.

Kept apart from ``_channel`` (the buffer's lock, the helper thread, flushing) because this is
the part that knows the wire: frames of at most ``PIPE_BUF`` bytes, each one ``write(2)``
(whole or ``EAGAIN``), numbered with the count of records written before it, and a backlog
bounded by ``max_queue_size`` records. Every method here runs with the channel's lock held.
"""

from __future__ import annotations

import os
import select
import time
from typing import Deque, List, Tuple

from .._ipc import _wire
from .._report import Reporter, records


class Frames:
    """The framing half of :class:`~._channel.Channel`; its state is set by the channel."""

    fd: int
    max_queue_size: int
    overflow: str
    reporter: Reporter
    dropped: int
    _pending: List[bytes]
    _pending_size: int
    _backlog: Deque[Tuple[int, bytes, int]]  # kind, body, count
    _queued: int  # records in _pending and _backlog
    _producer: int
    _seq: int
    _quiet_until: float

    def _make_room(self) -> bool:
        """With ``overflow="drop_oldest"``, drop the oldest waiting frame for a new record."""
        if self.overflow != "drop_oldest" or not self._backlog:
            return False
        _, _, count = self._backlog.popleft()
        self._queued -= count
        self._drop(count, "the queue is full (max_queue_size); oldest records dropped")
        return True

    def _seal(self) -> None:
        if not self._pending:
            return
        count = len(self._pending)
        body = b"\n".join(self._pending)
        self._pending = []
        self._pending_size = 0
        self._send(_wire.RECORDS, body, count)

    def _queue_large(self, entry: bytes) -> None:
        bodies = _wire.part_bodies(entry)
        self._queued += 1
        for i, body in enumerate(bodies):
            self._send(_wire.PART, body, 1 if i == len(bodies) - 1 else 0)

    def _send(self, kind: int, body: bytes, count: int) -> None:
        self._backlog.append((kind, body, count))
        self._write_backlog()

    def _write_backlog(self) -> bool:
        """Write queued frames in order until the pipe is full; True when all went out.

        A frame is numbered as it is written, with the count of records written before
        it, so records dropped from the backlog never look like a gap to the listener.
        """
        while self._backlog:
            kind, body, count = self._backlog[0]
            try:  # <= PIPE_BUF bytes: all of it or EAGAIN
                os.write(self.fd, _wire.frame(kind, self._producer, self._seq, body))
            except BlockingIOError:
                return False
            except OSError as exc:  # EPIPE: nobody can ever read this pipe again
                self._drop_backlog(f"the queue is closed ({exc})")
                return True
            self._backlog.popleft()
            self._queued -= count
            self._seq = (self._seq + count) & 0xFFFFFFFF
        return True

    def _drop_backlog(self, why: str) -> None:
        lost = sum(count for _, _, count in self._backlog)
        self._backlog.clear()
        self._queued -= lost
        self._drop(lost, why)

    def _drop(self, count: int, why: str) -> None:
        if count <= 0:
            return
        self.dropped += count
        now = time.monotonic()
        if now < self._quiet_until:  # the reporter would fold it: spare the formatting
            return
        self._quiet_until = now + 1.0
        self.reporter.limited("dropped", f"{records(self.dropped)} dropped so far in this "
                              f"process: {why}")

    def _wait_writable(self, timeout: float) -> None:
        try:
            select.select([], [self.fd], [], timeout)
        except (OSError, ValueError):
            time.sleep(timeout)
