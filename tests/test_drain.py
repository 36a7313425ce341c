"""The local drain, over real HTTP: it accepts exactly protocol.md and misbehaves on demand."""

from __future__ import annotations

import contextlib
import copy
import gzip as gzip_module
import json
import multiprocessing
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import requests

from astralog_logging.drain import DrainServer
from astralog_logging.drain._cli import format_record
from astralog_logging.drain._store import Store
from astralog_logging.drain._validate import MAX_ENTRY_BYTES, validate_entry
from astralog_logging.testing import LocalDrain

from ._batches import USER_AGENT, Target, make_body, make_entry, minimal_entry, post
from ._procs import ROOT

_DELETE = object()


def _set(entry: Dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    target: Any = entry
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value is _DELETE:
        del target[last]
    else:
        target[int(last) if isinstance(target, list) else last] = value


@pytest.mark.parametrize("gzip", [True, False], ids=["gzip", "plain"])
def test_valid_batch_is_stored_as_sent_and_counted(drain: LocalDrain, gzip: bool) -> None:
    """A valid batch, gzip or not, is answered 200 {"accepted": N} and stored as sent."""
    body = make_body()
    response = post(drain, body, gzip=gzip)
    assert (response.status_code, response.json()) == (200, {"accepted": 3})
    assert drain.records() == body["logs"]
    assert drain.batches() == [body]
    (info,) = drain.requests()
    assert (info.status, info.batch_id, info.entries) == (200, body["batch_id"], 3)
    assert info.content_encoding == ("gzip" if gzip else None)
    assert info.headers["User-Agent"] == USER_AGENT


def test_minimal_entries_and_unknown_fields_are_accepted(drain: LocalDrain) -> None:
    """Only the required fields are needed, and fields protocol.md does not name are kept."""
    body = make_body([minimal_entry(), make_entry(1, future_field={"x": 1}, level="level 5")],
                     extra="kept")
    assert post(drain, body).status_code == 200
    assert drain.records() == body["logs"]
    assert drain.batches()[0]["extra"] == "kept"


ENTRY_FAULTS = [
    ("timestamp", "2026-11-24T10:00:00Z", "logs[1].timestamp: expected RFC 3339"),
    ("timestamp", "2026-11-24T10:00:00.123456+00:00", "logs[1].timestamp"),
    ("timestamp", "2026-02-30T10:00:00.123456Z", "logs[1].timestamp"),
    ("level", "ERROR", "logs[1].level: expected a non-empty lower-case string"),
    ("level", "", "logs[1].level"),
    ("level", 40, "logs[1].level: expected a string"),
    ("message", _DELETE, "logs[1].message: required"),
    ("host", None, "logs[1].host: expected a string"),
    ("pid", True, "logs[1].pid: expected an integer"),
    ("pid", "4242", "logs[1].pid: expected an integer"),
    ("source.line", "88", "logs[1].source.line: expected an integer"),
    ("source.function", _DELETE, "logs[1].source.function: required"),
    ("service", None, "logs[1].service: expected a string"),
    ("trace_id", 5, "logs[1].trace_id: expected a string or null"),
    ("tags.0", 1, "logs[1].tags[0]: expected a string"),
    ("meta", [], "logs[1].meta: expected an object"),
    ("truncated", "yes", "logs[1].truncated: expected a boolean"),
    ("exception.frames", _DELETE, "logs[1].exception.frames: required"),
    ("exception.cause", _DELETE, "logs[1].exception.cause: required"),
    ("exception.cause.message", 1, "logs[1].exception.cause.message: expected a string"),
    ("exception.frames.0.line", None, "logs[1].exception.frames[0].line: expected an integer"),
    ("exception.cause.cause", "x", "logs[1].exception.cause.cause: expected an object or null"),
]


@pytest.mark.parametrize(("path", "value", "error"), ENTRY_FAULTS,
                         ids=[f"{p}={v!r}" for p, v, _ in ENTRY_FAULTS])
def test_bad_entry_is_400_naming_field_and_index(drain: LocalDrain, path: str, value: Any,
                                                 error: str) -> None:
    """A bad entry field is a 400 whose error names logs[i].field and whose index is i."""
    drain.allow_errors = True
    body = make_body()
    _set(body["logs"][1], path, value)
    body["logs"][2]["pid"] = "also bad, but later"
    response = post(drain, body)
    assert response.status_code == 400
    assert response.json()["index"] == 1
    assert response.json()["error"].startswith(error)
    assert drain.records() == [] and len(drain.errors) == 1


ENVELOPE_FAULTS = [
    ("batch_id", "0B9D4C6E1F7A4A3C9E2D5B8A7C6F1E20", "batch_id: expected 32 lower-case hex"),
    ("batch_id", "abc", "batch_id"),
    ("project_id", "", "project_id: expected a non-empty string"),
    ("service", _DELETE, "service: required"),
    ("sdk", "astralog", "sdk: expected an object"),
    ("logs", [], "logs: expected a non-empty array"),
    ("logs", {"0": {}}, "logs: expected a non-empty array"),
]


@pytest.mark.parametrize(("field", "value", "error"), ENVELOPE_FAULTS,
                         ids=[f"{f}={v!r}" for f, v, _ in ENVELOPE_FAULTS])
def test_bad_envelope_is_400_without_index(drain: LocalDrain, field: str, value: Any,
                                           error: str) -> None:
    """An envelope fault is a 400 naming the field, with no index (only entries get one)."""
    drain.allow_errors = True
    body = make_body()
    _set(body, field, value)
    response = post(drain, body, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)
    assert "index" not in response.json()


def test_entry_that_is_not_an_object_is_400_with_index(drain: LocalDrain) -> None:
    """An entry that is not a JSON object is refused with its own index."""
    drain.allow_errors = True
    response = post(drain, make_body([make_entry(), ["not", "an", "entry"]]))
    assert response.status_code == 400
    assert response.json() == {"error": "logs[1]: expected an object", "index": 1}


@pytest.mark.parametrize(("headers", "data", "error"), [
    ({"Content-Type": "text/plain"}, None, "Content-Type"),
    ({"Content-Type": "application/json; charset=latin-1"}, None, "Content-Type"),
    ({"Content-Encoding": "br"}, None, "Content-Encoding"),
    ({}, b"not gzip at all", "body: not valid gzip"),
    ({}, gzip_module.compress(b"{not json"), "body: not valid JSON"),
    ({}, gzip_module.compress(b"[1, 2]"), "body: expected a JSON object"),
    ({"Idempotency-Key": "f" * 32}, None, "Idempotency-Key"),
    ({"Idempotency-Key": None}, None, "Idempotency-Key"),
    ({"User-Agent": "python-requests/2.31"}, None, "User-Agent"),
    ({"User-Agent": "astralog-logging/0.1.0 python/3"}, None, "User-Agent"),
    ({"User-Agent": None}, None, "User-Agent"),
], ids=["text/plain", "latin-1", "br", "gzip", "json", "array", "key-mismatch", "no-key",
        "foreign-agent", "agent-version", "no-agent"])
def test_bad_request_is_400_naming_header_or_body(drain: LocalDrain, headers: Dict[str, Any],
                                                  data: Optional[bytes], error: str) -> None:
    """Wrong headers or an undecodable body are a 400 that names the culprit, nothing stored."""
    drain.allow_errors = True
    response = post(drain, make_body(), data=data, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)
    assert "index" not in response.json()
    assert drain.records() == []


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic dGVzdA==", "Bearer"])
def test_missing_or_wrong_token_is_401_before_anything_else(
        drain: LocalDrain, authorization: Optional[str]) -> None:
    """No or a wrong token is a 401 (never 403), even when the body is also invalid."""
    response = post(drain, {"not": "valid"}, headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "Authorization" in response.json()["error"]


def test_body_over_5_mib_decompressed_is_413(drain: LocalDrain) -> None:
    """Over 5 MiB once inflated is a 413, whether it came gzip'd (a bomb) or plain."""
    bomb = gzip_module.compress(b" " * (6 * 1024 * 1024) + b"{}")
    assert post(drain, make_body(), data=bomb).status_code == 413
    plain = json.dumps(make_body(meta_pad="x" * (6 * 1024 * 1024))).encode()
    assert post(drain, make_body(), data=plain, gzip=False).status_code == 413
    assert post(drain, make_body()).status_code == 200  # and the drain is still fine


def test_entry_over_256_kib_is_413_with_its_index(drain: LocalDrain) -> None:
    """One entry serializing over 256 KiB is a 413 (split/truncate), not a 400 (drop)."""
    body = make_body([make_entry(0), make_entry(1, message="x" * MAX_ENTRY_BYTES)])
    response = post(drain, body)
    assert response.status_code == 413
    assert response.json()["index"] == 1 and "logs[1]" in response.json()["error"]
    fits = make_entry(1, message="")
    fits["message"] = "x" * (MAX_ENTRY_BYTES - len(json.dumps(fits, separators=(",", ":"))))
    assert post(drain, make_body([fits])).status_code == 200


def test_more_than_10000_entries_is_413(drain: LocalDrain) -> None:
    """10,000 entries are accepted; 10,001 are a 413 with no index."""
    small = minimal_entry()
    response = post(drain, make_body([small] * 10_001))
    assert response.status_code == 413 and "index" not in response.json()
    assert post(drain, make_body([small] * 10_000)).json() == {"accepted": 10_000}


def test_repeated_batch_id_is_200_and_stored_once(drain: LocalDrain) -> None:
    """A batch_id already accepted is answered 200 again and nothing is stored twice."""
    body = make_body()
    first, again = post(drain, body), post(drain, body)
    assert first.json() == again.json() == {"accepted": 3}
    assert len(drain.records()) == 3 and len(drain.batches()) == 1


def test_other_paths_404_and_other_methods_405(drain: LocalDrain) -> None:
    """Only POST /v1/drain exists: other paths are 404, other methods 405 with Allow."""
    base = drain.endpoint.rsplit("/v1/drain", 1)[0]
    assert requests.post(f"{base}/v1/drain/", json={}, timeout=10).status_code == 404
    assert requests.get(f"{base}/", timeout=10).status_code == 404
    response = requests.get(drain.endpoint, timeout=10)
    assert response.status_code == 405 and response.headers["Allow"] == "POST"


def test_fail_next_answers_in_order_then_serves(drain: LocalDrain) -> None:
    """fail_next: the scripted statuses in order (Retry-After on 429/503 only), then normal."""
    drain.fail_next(503, 429, 500, retry_after=3)
    body = make_body()
    answers = [post(drain, body) for _ in range(4)]
    assert [a.status_code for a in answers] == [503, 429, 500, 200]
    assert [a.headers.get("Retry-After") for a in answers] == ["3", "3", None, None]
    assert len(drain.records()) == 3
    assert [r.injected for r in drain.requests()] == [True, True, True, False]
    assert {r.batch_id for r in drain.requests()} == {body["batch_id"]}


def test_faults_come_before_validation(drain: LocalDrain) -> None:
    """An injected failure answers even an invalid request, and is not counted as an error."""
    drain.fail_next(503)
    assert post(drain, {"bad": True}, headers={"Authorization": None}).status_code == 503
    assert drain.errors == []


def test_reset_next_closes_without_answer(drain: LocalDrain) -> None:
    """reset_next: the request is read, then the connection closes with no answer at all."""
    drain.reset_next(1)
    with pytest.raises(requests.ConnectionError):
        post(drain, make_body())
    assert post(drain, make_body()).status_code == 200
    assert [r.status for r in drain.requests()] == [None, 200]


def test_delay_holds_every_answer(drain: LocalDrain) -> None:
    """delay: each request waits at least that long before it is answered."""
    drain.delay(0.3)
    started = time.monotonic()
    assert post(drain, make_body()).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_fail_ratio_fails_a_seeded_share(drain: LocalDrain) -> None:
    """fail_ratio: a random (seeded, so repeatable) share fails; the rest are served."""
    drain.fail_ratio(0.5, status=502, seed=7)
    statuses = [post(drain, make_body()).status_code for _ in range(30)]
    assert set(statuses) == {200, 502}
    drain.clear_faults()
    drain.fail_ratio(0.5, status=502, seed=7)
    assert [post(drain, make_body()).status_code for _ in range(30)] == statuses


def test_fail_ratio_ends_after_its_window(drain: LocalDrain) -> None:
    """fail_ratio with seconds: everything fails inside the window, nothing after it."""
    drain.fail_ratio(1.0, seconds=0.3)
    started = time.monotonic()
    assert post(drain, make_body()).status_code == 503
    while post(drain, make_body()).status_code != 200:
        assert time.monotonic() - started < 10, "the failure window never ended"
    assert time.monotonic() - started >= 0.3


def test_reject_token_until_cleared(drain: LocalDrain) -> None:
    """reject_token: every request gets 401/403 as if revoked, until the faults are cleared."""
    drain.reject_token(403)
    assert post(drain, make_body()).status_code == 403
    drain.clear_faults()
    assert post(drain, make_body()).status_code == 200


def test_refuse_for_refuses_connects_then_reopens_same_port(drain: LocalDrain) -> None:
    """refuse_for: connects are refused (pooled connections cut too), then the port is back."""
    with requests.Session() as session:
        body = make_body()
        kwargs: Dict[str, Any] = {"data": json.dumps(body), "timeout": 10, "headers": {
            "Authorization": f"Bearer {drain.token}", "Content-Type": "application/json",
            "Idempotency-Key": body["batch_id"], "User-Agent": USER_AGENT}}
        assert session.post(drain.endpoint, **kwargs).status_code == 200
        refused_at = time.monotonic()
        drain.refuse_for(1.0)
        with pytest.raises(requests.ConnectionError):
            session.post(drain.endpoint, **kwargs)
        host, port = drain.endpoint.split("/")[2].split(":")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, int(port)), timeout=5).close()
        drain.wait_listening(timeout=10)
        assert time.monotonic() - refused_at >= 1.0
        assert session.post(drain.endpoint, **kwargs).status_code == 200


