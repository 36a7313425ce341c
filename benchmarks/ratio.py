"""Why the emit ratio moves: ``python -m benchmarks.ratio``.

One process logs the benchmark's record through three handlers in turn, round after round:
a NullHandler (the floor), a handler that only encodes (``EntryEncoder.encode``, no queue,
no listener) and the AstralogHandler itself (delivering to a receiver process, flushed at
the end of each run). Each is timed in the calling thread's CPU (``time.thread_time``) and,
for ours, in the whole process's too, so the background threads' share shows. Ratios are
taken within a round and their median printed with their range: the floor and the others
a few seconds apart, on whatever speed the machine has that minute.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from typing import Callable, Dict, List, Optional, Tuple

from . import _workload
from ._receiving import our_handler


class _EncodeOnly(logging.Handler):
    """Encodes each record and drops the bytes: the encoder's share of a call."""

    def __init__(self) -> None:
        super().__init__()
        from astralog_logging._encode._entry import EntryEncoder

        self._encode = EntryEncoder().encode

    def emit(self, record: logging.LogRecord) -> None:
        self._encode(record, None)


def _run(logger: logging.Logger, handler: logging.Handler, n: int,
         settle: Callable[[], object]) -> Tuple[float, float]:  # fmt: skip
    """µs per call: (calling thread's CPU, process CPU including ``settle``)."""
    logger.handlers[:] = [handler]
    process, thread = time.process_time_ns(), time.thread_time_ns()
    _workload.emit(logger, 0, n)
    thread = time.thread_time_ns() - thread
    settle()
    return thread / n / 1e3, (time.process_time_ns() - process) / n / 1e3


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ratio", description=__doc__)
    p.add_argument("--rounds", type=int, default=10, help="rounds of the three runs")
    p.add_argument("-n", type=int, default=20_000, help="calls per run")
    args = p.parse_args(argv)
    logger = _workload.app_logger()
    with our_handler(logger, max_queue_size=max(10_000, args.n)) as (ours, _):
        cases: List[Tuple[str, logging.Handler, Callable[[], object]]] = [
            ("floor (NullHandler)", logging.NullHandler(), lambda: None),
            ("encode only", _EncodeOnly(), lambda: None),
            ("astralog-logging", ours, lambda: ours.flush(timeout=60)),
        ]
        found: Dict[str, List[Tuple[float, float]]] = {name: [] for name, _, _ in cases}
        for _name, handler, settle in cases:  # warm-up: the listener starts here
            _run(logger, handler, 2000, settle)
        for _ in range(args.rounds):
            for name, handler, settle in cases:
                found[name].append(_run(logger, handler, args.n, settle))
        logger.handlers[:] = [ours]  # as it came, for our_handler to remove
    floor = [thread for thread, _ in found["floor (NullHandler)"]]
    print(f"{args.rounds} rounds x {args.n:,} calls; medians, ratios taken within a round")
    for name, runs in found.items():
        thread = [t for t, _ in runs]
        ratios = [t / f for t, f in zip(thread, floor)]
        line = (f"{name:22s} thread {statistics.median(thread):6.2f} µs  "
                f"÷ floor {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})")
        if name == "astralog-logging":
            whole = [p / t for t, p in runs]
            line += f"  process ÷ thread {statistics.median(whole):.3f}"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
