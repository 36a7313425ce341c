"""A short process's whole life: what it imports, how close() ends, what is delivered at exit."""

from __future__ import annotations

import os
import subprocess
import time

from astralog_logging.testing import LocalDrain

from ._procs import ROOT, drain_env, listeners_under, program, run_program, wait_until


def test_logging_never_imports_the_delivery_stack(drain: LocalDrain) -> None:
    """An application process that only logs never imports requests, urllib3, tenacity or
    any module of the listener (see test_boundaries for the same read from the imports)."""
    out = run_program("lifecycle_imports", env=drain_env(drain.endpoint, drain.token))
    assert out.stdout.split("\n")[:3] == ["True", "[]", "[]"]
    assert len(drain.wait_for_records(2)) == 2


def test_package_import_loads_no_handler() -> None:
    """``import astralog_logging`` alone (as the listener and the CLI do) loads no handler
    machinery; ``astralog_logging.AstralogHandler`` still resolves on first use."""
    out = subprocess.run(program("package_import"), capture_output=True, text=True,
                         env=drain_env("http://127.0.0.1:9", "t"), cwd=ROOT, timeout=60,
                         check=True)
    assert out.stdout.split("\n")[:2] == ["False False", "AstralogHandler init_worker"]


def test_close_after_delivery_leaves_no_listener(drain: LocalDrain) -> None:
    """close() after everything was delivered returns on the listener's word ("everything
    delivered, stopping"), and the listener process then exits by itself: none is left
    running, none is left a zombie."""
    proc = subprocess.Popen(program("lifecycle", "close_after_delivery"), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT,
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
    out = run_program("lifecycle", "one_record", env=drain_env(drain.endpoint, drain.token))
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
    out = run_program("lifecycle", "reconfigure", env=drain_env(drain.endpoint, drain.token))
    assert out.stdout.split("\n")[:2] == ["old listener gone", "True True"]
    assert sorted(r["message"] for r in drain.wait_for_records(2)) == ["after", "before"]
