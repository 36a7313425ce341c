"""Django request logging through Django's test clients (WSGI and ASGI) and the real drain."""

from __future__ import annotations

import asyncio
import gc
import io
import logging
import os
from typing import Iterator

import pytest

from astralog_logging.django import RequestMiddleware

from ._procs import ROOT, drain_env, run_program
from ._web import REQUEST_FIELDS, REQUEST_LOGGER, Site, by_logger, new_id, request_entry, site

pytest.importorskip("django")
import django  # type: ignore[import-untyped]
from django.conf import settings  # type: ignore[import-untyped]
from django.http import (  # type: ignore[import-untyped]
    FileResponse,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.test import (  # type: ignore[import-untyped]
    AsyncClient,
    Client,
    RequestFactory,
)
from django.urls import path  # type: ignore[import-untyped]

if not settings.configured:
    settings.configure(
        DEBUG=False, SECRET_KEY="tests", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__,
        MIDDLEWARE=["astralog_logging.django.RequestMiddleware"], INSTALLED_APPS=[],
        LOGGING_CONFIG=None,  # leave the test process's logging alone
        ASTRALOG_REQUEST_MIDDLEWARE={"trust_proxy": 1},
    )
    django.setup()

app_log = logging.getLogger("app.django")


def order(request: HttpRequest, order_id: int) -> HttpResponse:
    app_log.info("loading order %d", order_id)
    return JsonResponse({"order": order_id})


def boom(request: HttpRequest) -> HttpResponse:
    raise ZeroDivisionError("bad maths")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        for n in range(3):
            app_log.info("chunk %d", n)
            yield b"chunk\n"

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def download(request: HttpRequest) -> FileResponse:
    return FileResponse(io.BytesIO(b"report"), filename="report.txt")


urlpatterns = [
    path("download/", download),
    path("orders/<int:order_id>/", order),
    path("boom/", boom),
    path("stream/", stream),
]


@pytest.fixture(scope="module")
def shop() -> Iterator[Site]:
    """One drain and one shipping handler for this module."""
    with site() as shared:
        yield shared



def test_entry_has_every_field_and_the_resolved_route(shop: Site) -> None:
    """One info entry with all fields and Django's route; view records carry request_id."""
    response = Client().get("/orders/12/", HTTP_USER_AGENT="probe/3.0")
    rid = response["X-Request-ID"]
    records = shop.wait(rid, 2)
    entry = request_entry(records)
    meta = entry["meta"]
    assert response.json() == {"order": 12}
    assert set(meta) == REQUEST_FIELDS | {"route"}
    assert entry["level"] == "info" and meta["status"] == 200
    assert meta["route"] == "/orders/<int:order_id>/" and meta["path"] == "/orders/12/"
    assert meta["client_ip"] == "127.0.0.1" and meta["user_agent"] == "probe/3.0"
    assert [r["message"] for r in by_logger(records, "app.django")] == ["loading order 12"]


def test_view_exception_is_an_error_with_the_exception(shop: Site) -> None:
    """A view's exception becomes Django's 500 page and an error entry carrying it."""
    rid = new_id()
    response = Client(raise_request_exception=False).get("/boom/", HTTP_X_REQUEST_ID=rid)
    entry = request_entry(shop.wait(rid, 1))
    assert response.status_code == 500 and response["X-Request-ID"] == rid
    assert entry["level"] == "error" and entry["meta"]["status"] == 500
    assert entry["exception"]["type"] == "ZeroDivisionError"
    assert entry["meta"]["route"] == "/boom/"


def test_unknown_url_and_trusted_proxy(shop: Site) -> None:
    """A 404 is a warn entry without route; the proxy's client address is used."""
    rid = new_id()
    Client().get("/nowhere/", HTTP_X_REQUEST_ID=rid,
                 HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.8")
    entry = request_entry(shop.wait(rid, 1))
    assert entry["level"] == "warn" and entry["meta"]["status"] == 404
    assert entry["meta"]["client_ip"] == "192.0.2.8"
    assert "route" not in entry["meta"]


def test_streaming_response_is_logged_after_its_body(shop: Site) -> None:
    """Records logged while a streamed body is read carry request_id; the entry is last."""
    rid = new_id()
    response = Client().get("/stream/", HTTP_X_REQUEST_ID=rid)
    assert b"".join(response.streaming_content) == b"chunk\n" * 3
    records = shop.wait(rid, 4)
    assert [r["message"] for r in by_logger(records, "app.django")] == [
        "chunk 0", "chunk 1", "chunk 2"]
    assert records[-1]["logger"] == REQUEST_LOGGER


def test_file_responses_keep_the_servers_sendfile(shop: Site) -> None:
    """A FileResponse is left for the server's file wrapper; its entry is written anyway."""
    rid = new_id()
    request = RequestFactory().get("/download/", HTTP_X_REQUEST_ID=rid)
    response = RequestMiddleware(download)(request)
    assert response.file_to_stream is not None  # not replaced by a wrapping iterator
    assert response["X-Request-ID"] == rid
    response.close()
    entry = request_entry(shop.wait(rid, 1))
    assert entry["meta"]["status"] == 200 and entry["meta"]["path"] == "/download/"


def test_async_stack_under_asgi(shop: Site) -> None:
    """Under ASGI the middleware runs async; fields and correlation are the same."""
    rid = new_id()
    response = asyncio.run(AsyncClient().get("/orders/3/", headers={"X-Request-ID": rid}))
    records = shop.wait(rid, 2)
    entry = request_entry(records)
    assert response.status_code == 200 and response["X-Request-ID"] == rid
    assert entry["meta"]["route"] == "/orders/<int:order_id>/"
    assert [r["message"] for r in by_logger(records, "app.django")] == ["loading order 3"]


def test_example_project_ships_its_requests(shop: Site) -> None:
    """examples/django_project, configured by examples/django_settings.py, ships an entry."""
    rid = new_id()
    project = os.path.join(ROOT, "examples", "django_project")
    env = drain_env(shop.drain.endpoint, shop.drain.token, ASTRALOG_SERVICE="django-example")
    run_program("django_example", project, rid, env=env, timeout=60)
    records = shop.wait(rid, 2)
    entry = request_entry(records)
    assert entry["meta"]["route"] == "/hello/<str:name>/"
    assert {r["logger"] for r in records} == {REQUEST_LOGGER, "mysite.views"}


def test_streaming_response_never_read_is_logged_when_dropped(shop: Site) -> None:
    """The test client does not read a streamed body: dropping it still ends the request."""
    rid = new_id()
    response = Client().get("/stream/", HTTP_X_REQUEST_ID=rid)
    assert response.status_code == 200
    del response
    gc.collect()  # a response may sit in a reference cycle: only gc frees it
    entry = request_entry(shop.wait(rid, 1))
    assert entry["meta"]["status"] == 200 and entry["meta"]["route"] == "/stream/"
