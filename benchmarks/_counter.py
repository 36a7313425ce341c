"""Counters a receiver process shares with the process that benchmarks against it.

A small file in /dev/shm mapped by both: the receiver writes what arrived, the benchmark
reads it between runs and polls it while it waits, at the cost of a memory read (polling a
receiver over HTTP would itself burn the CPU being measured). Each slot has one writer.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
import tempfile
import time
from typing import Callable, Dict, Optional

SLOTS = ("received", "distinct", "duplicates", "invalid", "requests", "rejected",
         "rejected_in_outage", "outage", "stall", "stalled_requests")
_SLOT = struct.Struct("q")
GIVE_UP_EVERY = 0.5  # seconds between asking a system whether it dropped records
_SIZE = _SLOT.size * len(SLOTS)
_INDEX = {name: i * _SLOT.size for i, name in enumerate(SLOTS)}


class Counters:
    def __init__(self, path: str, *, create: bool = False) -> None:
        self.path = path
        if create:
            with open(path, "wb") as f:
                f.write(b"\0" * _SIZE)
        fd = os.open(path, os.O_RDWR)
        try:
            self._map = mmap.mmap(fd, _SIZE)
        finally:
            os.close(fd)

    @classmethod
    def create(cls) -> Counters:
        folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
        fd, path = tempfile.mkstemp(prefix="astralog-bench-", dir=folder)
        os.close(fd)
        return cls(path, create=True)

    def get(self, name: str) -> int:
        value: int = _SLOT.unpack_from(self._map, _INDEX[name])[0]
        return value

    def set(self, name: str, value: int) -> None:
        _SLOT.pack_into(self._map, _INDEX[name], value)

    def snapshot(self) -> Dict[str, int]:
        return {name: self.get(name) for name in SLOTS}

    def wait_distinct(self, target: int, timeout: float, poll: float = 0.005,
                      give_up: Optional[Callable[[], bool]] = None) -> bool:
        """Wait until ``target`` distinct records arrived; False if ``timeout`` ran out first.

        Also False as soon as the receiver refuses a request outside a simulated outage, or
        ``give_up`` (asked twice a second: the system admits a drop) says so: those records
        will not arrive, and waiting out the timeout would only hide it.
        """
        now = time.monotonic()
        deadline, next_ask = now + timeout, now + GIVE_UP_EVERY
        while self.get("distinct") < target:
            now = time.monotonic()
            if now >= deadline:
                return False
            if self.get("rejected") > self.get("rejected_in_outage"):
                return False
            if give_up is not None and now >= next_ask:
                next_ask = now + GIVE_UP_EVERY
                if give_up():
                    return False
            time.sleep(poll)
        return True

    def unlink(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
