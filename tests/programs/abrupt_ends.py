"""The applications of tests/test_abrupt_ends.py: processes that end without exit hooks.

``python tests/programs/abrupt_ends.py SCENARIO`` runs one scenario and prints what its
test asserts on.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Callable, Dict

from _app import setup

from astralog_logging._app._owner import OwnerLink

handler, log = setup("abrupt")


def bare_fork() -> None:
    """5 bare os.fork children log 100 records each and end in os._exit at once."""
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


def tree() -> None:
    """Prints its attach directory and counters file (neither has a public form) and its
    listener's pid, then lives until the test closes its stdin."""
    link = handler._link
    assert isinstance(link, OwnerLink)
    print(link.workdir, link.stats.path, handler.stats()["listener_pid"], flush=True)
    sys.stdin.read()


def later_start() -> None:
    """One record from a later start."""
    log.info("a later start")


def full_pipe() -> None:
    """With the listener stopped, a bare fork child logs 6000 records into the full pipe
    and ends in os._exit; prints the flush result and the records counted lost."""
    listener = handler.stats()["listener_pid"]
    os.kill(listener, signal.SIGSTOP)
    pid = os.fork()
    if pid == 0:
        for i in range(6000):
            log.info("child %d", i, extra={"meta": {"i": i, "pad": "x" * 200}})
        os._exit(0)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    os.kill(listener, signal.SIGCONT)
    clean = handler.flush(30)
    print(clean, handler.stats()["lost"], flush=True)


SCENARIOS: Dict[str, Callable[[], None]] = {
    "bare_fork": bare_fork, "tree": tree, "later_start": later_start, "full_pipe": full_pipe,
}

if __name__ == "__main__":
    SCENARIOS[sys.argv[1]]()
