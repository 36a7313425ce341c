"""WSGI and Flask request logging against a real server and the real local drain."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
from typing import Any, Callable, Dict, Iterable, Iterator

import pytest
import requests

from astralog_logging import ConfigError
from astralog_logging._request import Options, client_ip, import_framework, level_for, request_id
from astralog_logging.wsgi import REQUEST_ID_KEY, AstralogMiddleware

from ._procs import ROOT, drain_env, run_program
from ._web import (
    REQUEST_FIELDS,
    REQUEST_LOGGER,
    Site,
    by_logger,
    new_id,
    request_entry,
    site,
    wsgi_server,
)

app_log = logging.getLogger("app.wsgi")

StartResponse = Callable[..., Any]


def _app(environ: Dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/boom":
        raise RuntimeError("handler exploded")
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _stream(fail=False)
    if path == "/stream-fail":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _stream(fail=True)
    status = "404 Not Found" if path == "/missing" else "200 OK"
    app_log.info("handling %s", path, extra={"meta": {"seen_id": environ[REQUEST_ID_KEY]}})
    start_response(status, [("Content-Type", "text/plain")])
    return [b"ok"]


def _stream(fail: bool) -> Iterator[bytes]:
    for n in range(3):
        app_log.info("chunk %d", n)
        yield b"chunk\n"
    if fail:
        raise ValueError("stream broke")


@pytest.fixture(scope="module")
def shop() -> Iterator[Site]:
    """One drain and one shipping handler for this module's end-to-end tests."""
    with site() as shared:
        yield shared



# -- the shared rules, pure ------------------------------------------------------------


def test_level_rule() -> None:
    """info below 400, warn for 4xx, error for 5xx or an escaped exception."""
    assert level_for(200, False) == logging.INFO
    assert level_for(302, False) == logging.INFO
    assert level_for(404, False) == logging.WARNING
    assert level_for(500, False) == logging.ERROR
    assert level_for(200, True) == logging.ERROR
    assert level_for(None, False) == logging.ERROR


def test_forwarded_for_is_read_only_from_trusted_proxies() -> None:
    """X-Forwarded-For is ignored unless trusted; n proxies means the n-th entry from the right."""
    forwarded = "6.6.6.6, 203.0.113.7, 10.0.0.2"
    assert client_ip("10.0.0.1", forwarded, 0) == "10.0.0.1"
    assert client_ip("10.0.0.1", forwarded, 1) == "10.0.0.2"
    assert client_ip("10.0.0.1", forwarded, 2) == "203.0.113.7"
    assert client_ip("10.0.0.1", "203.0.113.7", 3) == "203.0.113.7"
    assert client_ip("10.0.0.1", " , ", 1) == "10.0.0.1"
    assert client_ip(None, None, 1) is None


def test_incoming_request_ids_are_kept_only_when_sane() -> None:
    """A sane incoming id is kept; one that could split a header or is huge is replaced."""
    assert request_id("req-8f72-11a9") == "req-8f72-11a9"
    for bad in (None, "", "a\r\nSet-Cookie: x=1", "x" * 129, "<script>"):
        fresh = request_id(bad)
        assert len(fresh) == 32 and int(fresh, 16) >= 0


def test_options_are_validated() -> None:
    """Bad middleware options fail at construction, naming the option."""
    with pytest.raises(ConfigError, match="trust_proxy"):
        Options(trust_proxy=-1)
    with pytest.raises(ConfigError, match="request_id_header"):
        Options(request_id_header="X Request\nID")
    assert Options(trust_proxy=True).trust_hops == 1


def test_missing_framework_names_the_extra() -> None:
    """A missing framework raises ImportError with the pip command that installs it."""
    with pytest.raises(ImportError, match=r"pip install 'astralog-logging\[flask\]'"):
        import_framework("astralog_no_such_framework", "flask", "astralog_logging.flask")


# -- plain WSGI under a real server ----------------------------------------------------


