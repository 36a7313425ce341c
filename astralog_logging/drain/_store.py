"""SQLite storage for the local drain: accepted batches and their entries.

One connection behind a lock serves every thread. That is the only way a ``":memory:"``
database is shared between the server's handler threads and a test reading it; writing
a whole batch in one transaction (``executemany``) keeps the lock's share of a request's
time small. Files use WAL so another process (``sqlite3``, a second
reader) can look at the data while the drain writes.

Each entry is kept whole, as sent, in ``entries.json``, and each envelope's own fields
(unknown ones included) in ``batches.envelope``; the other columns are copies for filtering
and for people browsing the file with ``sqlite3``. ``rank`` (the level's severity) and
``request_id`` (from ``meta``) exist for the page's filters, each with an index that ends
in the row id, so "newest first, this filter" reads the index backwards and stops early.

The page reads through ``reading()``: for a file, a second connection of its own, so a
long query never holds the lock a request's insert needs (WAL lets both run at once); for
``":memory:"`` there is only the one connection, so reads take the shared lock.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import sqlite3
import threading
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import orjson

LEVEL_RANKS = {"debug": 10, "info": 20, "warn": 30, "error": 40, "critical": 50}

# Levels the protocol does not name (custom ones) rank as info, so `level="warn"` hides them.
_RANK_SQL = ("CASE level " + " ".join(f"WHEN '{name}' THEN {rank}" for name, rank in
                                      LEVEL_RANKS.items()) + f" ELSE {LEVEL_RANKS['info']} END")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    batch_id    TEXT PRIMARY KEY,
    received_at TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    service     TEXT NOT NULL,
    sdk         TEXT NOT NULL,
    count       INTEGER NOT NULL,
    envelope    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id    TEXT NOT NULL,
    position    INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    timestamp   TEXT NOT NULL,
    level       TEXT NOT NULL,
    service     TEXT NOT NULL,
    logger      TEXT NOT NULL,
    message     TEXT NOT NULL,
    trace_id    TEXT,
    json        TEXT NOT NULL
);
"""

# Added for the page; a file written by an older drain gets them (and their values) on open.
_COLUMNS = {"rank": "INTEGER NOT NULL DEFAULT 20", "request_id": "TEXT"}
_BACKFILL = (f"UPDATE entries SET rank = {_RANK_SQL}, "
             "request_id = CASE json_type(json, '$.meta.request_id') "
             "WHEN 'text' THEN json_extract(json, '$.meta.request_id') END")
_INDEXES = """
CREATE INDEX IF NOT EXISTS entries_rank ON entries (rank);
CREATE INDEX IF NOT EXISTS entries_service ON entries (service);
CREATE INDEX IF NOT EXISTS entries_logger ON entries (logger);
CREATE INDEX IF NOT EXISTS entries_trace ON entries (trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_request ON entries (request_id) WHERE request_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_time ON entries (timestamp, rank);
"""
# Entries per minute and level, kept as batches are stored: the histogram of a day reads
# 1,440 x 5 rows here instead of a million entries.
_RATE = ("CREATE TABLE rate (minute TEXT NOT NULL, rank INTEGER NOT NULL, n INTEGER NOT NULL,"
         " PRIMARY KEY (minute, rank)) WITHOUT ROWID")
_RATE_BACKFILL = ("INSERT INTO rate SELECT substr(timestamp, 1, 16), rank, count(*) "
                  "FROM entries GROUP BY 1, 2")
_RATE_ADD = ("INSERT INTO rate VALUES (?, ?, ?) "
             "ON CONFLICT (minute, rank) DO UPDATE SET n = n + excluded.n")


