"""ASGI (FastAPI, Starlette, any ASGI app): one structured entry per HTTP request.

``app.add_middleware(AstralogMiddleware)`` in FastAPI or Starlette, or
``app = AstralogMiddleware(app)`` for any ASGI app. The entry is written when the app's
call returns, so ``duration_ms`` covers a streamed body and an exception raised while
streaming is captured. ``context(request_id=...)`` is in force for the whole call: tasks
and thread-pool work the app starts inherit it.

For uvicorn's own access log, ``UvicornAccessFields`` turns its line into fields, and
``build_uvicorn_logconfig()`` is a ``log_config`` that routes uvicorn and the app to
Astralog (uvicorn's line has no duration or route: the middleware's entry has both).
"""

from __future__ import annotations

import logging
import urllib.parse
from typing import Any, Awaitable, Callable, Dict, MutableMapping, Optional, Union

from ._context import context
from ._logconfig import server_logconfig
from ._request import DEFAULT_HEADER, DEFAULT_LOGGER, Options, RequestLog

__all__ = ["AstralogMiddleware", "UvicornAccessFields", "build_uvicorn_logconfig"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_WANTED = (b"x-forwarded-for", b"user-agent")


class AstralogMiddleware:
    """Wraps an ASGI app; options as in ``astralog_logging.wsgi.AstralogMiddleware``.

    Only ``http`` scopes are recorded; lifespan and websocket traffic pass through.
    An exception escaping the app is recorded (status 500 when no response had begun)
    and re-raised, so the server and outer middleware still handle it as before. The 500
    page is then sent by whoever is outside: it carries X-Request-ID only when this
    middleware wraps the whole app (``app = AstralogMiddleware(app)``) rather than being
    added with ``add_middleware`` (inside Starlette's error middleware).
    """

    def __init__(self, app: ASGIApp, *, trust_proxy: Union[bool, int] = False,
                 logger: str = DEFAULT_LOGGER, request_id_header: str = DEFAULT_HEADER) -> None:
        self.app = app
        self.options = Options(trust_proxy, logger, request_id_header)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        options = self.options
        headers = _headers(scope, options.asgi_header)
        client = scope.get("client")
        log = RequestLog(
            options,
            method=str(scope.get("method") or "GET"),
            path=str(scope.get("path") or "/"),
            peer=str(client[0]) if client else None,
            forwarded_for=headers.get(b"x-forwarded-for"),
            user_agent=headers.get(b"user-agent"),
            incoming_id=headers.get(options.asgi_header),
        )
        root_path = str(scope.get("root_path") or "")
        echo = (options.asgi_header, log.request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message.get("type") == "http.response.start":
                log.status = int(message["status"])
                sent = list(message.get("headers") or ())
                if not any(bytes(name).lower() == echo[0] for name, _ in sent):
                    message = {**message, "headers": [*sent, echo]}
            await send(message)

        try:
            with context(request_id=log.request_id):
                await self.app(scope, receive, send_with_id)
        except BaseException as exc:
            log.fail(exc)
            raise
        finally:
            log.route = _route(scope, root_path)
            log.finish()


def _headers(scope: Scope, request_id_header: bytes) -> Dict[bytes, str]:
    """The few request headers we read; repeated X-Forwarded-For headers are joined."""
    found: Dict[bytes, str] = {}
    wanted = (*_WANTED, request_id_header)
    for raw_name, raw_value in scope.get("headers") or ():
        name = bytes(raw_name).lower()
        if name in wanted:
            value = bytes(raw_value).decode("latin-1")
            found[name] = f"{found[name]}, {value}" if name in found else value
    return found


def _route(scope: Scope, root_path: str) -> Optional[str]:
    """The route template Starlette matched (``/items/{item_id}``), mounts included.

    Starlette records the innermost route in ``scope["route"]`` and grows ``root_path`` by
    each mount's matched prefix, so the template is that prefix plus the route's path.
    """
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return None
    mounted = str(scope.get("root_path") or "")
    prefix = mounted[len(root_path):] if mounted.startswith(root_path) else ""
    if hasattr(route, "routes"):  # a Mount of a sub-app (static files...): its matched prefix
        return prefix or path or None
    return prefix + path if path else prefix or None


class UvicornAccessFields(logging.Filter):
    """Gives uvicorn's access records the middleware's field names (put it on the handler).

    uvicorn logs ``'%s - "%s %s HTTP/%s" %d'`` with (client, method, path, version,
    status); the filter adds ``method``, ``path`` (no query), ``status`` and ``client_ip``
    to ``meta`` and leaves the message as it was.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            client, method, full_path, _, status = args
            path = urllib.parse.unquote(str(full_path).split("?", 1)[0])
            host = str(client).rsplit(":", 1)[0] if ":" in str(client) else str(client)
            meta = {"method": method, "path": path, "status": status, "client_ip": host}
            record.meta = {**getattr(record, "meta", {}), **meta}
        return True


def build_uvicorn_logconfig(level: str = "INFO", console: bool = True,
                            **handler_options: Any) -> Dict[str, Any]:
    """A ``log_config`` for ``uvicorn.run``: the app, ``uvicorn.error`` and ``uvicorn.access``
    to Astralog (and to the console), access records with fields.

    ``handler_options`` go to AstralogHandler. uvicorn applies it with dictConfig in
    each process it starts, which is what a handler needs there.
    """
    config = server_logconfig("astralog_logging.asgi.UvicornAccessFields", level, console,
                              handler_options)
    config["loggers"] = {  # uvicorn's own handlers go; its records propagate to the root
        "uvicorn": {"level": level, "handlers": [], "propagate": True},
        "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
        "uvicorn.access": {"level": "INFO", "handlers": [], "propagate": True},
    }
    return config
