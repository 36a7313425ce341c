"""The drain's page: its JSON API over real HTTP, and the page itself in a real Chromium.

The browser tests drive Debian's headless ``chromium`` through ``chromedriver``; without
them installed these tests fail (CI installs both, see ``.ci/run``).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest
import requests

from astralog_logging.drain._query import Filters, histogram
from astralog_logging.drain._store import Store
from astralog_logging.testing import LocalDrain
from tests._batches import make_body, make_entry, post
from tests._browser import chromium
from tests._procs import ROOT, wait_until

TOKEN = "tok-5ecret-never-on-the-page"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'")
XSS = '<img src=x onerror="window.__pwned = 1">'


@pytest.fixture
def page() -> Iterator[LocalDrain]:
    """A LocalDrain serving its page, with a token that must never reach the page."""
    with LocalDrain(token=TOKEN, page=True) as drain:
        yield drain
    if not drain.allow_errors:
        drain.assert_no_errors()


def _plain(i: int, **fields: Any) -> Dict[str, Any]:
    """An entry without an exception or a trace id, with ``fields``."""
    entry = {key: value for key, value in make_entry(i).items() if key != "exception"}
    return {**entry, "trace_id": None, **fields}


def _send(drain: LocalDrain, *entries: Dict[str, Any], service: str = "web") -> None:
    assert post(drain, make_body(list(entries), service=service)).status_code == 200


def _api(drain: LocalDrain, path: str, **params: Any) -> Any:
    reply = requests.get(f"{drain.page_url}api/{path}", params=params, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _messages(drain: LocalDrain, **params: Any) -> List[str]:
    return [row["entry"]["message"] for row in _api(drain, "entries", **params)["entries"]]


@contextlib.contextmanager
def _stream(drain: LocalDrain, **params: str) -> Iterator[http.client.HTTPResponse]:
    """The live stream, read line by line as it comes (requests would wait for a block)."""
    assert drain.page_url is not None
    parts = urllib.parse.urlsplit(drain.page_url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        connection.request("GET", "/api/stream?" + urllib.parse.urlencode(params))
        yield connection.getresponse()
    finally:
        connection.close()


def _event(stream: http.client.HTTPResponse) -> List[str]:
    """The lines of the next event (or comment), up to the blank line that ends it."""
    lines: List[str] = []
    while True:
        line = stream.fp.readline().decode()
        if line in ("", "\n"):
            return lines if lines or not line else _event(stream)
        lines.append(line)


# The API


def test_every_page_response_has_the_csp_and_never_the_token(page: LocalDrain) -> None:
    """Page, scripts, styles and API carry the CSP and nosniff; none of them holds the token."""
    _send(page, make_entry(1))
    bodies = []
    for path in ("", "static/app.js", "static/style.css", "api/entries", "api/counters",
                 "api/histogram", "api/entries?level=nope"):
        reply = requests.get(f"{page.page_url}{path}", timeout=10)
        assert reply.headers["Content-Security-Policy"] == CSP
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        bodies.append(reply.text)
    with _stream(page) as stream:
        assert stream.headers["Content-Security-Policy"] == CSP
        bodies.append("".join(_event(stream) + _event(stream) + _event(stream)))
        assert '"stored":1' in bodies[-1]
    assert all(TOKEN not in body for body in bodies)
    assert not re.search(r"<script(?![^>]*\bsrc=)", bodies[0])  # no inline script at all
    assert not re.search(r"\bstyle=|<style", bodies[0])


def test_entries_filter_newest_first_by_every_field(page: LocalDrain) -> None:
    """Each filter keeps exactly its entries, newest first; level is a minimum."""
    def one(i: int, **fields: Any) -> Dict[str, Any]:
        return _plain(i, **{"level": "info", **fields})

    _send(page, one(0, logger="app.cache"), one(1, level="warn", meta={"request_id": "r-1"}),
          one(2, level="error", trace_id="t-9", timestamp="2026-11-24T11:30:00.000000Z"),
          make_entry(3, level="critical", meta={"request_id": "r-1", "cart": "café 42"}))
    _send(page, one(4, level="debug"), service="billing")
    assert _messages(page) == ["m4", "m3", "m2", "m1", "m0"]
    assert _messages(page, level="warn") == ["m3", "m2", "m1"]
    assert _messages(page, service="billing") == ["m4"]
    assert _messages(page, logger="app.cache") == ["m0"]
    assert _messages(page, trace_id="t-9") == ["m2"]
    assert _messages(page, request_id="r-1") == ["m3", "m1"]
    assert _messages(page, q="CAFÉ 42".lower()) == ["m3"]  # in meta
    assert _messages(page, q="no route") == ["m3"]  # in the exception's cause
    assert _messages(page, q="100%") == []  # % is a character, not a wildcard
    assert _messages(page, since="2026-11-24T11:00", until="2026-11-24T12:00") == ["m2"]


def test_cursor_pages_through_everything_once(page: LocalDrain) -> None:
    """Following ``next`` visits every matching entry once, newest first, then stops."""
    _send(page, *[make_entry(i, level="error" if i % 2 else "info") for i in range(9)])
    seen: List[str] = []
    before = None
    while True:
        found = _api(page, "entries", level="error", limit=2,
                     **({} if before is None else {"before": before}))
        seen += [row["entry"]["message"] for row in found["entries"]]
        before = found["next"]
        if before is None:
            break
    assert seen == ["m7", "m5", "m3", "m1"]


def test_counters_count_batches_duplicates_and_refusals(page: LocalDrain) -> None:
    """Counters: stored batches and entries, repeated batches, refusals by status."""
    page.allow_errors = True
    body = make_body()
    assert post(page, body).status_code == 200
    assert post(page, body).status_code == 200  # the same batch id again
    assert post(page, make_body(), headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert post(page, make_body([{"level": "info"}])).status_code == 400
    page.fail_next(503)
    assert post(page, make_body()).status_code == 503
    counts = _api(page, "counters")
    assert (counts["batches"], counts["entries"], counts["duplicates"]) == (1, 3, 1)
    assert counts["rejected"] == {"401": 1, "400": 1}
    assert counts["injected_faults"] == 1 and counts["stored"] == 3
    assert counts["last_rejected"]["status"] == 400


def test_histogram_counts_by_level_over_the_range(page: LocalDrain) -> None:
    """The histogram counts entries per bucket and level, inside the range only."""
    _send(page, *[make_entry(i, level=("info", "error")[i % 2],
                             timestamp=f"2026-11-24T10:0{i}:00.000000Z") for i in range(6)])
    minutes = _api(page, "histogram", since="2026-11-24T10:00", until="2026-11-24T11:00")
    assert minutes["bucket"] == "minute"
    assert minutes["counts"][:2] == [["2026-11-24T10:00", "info", 1],
                                     ["2026-11-24T10:01", "error", 1]]
    assert len(minutes["counts"]) == 6
    errors = _api(page, "histogram", level="error", since="2026-11-24T10:02:00",
                  until="2026-11-24T10:04:00")
    assert errors["bucket"] == "second"
    assert errors["counts"] == [["2026-11-24T10:03:00", "error", 1]]


def test_histogram_applies_every_filter_of_the_list(page: LocalDrain) -> None:
    """Service, logger, trace id, request id and text narrow the histogram as they do the list."""
    def at(i: int, **fields: Any) -> Dict[str, Any]:
        return _plain(i, level=("info", "error")[i % 2], logger=f"app.l{i % 3}",
                      timestamp=f"2026-11-24T10:0{i % 4}:0{i % 2}.000000Z", **fields)

    _send(page, *[at(i, meta={"request_id": f"r-{i % 5}"}, trace_id=f"t-{i % 7}")
                  for i in range(40)])
    _send(page, *[at(i) for i in range(40, 52)], service="billing")
    hour = {"since": "2026-11-24T10:00", "until": "2026-11-24T11:00"}
    for name, value in (("service", "billing"), ("logger", "app.l1"), ("trace_id", "t-3"),
                        ("request_id", "r-2"), ("q", "M17"), ("level", "error")):
        for span in (hour, {"since": "2026-11-24T10:01", "until": "2026-11-24T10:03"}):
            wanted: Dict[str, int] = {}
            for row in _api(page, "entries", limit=1000, **span, **{name: value})["entries"]:
                entry = row["entry"]
                key = entry["timestamp"][:16 if span is hour else 19] + " " + entry["level"]
                wanted[key] = wanted.get(key, 0) + 1
            found = _api(page, "histogram", **span, **{name: value})
            assert found["bucket"] == ("minute" if span is hour else "second")
            assert not found["partial"]
            assert {f"{at} {level}": n for at, level, n in found["counts"]} == wanted, name
            assert wanted, name  # each filter keeps something, and not everything
            assert sum(wanted.values()) < 52


def test_histogram_with_a_filter_stops_at_its_budget_with_the_newest_counted() -> None:
    """Counting entries stops after its time budget and says so; the newest ids are counted."""
    store = Store()
    try:
        for n in range(3):
            store.add_batch(make_body([_plain(n * 4000 + i, timestamp=f"2026-11-24T10:0{n}:00Z")
                                       for i in range(4000)]))
        wide = Filters(q="m", since="2026-11-24T10:00", until="2026-11-24T11:00")
        whole = histogram(store, wide, budget=60.0)
        assert not whole["partial"]
        assert [n for _, _, n in whole["counts"]] == [4000, 4000, 4000]
        cut = histogram(store, wide, budget=0.0)  # the first window (4,096 ids), no more
        assert cut["partial"]
        assert cut["counts"] == [["2026-11-24T10:01", "error", 96],
                                 ["2026-11-24T10:02", "error", 4000]]
    finally:
        store.close()


def test_page_is_read_only_and_answers_only_loopback_names(page: LocalDrain) -> None:
    """Only GETs read the page; a foreign Host name (DNS rebinding) is refused."""
    page.allow_errors = True
    _send(page, make_entry(1))
    assert requests.post(f"{page.page_url}api/entries", timeout=10).status_code == 404
    assert requests.delete(f"{page.page_url}api/entries", timeout=10).status_code == 404
    foreign = requests.get(f"{page.page_url}api/entries", headers={"Host": "evil.example"},
                           timeout=10)
    assert foreign.status_code == 403 and "m1" not in foreign.text
    assert len(page.records()) == 1


def test_without_page_only_the_drain_answers() -> None:
    """A drain made without page=True serves no page: GET / is a 404."""
    with LocalDrain() as drain:
        assert drain.page_url is None
        root = drain.endpoint.rsplit("/v1/", 1)[0] + "/"
        assert requests.get(root, timeout=10).status_code == 404


def test_stream_sends_new_entries_and_ends_when_the_drain_stops(page: LocalDrain) -> None:
    """The live stream carries entries stored after it opened; stop ends it promptly."""
    with _stream(page, level="error") as stream:
        assert _event(stream) == ["retry: 2000\n"]
        assert _event(stream)[0] == "event: counters\n"
        _send(page, make_entry(1, level="info"), make_entry(2, level="error"))
        name, data = _event(stream)
        while name != "event: entries\n":  # the counters moved too
            name, data = _event(stream)
        rows = json.loads(data[len("data: "):])["rows"]
        assert [row["entry"]["message"] for row in rows] == ["m2"]
        started = time.monotonic()
        page.stop()
        while _event(stream):  # read to the end: the drain closed the stream
            pass
        assert time.monotonic() - started < 3


def _caught_up(stream: http.client.HTTPResponse) -> None:
    """Read up to the stream's first counters event: from then on, entries arrive live."""
    assert _event(stream) == ["retry: 2000\n"]
    while _event(stream)[0] != "event: counters\n":
        pass


