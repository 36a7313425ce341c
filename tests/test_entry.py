"""EntryEncoder: a LogRecord becomes one protocol-valid entry with every field in place."""

from __future__ import annotations

import datetime
import logging
import sys
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from astralog_logging._context import context
from astralog_logging._encode._entry import RESERVED_ATTRS, EntryEncoder
from astralog_logging.drain._validate import validate_entry

LOGGER = logging.getLogger("tests.entry")


def make(msg: object = "hello", args: Any = (), *, level: int = logging.INFO,
         extra: dict[str, Any] | None = None, exc_info: Any = None,
         sinfo: str | None = None) -> logging.LogRecord:  # fmt: skip
    return LOGGER.makeRecord(LOGGER.name, level, "/srv/app/views.py", 42, msg, args, exc_info,
                             "handle", extra=extra, sinfo=sinfo)  # fmt: skip


def encode(record: logging.LogRecord, encoder: EntryEncoder | None = None,
           formatter: logging.Formatter | None = None) -> dict[str, Any]:  # fmt: skip
    data = (encoder or EntryEncoder()).encode(record, formatter)
    assert data is not None
    assert b"\n" not in data
    entry = orjson.loads(data)
    assert validate_entry(entry) is None, validate_entry(entry)
    return dict(entry)


def test_plain_record_has_every_required_field() -> None:
    """A plain info record carries timestamp, level, message, logger, host, pid, names, source."""
    record = make("user %s did %s", ("u1", "login"))
    entry = encode(record)
    assert entry["message"] == "user u1 did login"
    assert entry["level"] == "info"
    assert entry["logger"] == "tests.entry"
    assert entry["pid"] == record.process
    assert entry["process_name"] == record.processName
    assert entry["thread_name"] == threading.current_thread().name
    assert entry["source"] == {"file": "/srv/app/views.py", "line": 42, "function": "handle"}
    assert isinstance(entry["host"], str) and entry["host"]
    assert not {"meta", "tags", "exception", "notes", "truncated", "stack"} & entry.keys()


def test_timestamp_is_utc_microseconds_from_created() -> None:
    """The timestamp is record.created in UTC with microseconds and Z, across second changes."""
    encoder = EntryEncoder()
    for created in (1_790_000_000.25, 1_790_000_000.999999, 1_790_000_001.000001, 86399.5,
                    1_790_000_000.9999998, 86399.99999999999, 0.9999999999999999, 0.0, -0.25,
                    -1e-300):
        record = make()
        record.created = created
        expected = datetime.datetime.fromtimestamp(created, datetime.timezone.utc)
        got = datetime.datetime.strptime(encode(record, encoder)["timestamp"],
                                         "%Y-%m-%dT%H:%M:%S.%fZ")  # fmt: skip
        delta = got.replace(tzinfo=datetime.timezone.utc) - expected
        assert abs(delta.total_seconds()) <= 1e-6


@pytest.mark.parametrize(("level", "name"), [
    (logging.DEBUG, "debug"), (logging.INFO, "info"), (logging.WARNING, "warn"),
    (logging.ERROR, "error"), (logging.CRITICAL, "critical"), (7, "level 7"),
])  # fmt: skip
def test_levels_follow_the_protocol(level: int, name: str) -> None:
    """Standard levels map to the protocol's names; an unnamed custom level keeps logging's."""
    assert encode(make(level=level))["level"] == name


def test_custom_level_is_its_lower_cased_name() -> None:
    """A level registered with addLevelName is sent as its name in lower case."""
    logging.addLevelName(5, "TRACE")
    try:
        assert encode(make(level=5))["level"] == "trace"
    finally:
        logging.addLevelName(5, "Level 5")


def test_meta_precedence_defaults_context_extra_meta() -> None:
    """meta merges handler defaults < context() < plain extras < extra={'meta': ...}."""
    encoder = EntryEncoder(meta={"env": "prod", "a": "default", "b": "default", "c": "default"})
    with context(a="context", b="context", c="context", request_id="r1"):
        record = make(extra={"b": "extra", "c": "extra", "meta": {"c": "meta", "n": 2}})
        meta = encode(record, encoder)["meta"]
    assert meta == {"env": "prod", "a": "context", "b": "extra", "c": "meta",
                    "request_id": "r1", "n": 2}  # fmt: skip


def test_reserved_attributes_cover_logrecord_and_fields() -> None:
    """Every LogRecord attribute, formatter output and field-like extra stays out of meta."""
    assert set(vars(make())) <= RESERVED_ATTRS
    assert {"message", "asctime", "taskName", "meta", "tags", "service"} <= RESERVED_ATTRS
    record = make()
    logging.Formatter("%(asctime)s %(message)s").format(record)  # adds message and asctime
    assert "meta" not in encode(record)


