"""A short process's whole life: what it imports, how close() ends, what is delivered at exit."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from astralog_logging.testing import LocalDrain

from ._procs import ROOT, drain_env, listeners_under, run_script, wait_until


def test_logging_never_imports_the_delivery_stack(drain: LocalDrain) -> None:
    """An application process that only logs never imports requests, urllib3, tenacity or
    any module of the listener (see test_boundaries for the same read from the imports)."""
    out = run_script("""
import logging, sys
sys.path.insert(0, %r)
import astralog_logging
handler = astralog_logging.AstralogHandler()
log = logging.getLogger("app")
log.addHandler(handler)
log.warning("one record")
try:
    raise ValueError("boom")
except ValueError:
    log.exception("and a traceback")
print(handler.flush(20))
print(sorted(m for m in ("requests", "urllib3", "tenacity") if m in sys.modules))
print(sorted(m for m in sys.modules if m.startswith("astralog_logging._listener")))
""" % ROOT, drain_env(drain.endpoint, drain.token))
    assert out.stdout.split("\n")[:3] == ["True", "[]", "[]"]
    assert len(drain.wait_for_records(2)) == 2


def test_package_import_loads_no_handler() -> None:
    """``import astralog_logging`` alone (as the listener and the CLI do) loads no handler
    machinery; ``astralog_logging.AstralogHandler`` still resolves on first use."""
    out = subprocess.run([sys.executable, "-c", """
import sys
import astralog_logging
print("astralog_logging.handler" in sys.modules, "astralog_logging._app._owner" in sys.modules)
print(astralog_logging.AstralogHandler.__name__, astralog_logging.init_worker.__name__)
"""], capture_output=True, text=True, env=drain_env("http://127.0.0.1:9", "t"), cwd=ROOT,
        timeout=60, check=True)
    assert out.stdout.split("\n")[:2] == ["False False", "AstralogHandler init_worker"]


def test_close_after_delivery_leaves_no_listener(drain: LocalDrain) -> None:
    """close() after everything was delivered returns on the listener's word ("everything
    delivered, stopping"), and the listener process then exits by itself: none is left
    running, none is left a zombie."""
    proc = subprocess.Popen([sys.executable, "-c", """
import logging, os, sys, time
import astralog_logging
handler = astralog_logging.AstralogHandler()
log = logging.getLogger("app")
log.addHandler(handler)
log.warning("delivered before close")
assert handler.flush(20)
listener = handler._link.stats.listener_pid
handler.close()
# close() returned on the listener's word in the shared counters, not on its exit
print("closed", handler._link.stats.stopped_pid == listener, flush=True)
sys.stdin.readline()  # lives on, so a zombie child would show
"""], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env=drain_env(drain.endpoint, drain.token))
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "closed True\n"

        def gone() -> bool:
            return not listeners_under(proc.pid) and not _children(proc.pid)

        wait_until(gone, 10, "the listener to exit and be reaped")
        assert len(drain.records()) == 1
    finally:
        proc.kill()
        proc.communicate()


def test_one_record_script_is_delivered_at_exit(drain: LocalDrain) -> None:
    """A script that logs one record and simply exits has it at the drain when it returns,
    and leaves no listener behind."""
    started = time.monotonic()
    out = run_script("""
import logging, os, sys
sys.path.insert(0, %r)
import logging.config
logging.config.dictConfig({"version": 1, "handlers": {"astralog": {
    "class": "astralog_logging.AstralogHandler"}}, "root": {"handlers": ["astralog"]}})
logging.getLogger("cron").warning("the only record")
from tests._procs import listeners_under
print(*listeners_under(os.getpid()))
""" % ROOT, drain_env(drain.endpoint, drain.token))
    assert [r["message"] for r in drain.records()] == ["the only record"]
    assert time.monotonic() - started < 30
    (listener,) = map(int, out.stdout.split())
    wait_until(lambda: not os.path.exists(f"/proc/{listener}"), 10, "the listener to exit")


def _children(pid: int) -> list[int]:
    """Direct children of ``pid``, zombies included (listeners_under reads cmdlines,
    which a zombie no longer has)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(b")", 1)[1].split()[1]) == pid:
                found.append(int(name))
    return found


def test_reconfiguring_right_after_close_never_runs_two_listeners(drain: LocalDrain) -> None:
    """A handler built right after close() (dictConfig again) starts its listener only once
    the stopped one, still reading for stragglers, is gone: the pipe has one reader."""
    out = run_script("""
import logging, os, sys
sys.path.insert(0, %r)
import astralog_logging
log = logging.getLogger("app")
first = astralog_logging.AstralogHandler()
log.addHandler(first)
log.warning("before")
old = first._link.stats.listener_pid
first.close()
log.removeHandler(first)
second = astralog_logging.AstralogHandler()
log.addHandler(second)
try:
    os.kill(old, 0)
    print("old listener alive")
except ProcessLookupError:
    print("old listener gone")
log.warning("after")
print(second.flush(20), second._link.stats.listener_pid != old)
""" % ROOT, drain_env(drain.endpoint, drain.token))
    assert out.stdout.split("\n")[:2] == ["old listener gone", "True True"]
    assert sorted(r["message"] for r in drain.wait_for_records(2)) == ["after", "before"]
