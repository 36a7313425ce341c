"""uvicorn --workers: spawned workers that cannot be handed the queue join the one listener."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from astralog_logging.testing import LocalDrain

from ._procs import PROGRAMS, drain_env, free_port, listeners_under, program, wait_until

pytest.importorskip("uvicorn")

LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"astralog": {"()": "astralog_logging.AstralogHandler", "flush_interval": 0.2}},
    "root": {"level": "INFO", "handlers": ["astralog"]},
    "loggers": {
        "uvicorn.error": {"level": "INFO", "handlers": ["astralog"], "propagate": False},
        "uvicorn.access": {"level": "INFO", "handlers": ["astralog"], "propagate": False},
    },
}






def _pids_serving(port: int, tries: int) -> set[str]:
    pids = set()
    for _ in range(tries):
        with contextlib.suppress(requests.RequestException):
            pids.add(requests.get(f"http://127.0.0.1:{port}/warm", timeout=2).text)
    return pids


@pytest.mark.parametrize("how", ["log-config-file", "uvicorn.run"])
def test_workers_log_through_one_listener(tmp_path: Path, drain: LocalDrain, how: str) -> None:
    """Two spawned workers: every request's record arrives, one listener serves all, and
    shutdown delivers uvicorn's own records too."""
    port = free_port()
    (tmp_path / "log.json").write_text(json.dumps(LOG_CONFIG))
    command = (program("uvicorn_serve", str(port), "log.json") if how == "uvicorn.run" else
               [sys.executable, "-m", "uvicorn", "uvicorn_app:app", "--app-dir", PROGRAMS,
                "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
                "--log-config", "log.json"])
    env = drain_env(drain.endpoint, drain.token, ASTRALOG_SERVICE="uvicorn-test")
    with open(tmp_path / "uvicorn.log", "w") as log:
        proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: len(_pids_serving(port, 1)) > 0, 30, "uvicorn to serve")
        wait_until(lambda: len(_pids_serving(port, 20)) == 2, 30, "both workers")
        listeners = listeners_under(proc.pid)
        assert len(listeners) == 1
        for n in range(100):
            assert requests.get(f"http://127.0.0.1:{port}/r/{n}", timeout=5).status_code == 200
        assert listeners_under(proc.pid) == listeners
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

    def requests_seen() -> tuple[list[str], list[str]]:
        records = drain.records()
        return (sorted(r["meta"]["path_seen"] for r in records
                       if r["logger"] == "app" and r["meta"]["path_seen"].startswith("/r/")),
                [r["message"] for r in records
                 if r["logger"] == "uvicorn.access" and " /r/" in r["message"]])

    # the drain also holds uvicorn's own records: wait on the requests' ones
    wait_until(lambda: min(map(len, requests_seen())) >= 100, 30,
               "100 app and 100 access records")
    app, access = requests_seen()
    assert app == sorted(f"/r/{n}" for n in range(100))
    assert len(access) == 100
    messages = " ".join(r["message"] for r in drain.records())
    assert "Finished server process" in messages, (tmp_path / "uvicorn.log").read_text()[-2000:]