def test_extras_set_before_logrecord_init_are_found() -> None:
    """A record factory that sets attributes before LogRecord.__init__ still gets them in meta."""

    class EarlyRecord(logging.LogRecord):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.request_id = "early"
            super().__init__(*args, **kwargs)

    record = EarlyRecord("x", logging.INFO, "/a.py", 1, "m", (), None)
    record.late = 1
    assert encode(record)["meta"] == {"request_id": "early", "late": 1}


def test_trace_ids_are_promoted_out_of_meta() -> None:
    """meta trace_id/span_id become top-level fields (strings) and leave meta."""
    entry = encode(make(extra={"trace_id": "req-1", "span_id": 42, "user": 7}))
    assert (entry["trace_id"], entry["span_id"]) == ("req-1", "42")
    assert entry["meta"] == {"user": 7}


def test_trace_ids_come_from_the_active_otel_span() -> None:
    """With an active OpenTelemetry span, its ids are sent as lowercase hex."""
    trace = pytest.importorskip("opentelemetry.trace")
    span_context = trace.SpanContext(trace_id=0xABC, span_id=0xDEF, is_remote=False,
                                     trace_flags=trace.TraceFlags(1))  # fmt: skip
    with trace.use_span(trace.NonRecordingSpan(span_context)):
        entry = encode(make())
    assert entry["trace_id"] == f"{0xABC:032x}"
    assert entry["span_id"] == f"{0xDEF:016x}"
    assert "trace_id" not in encode(make())  # no span active: no ids at all


def test_tags_merge_dedupe_and_keep_order() -> None:
    """Handler tags then the record's, de-duplicated in first-seen order, all strings."""
    encoder = EntryEncoder(tags=["web", "eu"])
    assert encode(make(extra={"tags": ["db", "web", 3, "db"]}), encoder)["tags"] == [
        "web", "eu", "db", "3"]  # fmt: skip
    assert encode(make(extra={"tags": "single"}), encoder)["tags"] == ["web", "eu", "single"]
    assert encode(make(), encoder)["tags"] == ["web", "eu"]


def test_service_extra_overrides_per_entry() -> None:
    """extra={'service': ...} sets the entry's service and is not copied into meta."""
    entry = encode(make(extra={"service": "billing"}))
    assert entry["service"] == "billing"
    assert "meta" not in entry


def test_stack_info_goes_to_stack() -> None:
    """stack_info=True's text travels as the top-level 'stack' string."""
    record = make(sinfo="Stack (most recent call last):\n  File \"a.py\", line 1, in f")
    assert encode(record)["stack"].startswith("Stack (most recent call last):")


def test_formatter_text_is_the_message_without_traceback() -> None:
    """With a Formatter the formatted text is the message; the traceback is only in exception."""
    try:
        raise ValueError("boom")
    except ValueError:
        record = make("failed %d", (3,), exc_info=sys.exc_info(), sinfo="Stack (most recent)")
    entry = encode(record, formatter=logging.Formatter("[%(levelname)s] %(message)s"))
    assert entry["message"] == "[INFO] failed 3"
    assert entry["exception"]["type"] == "ValueError"
    assert entry["stack"] == "Stack (most recent)"
    assert record.exc_text is None  # the caller's record was not touched


def test_failing_formatter_falls_back_to_plain_message() -> None:
    """A formatter that raises leaves the plain message and a note."""
    entry = encode(make("m"), formatter=logging.Formatter("%(missing)s"))
    assert entry["message"] == "m"
    assert "formatter failed" in entry["notes"][0]


def test_missing_process_and_thread_names_fall_back() -> None:
    """processName/threadName of None (logMultiprocessing/logThreads off) still give strings."""
    record = make()
    record.processName = None
    record.threadName = None
    entry = encode(record)
    assert entry["process_name"] == "MainProcess"
    assert entry["thread_name"] == threading.current_thread().name


def test_before_send_can_edit_and_drop() -> None:
    """before_send's returned dict is what is sent; returning None drops the entry."""

    def edit(entry: dict[str, Any]) -> dict[str, Any] | None:
        if entry["message"] == "drop":
            return None
        entry["meta"] = {"edited": True}
        return entry

    encoder = EntryEncoder(before_send=edit)
    assert encode(make("keep"), encoder)["meta"] == {"edited": True}
    assert encoder.encode(make("drop")) is None


