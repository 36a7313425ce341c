"""Record fidelity end to end: logger -> handler -> listener process -> HTTP -> LocalDrain.

Each scenario of tests/programs/fidelity.py runs in a fresh interpreter, configured from
the environment like an application, so no listener outlives a test and the records are built
by the real handler in the process that logged them. Assertions are on what the strict
drain stored. A child's stderr must stay empty: the stdlib's ``--- Logging error ---``
report (``handleError``) or a diagnostic of ours would mean a record went wrong.
"""

from __future__ import annotations

import collections
import datetime
import json
import logging
import subprocess
import sys
from typing import Any, Dict, List, Tuple

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from astralog_logging import AstralogHandler
from astralog_logging.testing import LocalDrain

from ._procs import drain_env, program, run_program

Entry = Dict[str, Any]

DEFAULT_MAX_ENTRY_BYTES = 64 * 1024
SECRETS = ("hunter2", "hunter3", "s3cr3t", "eyJhbGciOiJIUzI1NiJ9", "k-123", "p1-secret",
           "refresh-r", "plain-extra-secret", "internal-99")

def _arrived(drain: LocalDrain, expect: int) -> List[Entry]:
    """Exactly ``expect`` entries, each within the default entry limit."""
    records = drain.wait_for_records(expect, timeout=30)
    assert len(records) == expect, [r["message"][:80] for r in records]
    for record in records:
        assert len(orjson.dumps(record)) <= DEFAULT_MAX_ENTRY_BYTES
    return records


def ship(drain: LocalDrain, scenario: str, expect: int) -> Tuple[List[Entry], Any]:
    """Run tests/programs/fidelity.py's ``scenario``; the entries and the JSON it printed
    on its last stdout line (None if it printed nothing)."""
    proc = run_program("fidelity", scenario, env=drain_env(drain.endpoint, drain.token))
    assert proc.stderr == "", proc.stderr
    lines = proc.stdout.strip().splitlines()
    return _arrived(drain, expect), json.loads(lines[-1]) if lines else None


def ship_dying(drain: LocalDrain, scenario: str, expect: int) -> Tuple[List[Entry], str]:
    """Like ship, for a scenario that dies of an uncaught exception; entries and stderr."""
    proc = subprocess.run(program("fidelity", scenario), capture_output=True, text=True,
                          env=drain_env(drain.endpoint, drain.token), timeout=60)
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    return _arrived(drain, expect), proc.stderr


def by_message(records: List[Entry]) -> Dict[str, Entry]:
    found = {r["message"]: r for r in records}
    assert len(found) == len(records), "messages are not unique"
    return found


def chain_of(exception: Entry | None) -> List[Tuple[str, str]]:
    links = []
    while exception is not None:
        links.append((exception["type"], exception["message"]))
        exception = exception["cause"]
    return links


def test_three_level_chain_arrives_nested_with_tracebacks_text(drain: LocalDrain) -> None:
    """A raise-from plus implicit-context chain arrives as nested causes, text as traceback's."""
    [entry], printed = ship(drain, "chain", 1)
    exception = entry["exception"]
    assert entry["level"] == "error" and entry["message"] == "request r1 failed"
    assert chain_of(exception) == [("RuntimeError", "request failed"),
                                   ("LookupError", "cache miss"), ("KeyError", "'db row'")]
    assert exception["stacktrace"] == printed  # exactly what logging/traceback print
    assert "The above exception was the direct cause" in printed
    assert "During handling of the above exception" in printed
    # innermost last
    assert [f["function"] for f in exception["frames"]] == ["chain", "three_levels"]
    cause = exception["cause"]
    assert cause["stacktrace"].endswith("LookupError: cache miss")
    assert "RuntimeError" not in cause["stacktrace"]  # each link carries its own section
    assert cause["cause"]["stacktrace"].endswith("KeyError: 'db row'")
    assert all(f["line"] > 0 for f in exception["frames"] + cause["frames"])


@pytest.mark.skipif(sys.version_info < (3, 11), reason="ExceptionGroup is 3.11+")
def test_exception_group_arrives_with_its_members(drain: LocalDrain) -> None:
    """An ExceptionGroup arrives with each member (nested groups too) under 'exceptions'."""
    [entry], printed = ship(drain, "group", 1)
    group = entry["exception"]
    assert group["type"] == "ExceptionGroup"
    assert group["message"] == "batch failed (2 sub-exceptions)"
    assert group["stacktrace"] == printed
    members = group["exceptions"]
    assert [(m["type"], m["message"]) for m in members] == [
        ("ValueError", "row 1"), ("ExceptionGroup", "retry (1 sub-exception)")]
    assert [(m["type"], m["message"]) for m in members[1]["exceptions"]] == [
        ("TimeoutError", "row 2")]


