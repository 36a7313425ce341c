"""The side channel for processes that cannot be handed the queue.

A process started by ``spawn``, by a server's own worker launcher (uvicorn ``--workers``,
celery's spawn pool) or by any other program inherits the environment, not the queue. So
the owner also binds a Unix datagram socket in a private directory (mode 0700: the same
user only) and advertises it in ``ASTRALOG_ATTACH``. A datagram is delivered whole or not
at all and needs no lock, so it keeps the queue's guarantees: a sender killed mid-send
disturbs no one.

A process attaches only when its own configuration matches the advertised one: the
endpoint, project, service and a fingerprint of the token must agree, so an unrelated
program that inherits the environment never ships under someone else's token. The token
itself is never written to the environment. And it attaches only when the directory, the
socket and the counters file are its own user's and writable by no one else (``untrusted``),
so an environment pointing at paths another user made cannot capture its records.
"""

from __future__ import annotations

import os
import stat
from typing import Dict, NamedTuple, Optional

import orjson

from .._config import Config, sha256_hex
from ._ownership import own_path

ENV = "ASTRALOG_ATTACH"


class Address(NamedTuple):
    socket_path: str
    stats_path: str
    owner_pid: int


def key_of(config: Config) -> str:
    raw = "\0".join(str(part) for part in config.key)
    return sha256_hex(raw.encode())[:32]


def advertise(config: Config, address: Address) -> None:
    table = _table()
    table[key_of(config)] = list(address)
    os.environ[ENV] = orjson.dumps(table).decode()


def find(config: Config) -> Optional[Address]:
    entry = _table().get(key_of(config))
    if not isinstance(entry, list) or len(entry) != 3:
        return None
    address = Address(str(entry[0]), str(entry[1]), int(entry[2]))
    if not (os.path.exists(address.socket_path) and os.path.exists(address.stats_path)):
        return None  # a stale advertisement from an owner that is gone
    return address


def untrusted(address: Address) -> Optional[str]:
    """Why the advertised paths cannot be trusted (another user could have made or swapped
    them), or None: they must be ours, of the kind the owner made, writable by us alone."""
    for path, kind in ((os.path.dirname(address.socket_path), stat.S_IFDIR),
                       (address.socket_path, stat.S_IFSOCK), (address.stats_path, stat.S_IFREG)):
        why = own_path(path, kind)
        if why:
            return f"{path} {why}"
    return None


def _table() -> Dict[str, object]:
    try:
        table = orjson.loads(os.environ.get(ENV, "{}"))
    except orjson.JSONDecodeError:
        return {}
    return table if isinstance(table, dict) else {}