@pytest.fixture
def broken_hooks() -> Iterator[list[Any]]:
    """Hooks that raise, return junk, or break required fields, in that order."""

    def raises(entry: dict[str, Any]) -> dict[str, Any]:
        entry["message"] = 123
        raise RuntimeError("hook bug")

    def junk(entry: dict[str, Any]) -> Any:
        return "not a dict"

    def breaks(entry: dict[str, Any]) -> dict[str, Any]:
        del entry["message"]
        entry["pid"] = True
        return entry

    yield [raises, junk, breaks]


def test_before_send_failures_keep_the_entry(broken_hooks: list[Any]) -> None:
    """A raising, junk-returning or field-breaking before_send still yields a valid entry."""
    for hook in broken_hooks:
        entry = encode(make("kept"), EntryEncoder(before_send=hook))
        assert entry["message"] == "kept"
        assert any("before_send" in note for note in entry["notes"])


def test_broken_record_still_yields_an_entry() -> None:
    """A record whose attributes break the encoder itself gives a valid entry with a note."""
    record = make("still here")
    record.created = "not a float"  # type: ignore[assignment]
    entry = encode(record)
    assert entry["message"] == "still here"
    assert "could not encode" in entry["notes"][0]


def test_max_entry_bytes_outside_the_protocol_is_refused() -> None:
    """A limit below 1 KiB or above the drain's 256 KiB is a ValueError naming the setting."""
    from astralog_logging import AstralogHandler

    for bad in (100, 300 * 1024):
        with pytest.raises(ValueError, match="max_entry_bytes"):
            AstralogHandler(token="t", project_id="p", service="s", max_entry_bytes=bad)


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    __repr__ = __str__


class _FakeNumpyScalar:
    """Stands in for a numpy scalar (numpy is not a test dependency)."""

    __module__ = "numpy"

    def tolist(self) -> float:
        return 1.5


def _circular() -> dict[str, Any]:
    loop: dict[str, Any] = {"name": "loop"}
    loop["self"] = loop
    return loop


def _deep() -> dict[str, Any]:
    top: dict[str, Any] = {}
    node = top
    for _ in range(500):
        node["d"] = {}
        node = node["d"]
    return top


@pytest.mark.parametrize(("value", "sent", "note"), [
    (threading.Lock(), "<unlocked _thread.lock object", "lock sent as its repr"),
    (_Unprintable(), "<unrepresentable _Unprintable", "_Unprintable sent as its repr"),
    (float("nan"), "nan", "non-finite float"),
    (float("-inf"), "-inf", "non-finite float"),
    ({1: "a", None: "b"}, {"1": "a", "None": "b"}, "non-string key"),
    (_circular(), {"name": "loop", "self": "[circular reference]"}, "circular reference"),
    ("bad \udcff text", "bad \\udcff text", "lone surrogates"),
    (2**70, str(2**70), None),
    (datetime.date(2026, 1, 2), "2026-01-02", None),
    (b"raw", "raw", None),
    (frozenset({3}), [3], None),
    ((1, "a"), [1, "a"], None),
    (_FakeNumpyScalar(), 1.5, None),
])  # fmt: skip
def test_hostile_meta_values_yield_a_valid_entry(value: Any, sent: Any, note: str | None) -> None:
    """Values JSON cannot hold are sent faithfully or as their repr, noted when fixed up."""
    entry = encode(make(extra={"value": value}))
    got = entry["meta"]["value"]
    assert got.startswith(sent) if isinstance(sent, str) and sent.startswith("<") else got == sent
    if note is None:
        assert "notes" not in entry
    else:
        assert any(note in n for n in entry["notes"]), entry.get("notes")


def test_deep_nesting_is_cut_with_a_note() -> None:
    """Nesting deeper than the walk allows is cut, noted, and still encodes."""
    entry = encode(make(extra={"deep": _deep()}))
    assert any("nesting deeper" in n for n in entry["notes"])


def test_percent_mismatch_sends_msg_and_args() -> None:
    """A %-format mismatch sends the unformatted msg plus each arg's repr, with a note."""
    entry = encode(make("user %s did %s", ("u1",)))
    assert entry["message"] == "user %s did %s args=('u1',)"
    assert "%-format failed" in entry["notes"][0]


def test_msg_whose_str_raises_is_sent_as_repr() -> None:
    """A non-string msg whose __str__ raises still yields a message and a note."""
    entry = encode(make(_Unprintable()))
    assert entry["message"].startswith("<unrepresentable _Unprintable")
    assert "str() of the msg failed" in entry["notes"][0]
