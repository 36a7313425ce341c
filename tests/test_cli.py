"""The astralog-logging command: send, check, tail (and drain/demo still wired), for real."""

from __future__ import annotations

import io
import logging
import os
import queue
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator, List, NamedTuple

import pytest

from astralog_logging import AstralogHandler
from astralog_logging._cli import _tail as tail
from astralog_logging.cli import _parser, main
from astralog_logging.testing import LocalDrain

from ._procs import drain_env

SECRET = "s3cr3t-token-never-printed"


@pytest.fixture(autouse=True)
def _no_astralog_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test states its settings; none leak in from the environment running pytest."""
    for name in list(os.environ):
        if name.startswith("ASTRALOG_"):
            monkeypatch.delenv(name)


@pytest.fixture
def secret_drain() -> Iterator[LocalDrain]:
    """A drain whose token is easy to look for in output."""
    with LocalDrain(token=SECRET) as local:
        yield local
    local.assert_no_errors()


def _to(drain: LocalDrain, service: str = "cron") -> List[str]:
    return ["--endpoint", drain.endpoint, "--token", drain.token, "--project-id", "tests",
            "--service", service]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- help and usage --------------------------------------------------------------------


@pytest.mark.parametrize("command", ["drain", "demo", "send", "check", "tail"])
def test_every_command_has_help_with_examples(command: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """`COMMAND --help` exits 0 and shows examples of that command."""
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and f"astralog-logging {command}" in text


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad option is one line on stderr and exit status 2."""
    with pytest.raises(SystemExit) as exit_info:
        main(["send", "--level", "loud", "x"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid choice: 'loud'" in err


def test_drain_command_still_reports_a_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    """`drain` keeps working as before: a port already taken is one line and exit 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert main(["drain", "--port", port, "--db", ":memory:"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in err


@pytest.mark.slow
def test_demo_command_still_runs(tmp_path: Path) -> None:
    """`demo` keeps working as before, end to end, in its own process."""
    proc = subprocess.run(
        [sys.executable, "-m", "astralog_logging.cli", "demo", "--workers", "2",
         "--records", "40", "--db", str(tmp_path / "demo.db")],
        env=drain_env("http://127.0.0.1:9/unused", "unused"), capture_output=True, text=True,
        timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "demo.db").exists()


# -- send ------------------------------------------------------------------------------


def test_send_one_message_with_level_tags_and_fields(drain: LocalDrain) -> None:
    """send ships the message with its level, tags, typed fields and logger; exit 0."""
    code = main(["send", *_to(drain), "--level", "error", "--tag", "backup", "--tag", "cron",
                 "--meta", "exit_code=3", "--meta", "host=db1", "--logger", "cron.backup",
                 "backup failed"])
    assert code == 0
    (entry,) = drain.wait_for_records(1, timeout=10)
    assert entry["message"] == "backup failed" and entry["level"] == "error"
    assert entry["logger"] == "cron.backup" and entry["tags"] == ["backup", "cron"]
    assert entry["meta"] == {"exit_code": 3, "host": "db1"}


def test_send_ships_each_line_of_stdin(drain: LocalDrain,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a MESSAGE each non-empty stdin line is one entry, in order."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("first line\n\n   \nsecond line\r\n"))
    assert main(["send", *_to(drain), "--level", "warn"]) == 0
    records = drain.wait_for_records(2, timeout=10)
    assert [(r["message"], r["level"]) for r in records] == [
        ("first line", "warn"), ("second line", "warn")]


def test_send_exits_non_zero_when_not_delivered(drain: LocalDrain,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A refused token means not delivered: exit 1 and a line that says why."""
    drain.reject_token()
    assert main(["send", *_to(drain), "--timeout", "5", "hello"]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("astralog-logging send: not delivered") and "401" in last


def test_send_refuses_to_wait_on_a_terminal(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """No MESSAGE and stdin a terminal: a one-line error instead of a silent hang."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    assert main(["send"]) == 1
    assert "give a MESSAGE" in capsys.readouterr().err


def test_send_with_bad_fields_or_settings_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed --meta or a missing setting is one line naming it, exit 1."""
    assert main(["send", "--meta", "novalue", "x"]) == 1
    assert "--meta expects KEY=VALUE" in capsys.readouterr().err
    assert main(["send", "x"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "token is required" in err


def test_send_is_quiet_when_disabled(capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """ASTRALOG_ENABLED=0 sends nothing, says so, and does not fail the script."""
    monkeypatch.setenv("ASTRALOG_ENABLED", "0")
    assert main(["send", "x"]) == 0
    assert "nothing was sent" in capsys.readouterr().err


# -- check -----------------------------------------------------------------------------


def _check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err
    return code, captured.out, captured.err


def test_check_succeeds_and_never_prints_the_token(secret_drain: LocalDrain,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """check shows the settings (the token only as length and fingerprint) and succeeds."""
    code, out, _ = _check(capsys, *_to(secret_drain))
    assert code == 0
    assert f"endpoint    {secret_drain.endpoint}" in out and "project_id  tests" in out
    assert f"set ({len(SECRET)} characters" in out
    assert "ok: the drain accepted a test entry" in out
    (entry,) = secret_drain.wait_for_records(1, timeout=10)
    assert entry["logger"] == "astralog_logging.check"


def test_check_explains_a_refused_token(secret_drain: LocalDrain,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A 401 is reported as a token problem, in one line, without the token."""
    secret_drain.reject_token()
    code, _, err = _check(capsys, *_to(secret_drain))
    assert code == 1 and err.count("\n") == 1
    assert "refused the token" in err and "ASTRALOG_TOKEN" in err


def test_check_explains_a_wrong_project(secret_drain: LocalDrain,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A 403 names the project the token may not write to."""
    secret_drain.reject_token(403)
    code, _, err = _check(capsys, *_to(secret_drain))
    assert code == 1 and "may not write to project 'tests'" in err


def test_check_explains_a_wrong_path(secret_drain: LocalDrain,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A 404 says no drain answers at that URL."""
    argv = _to(secret_drain)
    argv[1] = secret_drain.endpoint.replace("/v1/drain", "/v1/nothing")
    code, _, err = _check(capsys, *argv)
    assert code == 1 and "no drain answers at" in err


def test_check_explains_network_failures(secret_drain: LocalDrain,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Refused connections, TLS to a plain port and unknown hosts each get their words."""
    argv = _to(secret_drain)
    argv[1] = f"http://127.0.0.1:{_closed_port()}/v1/drain"
    assert "nothing is listening" in _check(capsys, *argv)[2]
    argv[1] = secret_drain.endpoint.replace("http://", "https://")
    assert "does not speak TLS" in _check(capsys, *argv)[2]
    argv[1] = "http://astralog-no-such-host.invalid/v1/drain"
    assert "cannot resolve the host name" in _check(capsys, *argv)[2]


def test_check_reports_missing_configuration(capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing setting is named with the variable that provides it."""
    monkeypatch.setenv("ASTRALOG_TOKEN", SECRET)
    code, _, err = _check(capsys)
    assert code == 1 and "project_id is required" in err and "ASTRALOG_PROJECT_ID" in err


# -- tail ------------------------------------------------------------------------------


class Stored(NamedTuple):
    drain: LocalDrain
    db: str


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Stored]:
    """A drain storing into a file, with entries of two services already in it."""
    db = str(tmp_path / "logs.db")
    with LocalDrain(db_path=db) as local:
        handler = AstralogHandler(endpoint=local.endpoint, token=local.token,
                                  project_id="tests", service="web", flush_interval=0.1)
        log = logging.getLogger("cli")
        log.addHandler(handler)
        try:
            log.warning("served /", extra={"meta": {"path": "/"}})
            log.error("db down")
            log.warning("slow job", extra={"service": "jobs"})
            assert handler.flush(timeout=10)
        finally:
            log.removeHandler(handler)
            handler.close()
        yield Stored(local, db)


def _tail(store: Stored, capsys: pytest.CaptureFixture[str], *argv: str) -> List[str]:
    assert main(["tail", "--db", store.db, *argv]) == 0
    return capsys.readouterr().out.splitlines()


def test_tail_prints_entries_with_service_and_filters(store: Stored,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """tail shows service/logger lines and filters by level, service and count."""
    lines = _tail(store, capsys)
    assert [line.split(None, 1)[1] for line in lines] == [
        'WARN     web/cli  served /  {"path": "/"}', "ERROR    web/cli  db down",
        "WARN     jobs/cli  slow job"]
    assert len(_tail(store, capsys, "--level", "error")) == 1
    assert [line.split()[2] for line in _tail(store, capsys, "--service", "jobs")] == ["jobs/cli"]
    assert _tail(store, capsys, "-n", "1")[0].endswith("slow job")
    assert "\033[" not in "".join(lines)  # not a terminal: no colors


def test_tail_colors_levels_when_asked(store: Stored,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """--color always paints the level; the rest of the line is unchanged."""
    lines = _tail(store, capsys, "--color", "always", "--level", "error")
    assert lines == [lines[0].split(" ", 1)[0] + " \033[31mERROR   \033[0m web/cli  db down"]


def test_tail_follow_prints_new_entries(store: Stored) -> None:
    """--follow prints entries stored after it started, until stopped."""
    seen: queue.Queue[str] = queue.Queue()

    class Lines(io.StringIO):
        """Hands each completed line to the test as it is printed."""

        pending = ""

        def write(self, text: str) -> int:
            *done, self.pending = (self.pending + text).split("\n")
            for line in done:
                seen.put(line)
            return len(text)

    args = _parser().parse_args(["tail", "--db", store.db, "--follow", "-n", "0",
                                 "--level", "error"])
    stop = threading.Event()
    result: List[int] = []
    follower = threading.Thread(target=lambda: result.append(tail.run(args, Lines(), stop)))
    follower.start()
    try:
        handler = AstralogHandler(endpoint=store.drain.endpoint, token=store.drain.token,
                                  project_id="tests", service="live", flush_interval=0.1)
        try:
            record = logging.makeLogRecord({"name": "live", "levelno": logging.ERROR,
                                            "levelname": "ERROR", "msg": "it broke"})
            handler.handle(record)
            assert handler.flush(timeout=10)
        finally:
            handler.close()
        assert seen.get(timeout=10).endswith("ERROR    live/live  it broke")
    finally:
        stop.set()
        follower.join(timeout=10)
    assert result == [0] and seen.empty()


def test_tail_without_a_store_is_one_line(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A missing database file is a one-line error, and no file is created."""
    missing = tmp_path / "none.db"
    assert main(["tail", "--db", str(missing)]) == 1
    assert "no drain store" in capsys.readouterr().err
    assert not missing.exists()


def test_tail_leaves_other_sqlite_files_alone(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """An SQLite file that is not a drain's store is refused, and nothing is added to it."""
    other = tmp_path / "app.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE users (name TEXT)")
    db.close()
    assert main(["tail", "--db", str(other)]) == 1
    assert "not a drain store" in capsys.readouterr().err
    with sqlite3.connect(other) as db:
        tables = db.execute("SELECT name FROM sqlite_master").fetchall()
    db.close()
    assert tables == [("users",)]