def _live_rows(stream: http.client.HTTPResponse) -> Dict[str, Any]:
    """The data of the next ``entries`` event (counters and keep-alives skipped)."""
    while True:
        lines = _event(stream)
        assert lines, "the stream ended"
        if lines[0] == "event: entries\n":
            return json.loads(lines[1][len("data: "):])  # type: ignore[no-any-return]


def test_a_page_far_behind_gets_the_newest_entries_and_the_count_of_the_rest(
        page: LocalDrain) -> None:
    """One live event holds at most the newest 50 entries; the older new ones are counted."""
    with _stream(page) as stream:
        _caught_up(stream)
        _send(page, *[_plain(i) for i in range(600)])  # one batch: one tick sees all of it
        data = _live_rows(stream)
    assert [row["entry"]["message"] for row in data["rows"]] == [f"m{i}" for i in range(550, 600)]
    assert data["skipped"] == 550


def test_stream_shows_what_the_store_holds_not_what_passed_through(tmp_path: Path) -> None:
    """The live stream reads the store: rows another writer adds to the file show up live."""
    path = str(tmp_path / "shared.db")
    with LocalDrain(db_path=path, page=True) as drain, _stream(drain, level="error") as stream:
        _caught_up(stream)
        other = Store(path)  # a second writer on the same file, as another drain would be
        try:
            other.add_batch(make_body([_plain(1, level="info"), _plain(2, level="error")]))
        finally:
            other.close()
        data = _live_rows(stream)
    assert [row["entry"]["message"] for row in data["rows"]] == ["m2"]


