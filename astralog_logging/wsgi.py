"""WSGI: ``app = AstralogMiddleware(app)`` gives one structured entry per request.

Works with any WSGI framework and server. When is the entry written?

- A response complete when the app returns (its body a list or tuple, or marked complete
  by the framework with ``environ[COMPLETE_KEY] = True``, as ``astralog_logging.flask``
  does for a non-streamed Flask response): right then. Nothing is left to fail, and a test
  client that never reads or closes the body (Flask's ``client.get(...)``) still gets it.
- A streamed body: when it has been sent (exhausted or closed), so ``duration_ms`` covers
  streaming and a failure while streaming is seen; if it is dropped unread and unclosed
  (a test client again), when it is garbage collected, with ``duration_ms`` up to then.

While the app runs, and while its body is iterated, ``context(request_id=...)`` is in
force, so every record the request logs carries the same ``request_id``.

Frameworks that know more than WSGI tells may put it in the environ before the response
ends: ``environ[ROUTE_KEY]`` (the matched route template) and ``environ[EXC_INFO_KEY]`` (an
exception the framework turned into a 500 page). ``astralog_logging.flask`` does both. The
request id is readable by the app as ``environ[REQUEST_ID_KEY]``.
"""

from __future__ import annotations

import contextvars
from typing import Any, Callable, Iterable, Iterator, List, Optional, Tuple, Union

from ._request import DEFAULT_HEADER, DEFAULT_LOGGER, Options, RequestLog, bind

__all__ = ["COMPLETE_KEY", "EXC_INFO_KEY", "REQUEST_ID_KEY", "ROUTE_KEY", "AstralogMiddleware"]

ROUTE_KEY = "astralog_logging.route"
EXC_INFO_KEY = "astralog_logging.exc_info"
REQUEST_ID_KEY = "astralog_logging.request_id"
COMPLETE_KEY = "astralog_logging.complete"

Environ = dict[str, Any]
Headers = List[Tuple[str, str]]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class AstralogMiddleware:
    """Wraps a WSGI app; see the module docstring for what each request records.

    ``trust_proxy``: False ignores X-Forwarded-For; True (one proxy) or a number of proxies
    takes the client address from it. ``logger`` names the logger the entries go to;
    ``request_id_header`` is read from the request and echoed on the response.
    """

    def __init__(self, app: WSGIApp, *, trust_proxy: Union[bool, int] = False,
                 logger: str = DEFAULT_LOGGER, request_id_header: str = DEFAULT_HEADER) -> None:
        self.app = app
        self.options = Options(trust_proxy, logger, request_id_header)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        options = self.options
        log = RequestLog(
            options,
            method=str(environ.get("REQUEST_METHOD") or "GET"),
            path=_path(environ),
            peer=environ.get("REMOTE_ADDR"),
            forwarded_for=environ.get("HTTP_X_FORWARDED_FOR"),
            user_agent=environ.get("HTTP_USER_AGENT"),
            incoming_id=environ.get(options.environ_key),
        )
        environ[REQUEST_ID_KEY] = log.request_id
        echo = (options.header, log.request_id)
        wanted = options.header.lower()

        def start(status: str, headers: Headers, exc_info: Any = None) -> Callable[[bytes], object]:
            log.status = _status_code(status)
            if not any(name.lower() == wanted for name, _ in headers):
                headers = [*headers, echo]
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        ctx = contextvars.copy_context()
        bind(ctx, request_id=log.request_id)
        try:
            body = ctx.run(self.app, environ, start)
        except BaseException as exc:
            log.fail(exc)
            _end(log, environ)
            raise
        if log.status is not None and (
                isinstance(body, (list, tuple)) or environ.get(COMPLETE_KEY) is True):
            _end(log, environ)  # the whole response exists: nothing left to time or fail
            if type(body) in (list, tuple):
                return body  # nothing to run in the context; servers may size a list
        return _Body(body, ctx, log, environ)


class _Body:
    """The app's body, iterated inside the request's context; closing it ends the request."""

    __slots__ = ("_body", "_ctx", "_environ", "_iterator", "_log")

    def __init__(self, body: Iterable[bytes], ctx: contextvars.Context, log: RequestLog,
                 environ: Environ) -> None:
        self._body = body
        self._ctx = ctx
        self._log = log
        self._environ = environ
        self._iterator: Optional[Iterator[bytes]] = None

    def __iter__(self) -> _Body:
        return self

    def __next__(self) -> bytes:
        try:
            if self._iterator is None:
                self._iterator = self._ctx.run(iter, self._body)
            return self._ctx.run(next, self._iterator)
        except StopIteration:  # the whole body is out; some clients never call close()
            _end(self._log, self._environ)
            raise
        except BaseException as exc:
            self._log.fail(exc)
            raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                self._ctx.run(close)
        except BaseException as exc:
            self._log.fail(exc)
            raise
        finally:
            _end(self._log, self._environ)

    def __del__(self) -> None:
        # PEP 3333 servers always close the body; a test client may just drop it.
        _end(self._log, self._environ)


def _end(log: RequestLog, environ: Environ) -> None:
    route = environ.get(ROUTE_KEY)
    if isinstance(route, str):
        log.route = route
    exc_info = environ.get(EXC_INFO_KEY)
    if exc_info is not None and log.exc_info is None:
        log.exc_info = exc_info
    log.finish()


def _path(environ: Environ) -> str:
    """The path the client asked for, without the query (it may hold secrets)."""
    raw = str(environ.get("SCRIPT_NAME") or "") + str(environ.get("PATH_INFO") or "")
    try:  # PEP 3333: the bytes arrive as latin-1 characters; URLs are UTF-8
        return raw.encode("latin-1").decode("utf-8", "replace") or "/"
    except UnicodeEncodeError:
        return raw or "/"


def _status_code(status: str) -> Optional[int]:
    try:
        return int(status.split(" ", 1)[0])
    except (AttributeError, ValueError):
        return None
