"""The applications of tests/test_lifecycle.py: how a short process's handler ends.

``python tests/programs/lifecycle.py SCENARIO`` runs one scenario and prints what its test
asserts on. The listener's pids read here (listener_pid, stopped_pid) have no public form.
"""

from __future__ import annotations

import logging
import logging.config
import os
import sys
from typing import Callable, Dict

import astralog_logging


def close_after_delivery() -> None:
    """One record delivered, close(); says whether close() returned on the listener's word,
    then lives until a line on stdin, so that a zombie child would show."""
    handler = astralog_logging.AstralogHandler()
    log = logging.getLogger("app")
    log.addHandler(handler)
    log.warning("delivered before close")
    assert handler.flush(20)
    link = handler._link
    assert link is not None
    listener = handler.stats()["listener_pid"]
    handler.close()
    # close() returned on the listener's word in the shared counters, not on its exit
    # (a word of the private shared counters: nothing public says why close() returned)
    print("closed", link.stats.stopped_pid == listener, flush=True)
    sys.stdin.readline()


def one_record() -> None:
    """dictConfig with the "class" key, one record, a plain exit; prints the listeners."""
    logging.config.dictConfig({"version": 1, "handlers": {"astralog": {
        "class": "astralog_logging.AstralogHandler"}}, "root": {"handlers": ["astralog"]}})
    logging.getLogger("cron").warning("the only record")
    from tests._procs import listeners_under

    print(*listeners_under(os.getpid()))


def reconfigure() -> None:
    """A second handler right after the first one's close(): says whether the old listener
    was gone by then, whether flush() was clean and the listener a new one."""
    log = logging.getLogger("app")
    first = astralog_logging.AstralogHandler()
    log.addHandler(first)
    log.warning("before")
    old = first.stats()["listener_pid"]
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
    print(second.flush(20), second.stats()["listener_pid"] != old)


SCENARIOS: Dict[str, Callable[[], None]] = {
    "close_after_delivery": close_after_delivery, "one_record": one_record,
    "reconfigure": reconfigure,
}

if __name__ == "__main__":
    SCENARIOS[sys.argv[1]]()