def test_an_open_stream_changes_nothing_ingest_answers_or_stores() -> None:
    """The same batches get the same replies and are stored alike with a stream open or not."""
    batches = [make_body([_plain(n * 10 + i, level=("info", "error")[i % 2]) for i in range(5)])
               for n in range(6)]
    batches.append(batches[2])  # a repeat: answered 200, stored once
    seen: List[Any] = []
    for watching in (False, True):
        with LocalDrain(page=True) as drain, contextlib.ExitStack() as stack:
            if watching:
                stream = stack.enter_context(_stream(drain))
                _caught_up(stream)
            replies = [(r.status_code, r.json()) for r in (post(drain, b) for b in batches)]
            if watching:
                streamed: List[str] = []
                while len(streamed) < 30:
                    streamed += [row["entry"]["message"] for row in _live_rows(stream)["rows"]]
                assert streamed == [f"m{i}" for i in range(60) if i % 10 < 5]
            found = _api(drain, "entries", limit=100)["entries"]
            stored = [(row["id"], row["entry"]) for row in found]
            seen.append((replies, stored, drain.batches(), _api(drain, "counters")))
    assert seen[0] == seen[1]
    assert seen[0][0][-1] == (200, {"accepted": 5}) and len(seen[0][1]) == 30


def test_store_written_by_an_older_drain_gets_the_new_columns(tmp_path: Path) -> None:
    """An older store file is upgraded on open: rank, request_id and rate filled in."""
    path = str(tmp_path / "old.db")
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE batches (batch_id TEXT PRIMARY KEY, received_at TEXT NOT NULL,
            project_id TEXT NOT NULL, service TEXT NOT NULL, sdk TEXT NOT NULL,
            count INTEGER NOT NULL, envelope TEXT NOT NULL);
        CREATE TABLE entries (id INTEGER PRIMARY KEY AUTOINCREMENT, batch_id TEXT NOT NULL,
            position INTEGER NOT NULL, received_at TEXT NOT NULL, timestamp TEXT NOT NULL,
            level TEXT NOT NULL, service TEXT NOT NULL, logger TEXT NOT NULL,
            message TEXT NOT NULL, trace_id TEXT, json TEXT NOT NULL);
        INSERT INTO entries VALUES (1, 'b', 0, 'x', '2026-11-24T10:00:00.000000Z', 'error',
            'web', 'app', 'm', NULL, '{"meta": {"request_id": "r-7"}}');
    """)
    old.commit()
    old.close()
    store = Store(path)
    try:
        with store.reading() as db:
            assert db.execute("SELECT rank, request_id FROM entries").fetchall() == [(40, "r-7")]
            assert db.execute("SELECT * FROM rate").fetchall() == [("2026-11-24T10:00", 40, 1)]
    finally:
        store.close()


def test_drain_command_warns_when_listening_beyond_127_0_0_1(tmp_path: Path) -> None:
    """`drain --host` other than 127.0.0.1 says so on stderr, then prints the page's URL."""
    code = ("import sys; from astralog_logging.drain._cli import run; "
            f"sys.exit(run('127.0.0.2', 0, 't', {str(tmp_path / 'x.db')!r}))")
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert "warning: listening on 127.0.0.2, not 127.0.0.1" in proc.stderr.readline()
        proc.stdout.readline()
        url = proc.stdout.readline().split()[-1]
        assert url.startswith("http://127.0.0.2:")
        assert requests.get(url, timeout=10).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_demo_serve_prints_the_page_and_serves_until_interrupted() -> None:
    """`demo --serve` ships its records, prints the page's URL and serves it until Ctrl-C."""
    command = [sys.executable, "-m", "astralog_logging.cli", "demo", "--workers", "1",
               "--records", "40", "--serve"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}) as proc:
        assert proc.stdout is not None
        url = next(line for line in proc.stdout if line.startswith("the page: ")).split()[2]
        found = requests.get(f"{url}api/entries", params={"limit": 100}, timeout=10).json()
        assert len(found["entries"]) == 40
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0


