"""Helpers shared by the web-framework tests: a handler on the root logger, real servers."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
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


def by_logger(records: List[Dict[str, Any]], name: str) -> List[Dict[str, Any]]:
    return [r for r in records if r["logger"] == name]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
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