def test_wait_for_records_returns_once_enough_arrived(drain: LocalDrain) -> None:
    """wait_for_records wakes up when records arrive from another thread."""
    sender = threading.Thread(target=lambda: [post(drain, make_body()) for _ in range(2)])
    sender.start()
    assert len(drain.wait_for_records(6, timeout=10)) == 6
    sender.join()


def test_wait_for_records_times_out_with_assertion_error(drain: LocalDrain) -> None:
    """wait_for_records fails clearly (how many arrived, last answers) when too few came."""
    drain.fail_next(503)
    post(drain, make_body())
    with pytest.raises(AssertionError, match=r"1 record within 0.2 s, but 0 arrived.*503"):
        drain.wait_for_records(1, timeout=0.2)


def test_records_stay_readable_after_stop() -> None:
    """After the drain stops, records() and batches() still show what arrived; stop twice ok."""
    with LocalDrain() as local:
        post(local, make_body())
    local.stop()
    assert len(local.records()) == 3 and len(local.batches()) == 1


def test_file_database_is_readable_by_another_connection(tmp_path: Path) -> None:
    """With a file, entries land in SQLite (WAL) where another reader can query them."""
    path = tmp_path / "drain.db"
    with LocalDrain(db_path=str(path)) as local:
        body = make_body()
        post(local, body)
        with contextlib.closing(sqlite3.connect(path)) as reader:
            rows = reader.execute("SELECT batch_id, position, level, service, json "
                                  "FROM entries ORDER BY id").fetchall()
            (mode,) = reader.execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [(body["batch_id"], i, "error", "web")
                                                        for i in range(3)]
    assert [json.loads(r[4]) for r in rows] == body["logs"]


