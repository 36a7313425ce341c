"""The applications of tests/test_processes.py: process lifecycles around one handler.

``python tests/programs/processes.py SCENARIO [START_METHOD]`` runs one scenario and prints
what its test asserts on. The handler is made at import, so that spawn and forkserver
children (which import this file as __mp_main__) make theirs as the application would.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Dict, List

import astralog_logging
from tests._procs import listeners_under

handler = astralog_logging.AstralogHandler(flush_interval=0.2)
root = logging.getLogger()
root.addHandler(handler)
root.setLevel(logging.INFO)
log = logging.getLogger("proc")


def work(n: int) -> int:
    """A pool task: ``n`` records; returns how many listeners the whole tree has."""
    for i in range(n):
        log.info("child %d", i, extra={"meta": {"src": os.environ["START_METHOD"]}})
    return len(listeners_under(int(os.environ["ROOT_PID"])))


def pools(method: str) -> None:
    """ProcessPoolExecutor and Pool children of ``method``; prints the listener counts."""
    os.environ["ROOT_PID"] = str(os.getpid())
    os.environ["START_METHOD"] = method
    ctx = mp.get_context(method)
    init: Dict[str, Any] = dict(initializer=astralog_logging.init_worker, initargs=(handler,))
    with ProcessPoolExecutor(2, mp_context=ctx, **init) as executor:
        seen = list(executor.map(work, [500] * 4))
    with ctx.Pool(2, **init) as pool:
        seen += pool.map(work, [500] * 4)
        pool.close()
        pool.join()
    print(sorted(set(seen)))


def burst() -> None:
    """2000 numbered records."""
    for i in range(2000):
        log.info("burst %d", i, extra={"meta": {"i": i}})


def child_returns() -> None:
    """A forked multiprocessing child logs and returns at once."""
    p = mp.get_context("fork").Process(target=burst)
    p.start()
    p.join()
    assert p.exitcode == 0


def spin(tag: str, n: int) -> None:
    """``n`` records tagged ``tag``."""
    for i in range(n):
        log.info("%s %d", tag, i, extra={"meta": {"tag": tag, "i": i}})


def killed_producers() -> None:
    """30 forked producers killed mid-stream beside 2 that log 3000 records and exit."""
    victims = []
    for _ in range(30):
        pid = os.fork()
        if pid == 0:
            while True:
                spin("victim", 1000)
        victims.append(pid)
    survivors: List[int] = []
    for s in range(2):
        pid = os.fork()
        if pid == 0:
            spin(f"s{s}", 3000)
            logging.shutdown()
            os._exit(0)
        survivors.append(pid)
    deadline = time.monotonic() + 30  # kill them mid-stream: once the listener hears them
    while handler.stats()["received"] < 5000 and time.monotonic() < deadline:
        time.sleep(0.01)
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    for pid in victims:
        os.waitpid(pid, 0)
    started = time.monotonic()
    for pid in survivors:
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    print("survivors-exited-in", round(time.monotonic() - started, 1))


def restarted() -> None:
    """Prints the listener's pid after 200 records, waits for a line on stdin (the test
    kills the listener meanwhile), logs 200 more."""
    for i in range(200):
        log.info("before %d", i, extra={"meta": {"i": i}})
    assert handler.flush(10)
    print(listeners_under(os.getpid())[0], flush=True)
    sys.stdin.readline()
    for i in range(200, 400):
        log.info("after %d", i, extra={"meta": {"i": i}})
    assert handler.flush(20), handler.stats()
    print(handler.stats()["listener_alive"], flush=True)


def owner_killed() -> None:
    """3000 records handed over, then "handed", then waits to be killed."""
    for i in range(3000):
        log.info("r %d", i, extra={"meta": {"i": i}})
    handler.hand_over(time.monotonic() + 10)
    print("handed", flush=True)
    time.sleep(60)


def idle_owner() -> None:
    """Kills the listener, lets a forked worker log 3000 records, stays idle meanwhile."""
    log.info("owner", extra={"meta": {"i": -1}})
    assert handler.flush(10)
    os.kill(listeners_under(os.getpid())[0], signal.SIGKILL)
    pid = os.fork()
    if pid == 0:
        for i in range(3000):
            log.info("worker %d", i, extra={"meta": {"i": i}})
        handler.hand_over(time.monotonic() + 10)
        os._exit(0)
    os.waitpid(pid, 0)
    deadline = time.monotonic() + 20
    while handler.stats()["received"] < 3001 and time.monotonic() < deadline:
        time.sleep(0.05)  # the owner stays idle: no emit, no flush


SCENARIOS: Dict[str, Callable[..., None]] = {
    "pools": pools, "child_returns": child_returns, "killed_producers": killed_producers,
    "restarted": restarted, "owner_killed": owner_killed, "idle_owner": idle_owner,
}

if __name__ == "__main__":
    SCENARIOS[sys.argv[1]](*sys.argv[2:])
