"""What writing each record through costs a bare ``os.fork`` child:
``python -m benchmarks.write_through``.

A child of a bare fork writes every record into the queue at emit (``os._exit`` would lose a
buffer). This forks one such child and times blocks of 2,000 ``logger.info`` calls with the
channel in each mode, interleaved (ABBA), reporting the medians of wall time and of process
CPU (the helper thread's writes included: buffered blocks end with a push).
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import time
from typing import Dict, List, Tuple

import astralog_logging
from astralog_logging.testing import LocalDrain

BLOCK = 2000
ROUNDS = 12


def _child(handler: astralog_logging.AstralogHandler, log: logging.Logger) -> str:
    assert handler._link is not None
    channel = handler._link.channel
    assert channel.write_through, "a bare fork child writes through"
    times: Dict[bool, Tuple[List[float], List[float]]] = {True: ([], []), False: ([], [])}
    for rep in range(ROUNDS):
        for mode in (True, False) if rep % 2 else (False, True):
            channel.write_through = mode
            assert handler.flush(30)
            cpu, wall = time.process_time(), time.perf_counter()
            for i in range(BLOCK):
                log.info("user %s did %s", i, "x", extra={"meta": {"a": 1, "b": "two"}})
            if not mode:
                channel.push(time.monotonic() + 5)
            times[mode][0].append((time.perf_counter() - wall) / BLOCK * 1e6)
            times[mode][1].append((time.process_time() - cpu) / BLOCK * 1e6)
    return "  ".join(f"{'write-through' if mode else 'buffered'}: wall "
                     f"{statistics.median(times[mode][0]):.2f} µs, cpu "
                     f"{statistics.median(times[mode][1]):.2f} µs"
                     for mode in (False, True))


def main() -> int:
    with LocalDrain() as drain:
        os.environ.update(ASTRALOG_ENDPOINT=drain.endpoint, ASTRALOG_TOKEN=drain.token,
                          ASTRALOG_PROJECT_ID="bench", ASTRALOG_SERVICE="bench")
        handler = astralog_logging.AstralogHandler(flush_interval=0.2)
        log = logging.getLogger("bench")
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(write_end, _child(handler, log).encode())
            handler.flush(30)
            os._exit(0)
        os.close(write_end)
        os.waitpid(pid, 0)
        print(os.read(read_end, 4096).decode())
        handler.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
