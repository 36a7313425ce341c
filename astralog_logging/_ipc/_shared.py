"""Counters every process of the tree can read: one small file mapped into memory.

The listener is a separate interpreter, and the processes that log come and go by fork and
spawn; a shared mapping lets each of them publish its own figures and read everyone's
without a round trip. Each word has exactly one writer (the listener writes its counters and
the flush acknowledgements, a producer writes its own slot, the owner two words for what
its dead listeners held), so plain aligned 64-bit stores suffice; readers may see a figure
a moment old, never a torn one. Counters are written only through ``_ledger``.

Layout, in 64-bit words: a header (magic, listener pid, the listener's counters, figures
retired from dead producers, the pid of a listener that has delivered everything before its
STOP, the owner's count of what dead listeners held), fixed-size slots, one per producer
process, then the listener's sequence table (see ``_listener._gaps``), then the last error as text.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import mmap
import os
import stat
import tempfile
from typing import Iterator, Union

from ._ownership import own_stat

_MAGIC = 0x41_53_54_52_41_4C_4F_47  # "ASTRALOG"

_L0 = 4  # first listener counter


class Counter(enum.IntEnum):
    """Where each counter lives: its word in the header. The listener's come first, in
    the order ``stats()`` lists them (by their lower-case names); the owner's two words
    count what its dead listeners held (see ``_ledger``)."""

    RECEIVED = _L0
    SENT = _L0 + 1
    FAILED = _L0 + 2
    RETRIED = _L0 + 3
    BATCHES = _L0 + 4
    BYTES_SENT = _L0 + 5
    LISTENER_DROPPED = _L0 + 6
    MALFORMED = _L0 + 7
    SPOOLED = _L0 + 8
    UNSPOOLED = _L0 + 9
    LAST_STATUS = _L0 + 10
    AT_RISK = _L0 + 11
    LOST = _L0 + 12
    IN_FLIGHT = _L0 + 13
    UNCONFIRMED = _L0 + 14
    DIED_LOST = 24
    DIED_UNCONFIRMED = 25


LISTENER_FIELDS = tuple(c.name.lower() for c in Counter if c < Counter.DIED_LOST)
PRODUCER_FIELDS = ("enqueued", "dropped", "filtered")
# The counters of records that will never arrive: their sum moving means a loss.
LOSSES = ("failed", "dropped", "listener_dropped", "lost")

_HEADER_WORDS = 32
_R0 = _L0 + len(LISTENER_FIELDS)  # retired producer figures
_R_HELD = _R0 + len(PRODUCER_FIELDS)  # records dead processes held outside the pipe: lost
_SLOT_WORDS = 8  # producer id, pid, 3 producer figures, flush ack, held, spare
_HELD = 6
_STOPPED = _R_HELD + 1  # see stopped_pid
_SLOTS = 2048
SEQ_ENTRIES = 4096  # producers the listener remembers: (producer id, next sequence)
_SEQ0 = _HEADER_WORDS + _SLOTS * _SLOT_WORDS
_TEXT = 8 * (_SEQ0 + 2 * SEQ_ENTRIES)  # the last error, as text
_TEXT_BYTES = 512
_SIZE = _TEXT + _TEXT_BYTES


def _default_dir() -> str:
    shm = "/dev/shm"
    return shm if os.access(shm, os.W_OK) else tempfile.gettempdir()


class SharedStats:
    """The mapping plus the few operations the package needs on it."""

    def __init__(self, fd: int, path: str) -> None:
        self.fd = fd
        self.path = path
        self._map = mmap.mmap(fd, _SIZE)
        self._w = memoryview(self._map).cast("Q")

    @classmethod
    def create(cls, name: str = "") -> SharedStats:
        """A new counters file ``<name>.stats``, 0600, under a shared ``flock`` that lasts
        as long as any process of the tree holds it open: the listener and forked children
        inherit it, so a free lock proves the whole tree gone (see ``_leftovers.unused``).
        It appears under its name only once locked."""
        directory = _default_dir()
        fd, temporary = tempfile.mkstemp(prefix=".astralog-", dir=directory)  # 0600
        fcntl.flock(fd, fcntl.LOCK_SH)
        os.ftruncate(fd, _SIZE)
        path = os.path.join(directory, f"{name or 'astralog-' + os.urandom(6).hex()}.stats")
        os.rename(temporary, path)
        stats = cls(fd, path)
        stats._w[0] = _MAGIC
        return stats

    @staticmethod
    def path_for(name: str) -> str:
        return os.path.join(_default_dir(), f"{name}.stats")

    @classmethod
    def open(cls, path: str) -> SharedStats:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        why = own_stat(os.fstat(fd), stat.S_IFREG)  # the file opened, not the path checked
        if why:
            os.close(fd)
            raise PermissionError(f"{path} {why}")
        stats = cls(fd, path)
        if stats._w[0] != _MAGIC:
            stats.close()
            raise ValueError(f"{path} is not an astralog stats file")
        return stats

    def close(self) -> None:
        with contextlib.suppress(BufferError, ValueError):
            self._w.release()
            self._map.close()
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def unlink(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    # -- listener side -------------------------------------------------------------------

    @property
    def listener_pid(self) -> int:
        return int(self._w[2])

    @listener_pid.setter
    def listener_pid(self, pid: int) -> None:
        self._w[2] = pid

    @property
    def stopped_pid(self) -> int:
        """The listener that wrote its pid here has delivered (or counted) everything read
        before its STOP frame: its owner's close() may return on this word rather than wait
        for an interpreter to exit."""
        return int(self._w[_STOPPED])

    @stopped_pid.setter
    def stopped_pid(self, pid: int) -> None:
        self._w[_STOPPED] = pid

    def bump(self, counter: Counter, n: int = 1) -> None:
        """Only ``_ledger`` writes counters: it knows which process owns which word."""
        self._w[counter] += n

    def write(self, counter: Counter, value: int) -> None:
        self._w[counter] = value

    def get(self, counter: Union[Counter, str]) -> int:
        """One counter's word (by its ``Counter`` or its ``stats()`` name)."""
        if isinstance(counter, str):
            counter = Counter[counter.upper()]
        return int(self._w[counter])

    def set_text(self, text: str) -> None:
        data = text.encode("utf-8", "replace")[: _TEXT_BYTES - 1]
        self._map[_TEXT : _TEXT + _TEXT_BYTES] = data.ljust(_TEXT_BYTES, b"\0")

    def text(self) -> str:
        return self._map[_TEXT : _TEXT + _TEXT_BYTES].split(b"\0", 1)[0].decode("utf-8", "replace")

    def seq_table(self) -> Iterator[tuple[int, int, int]]:
        """(index, producer, next sequence) of every used entry, as a dead listener left them."""
        for index in range(SEQ_ENTRIES):
            producer = int(self._w[_SEQ0 + 2 * index])
            if producer:
                yield index, producer, int(self._w[_SEQ0 + 2 * index + 1])

    @property
    def seq_forgot(self) -> bool:
        """Whether the table ever evicted a producer: then an unknown one proves nothing."""
        return bool(self._w[3])

    def forget_seq(self) -> None:
        self._w[3] = 1

    def set_seq(self, index: int, producer: int, next_seq: int) -> None:
        # The sequence first: a reader that sees the new producer id sees its sequence too.
        self._w[_SEQ0 + 2 * index + 1] = next_seq
        self._w[_SEQ0 + 2 * index] = producer

    def ack_flush(self, slot: int, token: int) -> None:
        if 0 <= slot < _SLOTS:
            self._w[self._slot(slot) + 5] = token

    # -- producer side -------------------------------------------------------------------

    @staticmethod
    def _slot(slot: int) -> int:
        return _HEADER_WORDS + slot * _SLOT_WORDS

    def claim_slot(self, producer: int) -> int:
        """Take a free slot (or a dead process's, retiring its figures) for this process.

        Runs once per process; a POSIX record lock keeps two processes from taking the same
        slot. Returns -1 when every slot belongs to a live process: figures are then kept
        locally only, and flush cannot be acknowledged.
        """
        pid = os.getpid()
        with self._locked():
            for slot in range(_SLOTS):
                base = self._slot(slot)
                owner = int(self._w[base + 1])
                if self._w[base] and owner != pid and alive(owner):
                    continue
                for k in range(len(PRODUCER_FIELDS)):
                    self._w[_R0 + k] += self._w[base + 2 + k]
                    self._w[base + 2 + k] = 0
                self._w[_R_HELD] += self._w[base + _HELD]
                self._w[base + _HELD] = 0
                self._w[base + 5] = 0
                self._w[base + 1] = pid
                self._w[base] = producer
                return slot
        return -1

    def producers_alive(self, *but: int) -> bool:
        """Whether any process that has logged here, other than ``but``, still runs."""
        for slot in range(_SLOTS):
            base = self._slot(slot)
            pid = int(self._w[base + 1])
            if self._w[base] and pid not in but and alive(pid):
                return True
        return False

    def publish(self, slot: int, figures: tuple[int, int, int], held: int = 0) -> None:
        """``held``: records this process keeps outside the pipe with no exit hook to hand
        them over; should it end now (``os._exit``), ``totals`` counts them as lost."""
        if slot >= 0:
            base = self._slot(slot)
            self._w[base + 2], self._w[base + 3], self._w[base + 4] = figures
            self._w[base + _HELD] = held

    def flush_acked(self, slot: int) -> int:
        return int(self._w[self._slot(slot) + 5]) if slot >= 0 else 0

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.lockf(self.fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)

    # -- everyone ------------------------------------------------------------------------

    def totals(self) -> dict[str, int]:
        """Listener counters plus every producer's figures, live and retired."""
        out = {name: int(self._w[_L0 + i]) for i, name in enumerate(LISTENER_FIELDS)}
        sums = [int(self._w[_R0 + k]) for k in range(len(PRODUCER_FIELDS))]
        out["lost"] += int(self._w[_R_HELD]) + int(self._w[Counter.DIED_LOST])
        out["unconfirmed"] += int(self._w[Counter.DIED_UNCONFIRMED])
        for slot in range(_SLOTS):
            base = self._slot(slot)
            if self._w[base]:
                for k in range(len(PRODUCER_FIELDS)):
                    sums[k] += int(self._w[base + 2 + k])
                if self._w[base + _HELD] and not alive(int(self._w[base + 1])):
                    out["lost"] += int(self._w[base + _HELD])
        out.update(zip(PRODUCER_FIELDS, sums))
        return out

    def losses(self) -> int:
        """Every record lost so far, whatever the cause: a flush that sees this unchanged
        lost nothing."""
        figures = self.totals()
        return sum(figures[k] for k in LOSSES)


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a pid of another user's process counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
