"""The page's questions to the store: filtered entries newest first, and a rate histogram.

Entries are read in windows of row ids, newest first, each window one indexed query that
stops at the page size. A filter with an index of its own (``service``, ``logger``,
``trace_id``, ``request_id``) reads only its rows; ``level``, ``q`` and the time range are
checked on the rows of the window. The windows grow while they find little, and the
search stops after ``budget`` seconds with a cursor to go on from, so a rare text on a
large store answers in bounded time ("searched back to id N") instead of scanning
everything while the page waits.

``live`` reads what arrived since a page's last look with the same conditions, so the live
stream shows exactly what a reload would.
"""

from __future__ import annotations

import collections
import datetime
import re
import time
from dataclasses import dataclass, fields, replace
from typing import Any, Callable, Counter, Dict, List, Mapping, Optional, Tuple

import orjson

from ._store import LEVEL_RANKS, Store

PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
BUDGET = 0.2  # seconds a search may take before it answers with what it found
_FIRST_WINDOW = 4096
_MAX_WINDOW = 1 << 16
_COUNT_WINDOW = 1 << 14  # a histogram reads all of each window: smaller ones end nearer BUDGET
_SPAN_ROWS = 200_000  # a time range with fewer entries is read between its first and last id
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}(:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?)?")
_BUCKETS = ((300, 19, "second"), (300 * 60, 16, "minute"), (None, 13, "hour"))
_HISTOGRAM_SPAN = datetime.timedelta(minutes=15)
Row = Tuple[int, str, bytes]  # id, service, the entry as stored


@dataclass(frozen=True)
class Filters:
    """What the page asks for; every field optional. Times compare as UTC text prefixes."""

    level: Optional[str] = None  # this level and the more severe ones
    q: Optional[str] = None  # text anywhere in the stored entry, case-insensitive (ASCII)
    service: Optional[str] = None
    logger: Optional[str] = None
    trace_id: Optional[str] = None
    request_id: Optional[str] = None
    since: Optional[str] = None  # inclusive
    until: Optional[str] = None  # exclusive

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> Filters:
        """From query parameters; ValueError naming the parameter when one is malformed."""
        given = {f.name: params[f.name] for f in fields(cls) if params.get(f.name)}
        level = given.get("level")
        if level is not None and level not in LEVEL_RANKS:
            raise ValueError(f"level: expected one of {', '.join(LEVEL_RANKS)}, got {level!r}")
        for name in ("since", "until"):
            if name in given:
                given[name] = _utc_prefix(name, given[name])
        return cls(**given)


def search(store: Store, filters: Filters, before: Optional[int] = None,
           limit: int = PAGE_SIZE, budget: float = BUDGET,
           clock: Callable[[], float] = time.monotonic) -> Dict[str, Any]:
    """Up to ``limit`` matching entries older than ``before``, newest first.

    ``next`` is the cursor for the following page (None: nothing older is left);
    ``partial`` says the budget ran out before the page filled, ``next`` being where the
    search stopped; ``top`` is the newest id stored, where a live stream takes over.
    """
    started = clock()
    where, params = _where(filters)
    with store.reading() as db:
        (top,) = db.execute("SELECT max(id) FROM entries").fetchone()
    high = min(before, (top or 0) + 1) if before is not None else (top or 0) + 1
    floor = 1
    if filters.since is not None or filters.until is not None:
        span = _id_span(store, filters)
        if span is not None:
            floor, high = span[0], min(high, span[1] + 1)
    whole = filters.trace_id is not None or filters.request_id is not None  # few rows each
    window, partial = _FIRST_WINDOW, False
    found: List[Tuple[int, str, str]] = []
    sql = (f"SELECT id, service, json FROM entries WHERE {where} id >= ? AND id < ? "
           "ORDER BY id DESC LIMIT ?")
    while high > floor and len(found) < limit:
        low = floor if whole else max(floor, high - window)
        with store.reading() as db:
            found += db.execute(sql, (*params, low, high, limit - len(found))).fetchall()
        if len(found) >= limit:
            high = found[-1][0]
            break
        high, window = low, min(window * 2, _MAX_WINDOW)
        if high > floor and clock() - started > budget:
            partial = True
            break
    rows: List[Row] = [(row_id, service, text.encode()) for row_id, service, text in found]
    return {"entries": rows, "next": high if high > floor else None, "partial": partial,
            "top": top or 0}


