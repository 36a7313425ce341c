"""The baseline: the logging cookbook's multi-process recipe, shipped over HTTP.

Every application process logs through a ``QueueHandler`` onto one
``multiprocessing.Queue``; a listener process runs a ``QueueListener`` whose handler batches
and POSTs (``recipe_http``). This is what a user writes without a library, and what issue 6
measures the product against.
"""

from __future__ import annotations

import logging.handlers
import multiprocessing
from typing import Any, Optional

from .._receiving import TOKEN
from . import StdlibSystem
from .recipe_http import BatchingHTTPHandler


def _listener_process(queue: Any, stop: Any, url: str, gzip: bool) -> None:
    handler = BatchingHTTPHandler(url, TOKEN, gzip=gzip)
    listener = logging.handlers.QueueListener(queue, handler)
    listener.start()
    stop.wait()
    listener.stop()  # its sentinel goes behind everything already in the pipe
    handler.close()


class StdlibRecipe(StdlibSystem):
    label = "stdlib QueueHandler(mp.Queue) recipe"
    receiver = "astralog"
    notes = ("QueueHandler -> multiprocessing.Queue -> QueueListener in a listener process -> "
             "handler batching 1000 or 1 s, json + requests (+ gzip level 1 when on)")

    def __init__(self) -> None:
        super().__init__()
        self.queue: Any = None
        self.stop: Any = None
        self.process: Optional[multiprocessing.process.BaseProcess] = None

    def setup(self, url: str, *, gzip: bool, burst: int) -> None:
        self.queue = multiprocessing.Queue(-1)
        self.stop = multiprocessing.Event()
        self.process = multiprocessing.Process(
            target=_listener_process, args=(self.queue, self.stop, url + "/v1/drain", gzip),
            name="recipe-listener", daemon=True)
        self.process.start()
        self.attach(logging.handlers.QueueHandler(self.queue))

    def close(self) -> None:
        for handler in list(self.logger.handlers):
            self.logger.removeHandler(handler)
            handler.close()
        self.queue.close()
        self.queue.join_thread()  # the feeder thread has written everything into the pipe
        self.stop.set()
        assert self.process is not None
        self.process.join(120)

    def child_done(self) -> None:
        # A multiprocessing child joins the queue's feeder thread on its way out.
        pass

    def listener_pid(self) -> Optional[int]:
        return self.process.pid if self.process is not None else None
