"""The application of tests/test_faults.py: logs numbered records through one handler.

``python tests/programs/faults.py SCENARIO`` runs one scenario, named after the part of a
test it plays; each prints what its test asserts on. The handler's settings come from the
environment the test gives: SPOOL (spool_dir), SHUTDOWN (shutdown_timeout), TIMEOUT,
FLUSH_INTERVAL, MAX_QUEUE, and CALLBACKS=1 for the dotted-path on_success/on_error.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import time
from typing import Any, Callable, Dict

import astralog_logging
from astralog_logging._app._owner import OwnerLink

settings: Dict[str, Any] = {}
if "MAX_QUEUE" in os.environ:
    settings["max_queue_size"] = int(os.environ["MAX_QUEUE"])
if os.environ.get("CALLBACKS") == "1":
    settings.update(on_success="callbacks:ok", on_error="callbacks:bad")
handler = astralog_logging.AstralogHandler(
    flush_interval=float(os.environ.get("FLUSH_INTERVAL", "0.2")),
    shutdown_timeout=float(os.environ.get("SHUTDOWN", "5")),
    spool_dir=os.environ.get("SPOOL"), retry_max_delay=0.5,
    timeout=float(os.environ.get("TIMEOUT", "10")), **settings)
root = logging.getLogger()
root.addHandler(handler)
root.setLevel(logging.INFO)
log = logging.getLogger("faults")


def burst(run: str, start: int, stop: int, message: str = "") -> None:
    """Log records ``start`` to ``stop`` of ``run``, numbered in their meta."""
    for i in range(start, stop):
        log.info(message or f"{run} %d", i, extra={"meta": {"run": run, "i": i}})


def listener_pid() -> int:
    """The pid of the listener now serving this process."""
    pid: int = handler.stats()["listener_pid"]
    return pid


def wait_received(count: int) -> None:
    """Until the listener has counted ``count`` records, at most 30 s."""
    deadline = time.monotonic() + 30
    while handler.stats()["received"] < count and time.monotonic() < deadline:
        time.sleep(0.01)


def first() -> None:
    """The run during an outage: everything goes to the spool."""
    burst("first", 0, 1500, "first run %d")
    handler.close()
    print(handler.stats()["spooled"])


def second() -> None:
    """The run after the outage: sends the spool, then its own."""
    burst("second", 0, 500, "second run %d")
    assert handler.flush(30)
    print(handler.stats()["unspooled"])


def storm() -> None:
    """Records spread over a storm of errors."""
    for i in range(3000):
        log.info("storm %d", i, extra={"meta": {"run": "storm", "i": i}})
        if i == 1500:
            time.sleep(0.3)  # pacing, not synchronisation: spread the batches over the storm
    assert handler.flush(60)


def slow() -> None:
    """Records against a drain slower than the client's timeout."""
    burst("slow", 0, 300)
    print(handler.flush(60), handler.stats()["retried"] > 0, flush=True)


def kill() -> None:
    """Prints the listener's pid once it holds 4000 records, waits for a line on stdin (the
    test kills the listener meanwhile), logs 100 more, prints the loss figures."""
    burst("kill", 0, 4000)
    handler.hand_over(time.monotonic() + 10)
    wait_received(4000)
    print(listener_pid(), flush=True)
    sys.stdin.readline()
    burst("kill", 4000, 4100)
    clean = handler.flush(60)  # False after a loss since the previous flush
    figures = handler.stats()
    print(figures["lost"], clean, figures["unconfirmed"], flush=True)


def open_batch() -> None:
    """Kills the listener while its one batch is open (FLUSH_INTERVAL=3600)."""
    burst("open", 0, 300)
    assert handler.hand_over(time.monotonic() + 5)
    wait_received(300)
    assert handler.stats()["sent"] == 0  # its batch stays open for an hour
    os.kill(listener_pid(), signal.SIGKILL)
    assert handler.flush(60)  # False had anything been counted lost


def seq() -> None:
    """Plays a listener that read 100 frames and died before counting them."""
    burst("seq", 0, 200)
    assert handler.flush(30)
    link = handler._link
    # This process made the pipe and reads its end (no public form of either).
    assert isinstance(link, OwnerLink)
    listener = listener_pid()
    os.kill(listener, signal.SIGSTOP)
    burst("seq", 200, 300)
    assert handler.hand_over(time.monotonic() + 5)
    # Play the listener that read these frames and died: take them off the pipe, then kill it.
    while select.select([link.read_fd], [], [], 0)[0]:
        os.read(link.read_fd, 1 << 20)
    os.kill(listener, signal.SIGKILL)
    burst("seq", 300, 400)
    clean = handler.flush(30)
    figures = handler.stats()
    print(figures["lost"], figures["unconfirmed"], clean, flush=True)


def good() -> None:
    """Ten records the drain accepts."""
    for i in range(10):
        log.info("good %d", i)
    assert handler.flush(10)


def rejected() -> None:
    """Five records the drain rejects (wrong token)."""
    for i in range(5):
        log.info("rejected %d", i)
    print(handler.flush(10))


def blocked() -> None:
    """Logs with the listener stopped and stderr a full pipe nobody reads (MAX_QUEUE=50)."""
    listener = listener_pid()
    print(listener, flush=True)
    os.kill(listener, signal.SIGSTOP)  # the pipe fills, then the queue, then records drop
    _read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    try:
        while True:
            os.write(write_end, b"x" * 65536)
    except BlockingIOError:
        pass
    os.set_blocking(write_end, True)
    os.dup2(write_end, 2)  # stderr is now full, and nobody reads it
    for i in range(20000):
        log.info("blocked %d", i, extra={"meta": {"pad": "p" * 200}})
    print(handler.stats()["dropped"] > 0, flush=True)
    os.kill(listener, signal.SIGKILL)
    os._exit(0)


SCENARIOS: Dict[str, Callable[[], None]] = {
    "first": first, "second": second, "storm": storm, "slow": slow, "kill": kill,
    "open": open_batch, "seq": seq, "good": good, "rejected": rejected, "blocked": blocked,
}

if __name__ == "__main__":
    SCENARIOS[sys.argv[1]]()
