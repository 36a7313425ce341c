"""The spool's segment files: the record format, written and read back (see ``_spool``).

A segment is a sequence of records::

    magic "ALSP" | length (4) | crc32 (4) | entry count (4) | batch_id (32) | entries

entries joined by ``\\n``; consecutive records with the same batch_id are parts of one batch.
A torn write at the end (a crash mid-append) fails its length or CRC check and ends the
segment there: detected, never parsed as garbage.

Every file is opened with ``O_NOFOLLOW``: a symbolic link planted where a segment or its
``.done`` list should be fails to open instead of being read or appended through.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
import struct
import zlib
from typing import Iterator, List, Tuple

_MAGIC = b"ALSP"
_HEAD = struct.Struct("!4sIII")
_ID = 32
NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC


@dataclasses.dataclass
class Segment:
    """One segment file and what the spool knows of it."""

    path: str
    size: int = 0
    records: int = 0  # entries, for counting what a deletion loses
    outstanding: int = 0  # batches written and not yet resolved
    dirty: bool = False  # holds a batch that gave up: send it again later
    closed: bool = False


def record(batch_id: str, entries: List[bytes]) -> bytes:
    """One record: (part of) a batch, with its length and CRC so a torn tail shows."""
    body = batch_id.encode() + b"\n".join(entries)
    return _HEAD.pack(_MAGIC, len(body), zlib.crc32(body), len(entries)) + body


def append_file(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | NOFOLLOW, 0o600)
    try:
        if os.write(fd, data) != len(data):
            raise OSError(errno.ENOSPC, "short write", path)
    finally:
        os.close(fd)


def read_file(path: str) -> bytes:
    with open(os.open(path, os.O_RDONLY | NOFOLLOW), "rb") as f:
        return f.read()


def regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def read_segment(path: str) -> Iterator[Tuple[str, List[bytes]]]:
    """Yield (batch_id, entries), parts joined, up to the first torn or corrupt record."""
    batch_id = ""
    entries: List[bytes] = []
    for part_id, part in _read_records(path):
        if part_id != batch_id and batch_id:
            yield batch_id, entries
            entries = []
        batch_id = part_id
        entries.extend(part)
    if batch_id:
        yield batch_id, entries


def _read_records(path: str) -> Iterator[Tuple[str, List[bytes]]]:
    try:
        data = read_file(path)
    except OSError:
        return
    pos = 0
    while pos + _HEAD.size <= len(data):
        magic, length, crc, count = _HEAD.unpack_from(data, pos)
        body = data[pos + _HEAD.size : pos + _HEAD.size + length]
        if magic != _MAGIC or len(body) != length or zlib.crc32(body) != crc or length < _ID:
            return
        entries = body[_ID:].split(b"\n") if length > _ID else []
        if len(entries) != count:
            return
        yield body[:_ID].decode("ascii"), entries
        pos += _HEAD.size + length