def test_one_entry_per_request_with_every_field(shop: Site) -> None:
    """A request yields one info entry with all fields; the app's records share its id."""
    with wsgi_server(AstralogMiddleware(_app)) as url:
        response = requests.get(f"{url}/orders/7?secret=1", timeout=10,
                                headers={"User-Agent": "probe/1.0"})
    rid = response.headers["X-Request-ID"]
    records = shop.wait(rid, 2)
    entry = request_entry(records)
    meta = entry["meta"]
    assert set(meta) == REQUEST_FIELDS
    assert entry["level"] == "info"
    assert meta["method"] == "GET" and meta["path"] == "/orders/7"
    assert meta["status"] == 200 and meta["duration_ms"] >= 0
    assert meta["client_ip"] == "127.0.0.1" and meta["user_agent"] == "probe/1.0"
    assert len(rid) == 32 and meta["request_id"] == rid
    (app_entry,) = by_logger(records, "app.wsgi")
    assert app_entry["meta"]["seen_id"] == rid
    assert "secret" not in entry["message"]


def test_incoming_id_and_trusted_proxy(shop: Site) -> None:
    """An incoming X-Request-ID is kept and echoed; a trusted proxy's client ip is used."""
    rid = new_id()
    with wsgi_server(AstralogMiddleware(_app, trust_proxy=True)) as url:
        response = requests.get(f"{url}/missing", timeout=10, headers={
            "X-Request-ID": rid, "X-Forwarded-For": "6.6.6.6, 203.0.113.7"})
    entry = request_entry(shop.wait(rid, 2))
    assert response.headers["X-Request-ID"] == rid
    assert entry["meta"]["client_ip"] == "203.0.113.7"
    assert entry["level"] == "warn" and entry["meta"]["status"] == 404


def test_streamed_body_runs_in_the_request_context(shop: Site) -> None:
    """Records logged while the body streams carry request_id; the entry follows the body."""
    rid = new_id()
    with wsgi_server(AstralogMiddleware(_app)) as url:
        response = requests.get(f"{url}/stream", timeout=10, headers={"X-Request-ID": rid})
    records = shop.wait(rid, 4)
    assert response.text == "chunk\n" * 3
    assert [r["message"] for r in by_logger(records, "app.wsgi")] == [
        "chunk 0", "chunk 1", "chunk 2"]
    assert records[-1]["logger"] == REQUEST_LOGGER


def test_exception_in_the_app_is_an_error_with_the_exception(shop: Site) -> None:
    """An exception escaping the app gives an error entry, status 500, with the exception."""
    rid = new_id()
    with wsgi_server(AstralogMiddleware(_app)) as url:
        response = requests.get(f"{url}/boom", timeout=10, headers={"X-Request-ID": rid})
    entry = request_entry(shop.wait(rid, 1))
    assert response.status_code == 500
    assert entry["level"] == "error" and entry["meta"]["status"] == 500
    assert entry["exception"]["type"] == "RuntimeError"
    assert entry["exception"]["message"] == "handler exploded"


def test_exception_while_streaming_is_captured(shop: Site) -> None:
    """A body that fails mid-stream gives an error entry with that exception."""
    rid = new_id()
    # wsgiref cuts the connection; what the client makes of that does not matter.
    with wsgi_server(AstralogMiddleware(_app)) as url, \
            contextlib.suppress(requests.RequestException):
        requests.get(f"{url}/stream-fail", timeout=10, headers={"X-Request-ID": rid})
    entry = request_entry(shop.wait(rid, 4))
    assert entry["level"] == "error" and entry["meta"]["status"] == 200
    assert entry["exception"]["type"] == "ValueError"


# -- Flask -----------------------------------------------------------------------------


def _flask_app() -> Any:
    pytest.importorskip("flask")
    from flask import Flask

    from astralog_logging.flask import init_app

    app = Flask("shop")

    @app.get("/orders/<int:order_id>")
    def order(order_id: int) -> Any:
        app.logger.info("loading order %d", order_id)
        return {"order": order_id}

    @app.get("/boom")
    def boom() -> Any:
        raise KeyError("no such cart")

    init_app(app)
    return app


def test_flask_request_has_route_and_correlated_app_logs(shop: Site) -> None:
    """Flask: the entry names the route template; app.logger records carry request_id."""
    with wsgi_server(_flask_app()) as url:
        response = requests.get(f"{url}/orders/42", timeout=10)
    rid = response.headers["X-Request-ID"]
    records = shop.wait(rid, 2)
    entry = request_entry(records)
    meta = entry["meta"]
    assert response.json() == {"order": 42}
    assert meta["route"] == "/orders/<int:order_id>" and meta["path"] == "/orders/42"
    assert set(meta) == REQUEST_FIELDS | {"route"}
    assert meta["status"] == 200 and entry["level"] == "info"
    assert [r["message"] for r in by_logger(records, "shop")] == ["loading order 42"]


