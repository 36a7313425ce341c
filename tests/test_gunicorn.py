"""gunicorn for real: a master, 4 forked workers, one listener, and every record delivered."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest
import requests

from astralog_logging.testing import LocalDrain

from ._procs import PROGRAMS, descendants, drain_env, free_port, listeners_under, wait_until

pytest.importorskip("gunicorn")


def _serving(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _start(tmp_path: Path, drain: LocalDrain, *extra: str) -> tuple[subprocess.Popen[str], int]:
    """gunicorn serving tests/programs/gunicorn_app.py with its config file; ``extra``
    command-line settings (which win over the file's)."""
    port = free_port()
    env = drain_env(drain.endpoint, drain.token, ASTRALOG_SERVICE="gunicorn-test")
    with open(tmp_path / "gunicorn.log", "w") as log:  # a file: a full pipe would block it
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", os.path.join(PROGRAMS, "gunicorn_conf.py"),
             "--pythonpath", PROGRAMS, "-b", f"127.0.0.1:{port}", *extra, "gunicorn_app:app"],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
    wait_until(lambda: _serving(port), 30, "gunicorn to serve")
    return proc, port


def _by_logger(records: List[Dict[str, Any]], name: str) -> List[Dict[str, Any]]:
    return [r for r in records if r["logger"] == name]


@pytest.mark.parametrize("preload", [False, True], ids=["fork-after-load", "preload"])
def test_requests_and_shutdown_deliver_everything(
        tmp_path: Path, drain: LocalDrain, preload: bool) -> None:
    """400 requests: 400 app and 400 access records from the workers, one listener, then
    SIGTERM (SIGQUIT with --preload): "Shutting down: Master" arrives, gunicorn exits 0,
    nothing is left running."""
    proc, port = _start(tmp_path, drain, *(["--preload"] if preload else []))
    try:
        listeners = listeners_under(proc.pid)
        assert len(listeners) == 1
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(
                lambda n: requests.get(f"http://127.0.0.1:{port}/r/{n}", timeout=10).status_code,
                range(400)))
        assert statuses == [200] * 400
        assert listeners_under(proc.pid) == listeners

        def requests_seen() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            records = drain.records()
            return ([r for r in _by_logger(records, "app")
                     if r["meta"]["path_seen"].startswith("/r/")],
                    [r for r in _by_logger(records, "gunicorn.access")
                     if r["meta"]["path"].startswith("/r/")])

        # the drain also holds gunicorn's own records: wait on the requests' ones
        wait_until(lambda: min(map(len, requests_seen())) >= 400, 30,
                   "400 app and 400 access records")
        app, access = requests_seen()
        assert sorted(r["meta"]["path_seen"] for r in app) == sorted(f"/r/{n}" for n in range(400))
        assert len(access) == 400
        sample = access[0]["meta"]
        assert sample["method"] == "GET" and sample["status"] == 200
        assert sample["client_ip"] == "127.0.0.1" and sample["duration_ms"] >= 0
        assert len({r["pid"] for r in app}) >= 2, "requests were not spread over workers"
        master_pid = proc.pid
    finally:
        proc.send_signal(signal.SIGQUIT if preload else signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0, (tmp_path / "gunicorn.log").read_text()[-3000:]
    messages = [r["message"] for r in drain.records()]
    assert "Shutting down: Master" in messages
    wait_until(lambda: not listeners_under(master_pid), 10, "the listener to exit by itself")
    for pid in {r["pid"] for r in drain.records()} | set(listeners):
        wait_until(_gone(pid), 10, f"{pid} to exit")


def test_workers_buffer_and_deliver_everything_at_a_graceful_stop(
        tmp_path: Path, drain: LocalDrain) -> None:
    """Forked workers buffer (post_fork), not write each record through, and a SIGTERM
    still delivers every record: worker_exit hands each worker's buffer over."""
    proc, port = _start(tmp_path, drain)
    try:
        modes = {requests.get(f"http://127.0.0.1:{port}/buffering", timeout=10).text
                 for _ in range(12)}
        assert modes == {"[True]"}, modes
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(
                lambda n: requests.get(f"http://127.0.0.1:{port}/b/{n}", timeout=10).status_code,
                range(200)))
        assert statuses == [200] * 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0, (tmp_path / "gunicorn.log").read_text()[-3000:]
    wait_until(lambda: "Shutting down: Master" in [r["message"] for r in drain.records()], 10,
               "the master's last record")
    app = [r["meta"]["path_seen"] for r in _by_logger(drain.records(), "app")]
    assert sorted(p for p in app if p.startswith("/b/")) == sorted(f"/b/{n}" for n in range(200))


def test_restarts_kills_reload_and_group_signals(tmp_path: Path, drain: LocalDrain) -> None:
    """max_requests recycling, a worker timeout, kill -9 of a worker, SIGHUP, then SIGINT to
    the whole group: every handled request's record arrives, never two listeners at once,
    gunicorn exits 0 and the master's last words arrive."""
    proc, port = _start(tmp_path, drain, "--max-requests", "25", "--timeout", "3")
    seen_listeners: set[int] = set()

    def get(path: str) -> int:
        seen = listeners_under(proc.pid)
        assert len(seen) <= 1, f"two listeners at once: {seen}"
        seen_listeners.update(seen)
        return requests.get(f"http://127.0.0.1:{port}{path}", timeout=10).status_code

    try:
        ok = [n for n in range(100) if get(f"/a/{n}") == 200]
        with contextlib.suppress(requests.RequestException):  # the arbiter kills its worker
            requests.get(f"http://127.0.0.1:{port}/hang", timeout=8)
        worker = next(p for p in _children(proc.pid) if p not in listeners_under(proc.pid))
        os.kill(worker, signal.SIGKILL)
        ok += [n for n in range(100, 150) if get(f"/a/{n}") == 200]
        os.kill(proc.pid, signal.SIGHUP)
        wait_until(lambda: "Hang up: Master" in " ".join(r["message"] for r in drain.records()),
                    30, "the reload")
        wait_until(lambda: _serving(port), 30, "service after the reload")
        ok += [n for n in range(150, 200) if get(f"/a/{n}") == 200]
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0, (tmp_path / "gunicorn.log").read_text()[-3000:]
    assert len(ok) == 200
    records = drain.wait_for_records(1)
    app = sorted(int(r["meta"]["path_seen"].rsplit("/", 1)[1]) for r in records
                 if r["logger"] == "app" and r["meta"]["path_seen"].startswith("/a/"))
    assert app == list(range(200))
    messages = [r["message"] for r in records]
    assert "Shutting down: Master" in messages
    assert any(m.startswith("handled /hang") for m in
               (f"{r['message']}" for r in records)), "the hung request's record was lost"
    assert seen_listeners
    for pid in seen_listeners:  # a stopped listener finishes by itself, within a bound
        wait_until(_gone(pid), 10, f"listener {pid} to exit")


def _gone(pid: int) -> Callable[[], bool]:
    """A condition: ``pid`` has exited (and been reaped)."""
    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return gone


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (the master's workers and its listener)."""
    found = []
    for child in descendants(pid):
        with open(f"/proc/{child}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[1] == str(pid):
                found.append(child)
    return found