# The page in a browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module's page tests (it takes a second to start)."""
    with chromium() as driver:
        yield driver


def _rows(browser: Any) -> List[str]:
    cells = browser.find_elements("css selector", "tr.row td.message .text")
    return [str(cell.text) for cell in cells]


def _open(browser: Any, drain: LocalDrain, wanted: Callable[[List[str]], bool],
          query: str = "") -> List[str]:
    """Load the page (``query`` appended) and wait until its rows satisfy ``wanted``."""
    assert drain.page_url is not None
    url = drain.page_url + query
    browser.get(url)

    def shown() -> Optional[List[str]]:
        found = _rows(browser)
        return found if wanted(found) else None

    rows: List[str] = wait_until(shown, 10, f"rows on {url}")
    return rows


@pytest.mark.timeout(60)
def test_browser_lists_entries_with_their_exception_type(page: LocalDrain, browser: Any) -> None:
    """The first screen lists entries newest first, an exception's type and message at a glance."""
    _send(page, _plain(1, level="info"),
          make_entry(2, exception={**make_entry()["exception"], "type": "PaymentDeclined",
                                   "message": "card expired"}))
    assert _open(browser, page, lambda rows: len(rows) == 2) == ["m2", "m1"]
    summaries = [e.text for e in browser.find_elements("css selector", ".exc-summary")]
    assert summaries == ["PaymentDeclined: card expired"]


