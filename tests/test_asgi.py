"""ASGI request logging: FastAPI and Starlette under a real uvicorn, against the real drain."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
from pathlib import Path
from typing import Any, AsyncIterator, Dict, Iterator

import pytest
import requests

from astralog_logging.asgi import AstralogMiddleware, UvicornAccessFields, build_uvicorn_logconfig

from ._procs import ROOT, drain_env, free_port, program, wait_until
from ._web import (
    REQUEST_FIELDS,
    REQUEST_LOGGER,
    Site,
    by_logger,
    new_id,
    request_entry,
    site,
    uvicorn_server,
)

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

app_log = logging.getLogger("app.asgi")


@pytest.fixture(scope="module")
def shop() -> Iterator[Site]:
    """One drain and one handler (with uvicorn's access fields) for this module."""
    with site() as shared:
        access = UvicornAccessFields()
        shared.handler.addFilter(access)
        yield shared
        shared.handler.removeFilter(access)


def _fastapi_app() -> Any:
    app = FastAPI()
    app.add_middleware(AstralogMiddleware, trust_proxy=1)

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> Dict[str, int]:
        app_log.info("async item %d", item_id)
        await asyncio.sleep(0)  # a task switch: the context must survive it
        return {"item": item_id}

    @app.get("/sync/{n}")
    def sync_item(n: int) -> Dict[str, int]:
        app_log.info("sync item %d", n)  # runs in the thread pool
        return {"n": n}

    @app.get("/boom")
    async def boom() -> None:
        raise LookupError("nothing here")

    @app.get("/stream")
    async def stream(fail: bool = False) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for n in range(3):
                app_log.info("chunk %d", n)
                yield b"chunk\n"
            if fail:
                raise OSError("disk went away")

        return StreamingResponse(chunks(), media_type="text/plain")

    return app


@pytest.fixture(scope="module")
def fastapi_url(shop: Site) -> Iterator[str]:
    """The FastAPI app behind uvicorn, for the whole module."""
    with uvicorn_server(_fastapi_app(), lifespan="on") as url:
        yield url



def test_fastapi_entry_has_every_field_and_route(shop: Site, fastapi_url: str) -> None:
    """One info entry per request with all fields, the route template, the echoed id."""
    response = requests.get(f"{fastapi_url}/items/5?token=x", timeout=10,
                            headers={"User-Agent": "probe/2.0"})
    rid = response.headers["X-Request-ID"]
    records = shop.wait(rid, 3)  # the app's record, uvicorn's access record, the entry
    entry = request_entry(records)
    meta = entry["meta"]
    assert response.json() == {"item": 5}
    assert set(meta) == REQUEST_FIELDS | {"route"}
    assert entry["level"] == "info" and meta["status"] == 200
    assert meta["method"] == "GET" and meta["path"] == "/items/5"
    assert meta["route"] == "/items/{item_id}"
    assert meta["client_ip"] == "127.0.0.1" and meta["user_agent"] == "probe/2.0"
    assert meta["request_id"] == rid and meta["duration_ms"] >= 0
    assert [r["message"] for r in by_logger(records, "app.asgi")] == ["async item 5"]


def test_sync_endpoints_in_the_thread_pool_carry_the_id(shop: Site, fastapi_url: str) -> None:
    """A sync endpoint runs in a worker thread; its records still carry request_id."""
    rid = new_id()
    requests.get(f"{fastapi_url}/sync/3", timeout=10, headers={"X-Request-ID": rid})
    records = shop.wait(rid, 3)
    assert [r["message"] for r in by_logger(records, "app.asgi")] == ["sync item 3"]


def test_trusted_proxy_and_unknown_url(shop: Site, fastapi_url: str) -> None:
    """A 404 is a warn entry without route; the proxy's client address is used."""
    rid = new_id()
    response = requests.get(f"{fastapi_url}/nope", timeout=10, headers={
        "X-Request-ID": rid, "X-Forwarded-For": "6.6.6.6, 198.51.100.4"})
    entry = request_entry(shop.wait(rid, 2))
    assert response.headers["X-Request-ID"] == rid
    assert entry["level"] == "warn" and entry["meta"]["status"] == 404
    assert entry["meta"]["client_ip"] == "198.51.100.4"
    assert "route" not in entry["meta"]


def test_exception_in_an_endpoint_is_captured(shop: Site, fastapi_url: str) -> None:
    """An endpoint's exception gives an error entry, status 500, with the exception."""
    rid = new_id()
    response = requests.get(f"{fastapi_url}/boom", timeout=10, headers={"X-Request-ID": rid})
    entry = request_entry(shop.wait(rid, 1))  # the 500 page is sent outside the middleware
    assert response.status_code == 500
    assert entry["level"] == "error" and entry["meta"]["status"] == 500
    assert entry["meta"]["route"] == "/boom"
    assert entry["exception"]["type"] == "LookupError"


def test_streaming_response_is_logged_after_its_body(shop: Site, fastapi_url: str) -> None:
    """Records logged while a response streams carry request_id; the entry comes last."""
    rid = new_id()
    response = requests.get(f"{fastapi_url}/stream", timeout=10, headers={"X-Request-ID": rid})
    records = shop.wait(rid, 5)
    assert response.text == "chunk\n" * 3
    assert [r["message"] for r in by_logger(records, "app.asgi")] == [
        "chunk 0", "chunk 1", "chunk 2"]
    assert records[-1]["logger"] == REQUEST_LOGGER and records[-1]["meta"]["status"] == 200


def test_exception_while_streaming_is_captured(shop: Site, fastapi_url: str) -> None:
    """A stream that fails after its headers went out is an error with the exception."""
    rid = new_id()
    # The body is cut short; how the client reports that does not matter here.
    with contextlib.suppress(requests.RequestException):
        requests.get(f"{fastapi_url}/stream?fail=true", timeout=10,
                     headers={"X-Request-ID": rid})
    entry = request_entry(shop.wait(rid, 5))
    assert entry["level"] == "error" and entry["meta"]["status"] == 200
    assert entry["exception"]["type"] == "OSError"


def test_uvicorn_access_records_get_fields(shop: Site, fastapi_url: str) -> None:
    """uvicorn's access line arrives with method, path, status, client_ip and request_id."""
    rid = new_id()
    requests.get(f"{fastapi_url}/items/9?page=2", timeout=10, headers={"X-Request-ID": rid})
    (access,) = by_logger(shop.wait(rid, 3), "uvicorn.access")
    assert access["meta"] == {"method": "GET", "path": "/items/9", "status": 200,
                              "client_ip": "127.0.0.1", "request_id": rid}


async def _hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"hello {request.path_params['name']}")


