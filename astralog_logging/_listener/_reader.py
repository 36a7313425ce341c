"""The listener's two threads: this reader and the sender it hands batches to.

The reader drains the pipe and the attach socket as fast as the kernel fills them, cuts
frames into entries, counts sequence gaps, and cuts batches into the outbox; the sender
(``_sender``) delivers them in order. A slow or dead drain therefore never backs the pipe
up into the application until the outbox's memory bound is reached, and what is over it is
spooled or counted, never hidden.

It stops on a STOP frame from its owner, on SIGTERM, when the owner dies, or when every
writer has closed the pipe; each time it first delivers what it has, bounded by what is
left of ``shutdown_timeout``.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from typing import Any, Dict, Iterable, List, Optional

from .._config import Config
from .._ipc import _wire
from .._ipc._ledger import Ledger
from .._ipc._shared import SharedStats
from .._report import Reporter, agree, keep_secret, records
from ..exceptions import ConfigError
from ._batching import Batcher
from ._delivery import Delivery, Shutdown
from ._gaps import Gaps
from ._outbox import END, STOPPED, Outbox
from ._sender import Sender
from ._spool import Spool
from ._transport import Transport

_READ_SIZE = 1 << 20
_POLL = 0.25  # how often the reader ticks the outbox and checks its owner while busy
_IDLE_POLL = 2.0  # the same with nothing in memory: an idle listener wakes only this often
_GATHER = 0.005  # seconds the reader lets frames accumulate after each read
_QUIET = 0.2  # seconds of reading after a stop, for what other processes wrote just before
_STOP_COUNTERS = ("failed", "spooled", "unspooled")  # what a stop's report is about
_QUIET_ALONE = 0.01  # the same when no other process that logged here still runs


class Listener:
    """The reader and the parts it feeds, each given its collaborators here."""

    def __init__(self, config: Config, read_fd: int, sock: socket.socket,
                 stats: SharedStats, owner_pid: Optional[int]) -> None:
        self.config = config
        self.read_fd = read_fd
        self.sock = sock
        sock.setblocking(False)  # the reader polls it beside the pipe
        self.stats = stats
        self.ledger = Ledger(stats)
        self.owner_pid = owner_pid
        self.owner_gone = False
        self.reporter = Reporter()
        self.parts: Dict[int, List[bytes]] = {}
        self.gaps = Gaps(self.ledger)
        self.stopping = threading.Event()
        self.stop_read = False  # the owner's STOP frame has been read
        self.awaited = False  # a FLUSH was read: someone waits, so no gathering pause
        self.quiet = _QUIET  # how long reading goes on after a stop, for stragglers
        self.at_stop: Dict[str, int] = {}
        self.shutdown = Shutdown()
        keep_secret(config.token)
        factory = config.session_factory  # resolved inside: Transport catches failures
        transport = Transport(
            config.endpoint, config.token, timeout=config.timeout, verify=config.verify,
            session_factory=(lambda: _resolve("session_factory", factory)()) if factory else None,
        )
        if transport.broken:  # no restart can mend it: every batch fails at once, counted
            self.reporter.say(f"{transport.broken}; nothing can be delivered until it is fixed")
        spool = self._open_spool(config.spool_path, config.spool_max_bytes)
        self.delivery = Delivery(
            transport, project_id=config.project_id, service=config.service,
            gzip=config.compression == "gzip",
            max_retries=0 if transport.broken else config.max_retries,
            retry_max_delay=config.retry_max_delay, retry_deadline=config.retry_deadline,
            reporter=self.reporter, shutdown=self.shutdown, spooling=spool is not None,
        )
        self.outbox = Outbox(
            Batcher(config.max_batch_size, config.max_batch_bytes, config.flush_interval),
            config.max_buffer_bytes, config.overflow, spool, self.ledger, self.reporter)
        self.sender = Sender(
            self.outbox, self.delivery, self.ledger, self.reporter, spool,
            on_error=_optional(config.on_error, "on_error", self.reporter),
            on_success=_optional(config.on_success, "on_success", self.reporter))

    def _open_spool(self, path: Optional[str], max_bytes: int) -> Optional[Spool]:
        if not path:
            return None
        try:
            return Spool(path, max_bytes)
        except Exception as exc:  # checked at construction; the disk may change since
            self.reporter.say(f"spool_dir cannot be used ({exc}); undelivered records "
                              "are counted as lost instead of kept")
            return None

    # -- reader thread -------------------------------------------------------------------

    def start_reader(self) -> None:
        threading.Thread(target=self.read_forever, name="astralog-reader", daemon=True).start()

    def read_forever(self) -> None:
        """The reader thread. Should it ever fail, the listener must not live on deaf: a
        process exits so its owner starts a new one; threads end delivery."""
        try:
            self._read_until_stopped()
        except Exception as exc:
            self.reporter.say(f"the listener's reader failed ({exc!r}); stopping it")
            if self.owner_pid is not None:
                os._exit(70)  # the owner counts what it held and starts a new listener
            self.outbox.mark(END)

    def _read_until_stopped(self) -> None:
        """Drain the pipe and the socket until told to stop, then until both are quiet."""
        pipe = _wire.FrameReader()
        poller = select.poll()
        poller.register(self.read_fd, select.POLLIN)
        poller.register(self.sock.fileno(), select.POLLIN)
        quiet_until = float("inf")
        next_owner_check = 0.0
        stop_marked = False
        while time.monotonic() < quiet_until:
            ready = poller.poll(min(50, max(quiet_until - time.monotonic(), 0) * 1000)
                                if self.stopping.is_set() else
                                (_IDLE_POLL if self.outbox.idle() else _POLL) * 1000)
            now = time.monotonic()
            if self.stopping.is_set() and quiet_until == float("inf"):
                quiet_until = now + self.quiet  # stragglers written just before
            if now >= next_owner_check:
                next_owner_check = now + _POLL
                self.outbox.tick()
                if self.owner_pid is not None and os.getppid() != self.owner_pid:
                    self.owner_gone = True
                    self.begin_stop("its owner process is gone")
            self.awaited = False
            for fd, _ in ready:
                if fd != self.read_fd:
                    self._take_datagrams()
                    continue
                data = os.read(self.read_fd, _READ_SIZE)
                if data:
                    self._take(pipe.feed(data))
                    self._count_malformed(pipe.malformed, "from the queue")
                    pipe.malformed = 0
                else:  # every writer has closed the pipe: nothing more can come from it
                    poller.unregister(self.read_fd)
            if self.stop_read and not stop_marked:
                # What was written before the STOP was read is ours to deliver before the
                # owner hears "stopped": the pipe had it ahead of the STOP; the socket is
                # emptied now. Stragglers after this still go out in the quiet time below.
                stop_marked = True
                for _ in range(64):
                    self._take_datagrams()
                self.outbox.mark(STOPPED)
            if ready and not self.stopping.is_set() and not self.awaited:
                # Let frames gather: one wake-up then reads many, which costs the listener
                # less per record and wakes it (and writers' kernels) less often. The pipe
                # holds far more than this pause can fill.
                time.sleep(_GATHER)
        self.outbox.mark(END)

    def _take_datagrams(self) -> None:
        """Each datagram is one frame or nothing: a bad one is dropped alone and counted,
        and only the owner, on the pipe, may stop the listener."""
        frames, bad = [], 0
        for _ in range(256):  # then let the pipe have a turn
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                break
            frame = _wire.parse_datagram(data)
            if frame is None or frame.kind == _wire.STOP:
                bad += 1
            else:
                frames.append(frame)
        self._take(frames)
        self._count_malformed(bad, "on the attach socket")

    def _count_malformed(self, count: int, where: str) -> None:
        if count:
            self.ledger.malformed(count)
            self.reporter.limited(f"malformed {where}", f"{count} malformed frames {where} "
                                  "dropped (counted as malformed)")

    def _take(self, frames: Iterable[_wire.Frame]) -> None:
        entries: List[bytes] = []
        missing = 0
        for kind, producer, seq, body in frames:
            count = 0
            if kind == _wire.RECORDS:
                lines = body.split(b"\n")
                entries.extend(lines)
                count = len(lines)
            elif kind == _wire.PART:
                index, total, chunk = _wire.parse_part(body)
                entry = self._assemble(producer, index, total, chunk)
                if entry is not None:
                    entries.append(entry)
                count = int(index == total - 1)
            elif kind == _wire.FLUSH:
                self.awaited = True
                self._add(entries)
                entries = []
                self.outbox.mark(("flush", *_wire.parse_flush(body)))
            elif kind == _wire.STOP:
                self.begin_stop("", _wire.parse_stop(body))
                self.stop_read = True
                if not self.stats.producers_alive(producer_pid(self.owner_pid)):
                    # Nobody else has logged here and still runs: no stragglers to wait
                    # for, and whoever reads our stderr (a shell's pipe) waits for us.
                    self.quiet = _QUIET_ALONE
            missing += self.gaps.see(producer, seq, count)
        self._add(entries)
        if missing:
            self.reporter.say(f"{records(missing)} read by a listener that died "
                              f"{agree(missing, 'is', 'are')} lost (counted from the gaps in "
                              "their sequence numbers)")

    def _add(self, entries: List[bytes]) -> None:
        if not entries:
            self.gaps.commit()  # frames without records (flush, first parts) still count
            return
        self.outbox.add(entries, then=self.gaps.commit)
        self.ledger.received(len(entries))

    def _assemble(self, producer: int, index: int, total: int, chunk: bytes
                  ) -> Optional[bytes]:
        chunks = self.parts.pop(producer, []) if index == 0 else self.parts.pop(producer, None)
        if chunks is None or len(chunks) != index:
            # Its first parts went with a dead listener, or the producer died between
            # parts: counted once, at the entry's last part.
            if index == total - 1:
                self.ledger.malformed()
            return None
        chunks.append(chunk)
        if len(chunks) == total:
            return b"".join(chunks)
        self.parts[producer] = chunks
        return None

    def begin_stop(self, why: str, seconds_left: Optional[float] = None) -> None:
        if self.stopping.is_set():
            return
        if why:
            self.reporter.say(f"listener stopping: {why}; delivering what it has")
        if seconds_left is None:
            seconds_left = self.config.shutdown_timeout
        self._note_stop_counters()
        self.shutdown.begin(time.monotonic() + seconds_left)
        self.stopping.set()

    def say_what_stop_left(self) -> None:
        """The one line a shutdown owes: what it could not deliver, and where that went.
        Failures before the stop were reported as they happened."""
        failed, spooled, unspooled = (self.stats.get(f) - self.at_stop.get(f, 0)
                                      for f in _STOP_COUNTERS)
        spooled = max(spooled - unspooled, 0)
        if failed:
            self.reporter.say(f"{records(failed)} not delivered while the listener stopped "
                              f"(rejected, or out of time) {agree(failed, 'is', 'are')} lost")
        if spooled:
            self.reporter.say(f"{records(spooled)} could not be delivered before the listener "
                              f"stopped; {agree(spooled, 'it waits', 'they wait')} in the "
                              "spool for the next start")
        self._note_stop_counters()  # said once: later, only what is new

    def _note_stop_counters(self) -> None:
        self.at_stop = {field: self.stats.get(field) for field in _STOP_COUNTERS}


def producer_pid(owner_pid: Optional[int]) -> int:
    """The owner's pid; inline (no owner) it is this very process."""
    return owner_pid if owner_pid is not None else os.getpid()


def _optional(path: Optional[str], setting: str, reporter: Reporter) -> Any:
    """A callback checked at construction that cannot be imported here is said once and
    left out: delivery goes on without it."""
    try:
        return _resolve(setting, path) if path else None
    except ConfigError as exc:
        reporter.say(f"{exc}; it will not be called")
        return None


def _resolve(setting: str, path: str) -> Any:
    from .._validate import resolve  # the app side's validation: only for a dotted path

    return resolve(setting, path)
