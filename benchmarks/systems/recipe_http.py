"""The handler a user would write for the stdlib recipe's listener: batch, then POST.

It speaks the Astralog drain protocol (the same receiver as ours), with the standard
library's ``json`` and ``gzip`` and a ``requests.Session``: what a careful user writes from
the logging cookbook, not an optimised shipper. It runs in the recipe's listener process,
behind a ``QueueListener``.
"""

from __future__ import annotations

import datetime
import gzip
import json
import logging
import os
import socket
import sys
import threading
import time
from typing import Any, Dict, List

import requests

_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_LEVELS = {"WARNING": "warn"}
_RETRY = frozenset({408, 429, 500, 502, 503, 504})


class BatchingHTTPHandler(logging.Handler):
    def __init__(self, url: str, token: str, *, gzip: bool, batch_size: int = 1000,
                 interval: float = 1.0) -> None:
        super().__init__()
        self.url = url
        self.gzip = gzip
        self.batch_size = batch_size
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}",
                                     "Content-Type": "application/json",
                                     # the protocol fixes this header's shape (protocol.md)
                                     "User-Agent": "astralog-logging/0.0+recipe python/"
                                     f"{sys.version_info[0]}.{sys.version_info[1]}"})
        if gzip:
            self.session.headers["Content-Encoding"] = "gzip"
        self.host = socket.gethostname()
        self.pending: List[Dict[str, Any]] = []
        self.pending_lock = threading.Lock()
        self.send_lock = threading.Lock()
        self.stopped = threading.Event()
        self.timer = threading.Thread(target=self._tick, args=(interval,), daemon=True)
        self.timer.start()

    def emit(self, record: logging.LogRecord) -> None:
        entry = {
            "timestamp": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc)
            .strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": _LEVELS.get(record.levelname, record.levelname.lower()),
            "message": record.getMessage(),
            "logger": record.name,
            "host": self.host,
            "pid": record.process,
            "process_name": record.processName,
            "thread_name": record.threadName,
            "source": {"file": record.pathname, "line": record.lineno,
                       "function": record.funcName},
            "meta": {k: v for k, v in vars(record).items() if k not in _RESERVED},
        }
        with self.pending_lock:
            self.pending.append(entry)
            full = len(self.pending) >= self.batch_size
        if full:
            self.send_pending()

    def _tick(self, interval: float) -> None:
        while not self.stopped.wait(interval):
            self.send_pending()

    def send_pending(self) -> None:
        with self.send_lock:
            with self.pending_lock:
                batch, self.pending = self.pending, []
            if batch:
                self._post(batch)

    def _post(self, batch: List[Dict[str, Any]]) -> None:
        batch_id = os.urandom(16).hex()
        body = json.dumps({"project_id": "bench", "service": "bench", "batch_id": batch_id,
                           "sdk": {"name": "stdlib-recipe", "version": "1"}, "logs": batch},
                          default=repr).encode()
        if self.gzip:
            body = gzip.compress(body, compresslevel=1)
        for attempt in range(8):
            try:
                response = self.session.post(self.url, data=body, timeout=10,
                                             headers={"Idempotency-Key": batch_id})
            except requests.RequestException:
                pass
            else:
                if response.status_code not in _RETRY:
                    return
            time.sleep(min(0.1 * 2**attempt, 5.0))

    def close(self) -> None:
        self.stopped.set()
        self.timer.join()
        self.send_pending()
        self.session.close()
        super().close()