def test_starlette_mounts_and_the_outermost_wrap(shop: Site) -> None:
    """Wrapping a whole Starlette app works; a mounted route's template has its prefix."""
    api = FastAPI()

    @api.get("/hello/{name}")
    async def hello(name: str) -> str:
        return f"hello {name}"

    app = AstralogMiddleware(Starlette(routes=[
        Mount("/api", app=api),
        Route("/plain/{name}", _hello),  # plain Starlette routes: template from Starlette 1.x
    ]))
    rid, plain = new_id(), new_id()
    with uvicorn_server(app, lifespan="on") as url:
        response = requests.get(f"{url}/api/hello/ada", timeout=10, headers={"X-Request-ID": rid})
        requests.get(f"{url}/plain/bo", timeout=10, headers={"X-Request-ID": plain})
    entry = request_entry(shop.wait(rid, 2))
    assert response.json() == "hello ada"
    assert entry["meta"]["route"] == "/api/hello/{name}"
    assert entry["meta"]["path"] == "/api/hello/ada"
    entry = request_entry(shop.wait(plain, 2))
    assert entry["meta"]["path"] == "/plain/bo" and entry["meta"]["status"] == 200
    assert entry["meta"].get("route", "/plain/{name}") == "/plain/{name}"


def test_uvicorn_logconfig_routes_uvicorn_and_the_app() -> None:
    """build_uvicorn_logconfig sends uvicorn's loggers to the root, access records filtered."""
    config = build_uvicorn_logconfig(service="api", flush_interval=0.5)
    assert config["handlers"]["astralog"]["service"] == "api"
    assert config["handlers"]["astralog"]["filters"] == ["access_fields"]
    assert config["root"]["handlers"] == ["astralog", "console"]
    assert all(config["loggers"][name]["propagate"] for name in
               ("uvicorn", "uvicorn.error", "uvicorn.access"))


def test_fastapi_example_runs_under_uvicorn(shop: Site, tmp_path: Path) -> None:
    """examples/fastapi_app.py under uvicorn with build_uvicorn_logconfig ships all three."""
    port = free_port()
    env = drain_env(shop.drain.endpoint, shop.drain.token, ASTRALOG_SERVICE="fastapi-example")
    with open(tmp_path / "uvicorn.log", "w") as out:  # a file: a full pipe would block it
        proc = subprocess.Popen(program("fastapi_example", os.path.join(ROOT, "examples"),
                                        str(port)), env=env, stdout=out, stderr=subprocess.STDOUT)
    rid = new_id()

    def answer() -> list[requests.Response]:  # in a list: an error status is falsy
        assert proc.poll() is None, (tmp_path / "uvicorn.log").read_text()
        try:
            return [requests.get(f"http://127.0.0.1:{port}/items/7", timeout=2,
                                 headers={"X-Request-ID": rid})]
        except requests.ConnectionError:
            return []

    try:
        (response,) = wait_until(answer, 30, "uvicorn to answer")
        records = shop.wait(rid, 3)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    assert response.json() == {"item_id": 7}
    assert {r["logger"] for r in records} == {REQUEST_LOGGER, "shop.api", "uvicorn.access"}
    assert request_entry(records)["meta"]["route"] == "/items/{item_id}"
    (access,) = by_logger(records, "uvicorn.access")
    assert access["meta"]["status"] == 200 and access["meta"]["path"] == "/items/7"