def _id_span(store: Store, filters: Filters) -> Optional[Tuple[int, int]]:
    """The lowest and highest id in the time range, read from the ``entries_time`` index,
    when the range holds at most ``_SPAN_ROWS`` entries (else None: the windows find them
    soon enough). An empty range gives (1, 0): nothing to read."""
    sql = ("SELECT min(id), max(id), count(*) FROM (SELECT id FROM entries "
           "WHERE timestamp >= ? AND timestamp < ? LIMIT ?)")
    with store.reading() as db:
        low, high, seen = db.execute(sql, (filters.since or "", filters.until or "~",
                                           _SPAN_ROWS + 1)).fetchone()
    if seen > _SPAN_ROWS:
        return None
    return (1, 0) if low is None else (int(low), int(high))


def histogram(store: Store, filters: Filters, budget: float = BUDGET,
              clock: Callable[[], float] = time.monotonic) -> Dict[str, Any]:
    """Entries per second, minute or hour by level, with the list's filters, over its range.

    With only ``level`` (or nothing) to apply, spans over five minutes are counted from the
    per-minute ``rate`` table (so their ends round to the minute), shorter ones from the
    ``entries_time`` index. Any other filter counts the entries themselves, newest ids first
    in growing windows as ``search`` reads them (a trace or request id in one indexed
    query); after ``budget`` seconds the answer holds what was counted, the newest entries,
    with ``partial`` true. Without a range it covers the 15 minutes up to the newest entry.
    """
    started = clock()
    with store.reading() as db:
        (newest,) = db.execute("SELECT max(timestamp) FROM entries").fetchone()
    until = filters.until
    if newest is None:
        return {"bucket": "second", "since": filters.since, "until": until, "counts": [],
                "partial": False}
    since = filters.since or _shift(until or newest, -_HISTOGRAM_SPAN)
    span = (_parse(until or max(newest, since)) - _parse(since)).total_seconds()
    width, bucket = next((w, b) for limit, w, b in _BUCKETS if limit is None or span <= limit)
    ranged = replace(filters, since=since, until=until)
    if ranged == Filters(level=filters.level, since=since, until=until):
        counted, partial = _count_rates(store, ranged, width), False
    else:
        counted, partial = _count_entries(store, ranged, width, started + budget, clock)
    names = {value: name for name, value in LEVEL_RANKS.items()}
    counts = [[at, names.get(level_rank, "info"), n] for at, level_rank, n in counted]
    return {"bucket": bucket, "since": since, "until": until, "counts": counts,
            "partial": partial}


def _count_rates(store: Store, filters: Filters, width: int) -> List[Tuple[str, int, int]]:
    """Time and level only: the ``rate`` table, or for seconds the ``entries_time`` index."""
    table, count, column = ("entries", "count(*)", "timestamp") if width == 19 else (
        "rate", "sum(n)", "minute")
    since = filters.since or ""
    clauses = [f"{column} >= ?"] + ([f"{column} < ?"] if filters.until else [])
    params: List[Any] = [since if width == 19 else since[:16]]
    params += [filters.until] if filters.until else []
    if filters.level is not None:
        clauses.append("rank >= ?")
        params.append(LEVEL_RANKS[filters.level])
    sql = (f"SELECT substr({column}, 1, {width}), rank, {count} FROM {table} "
           f"WHERE {' AND '.join(clauses)} GROUP BY 1, 2 ORDER BY 1")
    with store.reading() as db:
        return [(at, level_rank, n) for at, level_rank, n in db.execute(sql, params)]


