"""This process's end of the queue: gather serialized entries, write them in atomic frames.

``emit`` appends an entry to a small buffer; when the buffer would outgrow one frame it is
written at once with a single non-blocking ``write(2)``, and otherwise a helper thread
writes it ``LINGER`` seconds later. So the per-record cost is an append, the syscall is
shared by a frame's worth of records, and an idle process still delivers within
milliseconds. When the pipe is full (the listener is behind or restarting), frames wait in
a backlog bounded by ``max_queue_size`` records; past that, records are dropped and counted.

Nothing here blocks the caller and nothing here relies on a thread surviving ``fork``: the
child of a fork starts with an empty buffer (its parent still owns and sends its own), a new
producer id, and starts its own helper thread on first use.

A child of a bare ``os.fork`` often ends in ``os._exit``, which runs no exit hook, so a
record buffered there would vanish uncounted. Until an exit hook is known to protect the
process (``protect``: a ``multiprocessing`` or billiard child's own exit runs ours), its
channel writes each record through at ``put``; only what the full pipe refuses waits.

A signal handler may log while the thread it interrupted is inside this class. The lock is
re-entrant so that never deadlocks, and ``_inside`` marks a change in progress: a ``put``
that finds one leaves its entry in ``_reentered`` for the interrupted code to take in before
it lets go, and other re-entered calls give up rather than touch half-changed state.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
import time
import weakref
from typing import Callable, Deque, Iterator, List, Optional, Tuple

from .._ipc import _wire
from .._ipc._shared import SharedStats
from .._report import Reporter, call_if_alive
from ._frames import Frames

LINGER = 0.02  # seconds a record may wait for company before its frame is written anyway
WATCH_EVERY = 2.0  # seconds between looks at the listener when idle (idle wakeups cost)


def _new_producer_id() -> int:
    return int.from_bytes(os.urandom(8), "big") or 1


class Channel(Frames):
    """The buffer, the helper thread that writes it, flushing and stop (see the module)."""

    def __init__(self, write_fd: int, stats: SharedStats, max_queue_size: int,
                 reporter: Reporter, watch: Callable[[], None] = lambda: None,
                 overflow: str = "drop_newest") -> None:
        self.fd = write_fd
        self.stats = stats
        self.max_queue_size = max_queue_size
        self.overflow = overflow
        self.reporter = reporter
        self.watch = watch  # called from the helper thread: the listener's health check
        self._reset()
        self.write_through = False  # an exit hook of this process hands the buffer over
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: call_if_alive(ref, "_reset_in_child"))

    def _reset_in_child(self) -> None:
        self._reset()
        self.write_through = True  # until ``protect``: no exit hook is known to run here

    def protect(self) -> None:
        """An exit hook of this process will hand the buffer over: buffer again."""
        self.write_through = False

    def _reset(self) -> None:
        """Fresh state for a new process: nothing of the parent's buffer is ours to send."""
        self._lock = threading.RLock()
        self._inside = False  # a change is in progress (under the lock)
        self._reentered: List[bytes] = []  # entries put by a signal handler meanwhile
        self._pending: List[bytes] = []
        self._pending_size = 0
        self._backlog: Deque[Tuple[int, bytes, int]] = collections.deque()  # kind, body, count
        self._queued = 0  # records in _pending and _backlog
        self._producer = _new_producer_id()
        self._seq = 0  # records written into the queue so far (see _gaps)
        self._slot: Optional[int] = None
        self._flush_token = 0
        self._wake = threading.Event()
        self._armed = False
        self._thread: Optional[threading.Thread] = None
        self.enqueued = self.dropped = self.filtered = 0
        self._quiet_until = 0.0  # drops before this are counted, not reported again

    # -- hot path ------------------------------------------------------------------------

    def put(self, entry: bytes) -> None:
        """Queue one serialized entry; never blocks on I/O, never raises for a full pipe."""
        with self._lock:
            if self._inside:  # a signal handler interrupted this thread mid-change
                self._reentered.append(entry)
                return
            self._inside = True
            try:
                self._add(entry)
                while self._reentered:
                    self._add(self._reentered.pop(0))
            finally:
                self._inside = False

    def _add(self, entry: bytes) -> None:
        if self._queued >= self.max_queue_size and not self._make_room():
            self._drop(1, "the queue is full (max_queue_size)")
            return
        self.enqueued += 1
        size = len(entry) + 1
        if size > _wire.MAX_BODY:
            self._seal()
            self._queue_large(entry)
        else:
            if self._pending_size + size > _wire.MAX_BODY:
                self._seal()
            self._pending.append(entry)
            self._pending_size += size
            self._queued += 1
        if self.write_through:
            self._seal()
            self._publish()
            if not self._backlog:
                return
        if not self._armed:
            self._armed = True
            if self._thread is None:
                self._start_thread()
            self._wake.set()

    # -- the lock, for everything but put ------------------------------------------------

    @contextlib.contextmanager
    def _changing(self, timeout: float = -1) -> Iterator[bool]:
        """Hold the lock for a change; yields False if it was not free in time, or if this
        thread is already mid-change (a signal handler interrupted it): touch nothing then."""
        if not self._lock.acquire(timeout=timeout):
            yield False
            return
        if self._inside:
            self._lock.release()
            yield False
            return
        self._inside = True
        try:
            yield True
            while self._reentered:  # what a signal handler put meanwhile
                self._add(self._reentered.pop(0))
        finally:
            self._inside = False
            self._lock.release()

    def drop_if_full(self) -> bool:
        """Count a record as dropped, before anyone encodes it, when the queue is full and
        ``overflow="drop_newest"`` would drop it anyway (a stalled drain then costs the
        caller a comparison, not an encoding). One unlocked read when there is room."""
        if self._queued < self.max_queue_size or self.overflow == "drop_oldest":
            return False
        with self._lock:
            if self._queued < self.max_queue_size:
                return False
            self._drop(1, "the queue is full (max_queue_size)")
            return True

    # -- the helper thread ---------------------------------------------------------------

    def start(self) -> None:
        """Start the helper thread now (an owner that never logs must still watch)."""
        with self._changing() as ok:
            if ok and self._thread is None:
                self._start_thread()

    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._run, name="astralog-channel", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            if self._wake.wait(WATCH_EVERY):
                time.sleep(LINGER)
            # else an idle second: nothing to write, but the listener still gets watched
            try:
                self._round()
            except Exception as exc:  # this thread must outlive any surprise
                self.reporter.limited("channel", f"the channel's helper thread: {exc!r}")
                time.sleep(LINGER)

    def _round(self) -> None:
        with self._changing() as ok:  # this thread is never interrupted by a signal handler
            if not ok:
                return
            self._wake.clear()
            self._armed = False
            self._seal()
            done = self._write_backlog()
            self._publish()
        self.watch()
        if not done:
            self._wait_writable(0.1)
            self._wake.set()

    def publish(self) -> None:
        with self._changing() as ok:
            if ok:
                self._publish()

    def _publish(self) -> None:
        if self._slot is None:
            self._slot = self.stats.claim_slot(self._producer)
        held = self._queued if self.write_through else 0  # lost if os._exit comes now
        self.stats.publish(self._slot, (self.enqueued, self.dropped, self.filtered), held)

    # -- flushing ------------------------------------------------------------------------

    def push(self, deadline: float, in_signal_handler: bool = False) -> bool:
        """Write everything buffered into the pipe; True when it all went out in time.

        From a signal handler the lock may be held by another thread, so it is only tried,
        briefly, never waited for; if the interrupted code was itself mid-change, nothing
        can be pushed safely.
        """
        while True:
            with self._changing(0.05 if in_signal_handler else -1) as ok:
                if not ok:
                    return False
                self._seal()
                done = self._write_backlog()
                self._publish()
            if done:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._wait_writable(min(left, 0.1))

    def request_ack(self, deadline: float, kind: int = _wire.FLUSH) -> Optional[Tuple[int, int]]:
        """Push everything, then ask the listener to acknowledge it; (slot, token) to wait on."""
        with self._changing() as ok:
            if not ok:
                return None
            self._seal()
            self._publish()
            assert self._slot is not None
            if self._slot < 0:
                return None
            self._flush_token += 1
            token = self._flush_token
            self._send(kind, _wire.flush_body(self._slot, token), 0)
            slot = self._slot
        return (slot, token) if self.push(deadline) else None

    def push_or_count(self, deadline: float, when: str) -> bool:
        """Hand everything over; what cannot be, by the deadline, is counted and said."""
        if self.push(deadline):
            return True
        with self._changing() as ok:
            if ok:
                self._drop_backlog(f"the queue stayed full until {when}")
                self._publish()
        return False

    def count_filtered(self) -> None:
        with self._lock:  # re-entered from a signal handler, at worst one count is missed
            self.filtered += 1

    @property
    def queue_depth(self) -> int:
        return self._queued

    def send_stop(self, deadline: float) -> bool:
        with self._changing() as ok:
            if not ok:
                return False
            self._seal()
            left = max(deadline - time.monotonic(), 0.0)
            self._send(_wire.STOP, _wire.stop_body(left), 0)
        return self.push(deadline)