def test_flask_unhandled_exception_is_captured(shop: Site) -> None:
    """Flask turns the exception into a 500 page; the entry still carries the exception."""
    rid = new_id()
    with wsgi_server(_flask_app()) as url:
        response = requests.get(f"{url}/boom", timeout=10, headers={"X-Request-ID": rid})
    records = shop.wait(rid, 2)  # Flask logs the exception too, inside the request
    entry = request_entry(records)
    assert response.status_code == 500
    assert entry["level"] == "error" and entry["meta"]["status"] == 500
    assert entry["meta"]["route"] == "/boom"
    assert entry["exception"]["type"] == "KeyError"
    (flask_entry,) = by_logger(records, "shop")
    assert flask_entry["exception"]["type"] == "KeyError"


def test_flask_unknown_url_is_a_warning_without_route(shop: Site) -> None:
    """A 404 is a warn entry, and no route is claimed for it."""
    rid = new_id()
    with wsgi_server(_flask_app()) as url:
        requests.get(f"{url}/nowhere", timeout=10, headers={"X-Request-ID": rid})
    entry = request_entry(shop.wait(rid, 1))
    assert entry["level"] == "warn" and entry["meta"]["status"] == 404
    assert "route" not in entry["meta"]


def test_flask_init_app_twice_is_refused() -> None:
    """Instrumenting one app twice would log every request twice, so it raises."""
    app = _flask_app()
    from astralog_logging.flask import init_app

    with pytest.raises(RuntimeError, match="already"):
        init_app(app)


def test_flask_example_ships_its_requests(shop: Site) -> None:
    """examples/flask_app.py, as shipped, sends the request entry and the app's record."""
    pytest.importorskip("flask")
    rid = new_id()
    env = drain_env(shop.drain.endpoint, shop.drain.token, ASTRALOG_SERVICE="flask-example")
    run_program("flask_example", os.path.join(ROOT, "examples"), rid, env=env, timeout=60)
    records = shop.wait(rid, 2)
    entry = request_entry(records)
    assert entry["meta"]["route"] == "/orders/<int:order_id>"
    assert [r["meta"] for r in by_logger(records, "flask-shop")] == [
        {"order_id": 42, "request_id": rid}]


# -- test clients that never read or close the body ----------------------------------


def test_flask_test_client_requests_each_yield_an_entry(shop: Site) -> None:
    """Flask's test client, body never read: N requests give N entries, status and route."""
    app = _flask_app()

    @app.get("/stream")  # type: ignore[untyped-decorator]
    def stream() -> Any:
        return app.response_class(iter([b"a", b"b"]))

    client = app.test_client()
    ids = [new_id() for _ in range(20)]
    for n, rid in enumerate(ids):
        path = "/nowhere" if n % 5 == 4 else f"/orders/{n}"
        assert client.get(path, headers={"X-Request-ID": rid}).status_code in (200, 404)
    streamed = new_id()
    assert client.get("/stream", headers={"X-Request-ID": streamed}).status_code == 200
    for n, rid in enumerate(ids):
        entry = request_entry(shop.wait(rid, 1))
        if n % 5 == 4:
            assert entry["meta"]["status"] == 404 and "route" not in entry["meta"]
        else:
            assert entry["meta"]["status"] == 200
            assert entry["meta"]["route"] == "/orders/<int:order_id>"
            assert entry["meta"]["path"] == f"/orders/{n}"
    # A streamed body dropped unread is logged when it is collected, once.
    gc.collect()  # Werkzeug's request and environ refer to each other: only gc frees them
    entry = request_entry(shop.wait(streamed, 1))
    assert entry["meta"]["status"] == 200 and entry["meta"]["route"] == "/stream"


def test_plain_wsgi_list_body_is_logged_without_close(shop: Site) -> None:
    """A list body is complete when the app returns: its entry needs no read or close."""
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    rid = new_id()
    environ = EnvironBuilder("/orders/1", headers=[("X-Request-ID", rid)]).get_environ()
    body, status, _ = run_wsgi_app(AstralogMiddleware(_app), environ, buffered=False)
    entry = request_entry(shop.wait(rid, 2))  # while the body is still held, unclosed
    assert entry["meta"]["status"] == 200 and status.startswith("200")
    assert list(body) == [b"ok"]
