"""``astralog-logging drain``: the local drain in the foreground, one line per record.

The line is meant for a person watching their app in a terminal, so it leads with the
time and level, then ``service/logger``, the message, and the structured fields::

    10:00:00.123 ERROR    web/app.db  Database connection failed  {"attempt": 2}

Refused requests are reported on stderr (they mean a sender is misconfigured). Ctrl-C
and SIGTERM stop the drain cleanly: open connections are cut, the SQLite file is closed.
The page (``/`` on the same port) is served unless ``page=False``; listening on anything
but a loopback address prints a warning first, since anyone who can reach it reads it.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from types import FrameType
from typing import Any, Dict, Mapping, Optional

from ._server import DrainServer, RequestInfo

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def run(host: str, port: int, token: str, db: str, quiet: bool = False,
        page: bool = True) -> int:
    """Serve until Ctrl-C or SIGTERM, printing arriving records unless ``quiet``; returns 0."""
    printing = threading.Lock()  # lines from concurrent connections must not interleave

    def show(envelope: Dict[str, Any]) -> None:
        lines = [format_record(entry, envelope["service"]) for entry in envelope["logs"]]
        with printing:
            print("\n".join(lines), flush=True)

    def complain(info: RequestInfo) -> None:
        if info.status is not None and info.status >= 400:
            with printing:
                print(f"refused {info.status}: {info.error}", file=sys.stderr, flush=True)

    stop = threading.Event()
    if host not in _LOOPBACK:
        print(f"astralog drain: warning: listening on {host}, not 127.0.0.1: anyone who can "
              "reach this address can send to it" + (" and read every stored entry on its "
                                                     "page" if page else ""),
              file=sys.stderr, flush=True)
    server = DrainServer(host=host, port=port, token=token, db_path=db,
                         on_batch=None if quiet else show, on_request=complain, page=page)
    try:
        server.start()
    except OSError as exc:
        server.stop()
        print(f"astralog-logging drain: cannot listen on {host}:{port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    previous = _install(stop)
    try:
        print(f"astralog drain listening on {server.endpoint}  (db: {db}; Ctrl-C to stop)",
              flush=True)
        if server.page_url is not None:
            print(f"the page: {server.page_url}", flush=True)
        stop.wait()
    finally:
        _restore(previous)
        server.stop()
    print(f"astralog drain stopped; what arrived is in {db}", flush=True)
    return 0


def format_record(entry: Mapping[str, Any], service: str = "-") -> str:
    """One readable line (plus an indented traceback, if any) for a stored entry."""
    timestamp = str(entry.get("timestamp", ""))
    clock = timestamp[11:23] if len(timestamp) >= 23 else timestamp
    level = str(entry.get("level", "?")).upper()
    where = f"{entry.get('service') or service}/{entry.get('logger', '?')}"
    line = f"{clock} {level:<8} {where}  {entry.get('message', '')}"
    meta = entry.get("meta")
    if meta:
        line += "  " + json.dumps(meta, ensure_ascii=False)
    if entry.get("trace_id"):
        line += f"  trace={entry['trace_id']}"
    exception = entry.get("exception")
    if isinstance(exception, dict):
        trace = str(exception.get("stacktrace") or f"{exception.get('type')}: "
                    f"{exception.get('message')}")
        line += "\n" + "\n".join("    " + part for part in trace.rstrip("\n").splitlines())
    return line


def _install(stop: threading.Event) -> Dict[int, Any]:
    """Route Ctrl-C and SIGTERM to ``stop``; only possible on the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handle(signum: int, frame: Optional[FrameType]) -> None:
        stop.set()

    return {signum: signal.signal(signum, handle) for signum in _STOP_SIGNALS}


def _restore(previous: Dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
