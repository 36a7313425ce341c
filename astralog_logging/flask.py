"""Flask: ``astralog_logging.flask.init_app(app)`` gives one structured entry per request.

It wraps ``app.wsgi_app`` in the WSGI middleware (fields, request id, timing that covers
streamed bodies) and adds what only Flask knows: the matched route template
(``/orders/<int:order_id>``) and the exception behind a 500 page, which Flask catches
before any WSGI middleware could see it. Logging itself is configured as usual (dictConfig
with ``astralog_logging.AstralogHandler``); this only produces the records.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from ._request import DEFAULT_HEADER, DEFAULT_LOGGER, import_framework
from .wsgi import COMPLETE_KEY, EXC_INFO_KEY, ROUTE_KEY, AstralogMiddleware

__all__ = ["init_app"]


def init_app(app: Any, *, trust_proxy: Union[bool, int] = False, logger: str = DEFAULT_LOGGER,
             request_id_header: str = DEFAULT_HEADER) -> AstralogMiddleware:
    """Instrument a Flask ``app``; the options are those of ``wsgi.AstralogMiddleware``.

    Returns the middleware (also kept in ``app.extensions["astralog_logging"]``). Calling
    it twice on one app is refused: each request would be logged twice.
    """
    flask = import_framework("flask", "flask", "astralog_logging.flask")
    if "astralog_logging" in app.extensions:
        raise RuntimeError("astralog_logging.flask.init_app was already called for this app")
    middleware = AstralogMiddleware(app.wsgi_app, trust_proxy=trust_proxy, logger=logger,
                                    request_id_header=request_id_header)
    app.wsgi_app = middleware
    app.extensions["astralog_logging"] = middleware

    # Teardown runs for every request, after Flask has turned an unhandled exception into
    # a 500 page and handed it ``exc``, and before the WSGI body is closed.
    def note(exc: Optional[BaseException]) -> None:
        request = flask.request
        rule = request.url_rule
        if rule is not None:
            request.environ[ROUTE_KEY] = rule.rule
        if exc is not None:
            request.environ[EXC_INFO_KEY] = (type(exc), exc, exc.__traceback__)

    # A response made of a list, or of a declared length (error pages, send_file), is
    # complete when the app returns: the middleware writes its entry then, so a test client
    # that never reads the body (``client.get(...).status_code``) still gets one. Streamed
    # ones (a generator, no Content-Length) are timed to their end.
    def complete(response: Any) -> Any:
        if response.is_sequence or response.content_length is not None:
            flask.request.environ[COMPLETE_KEY] = True
        return response

    app.after_request(complete)
    app.teardown_request(note)
    return middleware