@pytest.mark.timeout(60)
def test_browser_level_in_the_url_filters(page: LocalDrain, browser: Any) -> None:
    """?level=error shows error and critical entries only, and the form says so."""
    _send(page, *[make_entry(i, level=level) for i, level in
                      enumerate(("debug", "info", "warn", "error", "critical"))])
    rows = _open(browser, page, lambda rows: len(rows) >= 2, "?level=error")
    assert rows == ["m4", "m3"]  # a page renders its rows in one go: none can come later
    assert browser.find_element("css selector", "select[name=level]").get_attribute(
        "value") == "error"


@pytest.mark.timeout(60)
def test_browser_shows_markup_as_text_and_runs_none(page: LocalDrain, browser: Any) -> None:
    """Markup in a message, a logger, meta keys and values, exception text: text, never run."""
    _send(page, make_entry(1, message=XSS, logger=XSS, meta={XSS: XSS},
                           exception={**make_entry()["exception"], "type": XSS, "message": XSS}))
    assert _open(browser, page, lambda rows: len(rows) == 1) == [XSS]
    browser.find_element("css selector", "tr.row").click()
    wait_until(lambda: browser.find_elements("css selector", "tr.detail"), 5, "the expanded row")
    detail = browser.find_element("css selector", "tr.detail").text
    assert detail.count(XSS) >= 4  # meta key, meta value, exception type and message
    assert browser.find_elements("css selector", "#entries img") == []
    assert browser.execute_script("return window.__pwned === undefined") is True


