"""Hostile inputs to the encoder: every record arrives valid, and emit's cost is bounded.

The caller's thread pays for ``emit``; what it costs must depend on ``max_entry_bytes``,
not on how much the caller passed, and whatever the input (a huge meta, a call from the
bottom of the stack, a ``__repr__`` that logs) the entry must pass the drain's checks:
the ``drain`` fixture fails a test on any refused request.
"""

from __future__ import annotations

import collections.abc
import inspect
import logging
import os
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterator, List

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from astralog_logging import AstralogHandler
from astralog_logging._encode._entry import EntryEncoder
from astralog_logging.drain._validate import validate_entry
from astralog_logging.testing import LocalDrain

LIMIT = 65536
BOUND = 0.5  # seconds per emit at the default limit; the bounded work takes ~0.03 s


@pytest.fixture
def log(drain: LocalDrain) -> Iterator[logging.Logger]:
    """A logger whose only handler ships to ``drain``; closed after the test."""
    handler = AstralogHandler(endpoint=drain.endpoint, token=drain.token, project_id="tests",
                              service="hostile", flush_interval=0.1, max_entry_bytes=LIMIT)
    logger = logging.getLogger("hostile")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        yield logger
    finally:
        logger.handlers[:] = []
        handler.close()


def _arrived(drain: LocalDrain, n: int) -> List[Dict[str, Any]]:
    records = drain.wait_for_records(n, timeout=30)
    assert len(records) == n
    for record in records:
        assert validate_entry(record) is None
    return records


def _at_depth(margin: int, call: Callable[[], None]) -> None:
    """``call()`` from ``margin`` frames below the recursion limit."""
    def down(n: int) -> None:
        if n <= 0:
            call()
        else:
            down(n - 1)

    down(sys.getrecursionlimit() - len(inspect.stack(0)) - margin)


class Opaque:
    """JSON cannot hold it: its entry takes the strict pass, which walks every field."""

    def __repr__(self) -> str:
        return "Opaque()"


class Chatty:
    """A value whose __repr__ logs a record that carries the value itself."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log

    def __repr__(self) -> str:
        self.log.warning("repr of chatty", extra={"meta": {"me": self}})
        return "Chatty()"


def test_records_logged_near_the_recursion_limit_arrive_valid(
        drain: LocalDrain, log: logging.Logger) -> None:  # fmt: skip
    """Logged a few frames below the limit, nested meta stays an object and source too."""
    margins = list(range(26, 70, 2))
    # The stdlib's makeRecord asks isinstance(arg, Mapping); the first such check of a class
    # walks the ABC registry recursively (3.9), which would fail before any handler runs.
    assert not isinstance(Opaque(), collections.abc.Mapping)
    for margin in margins:
        meta = {"o": Opaque(), "nested": {"list": [1, {"deep": Opaque()}]}, "margin": margin}
        def call(meta: Dict[str, Any] = meta) -> None:
            log.info("deep %s", Opaque(), extra={"meta": meta})

        _at_depth(margin, call)
    records = _arrived(drain, len(margins))
    assert sorted(r["meta"]["margin"] for r in records) == margins
    for record in records:
        assert record["meta"]["nested"] == {"list": [1, {"deep": "Opaque()"}]}
        assert record["meta"]["o"] == "Opaque()" and record["message"] == "deep Opaque()"
        assert record["source"]["function"] == "call"


def test_a_repr_that_logs_ends_and_every_record_arrives_valid(
        drain: LocalDrain, log: logging.Logger) -> None:  # fmt: skip
    """A __repr__ that logs itself recurses to the limit once more at most, then ends."""
    started = time.monotonic()
    log.warning("top", extra={"meta": {"me": Chatty(log)}})
    assert time.monotonic() - started < 5
    handler = log.handlers[0]
    assert isinstance(handler, AstralogHandler) and handler.flush(10)
    records = _arrived(drain, len(drain.records()))
    assert {r["message"] for r in records} >= {"top", "repr of chatty"}
    assert all(type(r.get("meta", {})) is dict for r in records)


@pytest.mark.parametrize("keys", [1_000, 100_000, 1_000_000])
def test_huge_meta_costs_what_the_limit_allows_and_keeps_its_head(
        drain: LocalDrain, log: logging.Logger, keys: int) -> None:  # fmt: skip
    """A million meta keys: emit stays bounded, and the first keys arrive, marked truncated."""
    meta = {f"k{n}": n for n in range(keys)}
    started = time.perf_counter()
    log.info("wide", extra={"meta": meta})
    assert time.perf_counter() - started < BOUND
    (record,) = _arrived(drain, 1)
    assert record["meta"]["k0"] == 0 and record["meta"]["k999"] == 999
    assert record.get("truncated", False) is (keys > 1_000)


@pytest.mark.parametrize("value", [
    pytest.param(lambda: list(range(5_000_000)), id="list"),
    pytest.param(lambda: [Opaque()] * 1_000_000, id="opaque-list"),
    pytest.param(lambda: "x" * 50_000_000, id="string"),
    pytest.param(lambda: [[n, str(n)] for n in range(1_000_000)], id="nested-lists"),
    pytest.param(lambda: {"k": {str(n): n for n in range(1_000_000)}}, id="nested-keys"),
])
def test_huge_values_are_cut_within_the_bound(
        drain: LocalDrain, log: logging.Logger, value: Callable[[], Any]) -> None:  # fmt: skip
    """One huge value: emit stays bounded; it arrives cut, with the key after it intact."""
    meta = {"huge": value(), "after": "kept"}
    started = time.perf_counter()
    log.info("huge", extra={"meta": meta})
    assert time.perf_counter() - started < BOUND
    (record,) = _arrived(drain, 1)
    assert record["truncated"] is True and record["meta"]["after"] == "kept"


sizes = st.one_of(st.integers(0, 100), st.sampled_from([1_000, 30_000, 200_000]))
shapes = st.one_of(
    sizes.map(lambda n: {f"k{i}": i for i in range(n)}),
    sizes.map(lambda n: list(range(n))),
    sizes.map(lambda n: "é=" * n),
    sizes.map(lambda n: [Opaque()] * n),
    sizes.map(lambda n: [{"a": [i, "x" * (i % 50)]} for i in range(n // 10)]),
    sizes.map(lambda n: {i: Opaque() for i in range(n // 10)}),
)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@example(parts=[{f"k{i}": i for i in range(100_000)}], limit=8192)
@example(parts=[[Opaque()] * 100_000, "tail"], limit=LIMIT)
@given(parts=st.lists(shapes, min_size=1, max_size=3),
       limit=st.sampled_from([1024, 8192, LIMIT]))
def test_any_size_of_meta_becomes_one_valid_entry_within_the_limit(
        parts: List[Any], limit: int) -> None:  # fmt: skip
    """Property: any mix of big values is one valid entry within the limit, meta's head kept."""
    record = logging.LogRecord("app", logging.INFO, "/a.py", 1, "m", (), None)
    meta: Dict[Any, Any] = {}
    for n, part in enumerate(parts):  # a first mapping is meta itself: a wide top level
        if n == 0 and isinstance(part, dict):
            meta.update(part)
        else:
            meta[f"part{n}"] = part
    record.meta = meta
    data = EntryEncoder(max_entry_bytes=limit).encode(record)
    assert data is not None and len(data) <= limit
    entry = orjson.loads(data)
    assert validate_entry(entry) is None and type(entry.get("meta", {})) is dict
    if meta and limit >= 8192:  # room beyond the required fields and notes
        assert str(next(iter(meta))) in entry["meta"]  # the first key survives


