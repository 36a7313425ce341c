"""The page and its JSON API: every GET the drain answers, read-only.

``/`` and ``/static/*`` are files shipped in the package (``static/``); ``/api/entries``,
``/api/histogram`` and ``/api/counters`` answer JSON; ``/api/stream`` is a server-sent
event stream of new entries (batched every ``TICK`` seconds), counters when they change,
and how many entries a slow page missed. Nothing here writes to the store, and nothing
here knows the token.

A page bound to a loopback address answers only requests whose ``Host`` is a loopback
name: another web site the browser visits cannot read the logs by pointing a DNS name of
its own at 127.0.0.1 (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import threading
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

import orjson

from ._live import Batch, Counters, Hub
from ._query import MAX_PAGE_SIZE, PAGE_SIZE, Filters, Row, encode_rows, histogram, matches, search
from ._store import Store

TICK = 0.25  # seconds between two live events: many records, few repaints
LIVE_MAX = 250  # entries in one live event: 1,000/s is more than anyone reads; the rest
# are counted as skipped and a reload (or a filter) shows them
_KEEPALIVE = 15.0
_STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
           "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
           "/static/style.css": ("style.css", "text/css; charset=utf-8")}


@dataclass(frozen=True)
class PageReply:
    """A GET's answer: a whole body, or (``stream``) chunks written as they come."""

    status: int
    content_type: str
    body: bytes = b""
    stream: Optional[Iterator[bytes]] = None


class Page:
    """Answers the page's GETs from the store, the live hub and the counters."""

    def __init__(self, store: Store, hub: Hub, counters: Counters, host: str) -> None:
        self.store = store
        self.hub = hub
        self.counters = counters
        self._loopback_only = _loopback(host)
        package = resources.files(__package__) / "static"
        self._files = {path: ((package / name).read_bytes(), kind)
                       for path, (name, kind) in _STATIC.items()}
        self._api: Dict[str, Callable[[Dict[str, str], threading.Event], PageReply]] = {
            "/api/entries": self._entries, "/api/histogram": self._histogram,
            "/api/counters": self._counters, "/api/stream": self._stream}

    def answer(self, target: str, host: Optional[str], closed: threading.Event) -> PageReply:
        """The reply to ``GET target``; ``closed`` is set when the server stops."""
        if self._loopback_only and not _loopback(_hostname(host)):
            return _error(403, "this page answers only to 127.0.0.1 or localhost")
        parts = urlsplit(target)
        if parts.path == "/favicon.ico":
            return PageReply(204, "image/x-icon")
        if parts.path in self._files:
            body, kind = self._files[parts.path]
            return PageReply(200, kind, body)
        handler = self._api.get(parts.path)
        if handler is None:
            return _error(404, f"no such page: {parts.path}")
        try:
            return handler(dict(parse_qsl(parts.query)), closed)
        except ValueError as exc:
            return _error(400, str(exc))

    def _entries(self, params: Dict[str, str], closed: threading.Event) -> PageReply:
        before = _number(params, "before")
        limit = min(_number(params, "limit") or PAGE_SIZE, MAX_PAGE_SIZE)
        found = search(self.store, Filters.parse(params), before, limit)
        head = orjson.dumps({key: found[key] for key in ("next", "partial", "top")})
        return _json(head[:-1] + b',"entries":' + encode_rows(found["entries"]) + b"}")

    def _histogram(self, params: Dict[str, str], closed: threading.Event) -> PageReply:
        return _json(orjson.dumps(histogram(self.store, Filters.parse(params))))

    def _counters(self, params: Dict[str, str], closed: threading.Event) -> PageReply:
        return _json(orjson.dumps(self._counts()))

    def _counts(self) -> Dict[str, Any]:
        with self.store.reading() as db:
            (top,) = db.execute("SELECT max(id) FROM entries").fetchone()
        return {**self.counters.snapshot(), "stored": top or 0}  # the drain never deletes

    def _stream(self, params: Dict[str, str], closed: threading.Event) -> PageReply:
        filters = Filters.parse(params)
        after = _number(params, "after") or 0
        return PageReply(200, "text/event-stream", stream=self._events(filters, after, closed))

    def _events(self, filters: Filters, after: int, closed: threading.Event) -> Iterator[bytes]:
        subscriber = self.hub.subscribe()  # first, so nothing stored from now on is missed
        try:
            yield b"retry: 2000\n\n"
            caught = [row for row in search(self.store, filters, limit=LIVE_MAX)["entries"]
                      if row[0] > after]
            last = max([after] + [row[0] for row in caught])
            pending: List[Row] = caught[::-1]
            version, quiet_since, skipped = -1, time.monotonic(), 0
            while True:
                if pending or skipped:
                    yield _event("entries", b'{"skipped":%d,"rows":%s}' % (
                        skipped, encode_rows(pending)))
                    quiet_since, skipped = time.monotonic(), 0
                if self.counters.version != version:
                    version = self.counters.version
                    yield _event("counters", orjson.dumps(self._counts()))
                elif time.monotonic() - quiet_since > _KEEPALIVE:
                    yield b": still here\n\n"  # a vanished page shows up as a failed write
                    quiet_since = time.monotonic()
                if closed.wait(TICK):
                    return
                batches, skipped = subscriber.take()
                pending, more = _newest(batches, filters, last)
                skipped += more
                if pending:
                    last = pending[-1][0]
        finally:
            self.hub.unsubscribe(subscriber)


def _newest(batches: List[Batch], filters: Filters, last: int) -> Tuple[List[Row], int]:
    """The newest ``LIVE_MAX`` matching rows after ``last``, oldest first, and how many
    entries were not looked at: at 10,000 records/s the page shows the latest, not all."""
    rows: List[Row] = []
    unseen = 0
    everything = filters == Filters()
    for first, service, logs, encoded in reversed(batches):
        for offset in range(len(logs) - 1, -1, -1):
            if len(rows) >= LIVE_MAX:
                unseen += offset + 1
                break
            entry, row_id = logs[offset], first + offset
            named = entry.get("service") or service
            if row_id > last and (everything or matches(filters, named, entry, encoded[offset])):
                rows.append((row_id, named, encoded[offset]))
    rows.reverse()
    return rows, unseen


def _event(name: str, data: bytes) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"


def _json(body: bytes) -> PageReply:
    return PageReply(200, "application/json", body)


def _error(status: int, message: str) -> PageReply:
    return PageReply(status, "application/json", orjson.dumps({"error": message}))


def _number(params: Dict[str, str], name: str) -> Optional[int]:
    if name not in params:
        return None
    try:
        value = int(params[name])
    except ValueError:
        raise ValueError(f"{name}: expected a whole number, got {params[name]!r}") from None
    if value < 0:
        raise ValueError(f"{name}: expected 0 or more, got {value}")
    return value


def _hostname(host: Optional[str]) -> str:
    """The name in a Host header, without its port or IPv6 brackets."""
    host = (host or "").strip().lower()
    if host.startswith("["):  # [::1]:8080
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _loopback(name: str) -> bool:
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
