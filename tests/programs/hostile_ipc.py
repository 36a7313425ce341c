"""The applications of tests/test_hostile_ipc.py: hostile input on the process plumbing.

``python tests/programs/hostile_ipc.py SCENARIO`` runs one scenario and prints what
its test asserts on.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from types import FrameType
from typing import Callable, Dict, List, Optional

from _app import setup

from tests.test_hostile_ipc import garbage_datagrams


def garbage() -> None:
    """Sends 2000 bad datagrams to the attach socket between 100 records; prints the
    listener's pid first, then the flush result and the malformed count,
    then SIGKILLs itself."""
    handler, log = setup("hostile")
    print(handler.stats()["listener_pid"], flush=True)
    ((path, _, _),) = json.loads(os.environ["ASTRALOG_ATTACH"]).values()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.connect(path)
    sock.settimeout(10)
    bad = garbage_datagrams(2000, seed=5)
    for i in range(100):
        log.info("between %d", i, extra={"meta": {"i": i}})
        for data in bad[i * 20 : (i + 1) * 20]:
            sock.send(data)
    clean = handler.flush(20)
    deadline = time.monotonic() + 20  # the socket and the pipe are read in no fixed order
    while handler.stats()["malformed"] < len(bad) and time.monotonic() < deadline:
        time.sleep(0.05)
    print(clean, handler.stats()["malformed"], flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # the owner is gone; its listener must notice


def usr1() -> None:
    """Logs in a loop while a SIGUSR1 handler logs too; prints both counts and the flush."""
    handler, log = setup("hostile")
    handled: List[int] = []
    done: List[int] = []

    def on_usr1(signum: int, frame: Optional[FrameType]) -> None:
        if not done:
            handled.append(1)
            log.warning("from the handler",
                        extra={"meta": {"src": "handler", "i": len(handled)}})

    signal.signal(signal.SIGUSR1, on_usr1)
    sender = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__),
                                                          "usr1_sender.py"), str(os.getpid())])
    main, deadline = 0, time.monotonic() + 20
    while main < 9000 and (main < 3000 or len(handled) < 300):  # 9000 < max_queue_size
        log.info("main %d", main, extra={"meta": {"src": "main", "i": main}})
        main += 1
        if main >= 3000 and time.monotonic() < deadline:
            time.sleep(0.001)  # a loaded machine starves the sender: give it the core
    sender.kill()
    sender.wait()
    done.append(1)
    print(main, len(handled), handler.flush(30), flush=True)


def mine() -> None:
    """50 records of its own; prints the flush result."""
    handler, log = setup("hostile")
    for i in range(50):
        log.info("mine %d", i, extra={"meta": {"i": i}})
    print(handler.flush(20), flush=True)


SCENARIOS: Dict[str, Callable[[], None]] = {
    "garbage": garbage, "usr1": usr1, "mine": mine,
}

if __name__ == "__main__":
    SCENARIOS[sys.argv[1]]()
