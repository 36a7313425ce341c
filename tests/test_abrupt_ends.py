"""Processes that end without their exit hooks: a bare ``os.fork`` child ending in
``os._exit``, and a whole tree SIGKILLed, which must leave neither lost records nor files."""

from __future__ import annotations

from astralog_logging.testing import LocalDrain

from ._procs import ROOT, drain_env, run_script

APP = """
import logging, os, sys, time
sys.path.insert(0, %r)
import astralog_logging
handler = astralog_logging.AstralogHandler(flush_interval=0.2, shutdown_timeout=5)
root = logging.getLogger()
root.addHandler(handler)
root.setLevel(logging.INFO)
log = logging.getLogger("abrupt")
""" % ROOT


def test_bare_fork_children_ending_in_os_exit_lose_nothing(drain: LocalDrain) -> None:
    """5 children of a bare os.fork log 100 records each and end in os._exit at once: all
    500 arrive and the parent's flush says True."""
    out = run_script(APP + """
children = []
for c in range(5):
    pid = os.fork()
    if pid == 0:
        for i in range(100):
            log.info("child %d", i, extra={"meta": {"c": c, "i": i}})
        os._exit(0)
    children.append(pid)
for pid in children:
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
print(handler.flush(30), flush=True)
""", drain_env(drain.endpoint, drain.token))
    assert out.stdout.split() == ["True"], out.stderr
    records = drain.wait_for_records(500)
    got = sorted((r["meta"]["c"], r["meta"]["i"]) for r in records)
    assert got == [(c, i) for c in range(5) for i in range(100)]
