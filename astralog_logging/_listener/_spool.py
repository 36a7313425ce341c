"""The disk spool: batches the drain has not accepted yet, kept across crashes and restarts.

When ``spool_dir`` is set the listener writes every entry here as soon as it has read it,
*before* anyone tries to send it (a write-ahead log): the open batch goes out in parts that
share its batch_id and read back as one batch. So a killed listener loses only what it was
reading at that instant (counted by ``_gaps``), and a batch that
cannot be delivered now (drain down, retries exhausted, shutdown, a rejected token) stays
on disk until it can. Batches keep their batch_id across the spool, so a batch that did
reach the drain before a crash is not stored twice when it is sent again.

Layout: segment files ``<seconds>-<owner>-<n>.spool`` (0600) in a subdirectory named by a
hash of the configuration (never the token). Two applications with the same settings (a
server and a cron command) share that directory, so each listener holds an exclusive
``flock`` on ``<owner>.lock`` for as long as it runs: a starting listener takes over only
segments whose owner's lock it can take, never a live listener's, whose open batch may be
only partly written. The format of a segment file is in ``_segment``.

The directory must be ours and writable by nobody else (see ``_ipc._ownership``; the handler
refuses such a ``spool_dir`` when it is built, and the spool checks again at start). Every
file is opened with ``ONOFOLLOW``: a symbolic link planted where a segment, a ``.done``
list or a lock should be fails to open instead of being read or appended through.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import stat
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, TypeVar, cast

from .._ipc._ownership import own_path
from ._segment import NOFOLLOW, Segment, append_file, read_file, read_segment, record, regular

__all__ = ["SEGMENT_BYTES", "Segment", "Spool", "read_segment"]

_DONE = ".done"  # beside a segment: ids of its batches already delivered
_M = TypeVar("_M", bound=Callable[..., Any])
SEGMENT_BYTES = 4 << 20


def _locked(method: _M) -> _M:
    """The reader (closing batches into segments) and the sender (resending, deleting)
    both change the spool: one lock of its own keeps it whole."""

    @functools.wraps(method)
    def locked(self: Spool, *args: Any, **kwargs: Any) -> Any:
        with self._guard:
            return method(self, *args, **kwargs)

    return cast(_M, locked)


class Spool:
    def __init__(self, directory: str, max_bytes: int) -> None:
        self._guard = threading.RLock()
        os.makedirs(directory, mode=0o700, exist_ok=True)
        why = own_path(directory, stat.S_IFDIR)
        if why:
            raise PermissionError(f"the spool directory {directory!r} {why}")
        self.directory = directory
        self.max_bytes = max_bytes
        self._seq = 0
        self.segments: Dict[str, Segment] = {}
        self._owner = f"{os.getpid()}-{os.urandom(4).hex()}"
        self._locks: Dict[str, int] = {}  # owner -> fd holding its lock: ours and adopted
        self._lock_owner(self._owner, create=True)
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            if name.endswith(".spool") and regular(path) and self._adopt(name):
                seg = Segment(path, os.path.getsize(path), dirty=True, closed=True)
                seg.records = sum(len(e) for _, e in read_segment(path))
                self.segments[path] = seg
        self._current: Optional[Segment] = None

    def _lock_owner(self, owner: str, create: bool = False) -> bool:
        """Hold ``owner``'s lock from now on; False if a live listener holds it."""
        path = os.path.join(self.directory, f"{owner}.lock")
        fd = os.open(path, os.O_RDWR | NOFOLLOW | (os.O_CREAT if create else 0), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if create else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        self._locks[owner] = fd
        return True

    def _adopt(self, name: str) -> bool:
        """Whether a segment found at start is ours to send: its listener is gone."""
        owner = _owner_of(name)
        if owner is None or owner in self._locks:
            return True
        try:
            return self._lock_owner(owner)
        except FileNotFoundError:
            return True  # its listener ended cleanly, or the segment predates locks

    # -- writing -------------------------------------------------------------------------

    @_locked
    def append(self, batch_id: str, entries: List[bytes],
               continuing: Optional[Segment] = None) -> Segment:
        """Write (part of) a batch durably enough to survive the process (not the machine).

        The later parts of a batch go to the segment its first part went to
        (``continuing``), even if that segment was closed meanwhile, so a batch never
        straddles two segments; it counts as outstanding there from its first part.
        """
        seg = continuing or self._current
        if seg is None or (continuing is None and seg.size >= SEGMENT_BYTES):
            seg = self._rotate()
        data = record(batch_id, entries)
        try:
            append_file(seg.path, data)
        except FileNotFoundError:  # the directory was removed under us (a tmp cleaner)
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            append_file(seg.path, data)
        except OSError:
            if seg is self._current:
                self._close(seg)  # a torn tail ends what can be read of it: no more here
            raise
        seg.size += len(data)
        seg.records += len(entries)
        if continuing is None:
            seg.outstanding += 1
        return seg

    def _rotate(self) -> Segment:
        if self._current is not None:
            self._close(self._current)
        self._seq += 1
        name = f"{int(time.time()):011d}-{self._owner}-{self._seq:06d}.spool"
        seg = self._current = self.segments[os.path.join(self.directory, name)] = Segment(
            os.path.join(self.directory, name))
        return seg

    @_locked
    def close(self) -> None:
        """At exit: the open segment is done; it goes if everything in it was delivered.
        The locks go too, and the lock files of owners with nothing left here."""
        if self._current is not None:
            self._close(self._current)
        left = {_owner_of(os.path.basename(path)) for path in self.segments}
        for owner, fd in self._locks.items():
            if owner not in left:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.directory, f"{owner}.lock"))
            os.close(fd)
        self._locks.clear()

    def _close(self, seg: Segment) -> None:
        seg.closed = True
        if seg is self._current:
            self._current = None
        self._maybe_delete(seg)

    # -- outcomes ------------------------------------------------------------------------

    @_locked
    def delivered(self, seg: Segment, batch_id: str) -> None:
        """Done with a spooled batch: delivered, or (its later parts not written) sent from
        memory alone, so its parts on disk are never sent again."""
        seg.outstanding -= 1
        self.mark_done(seg, batch_id)
        self._maybe_delete(seg)

    @_locked
    def mark_done(self, seg: Segment, batch_id: str) -> None:
        """Remember a delivered batch beside its segment, so that a listener restarted
        after a crash resends only what the drain has not accepted yet."""
        if seg.closed and seg.outstanding <= 0 and not seg.dirty:
            return  # about to be deleted whole
        with contextlib.suppress(OSError):  # unnoted, it is sent again; the drain dedups it
            append_file(seg.path + _DONE, batch_id.encode() + b"\n")

    def pending(self, seg: Segment) -> Iterator[Tuple[str, List[bytes]]]:
        """The segment's batches not yet known to be delivered, oldest first."""
        try:
            done = set(read_file(seg.path + _DONE).decode("ascii", "replace").split())
        except OSError:
            done = set()
        return ((bid, entries) for bid, entries in read_segment(seg.path) if bid not in done)

    @_locked
    def gave_up(self, seg: Segment) -> None:
        """Keep the batch for a later attempt; close its segment so it can be resent whole."""
        seg.outstanding -= 1
        seg.dirty = True
        if not seg.closed:
            self._close(seg)

    def _maybe_delete(self, seg: Segment) -> None:
        if seg.closed and seg.outstanding <= 0 and not seg.dirty:
            self._remove(seg)

    def _remove(self, seg: Segment) -> None:
        self.segments.pop(seg.path, None)
        for path in (seg.path, seg.path + _DONE):
            with contextlib.suppress(OSError):
                os.unlink(path)

    @_locked
    def enforce_limit(self) -> int:
        """Delete the oldest resendable segments beyond max_bytes; return entries lost."""
        lost = 0
        total = sum(s.size for s in self.segments.values())
        for seg in sorted(self.segments.values(), key=lambda s: s.path):
            if total <= self.max_bytes:
                break
            if seg.dirty and seg.outstanding <= 0:
                total -= seg.size
                lost += seg.records
                self._remove(seg)
        return lost

    # -- resending -----------------------------------------------------------------------

    @_locked
    def resendable(self) -> List[Segment]:
        """Closed segments holding batches that gave up, oldest first."""
        return sorted((s for s in self.segments.values() if s.dirty and s.outstanding <= 0),
                      key=lambda s: s.path)

    @_locked
    def resent(self, seg: Segment) -> None:
        seg.dirty = False
        self._maybe_delete(seg)


def _owner_of(name: str) -> Optional[str]:
    """``<seconds>-<pid>-<hex>-<n>.spool`` -> ``<pid>-<hex>``; None for older names."""
    parts = name.split("-")
    return f"{parts[1]}-{parts[2]}" if len(parts) == 4 else None