@pytest.mark.timeout(60)
def test_browser_shows_a_new_record_within_two_seconds(page: LocalDrain, browser: Any) -> None:
    """A record sent while the page is open appears within 2 s, without a reload."""
    _send(page, make_entry(1))
    _open(browser, page, lambda rows: rows == ["m1"])
    wait_until(lambda: browser.find_element("id", "live-status").text == "live", 5, "live")
    browser.execute_script("window.__same_page = true")
    sent = time.monotonic()
    _send(page, make_entry(2))
    wait_until(lambda: _rows(browser) == ["m2", "m1"], 2.0, "the new record")
    assert time.monotonic() - sent < 2.0
    assert browser.execute_script("return window.__same_page") is True


@pytest.mark.timeout(60)
def test_browser_pause_counts_what_arrives_then_shows_it(page: LocalDrain,
                                                         browser: Any) -> None:
    """Paused, new records are counted, not shown; Resume shows them."""
    _send(page, make_entry(1))
    _open(browser, page, lambda rows: rows == ["m1"])
    wait_until(lambda: browser.find_element("id", "live-status").text == "live", 5, "live")
    browser.find_element("id", "pause").click()
    _send(page, make_entry(2), make_entry(3))
    status = browser.find_element("id", "live-status")
    wait_until(lambda: status.text == "paused: 2 new since", 3, "the paused count")
    assert _rows(browser) == ["m1"]
    browser.find_element("id", "pause").click()
    assert _rows(browser) == ["m3", "m2", "m1"]


@pytest.mark.timeout(60)
def test_browser_click_on_a_request_id_narrows_to_it(page: LocalDrain, browser: Any) -> None:
    """Clicking a request id shows that request's records only, and the URL says so."""
    _send(page, *[make_entry(i, meta={"request_id": f"req-{i % 2}"}) for i in range(4)])
    _open(browser, page, lambda rows: len(rows) == 4)
    browser.find_element("css selector", "tr.row button.chip.request_id").click()  # m3: req-1
    wait_until(lambda: _rows(browser) == ["m3", "m1"], 5, "req-1's records")
    assert "request_id=req-1" in browser.current_url


@pytest.mark.timeout(60)
def test_browser_expanded_exception_shows_its_cause(page: LocalDrain, browser: Any) -> None:
    """An expanded entry shows the exception chain: each link's type, message and frames."""
    _send(page, make_entry(1))  # ConnectionError caused by OSError("no route")
    _open(browser, page, lambda rows: rows == ["m1"])
    browser.find_element("css selector", "tr.row").click()
    heads = wait_until(
        lambda: [e.text for e in browser.find_elements("css selector", ".exc-head")], 5,
        "the exception")
    assert heads == ["ConnectionError: refused", "OSError: no route"]
    assert "cause" in browser.find_element("css selector", ".exc-link").text.lower()
    assert "app/db.py:88 in connect" in browser.find_element("css selector", "ol.frames").text