class Store:
    """Accepted batches, each stored exactly once, and their entries in arrival order."""

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False)
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(entries)")}
        with self._db:
            for name, kind in _COLUMNS.items():
                if name not in columns:
                    self._db.execute(f"ALTER TABLE entries ADD COLUMN {name} {kind}")
            if not _COLUMNS.keys() <= columns:
                self._db.execute(_BACKFILL)
            if not self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'rate'").fetchone():
                self._db.execute(_RATE)
                self._db.execute(_RATE_BACKFILL)
        self._db.executescript(_INDEXES)
        self._reader: Optional[sqlite3.Connection] = None
        self._reader_lock = self._lock
        if path != ":memory:":
            self._reader = sqlite3.connect(path, check_same_thread=False)
            self._reader_lock = threading.Lock()

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection for read-only queries, held for the block (see the module's notes)."""
        with self._reader_lock:
            yield self._db if self._reader is None else self._reader

    def add_batch(self, envelope: Mapping[str, Any],
                  encoded: Optional[Sequence[bytes]] = None) -> bool:
        """Store a validated envelope and its logs; False (and nothing stored) for a repeat.

        ``encoded`` holds the entries already serialized (the drain measures them for the
        size limit anyway), so they are not serialized twice.
        """
        return self.store_batch(envelope, encoded) is not None

    def store_batch(self, envelope: Mapping[str, Any],
                    encoded: Optional[Sequence[bytes]] = None) -> Optional[int]:
        """As ``add_batch``, returning the id of the batch's first entry (None: a repeat).

        A batch's entries get consecutive ids: they are inserted in one transaction under
        the lock, so the live page can name each one without reading it back.
        """
        logs = envelope["logs"]
        batch_id = envelope["batch_id"]
        service = envelope["service"]
        received = _now()
        header = {name: value for name, value in envelope.items() if name != "logs"}
        if encoded is None:
            encoded = [orjson.dumps(entry) for entry in logs]
        rows = [(batch_id, position, received, entry["timestamp"], entry["level"],
                 entry.get("service") or service, entry["logger"], entry["message"],
                 entry.get("trace_id"), text.decode(), rank(entry["level"]),
                 _request_id(entry))
                for position, (entry, text) in enumerate(zip(logs, encoded))]
        per_minute = collections.Counter((row[3][:16], row[10]) for row in rows)
        with self._lock, self._db:
            added = self._db.execute(
                "INSERT OR IGNORE INTO batches VALUES (?, ?, ?, ?, ?, ?, ?)",
                (batch_id, received, envelope["project_id"], service,
                 orjson.dumps(envelope["sdk"]).decode(), len(rows), orjson.dumps(header).decode()),
            ).rowcount
            if not added:
                return None
            self._db.executemany(
                "INSERT INTO entries (batch_id, position, received_at, timestamp, level, service,"
                " logger, message, trace_id, json, rank, request_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._db.executemany(_RATE_ADD, [(*key, n) for key, n in per_minute.items()])
            (last,) = self._db.execute("SELECT last_insert_rowid()").fetchone()
        return int(last) - len(rows) + 1

    def rows(self, level: Optional[str] = None, service: Optional[str] = None,
             trace_id: Optional[str] = None, after_id: int = 0,
             limit: Optional[int] = None) -> List[Tuple[int, Dict[str, Any]]]:
        """``(id, entry)`` pairs in arrival order; ids let a tail resume with ``after_id``.

        ``level`` keeps that level and the more severe ones (``"warn"``: warn, error,
        critical); it must be one of the five protocol levels.
        """
        clauses: List[str] = ["id > ?"]
        params: List[Any] = [after_id]
        if level is not None:
            if level not in LEVEL_RANKS:
                raise ValueError(f"level must be one of {', '.join(LEVEL_RANKS)}; got {level!r}")
            clauses.append("rank >= ?")
            params.append(LEVEL_RANKS[level])
        for column, value in (("service", service), ("trace_id", trace_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        sql = f"SELECT id, json FROM entries WHERE {' AND '.join(clauses)} ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._lock:
            found = self._db.execute(sql, params).fetchall()
        return [(row_id, orjson.loads(text)) for row_id, text in found]

    def entries(self, level: Optional[str] = None, service: Optional[str] = None,
                trace_id: Optional[str] = None, after_id: int = 0,
                limit: Optional[int] = None) -> List[Dict[str, Any]]:
        """The stored entries as sent, in arrival order, filtered as ``rows`` describes."""
        return [entry for _, entry in self.rows(level, service, trace_id, after_id, limit)]

    def batches(self) -> List[Dict[str, Any]]:
        """Every accepted envelope, with its ``logs``, in arrival order."""
        with self._lock:
            heads = self._db.execute("SELECT envelope FROM batches ORDER BY rowid").fetchall()
            logs = self._db.execute("SELECT batch_id, json FROM entries ORDER BY id").fetchall()
        envelopes = [orjson.loads(text) for (text,) in heads]
        by_id = {envelope["batch_id"]: envelope for envelope in envelopes}
        for envelope in envelopes:
            envelope["logs"] = []
        for batch_id, text in logs:
            by_id[batch_id]["logs"].append(orjson.loads(text))
        return envelopes

    def batch_ids(self) -> List[str]:
        """Ids of the accepted batches, in arrival order."""
        with self._lock:
            found = self._db.execute("SELECT batch_id FROM batches ORDER BY rowid").fetchall()
        return [batch_id for (batch_id,) in found]

    def count(self) -> int:
        """How many entries are stored."""
        with self._lock:
            (total,) = self._db.execute("SELECT COUNT(*) FROM entries").fetchone()
        return int(total)

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        with self._lock:
            self._db.close()
        if self._reader is not None:
            with self._reader_lock:
                self._reader.close()


def rank(level: str) -> int:
    """A level's severity; levels the protocol does not name rank as info."""
    return LEVEL_RANKS.get(level, LEVEL_RANKS["info"])


def _request_id(entry: Mapping[str, Any]) -> Optional[str]:
    meta = entry.get("meta")
    found = meta.get("request_id") if isinstance(meta, dict) else None
    return found if isinstance(found, str) else None


def _now() -> str:
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
