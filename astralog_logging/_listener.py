"""The listener process: read frames off the queue's pipe, batch, deliver, account.

It runs as ``python -m astralog_logging._listener`` in a fresh interpreter, started by the
process that owns it (see ``_owner``): a fresh interpreter never re-runs the application's
``__main__``, inherits none of its threads, locks or logging configuration, and so can
never log back into its own pipeline. Its settings, token included, arrive on stdin, which
no other process can read (argv and the environment can be).

Two threads: the reader drains the pipe as fast as the kernel fills it and cuts batches;
the sender delivers them one at a time, in order. A slow or dead drain therefore never
backs the pipe up into the application processes until the listener's own memory bound
(``max_buffer_bytes``) is reached, and what is over it is counted, not hidden.

It stops on a STOP frame from its owner, on SIGTERM, or when the owner dies; in each case
it first delivers what it has, bounded by ``shutdown_timeout``.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import select
import shutil
import signal
import socket
import sys
import threading
import time
from typing import Any, Deque, Dict, List, Optional, Tuple, Union

import orjson

from . import _wire
from ._batching import Batcher
from ._config import resolve
from ._delivery import Delivery, Tally
from ._report import Reporter
from ._shared import SharedStats
from ._transport import Transport

_END = ("end",)
Item = Union[Tuple[str, List[bytes]], Tuple[str, int, int], Tuple[str]]
_READ_SIZE = 1 << 20
_POLL = 0.25  # how often an idle reader checks that its owner is still alive


class Listener:
    def __init__(self, settings: Dict[str, Any], read_fd: int, sock: socket.socket,
                 stats: SharedStats, owner_pid: int) -> None:
        self.settings = settings
        self.read_fd = read_fd
        self.sock = sock
        self.owner_gone = False
        self.stats = stats
        self.owner_pid = owner_pid
        self.reporter = Reporter()
        factory = settings.get("session_factory")
        transport = Transport(
            settings["endpoint"], settings["token"], timeout=settings["timeout"],
            verify=settings["verify"],
            session_factory=resolve("session_factory", factory) if factory else None,
        )
        self.delivery = Delivery(
            transport, project_id=settings["project_id"], service=settings["service"],
            gzip=settings["compression"] == "gzip", max_retries=settings["max_retries"],
            retry_max_delay=settings["retry_max_delay"],
            retry_deadline=settings["retry_deadline"], reporter=self.reporter,
        )
        self.batcher = Batcher(settings["max_batch_size"], settings["max_batch_bytes"],
                               settings["flush_interval"])
        self.max_buffer_bytes = int(settings.get("max_buffer_bytes", 64 << 20))
        self.cv = threading.Condition()
        self.ready: Deque[Item] = collections.deque()
        self.ready_bytes = 0
        self.parts: Dict[int, List[bytes]] = {}
        self.stopping = threading.Event()

    # -- reader thread -------------------------------------------------------------------

    def read_forever(self) -> None:
        """Drain the pipe and the socket until told to stop, then until both are quiet."""
        pipe, datagrams = _wire.FrameReader(), _wire.FrameReader()
        poller = select.poll()
        poller.register(self.read_fd, select.POLLIN)
        poller.register(self.sock.fileno(), select.POLLIN)
        quiet_until = float("inf")
        next_owner_check = 0.0
        while time.monotonic() < quiet_until:
            ready = poller.poll(50 if self.stopping.is_set() else _POLL * 1000)
            now = time.monotonic()
            if self.stopping.is_set() and quiet_until == float("inf"):
                quiet_until = now + 0.2  # stragglers written just before
            if now >= next_owner_check:
                next_owner_check = now + _POLL
                if os.getppid() != self.owner_pid:
                    self.owner_gone = True
                    self.begin_stop("its owner process is gone")
            for fd, _ in ready:
                if fd != self.read_fd:
                    self._take_datagrams(datagrams)
                    continue
                data = os.read(self.read_fd, _READ_SIZE)
                if data:
                    self._take(pipe.feed(data))
                else:  # every writer has closed the pipe: nothing more can come from it
                    poller.unregister(self.read_fd)
        malformed = pipe.malformed + datagrams.malformed
        if malformed:
            self.stats.add("malformed", malformed)
        with self.cv:
            self._enqueue(("batch", self.batcher.take()))
            self.ready.append(_END)
            self.cv.notify()

    def _take_datagrams(self, reader: _wire.FrameReader) -> None:
        for _ in range(256):  # then let the pipe have a turn
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                return
            self._take(reader.feed(data))

    def _take(self, frames: Any) -> None:
        received = 0
        with self.cv:
            now = time.monotonic()
            for kind, producer, _seq, body in frames:
                if kind == _wire.RECORDS:
                    entries = body.split(b"\n")
                    received += len(entries)
                    for entry in entries:
                        for batch in self.batcher.add(entry, now):
                            self._enqueue(("batch", batch))
                elif kind == _wire.PART:
                    entry = self._assemble(producer, body)
                    if entry is not None:
                        received += 1
                        for batch in self.batcher.add(entry, now):
                            self._enqueue(("batch", batch))
                elif kind == _wire.FLUSH:
                    self._enqueue(("batch", self.batcher.take()))
                    self.ready.append(("flush", *_wire.parse_flush(body)))
                elif kind == _wire.STOP:
                    self.begin_stop("", _wire.parse_stop(body))
            self.cv.notify()
        if received:
            self.stats.add("received", received)

    def _assemble(self, producer: int, body: bytes) -> Optional[bytes]:
        index, total, chunk = _wire.parse_part(body)
        chunks = self.parts.pop(producer, []) if index == 0 else self.parts.pop(producer, None)
        if chunks is None or len(chunks) != index:
            self.stats.add("malformed")  # a producer died between the parts of an entry
            return None
        chunks.append(chunk)
        if len(chunks) == total:
            return b"".join(chunks)
        self.parts[producer] = chunks
        return None

    def _enqueue(self, item: Item) -> None:
        if item[0] == "batch":
            entries = item[1]
            if not entries:
                return
            assert isinstance(entries, list)
            size = sum(map(len, entries))
            if self.ready_bytes + size > self.max_buffer_bytes:
                self.stats.add("listener_dropped", len(entries))
                self.reporter.limited(
                    "overflow", f"the drain is not keeping up: {len(entries)} records dropped "
                    f"(max_buffer_bytes={self.max_buffer_bytes} reached)")
                return
            self.ready_bytes += size
        self.ready.append(item)

    def begin_stop(self, why: str, seconds_left: Optional[float] = None) -> None:
        if self.stopping.is_set():
            return
        if why:
            self.reporter.say(f"listener stopping: {why}; delivering what it has")
        if seconds_left is None:
            seconds_left = self.settings["shutdown_timeout"]
        self.delivery.shutdown_deadline = time.monotonic() + seconds_left
        self.delivery.shutting_down.set()
        self.stopping.set()

    # -- sender (main thread) ------------------------------------------------------------

    def send_forever(self) -> Tally:
        total = Tally()
        while True:
            with self.cv:
                while not self.ready:
                    now = time.monotonic()
                    batch = self.batcher.due(now)
                    if batch:
                        self._enqueue(("batch", batch))
                        break
                    deadline = self.batcher.deadline
                    self.cv.wait(None if deadline is None else max(deadline - now, 0.001))
                item = self.ready.popleft()
                if item[0] == "batch":
                    self.ready_bytes -= sum(map(len, item[1]))  # type: ignore[arg-type]
            if item is _END:
                return total
            if item[0] == "flush":
                self.stats.ack_flush(item[1], item[2])  # type: ignore[misc]
                continue
            tally = self.delivery.deliver(item[1])  # type: ignore[arg-type]
            self._account(tally, total)

    def _account(self, tally: Tally, total: Tally) -> None:
        for field in ("sent", "failed", "retried", "batches", "bytes_sent"):
            n = getattr(tally, field)
            if n:
                self.stats.add(field, n)
                setattr(total, field, getattr(total, field) + n)
        self.stats.set("last_status", tally.last_status)


def main() -> int:
    settings = orjson.loads(sys.stdin.buffer.read())
    sys.stdin.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the app's Ctrl-C is not ours to obey
    logging.getLogger().addHandler(logging.NullHandler())
    logging.lastResort = None  # urllib3's own warnings must not leak as log lines
    stats = SharedStats(settings.pop("stats_fd"), "")
    stats.listener_pid = os.getpid()
    sock = socket.socket(fileno=settings.pop("socket_fd"))
    sock.setblocking(False)
    listener = Listener(settings, settings.pop("read_fd"), sock, stats,
                        settings.pop("owner_pid"))
    signal.signal(signal.SIGTERM, lambda *_: listener.begin_stop("SIGTERM"))
    reader = threading.Thread(target=listener.read_forever, name="astralog-reader", daemon=True)
    reader.start()
    total = listener.send_forever()
    if total.failed:
        listener.reporter.say(f"{total.failed} records could not be delivered before exit")
    listener.delivery.transport.close()
    if listener.owner_gone:  # nobody else will remove them
        shutil.rmtree(os.path.dirname(sock.getsockname()), ignore_errors=True)
        with contextlib.suppress(OSError):
            os.unlink(os.readlink(f"/proc/self/fd/{stats.fd}"))
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
