"""The documented structlog recipe (examples/structlog_setup.py): event dicts become fields."""

from __future__ import annotations

import importlib.util
import logging
import os
from types import ModuleType
from typing import Iterator

import pytest

from astralog_logging import context

from ._procs import ROOT, drain_env, run_file
from ._web import Site, new_id, site

structlog = pytest.importorskip("structlog")

EXAMPLE = os.path.join(ROOT, "examples", "structlog_setup.py")


def _recipe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("structlog_setup", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def shop() -> Iterator[Site]:
    """A drain, a root handler, and structlog configured by the recipe (reset afterwards)."""
    with site() as shared:
        _recipe().configure_structlog()
        try:
            yield shared
        finally:
            structlog.reset_defaults()
            structlog.contextvars.clear_contextvars()


def test_event_dict_becomes_typed_fields(shop: Site) -> None:
    """Key/value pairs arrive in meta with their types; the event is the message."""
    rid = new_id()
    log = structlog.get_logger("jobs").bind(request_id=rid, job="sync")
    log.info("synced %d rows", 12, rows=12, ratio=0.5, dry_run=False, tags_seen=["a"])
    (entry,) = shop.wait(rid, 1)
    assert entry["message"] == "synced 12 rows"
    assert entry["logger"] == "jobs" and entry["level"] == "info"
    assert entry["meta"] == {"request_id": rid, "job": "sync", "rows": 12, "ratio": 0.5,
                             "dry_run": False, "tags_seen": ["a"]}


def test_contextvars_and_astralog_context_both_become_fields(shop: Site) -> None:
    """structlog's bind_contextvars and astralog_logging.context() both show as fields."""
    rid = new_id()
    structlog.contextvars.bind_contextvars(request_id=rid, user_id=7)
    try:
        with context(tenant="acme"):
            structlog.get_logger("jobs").warning("quota low", left=3)
    finally:
        structlog.contextvars.clear_contextvars()
    (entry,) = shop.wait(rid, 1)
    assert entry["level"] == "warn"
    assert entry["meta"] == {"request_id": rid, "user_id": 7, "tenant": "acme", "left": 3}


def test_exceptions_are_captured(shop: Site) -> None:
    """log.exception() ships the exception as the entry's exception, not as text in meta."""
    rid = new_id()
    log = structlog.get_logger("jobs").bind(request_id=rid)
    try:
        {"present": 1}["missing"]
    except KeyError:
        log.exception("lookup failed", key="missing")
    (entry,) = shop.wait(rid, 1)
    assert entry["level"] == "error" and entry["exception"]["type"] == "KeyError"
    assert entry["meta"] == {"request_id": rid, "key": "missing"}


def test_level_filtering_follows_the_stdlib_logger(shop: Site) -> None:
    """filter_by_level drops what the stdlib logger would, before any work is done."""
    rid = new_id()
    logging.getLogger("jobs.quiet").setLevel(logging.ERROR)
    try:
        log = structlog.get_logger("jobs.quiet").bind(request_id=rid)
        log.info("dropped")
        log.error("kept")
    finally:
        logging.getLogger("jobs.quiet").setLevel(logging.NOTSET)
    (entry,) = shop.wait(rid, 1)
    assert entry["message"] == "kept"


def test_example_runs_as_documented(shop: Site) -> None:
    """python examples/structlog_setup.py ships its two events with their fields."""
    env = drain_env(shop.drain.endpoint, shop.drain.token, ASTRALOG_SERVICE="structlog-example")
    run_file(EXAMPLE, env=env, timeout=60)
    records = [r for r in shop.drain.wait_for_records(2, timeout=10)
               if r["logger"] == "jobs.nightly"]
    started, failed = sorted(records, key=lambda r: r["timestamp"])
    assert started["meta"] == {"job": "nightly-report", "run_id": "run-42", "rows": 1200,
                               "dry_run": False}
    assert failed["exception"]["type"] == "ZeroDivisionError"
    assert failed["meta"]["step"] == "totals"