def test_assert_no_errors_lists_the_refusals() -> None:
    """assert_no_errors fails with each 400's reason, so a test shows what the sender broke."""
    with LocalDrain() as local:
        post(local, make_body(), headers={"User-Agent": "curl/8"})
        with pytest.raises(AssertionError, match="400 User-Agent"):
            local.assert_no_errors()


def _post_from_child(endpoint: str, token: str, hold: Any) -> None:
    body = make_body()
    requests.post(endpoint, data=json.dumps(body), timeout=10, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json",
        "Idempotency-Key": body["batch_id"], "User-Agent": USER_AGENT}).raise_for_status()
    hold.wait(10)


@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork:DeprecationWarning")
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_child_processes_post_and_do_not_hold_the_port(drain: LocalDrain, method: str) -> None:
    """A forked or spawned child can POST, and a live fork child does not keep the port open."""
    context: Any = multiprocessing.get_context(method)
    hold = context.Event()
    child = context.Process(target=_post_from_child, args=(drain.endpoint, drain.token, hold))
    child.start()
    try:
        drain.wait_for_records(3, timeout=30)
        drain.refuse_for(30)  # the fixture's stop ends the window
        host, port = drain.endpoint.split("/")[2].split(":")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, int(port)), timeout=5).close()
    finally:
        hold.set()
        child.join(10)
    assert child.exitcode == 0


