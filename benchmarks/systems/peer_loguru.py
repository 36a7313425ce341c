"""loguru with ``enqueue=True`` into a sink that batches and POSTs, as a user would write."""

from __future__ import annotations

import threading
from array import array
from typing import Any, List

from .. import _workload
from . import System


class PostingSink:
    """loguru calls ``write`` from its queue thread; lines go out 1000 at a time."""

    def __init__(self, url: str, batch_size: int = 1000) -> None:
        import requests

        self.url = url
        self.batch_size = batch_size
        self.session = requests.Session()
        self.lines: List[str] = []
        self.lock = threading.Lock()

    def write(self, message: str) -> None:
        with self.lock:
            self.lines.append(message)
            if len(self.lines) >= self.batch_size:
                self._post()

    def post(self) -> None:
        with self.lock:
            self._post()

    def _post(self) -> None:
        if self.lines:
            body, self.lines = "".join(self.lines).encode(), []
            self.session.post(self.url, data=body, timeout=10,
                              headers={"Content-Type": "application/x-ndjson"})

    def stop(self) -> None:
        self.post()


class LoguruEnqueue(System):
    label = "loguru enqueue=True"
    receiver = "jsonl"
    notes = ("logger.add(sink, enqueue=True, serialize=True); the sink batches 1000 JSON lines "
             "per POST (requests); forked producers share the parent's queue thread")

    def setup(self, url: str, *, gzip: bool, burst: int) -> None:
        from loguru import logger

        logger.remove()
        self.logger: Any = logger
        self.sink = PostingSink(url + "/loguru")
        self.handler_id = logger.add(self.sink, enqueue=True, serialize=True, level="INFO")

    def emit(self, start: int, count: int) -> None:
        _workload.emit_loguru(self.logger, start, count)

    def emit_timed(self, start: int, count: int) -> array[int]:
        return _workload.emit_timed_loguru(self.logger, start, count)

    def emit_exception(self, start: int, count: int) -> None:
        _workload.emit_exception_loguru(self.logger, start, count)

    def flush(self) -> None:
        self.logger.complete()  # the queue thread has handed everything to the sink
        self.sink.post()

    def close(self) -> None:
        self.logger.remove(self.handler_id)  # joins the queue thread, then sink.stop()

    def child_done(self) -> None:
        pass  # a child's records are already in the parent's queue (put is synchronous)