def test_every_exc_info_form_carries_the_exception(drain: LocalDrain) -> None:
    """logger.exception, exc_info=True, a saved exc_info tuple and an instance all arrive."""
    records, _ = ship(drain, "exc_info_forms", 5)
    got = by_message(records)
    assert got["tuple"]["exception"]["type"] == "KeyError"
    assert got["tuple"]["exception"]["message"] == "'missing'"
    assert got["tuple"]["exception"]["frames"][-1]["function"] == "exc_info_forms"
    assert (got["exception"]["level"], got["exception"]["exception"]["type"]) == (
        "error", "ZeroDivisionError")
    assert (got["exc_info true"]["level"], got["exc_info true"]["exception"]["type"]) == (
        "warn", "ZeroDivisionError")
    instance = got["instance"]["exception"]
    assert (instance["type"], instance["message"], instance["frames"]) == (
        "ValueError", "never raised", [])
    assert instance["stacktrace"] == "ValueError: never raised"
    assert "exception" not in got["nothing to report"]


def test_stack_info_and_call_site_fields(drain: LocalDrain) -> None:
    """stack_info travels as 'stack'; timestamp, source, pid, host and names are the call's."""
    [entry], printed = ship(drain, "call_site", 1)
    assert entry["message"] == "here"
    assert entry["stack"].startswith("Stack (most recent call last):")
    assert 'in where\n    log.info("here", stack_info=True)' in entry["stack"]
    assert entry["source"] == {"file": printed["file"], "line": printed["line"],
                               "function": "where"}
    assert (entry["pid"], entry["host"]) == (printed["pid"], printed["host"])
    assert (entry["process_name"], entry["thread_name"]) == ("MainProcess", "MainThread")
    stamp = datetime.datetime.strptime(entry["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
    created = stamp.replace(tzinfo=datetime.timezone.utc).timestamp()
    assert printed["before"] - 1e-6 <= created <= printed["after"]


def test_context_follows_threads_and_asyncio_tasks(drain: LocalDrain) -> None:
    """context() fields reach a thread run in a copied context and each asyncio task's own."""
    records, _ = ship(drain, "context_spread", 6)
    got = by_message(records)
    assert got["in block"]["meta"] == {"request_id": "r1", "user_id": 7}
    assert got["copied thread"]["meta"] == {"request_id": "r1", "user_id": 7}
    assert got["copied thread"]["thread_name"] == "worker-1"
    assert "meta" not in got["plain thread"]  # a plain thread starts with an empty context
    assert got["plain thread"]["thread_name"] == "worker-2"
    assert "meta" not in got["after block"]
    assert got["task a"]["meta"] == {"app": "api", "request_id": "a"}
    assert got["task b"]["meta"] == {"app": "api", "request_id": "b"}


def test_meta_and_tags_merge_in_the_documented_order(drain: LocalDrain) -> None:
    """meta: defaults < context < plain extra < extra['meta']; tags merged, de-duplicated."""
    records, printed = ship(drain, "merge_order", 3)
    got = by_message(records)
    assert got["precedence"]["meta"] == {"env": "test", "region": "ctx", "user_id": 9,
                                         "request_id": "r1", "plan": "enterprise", "attempt": 2}
    assert got["precedence"]["tags"] == ["web", "eu", "db"]
    assert got["defaults only"]["meta"] == {"env": "test", "region": "eu-1", "user_id": 0}
    assert got["defaults only"]["tags"] == ["web", "eu"]
    assert got["collision-free"]["meta"] == {"env": "test", "region": "eu-1", "user_id": 0,
                                             "message": "m", "name": "n", "args": [1]}
    assert "overwrite 'message'" in printed


def test_otel_span_ids_arrive_as_trace_fields(drain: LocalDrain) -> None:
    """An active OpenTelemetry span gives trace_id/span_id; ids in meta win and leave meta."""
    pytest.importorskip("opentelemetry.trace")
    records, _ = ship(drain, "otel", 3)
    got = by_message(records)
    assert got["in span"]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert got["in span"]["span_id"] == "00f067aa0ba902b7"
    assert "meta" not in got["in span"]
    explicit = got["explicit ids"]
    assert (explicit["trace_id"], explicit["span_id"]) == ("req-8f72", "42")
    assert explicit["meta"] == {"user": 1}  # moved out of meta, not copied
    assert "trace_id" not in got["no span"] and "span_id" not in got["no span"]


def test_secrets_never_leave_the_host(drain: LocalDrain) -> None:
    """Secret-named keys at any depth, URL/bearer/pair credentials in text are redacted."""
    records, _ = ship(drain, "secrets", 2)
    raw = orjson.dumps(records).decode()
    assert not [secret for secret in SECRETS if secret in raw]
    got = by_message(records)
    warning = next(r for r in records if r["level"] == "warn")
    assert warning["message"] == (
        "connect postgres://app:[REDACTED]@db:5432/prod failed; "
        "Authorization: Bearer [REDACTED]; retry password=[REDACTED]")
    assert warning["meta"] == {
        "api_key": "[REDACTED]",
        "request": {"headers": {"Authorization": "[REDACTED]", "X-Api-Key": "[REDACTED]",
                                "Accept": "json"},
                    "body": [{"user": "ann", "password": "[REDACTED]"},
                             ["t", {"refresh_token": "[REDACTED]"}]]},
        "max_tokens": 5, "session_count": 2, "internal_id": "[REDACTED]"}
    exception = got["webhook failed"]["exception"]
    assert exception["message"] == "could not reach https://bot:[REDACTED]@hooks.example.com/x"


def test_oversized_entries_are_cut_marked_and_delivered(drain: LocalDrain) -> None:
    """A 10 MB message, huge meta and a RecursionError each arrive within the limit, marked."""
    records, _ = ship(drain, "oversized", 4)
    message, meta, runaway, after = records  # one producer: arrival order is emit order
    assert message["truncated"] is True and message["level"] == "error"
    assert message["message"].startswith("start:xxxx") and len(message["message"]) < 65536
    assert meta["truncated"] is True and meta["message"] == "huge meta"
    assert meta["meta"]["small"] == "kept"
    assert meta["meta"]["blob"].startswith("yyyy") and "truncated" in meta["meta"]["blob"]
    assert runaway["exception"]["type"] == "RecursionError"
    assert runaway["exception"]["frames"][0]["function"] == "oversized"
    assert runaway["exception"]["frames"][-1]["function"] == "recurse"
    assert after["message"] == "after" and "truncated" not in after


def test_uncaught_exceptions_of_threads_and_the_process_arrive(drain: LocalDrain) -> None:
    """capture_uncaught: a dying thread (error) and a dying script (critical) are both sent."""
    records, stderr = ship_dying(drain, "uncaught", 2)
    thread, process = records
    assert (thread["logger"], thread["level"], thread["message"]) == (
        "uncaught", "error", "Uncaught exception in thread worker-1")
    assert thread["thread_name"] == "worker-1"
    assert thread["exception"]["type"] == "ValueError"
    assert thread["source"]["function"] == "work"
    assert (process["logger"], process["level"], process["message"]) == (
        "uncaught", "critical", "Uncaught exception")
    assert (process["exception"]["type"], process["exception"]["message"]) == (
        "RuntimeError", "process died")
    assert process["source"]["function"] == "main"
    assert "RuntimeError: process died" in stderr  # Python's own report still happens
    assert "ValueError: thread died" in stderr


def test_levels_map_to_protocol_names_and_custom_names(drain: LocalDrain) -> None:
    """Standard levels use the protocol's names; custom levels their lower-cased name."""
    records, _ = ship(drain, "levels", 8)
    assert {r["message"]: r["level"] for r in records} == {
        "at 10": "debug", "at 20": "info", "at 30": "warn", "at 40": "error",
        "at 50": "critical", "at 5": "trace", "at 25": "notice", "at 7": "level 7"}


def test_handler_formatter_text_is_the_message(drain: LocalDrain) -> None:
    """With a Formatter on the handler the formatted text is the message, tracebacks kept out."""
    records, _ = ship(drain, "formatter", 2)
    failed, where = records
    assert failed["message"] == "ERROR app: failed 3"
    assert failed["exception"]["stacktrace"].endswith("ValueError: bad input")
    assert where["message"] == "INFO app: where"
    assert where["stack"].startswith("Stack (most recent call last):")


def test_readme_example_entry_arrives_whole(drain: LocalDrain) -> None:
    """The README's example: cause chain, merged meta, tags and OTel ids in one entry."""
    pytest.importorskip("opentelemetry.trace")
    [entry], _ = ship(drain, "readme_example", 1)
    assert entry["message"] == "Payment for order 1042 failed"
    assert entry["meta"] == {"region": "eu-west-1", "request_id": "req-8f72", "customer_id": 77,
                             "amount": "19.99", "card": {"last4": "4242", "cvv": "[REDACTED]"}}
    assert entry["tags"] == ["billing", "payments"]
    assert (entry["trace_id"], entry["span_id"]) == ("4bf92f3577b34da6a3ce929d0e0e4736",
                                                     "00f067aa0ba902b7")
    assert chain_of(entry["exception"]) == [
        ("RuntimeError", "charge failed for order 1042"),
        ("ConnectionRefusedError", "postgres://billing:[REDACTED]@db-1:5432/payments refused")]
    assert "hunter2" not in orjson.dumps(entry).decode()
    assert not {"notes", "truncated", "stack"} & entry.keys()


def test_hostile_input_yields_one_valid_entry_each(drain: LocalDrain) -> None:
    """Unserializable, cyclic, non-finite, deep values and broken messages: one entry each."""
    records, _ = ship(drain, "hostile", 29)
    meta = {r["message"][len("value "):]: r["meta"]["v"] for r in records[:23]}
    assert meta["lock"].startswith("<unlocked _thread.lock object")
    assert meta["socket"].startswith("<socket.socket")
    assert meta["opaque"].startswith("<unrepresentable Opaque")
    assert (meta["datetime"], meta["date"]) == ("2026-01-02T03:04:05", "2026-01-02")
    assert (meta["decimal"], meta["uuid"], meta["enum"], meta["path"]) == (
        "1.10", "00000000-0000-0000-0000-000000000001", "red", "/srv/app")
    assert (meta["bytes"], meta["bad_bytes"], meta["set"], meta["tuple"]) == (
        "raw", "b'\\xff'", [3], [1, "a"])
    assert meta["dataclass"] == {"user": "ann", "password": "[REDACTED]"}
    assert meta["circular"] == {"name": "loop", "self": "[circular reference]"}
    assert (meta["nan"], meta["inf"]) == ("nan", "-inf")
    assert meta["keys"] == {"1": "a", "None": "b", "(1, 2)": "c"}
    assert meta["huge_int"] == str(2**200) and meta["numpy"] == 1.5
    assert meta["surrogate"] == "bad \\udcff"
    rest = records[23:]
    assert rest[0]["message"] == "surrogate \\udcff in message"
    assert rest[1]["message"] == "b'bytes msg \\xff'"
    assert rest[2]["message"] == "mismatch %s %s args=('only one',)"
    assert rest[3]["message"] == "%d args=('not a number',)"
    assert rest[4]["message"].startswith("<unrepresentable Opaque")
    assert rest[5]["message"] == "{'msg': 'a dict'}"
    for entry in rest[2:5]:
        assert entry["notes"], entry


# -- property: whatever a caller passes, exactly one valid entry arrives -----------------

_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName", "meta", "tags", "service"}
text = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)


class _Opaque:
    """JSON cannot hold it, and its repr and str both raise."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    __str__ = __repr__


leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), text, st.binary(max_size=16),
    st.decimals(allow_nan=True), st.uuids(), st.datetimes(), st.builds(_Opaque),
    st.builds(object), st.sampled_from(["postgres://u:pw@h/db", "Bearer abc123def", "x" * 5000]),
)  # fmt: skip
keys = st.one_of(text, st.integers(), st.none(), st.sampled_from(["password", "trace_id"]))
values = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner, inner),
    st.dictionaries(keys, inner, max_size=4), st.frozensets(st.integers(), max_size=3),
), max_leaves=16)  # fmt: skip
messages = st.one_of(text, text.map(lambda t: t + " %s %d %(k)s %"), st.builds(_Opaque),
                     st.integers(), values)  # fmt: skip
arguments = st.one_of(st.tuples(), st.lists(values, max_size=3).map(tuple),
                      st.tuples(st.dictionaries(text, values, min_size=1, max_size=3)))
extras = st.dictionaries(text.filter(lambda k: k.isidentifier() and k not in _RESERVED),
                         values, max_size=3)
levels = st.sampled_from([logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR,
                          logging.CRITICAL, 5, 25])


def test_any_record_arrives_exactly_once_and_valid(drain: LocalDrain,
                                                   capfd: pytest.CaptureFixture[str]) -> None:
    """Arbitrary meta, messages, args and extras: logging never raises, each arrives once."""
    handler = AstralogHandler(endpoint=drain.endpoint, token=drain.token, project_id="tests",
                              service="property", flush_interval=0.05)
    logger = logging.getLogger("tests.fidelity.property")
    logger.propagate = False
    logger.setLevel(1)
    logger.addHandler(handler)
    sent: List[str] = []

    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(level=levels, msg=messages, args=arguments, meta=st.dictionaries(keys, values,
           max_size=4), extra=extras, error=st.one_of(st.none(), values))  # fmt: skip
    def log_one(level: int, msg: Any, args: Tuple[Any, ...], meta: Dict[Any, Any],
                extra: Dict[str, Any], error: Any) -> None:  # fmt: skip
        mark = f"n{len(sent)}"
        sent.append(mark)
        exc_info = None if error is None else ValueError(error)
        logger.log(level, msg, *args, exc_info=exc_info,
                   extra={**extra, "meta": meta, "tags": [mark]})

    try:
        log_one()
        assert handler.flush(30), handler.stats()
    finally:
        logger.removeHandler(handler)
        handler.close()
    drain.assert_no_errors()
    arrived = collections.Counter(tag for r in drain.records() for tag in r.get("tags", ()))
    assert len(sent) >= 60 and arrived == collections.Counter(sent)  # each exactly once
    assert capfd.readouterr().err == ""  # no handleError report, no diagnostic of ours