def _count_entries(store: Store, filters: Filters, width: int, deadline: float,
                   clock: Callable[[], float]) -> Tuple[List[Tuple[str, int, int]], bool]:
    """Matching entries counted per bucket and level, newest ids first, until ``deadline``."""
    where, params = _where(filters)
    sql = (f"SELECT substr(timestamp, 1, {width}), rank, count(*) FROM entries "
           f"WHERE {where} id >= ? AND id < ? GROUP BY 1, 2")
    with store.reading() as db:
        (top,) = db.execute("SELECT max(id) FROM entries").fetchone()
    floor, high = 1, (top or 0) + 1
    whole = filters.trace_id is not None or filters.request_id is not None  # few rows each
    span = None if whole else _id_span(store, filters)
    if span is not None:
        floor, high = span[0], span[1] + 1
    counts: Counter[Tuple[str, int]] = collections.Counter()
    window = _FIRST_WINDOW
    while high > floor:
        low = floor if whole else max(floor, high - window)
        with store.reading() as db:
            for at, level_rank, n in db.execute(sql, (*params, low, high)):
                counts[(at, level_rank)] += n
        high, window = low, min(window * 2, _COUNT_WINDOW)
        if high > floor and clock() > deadline:
            break
    return [(at, level_rank, n) for (at, level_rank), n in sorted(counts.items())], high > floor


def live(store: Store, filters: Filters, after: int, top: int, limit: int,
         scan: int) -> Tuple[List[Row], int]:
    """The newest ``limit`` matching rows with ids in (``after``, ``top``], oldest first, and
    how many ids in that span were not looked at: only the newest ``scan`` ids are, so a
    page far behind (or a rare filter at 10,000 records/s) costs one bounded query."""
    low = max(after, top - scan)
    where, params = _where(filters)
    sql = (f"SELECT id, service, json FROM entries WHERE {where} id > ? AND id <= ? "
           "ORDER BY id DESC LIMIT ?")
    with store.reading() as db:
        found = db.execute(sql, (*params, low, top, limit)).fetchall()
    if len(found) >= limit:
        low = found[-1][0] - 1
    rows: List[Row] = [(row_id, service, text.encode()) for row_id, service, text in found]
    return rows[::-1], low - after


def encode_rows(rows: List[Row]) -> bytes:
    """Rows as a JSON array of ``{"id", "service", "entry"}``, the entries' bytes reused."""
    return b"[" + b",".join(b'{"id":%d,"service":%s,"entry":%s}' % (
        row_id, orjson.dumps(service), raw) for row_id, service, raw in rows) + b"]"


def _where(filters: Filters) -> Tuple[str, List[Any]]:
    # "+column" keeps SQLite off that column's index: the id window is the better driver.
    clauses: List[str] = []
    params: List[Any] = []
    if filters.level is not None:
        clauses.append("+rank >= ?")
        params.append(LEVEL_RANKS[filters.level])
    for name in ("service", "logger", "trace_id", "request_id"):
        value = getattr(filters, name)
        if value is not None:
            clauses.append(f"{name} = ?")
            params.append(value)
    if filters.since is not None:
        clauses.append("+timestamp >= ?")
        params.append(filters.since)
    if filters.until is not None:
        clauses.append("+timestamp < ?")
        params.append(filters.until)
    if filters.q is not None:
        escaped = re.sub(r"([\\%_])", r"\\\1", filters.q)
        clauses.append("json LIKE ? ESCAPE '\\'")
        params.append(f"%{escaped}%")
    return "".join(f"{clause} AND " for clause in clauses), params


def _utc_prefix(name: str, value: str) -> str:
    text = value.strip().rstrip("Zz").replace(" ", "T")
    if not _TIME.fullmatch(text):
        raise ValueError(f"{name}: expected a UTC time like 2026-11-24T10:00:00, got {value!r}")
    return text


def _parse(stamp: str) -> datetime.datetime:
    padded = stamp[:19] + "0000-01-01T00:00:00"[len(stamp[:19]):]
    return datetime.datetime.strptime(padded, "%Y-%m-%dT%H:%M:%S")


def _shift(stamp: str, by: datetime.timedelta) -> str:
    return (_parse(stamp) + by).strftime("%Y-%m-%dT%H:%M:%S")
