"""The WSGI application tests/test_gunicorn.py serves with gunicorn (``gunicorn_app:app``).

Every request logs one record naming its path; ``/hang`` outlives gunicorn's worker timeout
so that the arbiter kills the worker; ``/buffering`` answers whether each live handler
batches (True) or writes every record through.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, Iterable, List, Tuple

log = logging.getLogger("app")
StartResponse = Callable[[str, List[Tuple[str, str]]], Any]


def app(environ: Dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    log.info("handled %s", path, extra={"meta": {"path_seen": path}})
    if path == "/hang":
        time.sleep(60)  # past gunicorn's worker timeout: the arbiter kills this worker
    body = b"ok"
    if path == "/buffering":  # no public view of this: whether records go through one by one
        from astralog_logging.handler import live_handlers

        body = repr([h._link is not None and not h._link.channel.write_through
                     for h in live_handlers()]).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
