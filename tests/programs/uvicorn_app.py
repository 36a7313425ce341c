"""The ASGI application tests/test_uvicorn.py serves (``uvicorn_app:app``): each request logs
one record naming its path and answers with the worker's pid."""

from __future__ import annotations

import logging
import os
from typing import Any, Awaitable, Callable, Dict

log = logging.getLogger("app")


async def app(scope: Dict[str, Any], receive: Callable[[], Awaitable[Any]],
              send: Callable[[Dict[str, Any]], Awaitable[None]]) -> None:
    if scope["type"] != "http":
        return
    log.info("handled %s", scope["path"], extra={"meta": {"path_seen": scope["path"]}})
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": str(os.getpid()).encode()})