def _vandal(entry: Dict[str, Any]) -> Dict[str, Any]:
    """A before_send that breaks every optional field the protocol types."""
    entry.update(meta="flat", tags="one", source=["x"], truncated="yes", trace_id=5,
                 service=None, exception={"type": 1})
    return entry


def test_a_before_send_that_breaks_optional_fields_is_repaired(drain: LocalDrain) -> None:
    """before_send's wrongly typed optional fields are restored (or dropped), never a 400."""
    handler = AstralogHandler(endpoint=drain.endpoint, token=drain.token, project_id="tests",
                              service="hostile", flush_interval=0.1, before_send=_vandal)
    logger = logging.getLogger("hostile.before_send")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("broken", extra={"meta": {"kept": 1}, "tags": ["t"]})
    finally:
        logger.removeHandler(handler)
        handler.close()
    (record,) = _arrived(drain, 1)
    assert record["meta"] == {"kept": 1} and record["tags"] == ["t"]
    assert record["source"]["function"].startswith("test_a_before_send")
    assert record["exception"]["type"] == "ValueError"
    assert "truncated" not in record and "service" not in record and "trace_id" not in record
    assert any("before_send broke" in note for note in record["notes"])


class _OddRecord(logging.LogRecord):
    """A custom record factory's record: identity attributes set to the wrong types."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.name = 5  # type: ignore[assignment]
        self.process = "1234"  # type: ignore[assignment]
        self.processName = 7  # type: ignore[assignment]
        self.threadName = None
        self.pathname = b"/srv/app.py"  # type: ignore[assignment]
        self.lineno = "12"  # type: ignore[assignment]
        self.funcName = 3.5  # type: ignore[assignment]


def test_record_attributes_of_the_wrong_type_arrive_valid(
        log: logging.Logger, drain: LocalDrain) -> None:  # fmt: skip
    """Wrongly typed record attributes (makeLogRecord, a record factory) are repaired, noted."""
    handler = log.handlers[0]  # straight to it: other handlers could not format these
    handler.handle(logging.makeLogRecord({"msg": "bare", "levelno": logging.INFO,
                                          "levelname": "INFO"}))
    handler.handle(logging.makeLogRecord({"msg": "typed", "name": 5, "process": True, "levelno": 20,
                                      "levelname": "INFO", "lineno": None}))
    factory = logging.getLogRecordFactory()
    logging.setLogRecordFactory(_OddRecord)
    try:
        handler.handle(log.makeRecord("hostile", logging.INFO, "x.py", 1, "factory", (), None))
    finally:
        logging.setLogRecordFactory(factory)
    records = {r["message"]: r for r in _arrived(drain, 3)}
    bare, typed, odd = records["bare"], records["typed"], records["factory"]
    assert (bare["logger"], bare["source"]["line"]) == ("root", 0) and "notes" not in bare
    assert bare["pid"] == typed["pid"] == odd["pid"] == os.getpid()
    assert (typed["logger"], typed["source"]["line"]) == ("5", 0)
    assert any(note.startswith("logger: a int") for note in typed["notes"])
    assert any(note.startswith("pid: a bool") for note in typed["notes"])
    assert (odd["logger"], odd["process_name"], odd["source"]["function"]) == ("5", "7", "3.5")
    assert odd["thread_name"] == threading.current_thread().name
    assert odd["source"]["file"] == "b'/srv/app.py'"
    assert len(odd["notes"]) == 6, odd["notes"]
