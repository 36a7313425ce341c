"""``astralog-logging tail``: read what the local drain stored, as a person would want it.

It reads the drain's SQLite file through the drain's own ``Store`` (so the schema lives
in one place), in the drain's one-line format, colored by level when stdout is a
terminal. ``--follow`` polls for rows after the last one shown: SQLite has no way to
notify another process, and a poll by id costs next to nothing.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import threading
import urllib.parse
from typing import Any, Dict, List, Optional, TextIO, Tuple

HELP = "print what the local drain stored (its SQLite file), optionally following it"
EPILOG = """examples:
  astralog-logging tail                           # the last 20 entries in ./astralog.db
  astralog-logging tail --level warn -n 100       # warn, error and critical only
  astralog-logging tail --service web --follow    # keep printing as entries arrive
  astralog-logging tail --trace-id req-8f72-11a9 --db /tmp/logs.db

Colors are used when stdout is a terminal (not when NO_COLOR is set); --color overrides.
"""

LEVELS = ("debug", "info", "warn", "error", "critical")
_COLORS = {"debug": "\033[2m", "info": "\033[32m", "warn": "\033[33m", "error": "\033[31m",
           "critical": "\033[1;41;97m"}
_DIM = "\033[2m"
_RESET = "\033[0m"
_POLL_SECONDS = 0.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default="astralog.db",
                        help="the drain's SQLite file (default: astralog.db)")
    parser.add_argument("--level", choices=LEVELS, type=_level,
                        help="this level and the more severe ones")
    parser.add_argument("--service", help="only entries of this service")
    parser.add_argument("--trace-id", dest="trace_id", help="only entries of this trace")
    parser.add_argument("-n", "--lines", type=_count, default=20, metavar="N",
                        help="how many of the latest entries to show first (default: 20; 0: "
                        "none, with --follow)")
    parser.add_argument("-f", "--follow", action="store_true",
                        help="keep printing entries as they arrive, until Ctrl-C")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="color levels (default: auto, when stdout is a terminal)")


def run(args: argparse.Namespace, out: Optional[TextIO] = None,
        stop: Optional[threading.Event] = None) -> int:
    """Print, then follow until ``stop`` is set or Ctrl-C (``stop`` is for callers that
    run it in a thread)."""
    from ..drain._store import Store

    out = out or sys.stdout

    if not os.path.isfile(args.db):
        raise ValueError(f"no drain store at {args.db!r}: run `astralog-logging drain --db "
                         f"{args.db}` first, or point --db at its file")
    color = args.color == "always" or (
        args.color == "auto" and not os.environ.get("NO_COLOR") and out.isatty())
    filters: Dict[str, Any] = {"level": args.level, "service": args.service,
                               "trace_id": args.trace_id}
    services = _Services(args.db)  # first: it refuses a file that is not a drain's store
    store = Store(args.db)
    try:
        rows, last_id = _latest(store, filters, args.lines)
        _show(out, rows, services, color)
        if not args.follow:
            return 0
        waiter = stop or threading.Event()
        while not waiter.wait(_POLL_SECONDS):
            rows = store.rows(after_id=last_id, **filters)
            _show(out, rows, services, color)
            if rows:
                last_id = rows[-1][0]
        return 0
    except KeyboardInterrupt:  # Ctrl-C is how --follow is meant to end
        return 0
    finally:
        services.close()
        store.close()


def _latest(store: Any, filters: Dict[str, Any], n: int
            ) -> Tuple[List[Tuple[int, Dict[str, Any]]], int]:
    """The last ``n`` matching rows and the id to follow from, without reading the whole
    file: ids only grow, so a growing window from the end holds the latest matches."""
    total = store.count()
    window = max(n, 1) * 4
    while True:
        after = max(0, total - window)
        rows: List[Tuple[int, Dict[str, Any]]] = store.rows(after_id=after, **filters)
        if len(rows) >= n or after == 0:
            break
        window *= 4
    shown = rows[-n:] if n else []
    last_id = rows[-1][0] if rows else after
    return shown, max(last_id, after)


class _Services:
    """The service of each row. An entry names its service only when it overrides the
    envelope's, and ``Store.rows`` returns entries as sent, so the stored column is read
    here (read-only) to show every line as ``service/logger`` like the drain does."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro",
                                   uri=True, check_same_thread=False)
        try:
            tables = {name for (name,) in self._db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise ValueError(f"{path!r} is not a drain store ({exc})") from None
        if not {"batches", "entries"} <= tables:
            self._db.close()
            raise ValueError(f"{path!r} is an SQLite file, but not a drain store")

    def of(self, ids: List[int]) -> Dict[int, str]:
        known: Dict[int, str] = {}
        for start in range(0, len(ids), 500):  # SQLite caps the number of parameters
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row_id, service in self._db.execute(
                    f"SELECT id, service FROM entries WHERE id IN ({marks})", chunk):
                known[int(row_id)] = str(service)
        return known

    def close(self) -> None:
        self._db.close()


def _show(out: TextIO, rows: List[Tuple[int, Dict[str, Any]]], services: _Services,
          color: bool) -> None:
    known = services.of([row_id for row_id, _ in rows]) if rows else {}
    for row_id, entry in rows:
        _print(out, entry, known.get(row_id, "-"), color)


def _print(out: TextIO, entry: Dict[str, Any], service: str, color: bool) -> None:
    from ..drain._cli import format_record

    text = format_record(entry, service)
    if color:
        level = str(entry.get("level", "?"))
        shown = f" {level.upper():<8} "
        paint = _COLORS.get(level, "")
        first, sep, rest = text.partition("\n")
        first = first.replace(shown, f" {paint}{level.upper():<8}{_RESET} ", 1)
        text = first + (f"{sep}{_DIM}{rest}{_RESET}" if sep else "")
    print(text, file=out, flush=True)


def _level(text: str) -> str:
    text = text.lower()
    return "warn" if text == "warning" else text


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return value
