"""The applications of tests/test_fidelity.py: what a caller logs, through a real handler.

``python tests/programs/fidelity.py SCENARIO`` builds the handler from the environment (plus
the scenario's own settings), logs the scenario on logger ``app`` and flushes; a scenario that
returns a value has it printed as JSON on the last stdout line, for its test to compare with
what arrived. ``uncaught`` dies of its exception instead of flushing: delivery is atexit's.
"""

from __future__ import annotations

import asyncio
import builtins
import contextvars
import dataclasses
import datetime
import decimal
import enum
import importlib
import json
import logging
import os
import pathlib
import socket
import sys
import threading
import time
import uuid
from typing import Any, Callable, Dict, Optional, Tuple

from _raising import three_levels

from astralog_logging import AstralogHandler, context

Scenario = Callable[[logging.Logger, AstralogHandler], Any]
SCENARIOS: Dict[str, Tuple[Scenario, Dict[str, Any]]] = {}


def scenario(**settings: Any) -> Callable[[Scenario], Scenario]:
    """Register a scenario under its function's name, with the handler settings it needs."""
    def register(function: Scenario) -> Scenario:
        SCENARIOS[function.__name__] = (function, settings)
        return function
    return register


def traceback_text() -> str:
    """The current exception as logging's Formatter prints it."""
    return logging.Formatter().formatException(sys.exc_info())


@scenario()
def chain(log: logging.Logger, handler: AstralogHandler) -> str:
    try:
        three_levels()
    except RuntimeError:
        log.exception("request %s failed", "r1")
        return traceback_text()
    raise AssertionError("three_levels() returned")


@scenario()
def group(log: logging.Logger, handler: AstralogHandler) -> str:
    def batch() -> None:
        group_type = vars(builtins)["ExceptionGroup"]  # 3.11+: its test skips before that
        raise group_type("batch failed", [
            ValueError("row 1"), group_type("retry", [TimeoutError("row 2")])])

    try:
        batch()
    except Exception:
        log.exception("import failed")
        return traceback_text()
    raise AssertionError("batch() returned")


@scenario()
def exc_info_forms(log: logging.Logger, handler: AstralogHandler) -> None:
    empty: Dict[str, int] = {}
    try:
        empty["missing"]
    except KeyError:
        saved = sys.exc_info()
    log.error("tuple", exc_info=saved)  # outside the except block
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        log.exception("exception")
        log.warning("exc_info true", exc_info=True)
    log.error("instance", exc_info=ValueError("never raised"))
    log.info("nothing to report", exc_info=True)


@scenario()
def call_site(log: logging.Logger, handler: AstralogHandler) -> Dict[str, Any]:
    def where() -> int:
        line = sys._getframe().f_lineno + 1
        log.info("here", stack_info=True)
        return line

    before = time.time()
    line = where()
    after = time.time()
    return {"line": line, "before": before, "after": after, "pid": os.getpid(),
            "file": __file__, "host": socket.gethostname()}


@scenario()
def context_spread(log: logging.Logger, handler: AstralogHandler) -> None:
    with context(request_id="r1", user_id=7):
        log.info("in block")
        copied = threading.Thread(target=contextvars.copy_context().run,
                                  args=(log.info, "copied thread"), name="worker-1")
        plain = threading.Thread(target=log.info, args=("plain thread",), name="worker-2")
        for thread in (copied, plain):
            thread.start()
            thread.join()
    log.info("after block")

    async def child(request_id: str) -> None:
        await asyncio.sleep(0)
        log.info("task %s", request_id)

    async def handle(request_id: str) -> None:
        with context(request_id=request_id):
            await asyncio.sleep(0)
            await asyncio.create_task(child(request_id))

    async def main() -> None:
        with context(app="api"):
            await asyncio.gather(handle("a"), handle("b"))

    asyncio.run(main())


@scenario(tags=["web", "eu"], meta={"env": "test", "region": "eu-1", "user_id": 0})
def merge_order(log: logging.Logger, handler: AstralogHandler) -> Optional[str]:
    with context(region="ctx", user_id=7, request_id="r1"):
        log.info("precedence", extra={
            "user_id": 9, "plan": "pro", "tags": ["db", "web"],
            "meta": {"plan": "enterprise", "attempt": 2}})
    log.info("defaults only")
    log.info("collision-free", extra={"meta": {"message": "m", "name": "n", "args": [1]}})
    try:
        log.info("collision", extra={"message": "boom"})
    except KeyError as exc:  # the stdlib refuses before any handler runs
        return str(exc)
    return None


def _span() -> Any:
    from opentelemetry import trace

    return trace.NonRecordingSpan(trace.SpanContext(
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736, span_id=0x00F067AA0BA902B7,
        is_remote=False, trace_flags=trace.TraceFlags(1)))


@scenario()
def otel(log: logging.Logger, handler: AstralogHandler) -> None:
    from opentelemetry import trace

    with trace.use_span(_span()):
        log.info("in span")
        log.info("explicit ids", extra={"trace_id": "req-8f72", "span_id": 42, "user": 1})
    log.info("no span")


