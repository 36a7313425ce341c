"""The page and its JSON API: every GET the drain answers, read-only.

``/`` and ``/static/*`` are files shipped in the package (``static/``); ``/api/entries``,
``/api/histogram`` and ``/api/counters`` answer JSON; ``/api/stream`` is a server-sent
event stream of new entries, counters when they change, and how many new entries were
not looked at. The stream's thread wakes every ``TICK`` seconds, asks the store for its
newest id and, when it moved, reads the newest matching rows with the same query as
``/api/entries``: the work is per tick and per page, never per stored entry, and ingest
does nothing for it. Nothing here writes to the store, and nothing here knows the token.

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
from typing import Any, Callable, Dict, Iterator, List, Optional
from urllib.parse import parse_qsl, urlsplit

import orjson

from ._live import Counters
from ._query import MAX_PAGE_SIZE, PAGE_SIZE, Filters, Row, encode_rows, histogram, live, search
from ._store import Store

TICK = 0.5  # seconds between two live events: many records, few repaints (each costs the
# browser a relayout of its table, more than the rows it adds)
# Entries in one live event: 100/s is more than anyone reads, and each shown row costs the
# browser far more than the drain (a tab drawing 1,000/s took 13 µs of CPU per record ingested
# at 30,000 records/s, competing with the drain); the rest are counted as skipped and a
# reload (or a filter) shows them.
LIVE_MAX = 50
LIVE_SCAN = 5_000  # new ids a tick looks at, at most: a tick's worth at 20,000 records/s
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
    """Answers the page's GETs from the store and the counters."""

    def __init__(self, store: Store, counters: Counters, host: str) -> None:
        self.store = store
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
        return _json(orjson.dumps(self._counts(self._top())))

    def _top(self) -> int:
        """The newest id stored (0: none); ids only grow, the drain never deletes."""
        with self.store.reading() as db:
            (top,) = db.execute("SELECT max(id) FROM entries").fetchone()
        return int(top or 0)

    def _counts(self, top: int) -> Dict[str, Any]:
        return {**self.counters.snapshot(), "stored": top}

    def _stream(self, params: Dict[str, str], closed: threading.Event) -> PageReply:
        filters = Filters.parse(params)
        after = _number(params, "after") or 0
        return PageReply(200, "text/event-stream", stream=self._events(filters, after, closed))

    def _events(self, filters: Filters, after: int, closed: threading.Event) -> Iterator[bytes]:
        yield b"retry: 2000\n\n"
        found = search(self.store, filters, limit=LIVE_MAX)  # the newest first, then live
        rows: List[Row] = [row for row in found["entries"] if row[0] > after][::-1]
        last = max(after, found["top"])  # search looked at everything newer than its rows
        version, shown, skipped, quiet_since = -1, -1, 0, time.monotonic()
        while True:
            top = self._top()
            if top > last:
                more, skipped = live(self.store, filters, last, top, LIVE_MAX, LIVE_SCAN)
                rows, last = rows + more, top
            if rows or skipped:
                yield _event("entries", b'{"skipped":%d,"rows":%s}' % (
                    skipped, encode_rows(rows)))
                quiet_since = time.monotonic()
            if self.counters.version != version or top != shown:
                version, shown = self.counters.version, top
                yield _event("counters", orjson.dumps(self._counts(top)))
            elif time.monotonic() - quiet_since > _KEEPALIVE:
                yield b": still here\n\n"  # a vanished page shows up as a failed write
                quiet_since = time.monotonic()
            rows, skipped = [], 0
            if closed.wait(TICK):
                return


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
