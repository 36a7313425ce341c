"""The applications of tests/test_pipeline.py: configured by logging.config.dictConfig from
ASTRALOG_* variables only, as a twelve-factor application is.

``python tests/programs/pipeline.py SCENARIO`` runs one scenario; ``class_key`` names the
handler with dictConfig's "class" key, every other one with "()".
"""

from __future__ import annotations

import logging
import logging.config
import os
import sys
import time
from typing import Any, Callable, Dict

from astralog_logging import AstralogHandler
from tests._procs import listeners_under

log: logging.Logger  # made after dictConfig, which disables the loggers that exist before it


def configure(key: str) -> None:
    """The root logger at INFO with one AstralogHandler, named by dictConfig ``key``."""
    handler: Dict[str, Any] = {key: "astralog_logging.AstralogHandler", "flush_interval": 0.2}
    if key == "class" and sys.version_info >= (3, 12):
        handler["handlers"] = []  # 3.12+ takes the QueueHandler special path for "class"
    logging.config.dictConfig({
        "version": 1,
        "handlers": {"astralog": handler},
        "root": {"level": "INFO", "handlers": ["astralog"]},
    })


def env_only() -> None:
    """5000 records, and an exit without close()."""
    for i in range(5000):
        log.info("record %d", i, extra={"meta": {"i": i}})


def forked() -> None:
    """4 forked processes log 5000 records each; each prints how many listeners it sees."""
    log.info("parent before fork", extra={"meta": {"i": -1}})
    root = os.getpid()
    kids = []
    for w in range(4):
        pid = os.fork()
        if pid == 0:
            for i in range(5000):
                log.info("w%d %d", w, i, extra={"meta": {"i": i, "w": w}})
            print("listeners", len(listeners_under(root)), flush=True)
            logging.shutdown()
            os._exit(0)
        kids.append(pid)
    for pid in kids:
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def outages() -> None:
    """500 warnings, delivered whatever the drain does first."""
    for i in range(500):
        log.warning("record %d", i, extra={"meta": {"i": i}})


def class_key() -> None:
    """One record through the handler dictConfig's "class" key made."""
    log.info("via class", extra={"meta": {"i": 0}})


def close() -> None:
    """1000 records, close(); prints the listeners before and after, and what was sent."""
    for i in range(1000):
        log.info("r %d", i, extra={"meta": {"i": i}})
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, AstralogHandler)
    before = len(listeners_under(os.getpid()))
    handler.close()
    sent = handler.stats()["sent"]
    deadline = time.monotonic() + 10
    while listeners_under(os.getpid()) and time.monotonic() < deadline:
        time.sleep(0.01)  # polling a condition with a deadline
    print(before, len(listeners_under(os.getpid())), sent)


SCENARIOS: Dict[str, Callable[[], None]] = {
    "env_only": env_only, "forked": forked, "outages": outages, "class_key": class_key,
    "close": close,
}

if __name__ == "__main__":
    configure("class" if sys.argv[1] == "class_key" else "()")
    log = logging.getLogger("app")
    SCENARIOS[sys.argv[1]]()