@scenario(redact=["internal_id"])
def secrets(log: logging.Logger, handler: AstralogHandler) -> None:
    log.warning(
        "connect postgres://app:hunter2@db:5432/prod failed; "
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig; retry password=hunter3",
        extra={"api_key": "plain-extra-secret", "meta": {
            "request": {"headers": {"Authorization": "Bearer x", "X-Api-Key": "k-123",
                                    "Accept": "json"},
                        "body": [{"user": "ann", "password": "p1-secret"},
                                 ("t", {"refresh_token": "refresh-r"})]},
            "max_tokens": 5, "session_count": 2, "internal_id": "internal-99"}})
    try:
        raise ConnectionError("could not reach https://bot:s3cr3t@hooks.example.com/x")
    except ConnectionError:
        log.exception("webhook failed")


@scenario()
def oversized(log: logging.Logger, handler: AstralogHandler) -> None:
    log.error("%s", "start:" + "x" * (10 * 1024 * 1024) + ":end")
    log.info("huge meta", extra={"meta": {
        "blob": "y" * 2_000_000, "rows": list(range(200_000)), "small": "kept"}})

    def recurse(n: int) -> int:
        return recurse(n + 1)

    try:
        recurse(0)
    except RecursionError:
        log.exception("runaway")
    log.info("after")


@scenario(capture_uncaught=True)
def uncaught(log: logging.Logger, handler: AstralogHandler) -> None:
    def work() -> None:
        raise ValueError("thread died")

    worker = threading.Thread(target=work, name="worker-1")
    worker.start()
    worker.join()

    def main() -> None:
        raise RuntimeError("process died")

    main()


@scenario()
def levels(log: logging.Logger, handler: AstralogHandler) -> None:
    logging.addLevelName(5, "TRACE")
    logging.addLevelName(25, "NOTICE")
    for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR,
                  logging.CRITICAL, 5, 25, 7):
        log.log(level, "at %d", level)


@scenario()
def formatter(log: logging.Logger, handler: AstralogHandler) -> None:
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    try:
        raise ValueError("bad input")
    except ValueError:
        log.exception("failed %d", 3)
    log.info("where", stack_info=True)


@scenario(tags=["billing"], meta={"region": "eu-west-1"})
def readme_example(log: logging.Logger, handler: AstralogHandler) -> None:
    """The README's example entry, as written there."""
    from opentelemetry import trace

    def connect() -> None:
        raise ConnectionRefusedError("postgres://billing:hunter2@db-1:5432/payments refused")

    def charge(order_id: int) -> None:
        try:
            connect()
        except ConnectionRefusedError as exc:
            raise RuntimeError(f"charge failed for order {order_id}") from exc

    with trace.use_span(_span()), context(request_id="req-8f72"):
        try:
            charge(1042)
        except RuntimeError:
            log.exception("Payment for order %s failed", 1042, extra={
                "tags": ["payments"],
                "meta": {"customer_id": 77, "amount": decimal.Decimal("19.99"),
                         "card": {"last4": "4242", "cvv": "123"}}})


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Login:
    user: str
    password: str


class Opaque:
    """JSON cannot hold it, and its repr and str both raise."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    __str__ = __repr__


@scenario()
def hostile(log: logging.Logger, handler: AstralogHandler) -> None:
    """23 hostile meta values, then 6 broken messages, in this order."""
    loop: Dict[str, Any] = {"name": "loop"}
    loop["self"] = loop
    deep: Dict[str, Any] = {}
    node = deep
    for _ in range(300):
        node["d"] = node = {}
    sock = socket.socket()
    values: Dict[str, Any] = {
        "lock": threading.Lock(), "socket": sock, "opaque": Opaque(), "object": object(),
        "datetime": datetime.datetime(2026, 1, 2, 3, 4, 5), "date": datetime.date(2026, 1, 2),
        "decimal": decimal.Decimal("1.10"), "uuid": uuid.UUID(int=1), "enum": Color.RED,
        "path": pathlib.PurePosixPath("/srv/app"), "bytes": b"raw", "bad_bytes": b"\xff",
        "set": {3}, "tuple": (1, "a"), "dataclass": Login("ann", "p"), "circular": loop,
        "nan": float("nan"), "inf": float("-inf"), "keys": {1: "a", None: "b", (1, 2): "c"},
        "deep": deep, "huge_int": 2**200, "surrogate": "bad \udcff",
    }
    try:
        values["numpy"] = importlib.import_module("numpy").float64(1.5)
    except ImportError:
        values["numpy"] = 1.5
    for name, value in values.items():
        log.info("value %s", name, extra={"meta": {"v": value}})
    log.info("surrogate \udcff in message")
    log.info(b"bytes msg \xff")
    log.info("mismatch %s %s", "only one")
    log.info("%d", "not a number")
    log.info(Opaque())
    log.info({"msg": "a dict"})
    sock.close()


def run(name: str) -> None:
    function, settings = SCENARIOS[name]
    handler = AstralogHandler(flush_interval=0.05, **settings)
    log = logging.getLogger("app")
    log.setLevel(1)
    log.addHandler(handler)
    printed = function(log, handler)
    if printed is not None:
        print(json.dumps(printed))
    assert handler.flush(30), handler.stats()


if __name__ == "__main__":
    run(sys.argv[1])
