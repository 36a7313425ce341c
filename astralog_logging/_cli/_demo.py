"""``astralog-logging demo``: the whole path on one machine, in a few seconds.

A local drain on a free port (SQLite in a temp directory), one AstralogHandler configured
through dictConfig, worker processes forked after it that log a realistic mix, then a
report of what was sent against what the drain stored. With ``serve`` the drain stays up
afterwards, serving its page on the same port, until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import collections
import logging
import logging.config
import multiprocessing
import os
import tempfile
import threading
import time
from typing import Any, Counter, Dict

from .._context import context
from ..drain import DrainServer

_TOKEN = "demo-token"
_LEVELS = ("info",) * 14 + ("debug",) * 2 + ("warn",) * 2 + ("error", "critical")


def _level_of(n: int) -> str:
    return _LEVELS[n % len(_LEVELS)]


def _work(worker: int, records: int) -> None:
    log = logging.getLogger(f"demo.worker{worker}")
    for n in range(records):
        level = _level_of(n)
        with context(request_id=f"req-{worker}-{n // 10}"):
            if level == "error" and n % 40 == 19:
                orders: Dict[str, int] = {}
                try:
                    orders[f"order-{n}"] += 1  # a real KeyError with a real traceback
                except KeyError:
                    log.exception("order %s failed", n, extra={"meta": {"order": n}})
                continue
            log.log(_NUMERIC[level], "worker %d handled order %d", worker, n,
                    extra={"meta": {"order": n, "amount": n * 1.5, "password": "hunter2"},
                           "tags": ["demo", f"w{worker}"]})


_NUMERIC = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
            "error": logging.ERROR, "critical": logging.CRITICAL}


def run_demo(workers: int = 4, records: int = 2000, db: str | None = None,
             serve: bool = False) -> int:
    # Kept after the run: the last lines print how to look inside it.
    db_path = db or os.path.join(tempfile.mkdtemp(prefix="astralog-demo-"), "demo.db")
    server = DrainServer(port=0, token=_TOKEN, db_path=db_path, page=serve).start()
    try:
        ok = _run(server, workers, records, db_path)
        if serve:
            _serve(server)
    finally:
        server.stop()
    return 0 if ok else 1


def _serve(server: DrainServer) -> None:
    from ..drain._cli import _install, _restore

    stop = threading.Event()
    previous = _install(stop)
    try:
        print()
        print(f"the page: {server.page_url}  (Ctrl-C to stop)", flush=True)
        stop.wait()
    finally:
        _restore(previous)


def _run(server: DrainServer, workers: int, records: int, db_path: str) -> bool:
    """Ship from ``workers`` processes into ``server``, report; True if all arrived once."""
    logging.config.dictConfig(_logging_config(server.endpoint))
    handler: Any = logging.getLogger().handlers[0]
    print(f"local drain listening on {server.endpoint}")
    print(f"{workers} worker processes x {records} records ...")
    started = time.perf_counter()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_work, args=(w, records)) for w in range(workers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    delivered = handler.flush(timeout=60)
    elapsed = time.perf_counter() - started
    stored = server.store.entries()
    figures = handler.stats()
    logging.getLogger().removeHandler(handler)
    handler.close()
    sent: Counter[str] = collections.Counter(_level_of(n) for n in range(records))
    got: Counter[str] = collections.Counter(e["level"] for e in stored)
    _report(workers, sent, got, elapsed, figures, db_path)
    total = sum(sent.values()) * workers
    ok = bool(delivered) and len(stored) == total
    print("all records arrived once" if ok else "SOME RECORDS DID NOT ARRIVE")
    return ok


def _report(workers: int, sent: Counter[str], got: Counter[str], elapsed: float,
            figures: Dict[str, Any], db_path: str) -> None:
    print()
    print(f"{'level':<10}{'sent':>10}{'received':>10}")
    for level in ("debug", "info", "warn", "error", "critical"):
        print(f"{level:<10}{sent[level] * workers:>10}{got[level]:>10}")
    total = sum(got.values())
    print(f"{'total':<10}{sum(sent.values()) * workers:>10}{total:>10}")
    print()
    print(f"{total} records in {elapsed:.2f} s: {total / elapsed:,.0f} records/s end to end "
          f"({figures['batches']} batches, {figures['bytes_sent']:,} bytes on the wire, "
          f"{figures['dropped']} dropped, {figures['failed']} failed)")
    print()
    print("look at them:")
    print("  astralog-logging demo --serve   (the same run, then a live page in your browser)")
    print(f"  sqlite3 {db_path} \"select level, message from entries limit 5\"")
    print(f"  sqlite3 {db_path} \"select json from entries where level = 'error' limit 1\"")


def _logging_config(endpoint: str) -> Dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {
            "astralog": {
                "()": "astralog_logging.AstralogHandler",
                "endpoint": endpoint,
                "token": _TOKEN,
                "project_id": "demo",
                "service": "demo-worker",
                "flush_interval": 0.2,
                "tags": ["demo"],
            },
        },
        "root": {"level": "DEBUG", "handlers": ["astralog"]},
    }
