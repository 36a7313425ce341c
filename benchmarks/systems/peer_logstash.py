"""python-logstash-async: events go through a queue (memory or SQLite) to a worker thread."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any
from urllib.parse import urlsplit

from . import StdlibSystem


class LogstashAsync(StdlibSystem):
    label = "python-logstash-async"
    receiver = "logstash"
    setup_per_process = True
    notes = ("AsynchronousLogstashHandler(host, port, database_path=None): the in-memory "
             "queue, its cheapest; json lines over TCP")

    def __init__(self, persistent: bool = False) -> None:
        super().__init__()
        self.persistent = persistent  # a SQLite file per process, the durable option

    def setup(self, url: str, *, gzip: bool, burst: int) -> None:
        from logstash_async.handler import AsynchronousLogstashHandler

        parts = urlsplit(url)
        path = None
        self.folder = ""
        if self.persistent:
            self.folder = tempfile.mkdtemp(prefix="bench-logstash-")
            path = os.path.join(self.folder, f"events-{os.getpid()}.db")
        self.handler: Any = AsynchronousLogstashHandler(parts.hostname, parts.port,
                                                        database_path=path)
        self.attach(self.handler)

    def flush(self) -> None:
        self.handler.flush()  # asks the worker thread to send now; does not wait

    def close(self) -> None:
        self.logger.removeHandler(self.handler)
        self.handler.close()  # stops the worker thread after it has sent what is queued
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def child_done(self) -> None:
        self.close()


class LogstashSqlite(LogstashAsync):
    label = "python-logstash-async (SQLite queue)"
    notes = ("AsynchronousLogstashHandler(..., database_path=<a file per process>): the "
             "durable queue its README shows; every event is a SQLite write")

    def __init__(self) -> None:
        super().__init__(persistent=True)
