"""What every web middleware records about a request, decided in one place.

The WSGI, ASGI and Django middlewares differ only in how they read a request and see its
response; the fields, their names, the level rule, the request id and the client address
are settled here so the three (and gunicorn's access records) cannot drift apart.

One entry per request, with ``meta`` keys ``method``, ``path``, ``route`` (only when the
framework matched one), ``status``, ``duration_ms``, ``client_ip``, ``user_agent`` and
``request_id``. Level: error for status >= 500 or an exception that escaped the app (the
exception is attached), warn for >= 400, info otherwise.
"""

from __future__ import annotations

import contextvars
import importlib
import logging
import re
import time
import uuid
from types import TracebackType
from typing import Any, Dict, Optional, Tuple, Type, Union

from ._context import _fields
from .exceptions import ConfigError

__all__ = ["DEFAULT_HEADER", "DEFAULT_LOGGER", "ExcInfo", "Options", "RequestLog", "bind",
           "client_ip", "import_framework", "level_for", "request_id"]

DEFAULT_LOGGER = "astralog_logging.request"
DEFAULT_HEADER = "X-Request-ID"

ExcInfo = Tuple[Type[BaseException], BaseException, Optional[TracebackType]]

# An incoming id is echoed in a response header and stored as a field: anything that could
# split a header, smuggle markup or flood the store is replaced by a fresh id instead.
_SAFE_ID = re.compile(r"[A-Za-z0-9._:@/+=\-]{1,128}")


class Options:
    """A middleware's settings, validated once when the middleware is built."""

    __slots__ = ("asgi_header", "environ_key", "header", "logger", "trust_hops")

    def __init__(self, trust_proxy: Union[bool, int] = False, logger: str = DEFAULT_LOGGER,
                 request_id_header: str = DEFAULT_HEADER) -> None:
        self.trust_hops = _hops(trust_proxy)
        if not isinstance(logger, str) or not logger:
            raise ConfigError(f"logger must be a logger name; got {logger!r}")
        if not isinstance(request_id_header, str) or not re.fullmatch(
                r"[A-Za-z0-9\-]+", request_id_header):
            raise ConfigError(f"request_id_header must be an HTTP header name; "
                              f"got {request_id_header!r}")
        self.logger = logging.getLogger(logger)
        self.header = request_id_header
        self.asgi_header = request_id_header.lower().encode("latin-1")
        self.environ_key = "HTTP_" + request_id_header.upper().replace("-", "_")


def _hops(trust_proxy: Union[bool, int]) -> int:
    if isinstance(trust_proxy, bool):
        return int(trust_proxy)
    if isinstance(trust_proxy, int) and trust_proxy >= 0:
        return trust_proxy
    raise ConfigError("trust_proxy must be True, False or the number of proxies in front of "
                      f"the app; got {trust_proxy!r}")


def request_id(incoming: Optional[str]) -> str:
    """The caller's id when it is a sane token, else a fresh one (32 hex characters)."""
    if incoming and _SAFE_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def client_ip(peer: Optional[str], forwarded_for: Optional[str], trust_hops: int) -> Optional[str]:
    """The client's address: the peer's, or X-Forwarded-For's entry written by our proxies.

    Each proxy appends the address it saw, so with ``n`` trusted proxies the client is the
    ``n``-th entry from the right; anything further left was written by the client and may
    be forged. Not trusting proxies ignores the header entirely.
    """
    if trust_hops and forwarded_for:
        hops = [part.strip() for part in forwarded_for.split(",") if part.strip()]
        if hops:
            return hops[-min(trust_hops, len(hops))]
    return peer or None


def level_for(status: Optional[int], failed: bool) -> int:
    """error for a server failure or an escaped exception, warn for a client error."""
    if failed or status is None or status >= 500:
        return logging.ERROR
    if status >= 400:
        return logging.WARNING
    return logging.INFO


def bind(ctx: contextvars.Context, **fields: Any) -> None:
    """Add ``fields`` to ``context()`` inside ``ctx`` only.

    WSGI bodies are iterated after the app returns, outside any ``with`` block the
    middleware could hold open, so they run in a copied context that carries the fields.
    """
    ctx.run(lambda: _fields.set({**_fields.get(), **fields}))


class RequestLog:
    """One request in flight: its fields so far and the single entry it ends with.

    The middleware fills in ``status``, ``route`` and ``exc_info`` as it learns them and
    calls ``finish`` once the response is complete; ``finish`` is idempotent because a
    server may both close a body and see it fail.
    """

    __slots__ = ("_done", "_options", "_started", "client_ip", "exc_info", "method", "path",
                 "request_id", "route", "status", "user_agent")

    def __init__(self, options: Options, *, method: str, path: str, peer: Optional[str],
                 forwarded_for: Optional[str], user_agent: Optional[str],
                 incoming_id: Optional[str]) -> None:
        self._options = options
        self._started = time.perf_counter()
        self._done = False
        self.method = method
        self.path = path
        self.client_ip = client_ip(peer, forwarded_for, options.trust_hops)
        self.user_agent = user_agent
        self.request_id = request_id(incoming_id)
        self.route: Optional[str] = None
        self.status: Optional[int] = None
        self.exc_info: Optional[ExcInfo] = None

    def fail(self, exc: BaseException) -> None:
        """Remember an exception that escaped the app; a response never begun counts as 500."""
        if self.exc_info is None:
            self.exc_info = (type(exc), exc, exc.__traceback__)
        if self.status is None:
            self.status = 500

    def meta(self) -> Dict[str, Any]:
        duration = (time.perf_counter() - self._started) * 1000.0
        fields: Dict[str, Any] = {"method": self.method, "path": self.path}
        if self.route is not None:
            fields["route"] = self.route
        fields.update(status=self.status, duration_ms=round(duration, 3),
                      client_ip=self.client_ip, user_agent=self.user_agent,
                      request_id=self.request_id)
        return fields

    def finish(self) -> None:
        """Emit the request's entry (once); never raises into the server."""
        if self._done:
            return
        self._done = True
        try:
            exc_info = self.exc_info
            meta = self.meta()
            level = level_for(self.status, exc_info is not None)
            logger = self._options.logger
            if logger.isEnabledFor(level):
                logger.log(level, "%s %s %s %.1f ms", self.method, self.path,
                           self.status if self.status is not None else "-",
                           meta["duration_ms"], exc_info=exc_info, extra={"meta": meta})
        except Exception:  # a broken logging setup must not break the response
            pass


def import_framework(module: str, extra: str, feature: str) -> Any:
    """Import an optional framework, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{feature} needs {module.split('.')[0]}: "
                          f"pip install 'astralog-logging[{extra}]'") from exc
