"""Helpers shared by the web-framework tests: a handler on the root logger, real servers."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
import uuid
from typing import Any, Dict, Iterator, List
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from astralog_logging import AstralogHandler
from astralog_logging.testing import LocalDrain

REQUEST_LOGGER = "astralog_logging.request"
REQUEST_FIELDS = {"method", "path", "status", "duration_ms", "client_ip", "user_agent",
                  "request_id"}


@contextlib.contextmanager
def shipping(drain: LocalDrain, **options: Any) -> Iterator[AstralogHandler]:
    """An AstralogHandler on the root logger at INFO for the block; closed (listener
    stopped) and the root logger restored afterwards."""
    handler = AstralogHandler(endpoint=drain.endpoint, token=drain.token, project_id="tests",
                              service="web", flush_interval=0.1, **options)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()


class Site:
    """A drain and the handler shipping to it, shared by the tests of one module.

    A handler's listener takes about a second to start and stop, so each module starts
    one; tests tell their records apart by the request id they send.
    """

    def __init__(self, drain: LocalDrain, handler: AstralogHandler) -> None:
        self.drain = drain
        self.handler = handler

    def wait(self, request_id: str, n: int, timeout: float = 10.0) -> List[Dict[str, Any]]:
        """Block until ``n`` records carrying ``request_id`` arrived; return them in order."""
        deadline = time.monotonic() + timeout
        while True:
            records = self.drain.records()
            found = [r for r in records if r.get("meta", {}).get("request_id") == request_id]
            remaining = deadline - time.monotonic()
            if len(found) >= n or remaining <= 0:
                assert len(found) >= n, f"{len(found)} of {n} records for {request_id} arrived"
                return found
            with contextlib.suppress(AssertionError):  # timed out: the check above says so
                self.drain.wait_for_records(len(records) + 1, timeout=remaining)


@contextlib.contextmanager
def site(**options: Any) -> Iterator[Site]:
    """A LocalDrain and a root-logger handler for a module; fails on any refused body."""
    with LocalDrain() as drain, shipping(drain, **options) as handler:
        yield Site(drain, handler)
    drain.assert_no_errors()


def by_logger(records: List[Dict[str, Any]], name: str) -> List[Dict[str, Any]]:
    return [r for r in records if r["logger"] == name]


def new_id() -> str:
    return uuid.uuid4().hex


def request_entry(records: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The one request entry among ``records``."""
    (entry,) = by_logger(records, REQUEST_LOGGER)
    return entry


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def wsgi_server(app: Any) -> Iterator[str]:
    """A real WSGI server (wsgiref) on 127.0.0.1 in a thread; yields its base URL."""
    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def uvicorn_server(app: Any, **config: Any) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1 in a thread, leaving logging alone; yields its URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:  # uvicorn offers no event to wait on
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
