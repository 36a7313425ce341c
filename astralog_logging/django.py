"""Django: ``"astralog_logging.django.RequestMiddleware"`` first in ``MIDDLEWARE``.

One structured entry per request, with the same fields as the WSGI and ASGI middlewares;
``route`` is the URL pattern Django resolved (``/orders/<int:order_id>/``). Works under
WSGI and ASGI (the middleware is sync- and async-capable). Logging is configured with
Django's ``LOGGING`` setting; see examples/django_settings.py.

Options come from the ``ASTRALOG_REQUEST_MIDDLEWARE`` setting, a dict with the keyword
arguments of ``astralog_logging.wsgi.AstralogMiddleware``::

    ASTRALOG_REQUEST_MIDDLEWARE = {"trust_proxy": 1}

Django turns a view's exception into a 500 response inside the middleware chain, so the
exception is caught in ``process_exception`` and attached to the request's entry.
"""

from __future__ import annotations

import contextvars
from typing import Any, AsyncIterator, Callable, Iterator

from ._context import context
from ._request import Options, RequestLog, bind, import_framework

__all__ = ["RequestMiddleware"]

_ATTRIBUTE = "_astralog_request_log"


class RequestMiddleware:
    """Logs each request; put it first in ``MIDDLEWARE`` so its timing covers the others."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        conf = import_framework("django.conf", "django", "astralog_logging.django")
        asgiref = import_framework("asgiref.sync", "django", "astralog_logging.django")
        self.get_response = get_response
        self.options = Options(**getattr(conf.settings, "ASTRALOG_REQUEST_MIDDLEWARE", {}))
        self._async = bool(asgiref.iscoroutinefunction(get_response))
        if self._async:
            asgiref.markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self._async:
            return self._acall(request)
        log = self._begin(request)
        try:
            with context(request_id=log.request_id):
                response = self.get_response(request)
        except BaseException as exc:
            log.fail(exc)
            log.finish()
            raise
        return self._end(request, response, log)

    async def _acall(self, request: Any) -> Any:
        log = self._begin(request)
        try:
            with context(request_id=log.request_id):
                response = await self.get_response(request)
        except BaseException as exc:
            log.fail(exc)
            log.finish()
            raise
        return self._end(request, response, log)

    def process_exception(self, request: Any, exception: BaseException) -> None:
        """Remember the view's exception; returning None lets Django render its 500."""
        log = getattr(request, _ATTRIBUTE, None)
        if log is not None:
            log.fail(exception)

    def _begin(self, request: Any) -> RequestLog:
        meta = request.META
        log = RequestLog(
            self.options,
            method=str(request.method or "GET"),
            path=str(request.path or "/"),
            peer=meta.get("REMOTE_ADDR"),
            forwarded_for=meta.get("HTTP_X_FORWARDED_FOR"),
            user_agent=meta.get("HTTP_USER_AGENT"),
            incoming_id=meta.get(self.options.environ_key),
        )
        setattr(request, _ATTRIBUTE, log)
        return log

    def _end(self, request: Any, response: Any, log: RequestLog) -> Any:
        log.status = int(response.status_code)
        match = getattr(request, "resolver_match", None)
        route = getattr(match, "route", None)
        if isinstance(route, str) and route:
            log.route = route if route.startswith("/") else "/" + route
        if not response.has_header(self.options.header):
            response[self.options.header] = log.request_id
        if not getattr(response, "streaming", False) or getattr(
                response, "file_to_stream", None) is not None:
            # A FileResponse may be sent by the server's sendfile (wsgi.file_wrapper), which
            # wrapping its content would disable: its entry is written now, before the file.
            log.finish()
        elif getattr(response, "is_async", False):
            response.streaming_content = _async_stream(response.streaming_content, log)
        else:
            ctx = contextvars.copy_context()
            bind(ctx, request_id=log.request_id)
            response.streaming_content = _Stream(response.streaming_content, ctx, log)
        return response


class _Stream:
    """A streamed body, iterated in the request's context; its end ends the request.

    A class rather than a generator so that a body dropped unread and unclosed (Django's
    test client never reads a streamed response it is not asked for) still ends the
    request when it is collected: an unstarted generator runs no ``finally``.
    """

    __slots__ = ("_chunks", "_ctx", "_log")

    def __init__(self, content: Any, ctx: contextvars.Context, log: RequestLog) -> None:
        self._ctx = ctx
        self._log = log
        self._chunks: Iterator[Any] = ctx.run(iter, content)

    def __iter__(self) -> _Stream:
        return self

    def __next__(self) -> Any:
        try:
            return self._ctx.run(next, self._chunks)
        except StopIteration:
            self._log.finish()
            raise
        except BaseException as exc:
            self._log.fail(exc)
            self._log.finish()
            raise

    def close(self) -> None:
        """Called by Django's ``response.close()``: the server is done, or the client left."""
        try:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                self._ctx.run(close)
        finally:
            self._log.finish()

    def __del__(self) -> None:
        self._log.finish()


async def _async_stream(content: Any, log: RequestLog) -> AsyncIterator[Any]:
    """An async streamed body; its end ends the request (records inside it do not carry
    the request id: an async iterator cannot be stepped inside another context)."""
    try:
        async for chunk in content:
            yield chunk
    except GeneratorExit:
        raise
    except BaseException as exc:
        log.fail(exc)
        raise
    finally:
        log.finish()
