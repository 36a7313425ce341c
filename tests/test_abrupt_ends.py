"""Processes that end without their exit hooks: a bare ``os.fork`` child ending in
``os._exit``, and a whole tree SIGKILLed, which must leave neither lost records nor files."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Dict, Tuple

from astralog_logging.testing import LocalDrain

from ._procs import alive, drain_env, program, run_program, wait_until


def test_bare_fork_children_ending_in_os_exit_lose_nothing(drain: LocalDrain) -> None:
    """5 children of a bare os.fork log 100 records each and end in os._exit at once: all
    500 arrive and the parent's flush says True."""
    out = run_program("abrupt_ends", "bare_fork", env=drain_env(drain.endpoint, drain.token))
    assert out.stdout.split() == ["True"], out.stderr
    records = drain.wait_for_records(500)
    got = sorted((r["meta"]["c"], r["meta"]["i"]) for r in records)
    assert got == [(c, i) for c in range(5) for i in range(100)]


def _start_tree(env: Dict[str, str]) -> Tuple[subprocess.Popen[str], str, str, int]:
    proc = subprocess.Popen(program("abrupt_ends", "tree"), env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    workdir, stats, listener = proc.stdout.readline().split()
    return proc, workdir, stats, int(listener)


def test_a_later_start_removes_what_a_tree_killed_whole_left(drain: LocalDrain) -> None:
    """App and listener SIGKILLed together leave their attach directory and counters file;
    the next start removes them, and leaves those of a tree still alive."""
    env = drain_env(drain.endpoint, drain.token)
    dead, dead_dir, dead_stats, dead_listener = _start_tree(env)
    live, live_dir, live_stats, _ = _start_tree(
        drain_env(drain.endpoint, drain.token, ASTRALOG_SERVICE="other"))
    try:
        os.kill(dead_listener, signal.SIGKILL)
        dead.kill()
        dead.communicate(timeout=30)
        wait_until(lambda: not alive(dead_listener), 30, "the killed listener to be gone")
        assert os.path.isdir(dead_dir) and os.path.isfile(dead_stats)  # left behind
        run_program("abrupt_ends", "later_start", env=env)
        assert not os.path.exists(dead_dir) and not os.path.exists(dead_stats)
        assert os.path.isdir(live_dir) and os.path.isfile(live_stats)
    finally:
        live.communicate("", timeout=30)
        dead.kill()
    assert not os.path.exists(live_dir) and not os.path.exists(live_stats)  # its own exit


def test_what_a_full_pipe_kept_from_an_os_exit_child_is_counted(drain: LocalDrain) -> None:
    """With the listener stopped and the pipe full, a bare fork child logs 6,000 records and
    ends in os._exit: what never reached the pipe is counted as lost, exactly, and flush
    says False."""
    out = run_program("abrupt_ends", "full_pipe", env=drain_env(drain.endpoint, drain.token))
    clean, lost = out.stdout.split()
    assert clean == "False", out.stderr
    arrived = len(drain.records())
    assert 0 < int(lost) < 6000, out.stdout  # the pipe did fill, and took part of them
    assert arrived + int(lost) == 6000