def test_callbacks_see_each_stored_record_and_batch_once() -> None:
    """on_record runs per newly stored entry and on_batch per new envelope; repeats are silent."""
    records: List[Dict[str, Any]] = []
    batches: List[Dict[str, Any]] = []
    with DrainServer(token="t", on_record=records.append, on_batch=batches.append) as server:
        body = make_body()
        for _ in range(2):
            assert post(Target(server.endpoint, "t"), body).status_code == 200
    assert records == body["logs"] and batches == [body]


def test_slow_body_is_408() -> None:
    """A request whose body stops arriving is answered 408 after the read timeout."""
    with DrainServer(read_timeout=0.2) as server, socket.create_connection(
            ("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(b"POST /v1/drain HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        assert conn.recv(1024).startswith(b"HTTP/1.1 408")


def test_validate_entry_is_usable_on_its_own() -> None:
    """validate_entry: None for a good entry, else the reason naming the field or the size."""
    assert validate_entry(make_entry()) is None
    bad = copy.deepcopy(make_entry())
    bad["source"]["line"] = "88"
    assert validate_entry(bad) == "entry.source.line: expected an integer"
    assert "over the limit" in str(validate_entry(make_entry(message="x" * MAX_ENTRY_BYTES)))


def test_store_filters_by_level_service_trace_and_position() -> None:
    """Store filters: level and above (unknown counts as info), service, trace_id, after_id."""
    store = Store()
    try:
        levels = ["debug", "info", "warn", "error", "critical", "level 5"]
        logs = [make_entry(i, level=level, trace_id=f"t{i % 2}") for i, level in enumerate(levels)]
        logs[0]["service"] = "worker"
        assert store.add_batch(make_body(logs)) is True
        assert [e["level"] for e in store.entries(level="warn")] == ["warn", "error", "critical"]
        assert [e["level"] for e in store.entries(level="info")] == levels[1:]
        assert [e["meta"]["i"] for e in store.entries(service="worker")] == [0]
        assert [e["meta"]["i"] for e in store.entries(trace_id="t1")] == [1, 3, 5]
        (first_id, _), *_ = store.rows()
        assert [e["meta"]["i"] for e in store.entries(after_id=first_id, limit=2)] == [1, 2]
        assert store.count() == 6
    finally:
        store.close()


def test_format_record_reads_like_a_log_line() -> None:
    """The CLI's line: time, level, service/logger, message, meta, then the traceback."""
    line = format_record(make_entry(meta={"attempt": 2}, trace_id=None), "web")
    first, *trace = line.splitlines()
    assert first == '10:00:00.123 ERROR    web/app.db  m0  {"attempt": 2}'
    assert trace == ["    Traceback ..."]


def test_cli_prints_records_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`drain` run: prints the endpoint and the page, a line per record, exits 0 on SIGTERM."""
    code = ("import sys; from astralog_logging.drain._cli import run; "
            f"sys.exit(run('127.0.0.1', 0, 'cli-token', {str(tmp_path / 'x.db')!r}))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                          env=env) as proc:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert proc.stdout.readline().startswith("the page: http://127.0.0.1:")
        assert post(Target(banner.split()[4], "cli-token"), make_body()).status_code == 200
        assert proc.stdout.readline().startswith("10:00:00.123 ERROR    web/app.db  m0")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
