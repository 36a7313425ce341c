"""Emit cost: what one log call costs the application process, all of its threads included.

Each run times the loop *and* the flush of what the loop queued, in process CPU time
(``time.process_time`` counts every thread), and stops the clock only when the receiver has
every record: a handler that defers its work to a background thread is billed for it all
the same, and one that drops records has no figure. The median of several runs is reported.
Per-call latency (the calling thread's wall time) comes from a separate run, so the timer
calls do not inflate the CPU figure.
"""

from __future__ import annotations

import statistics
import time
from contextlib import nullcontext
from typing import Any, Callable, ContextManager, Dict, List, Optional

from . import _loss, _proc
from ._receiving import Receiver, kind_for
from .systems import System

WAIT_BASE = 60.0  # seconds a flushed run may take to arrive, plus per-record time below


def _arrival_timeout(count: int) -> float:
    return WAIT_BASE + count * 500e-6


class Lost(Exception):
    """A run lost records: its figures, and every later one, are void."""


class Session:
    """One system, one receiver, and a sequence counter that never repeats a record id."""

    def __init__(self, system: System, receiver: Optional[Receiver]) -> None:
        self.system = system
        self.receiver = receiver
        self.seq = 0
        self.verdicts: List[Dict[str, Any]] = []

    def settle(self) -> bool:
        """Flush, then wait until the receiver has everything sent so far."""
        self.system.flush()
        if self.receiver is None:
            return True
        return self.receiver.counters.wait_distinct(self.seq, _arrival_timeout(self.seq),
                                                    give_up=self.dropped)

    def dropped(self) -> bool:
        return any(self.system.losses().values())

    def check(self) -> None:
        """Record this run's verdict; stop the scenario at the first run that lost records."""
        if self.receiver is not None:
            verdict = _loss.verdict(self.receiver.counters, self.seq, self.system.losses())
            self.verdicts.append(verdict)
            if not verdict["ok"]:
                raise Lost(verdict)

    def cpu_run(self, loop: Callable[[int, int], Any], count: int) -> float:
        """CPU microseconds per call for one run of ``loop``, flush included."""
        start = self.seq
        t0 = time.process_time()
        loop(start, count)
        self.seq += count
        self.settle()
        took = time.process_time() - t0
        self.check()
        return took / count * 1e6


def run(system_name: str, system: System, opts: Dict[str, Any]) -> Dict[str, Any]:
    try:
        return _run(system_name, system, opts)
    except Lost as lost:
        return {"system": system_name, "label": system.label, "notes": system.notes,
                "cpu_us_median": None, "exc_us_median": None, "p50_us": None,
                "p99_us": None, "loss": lost.args[0]}


def _run(system_name: str, system: System, opts: Dict[str, Any]) -> Dict[str, Any]:
    count, runs = int(opts["count"]), int(opts["runs"])
    exc_count, exc_runs = int(opts["exc_count"]), int(opts["exc_runs"])
    receiver_cm: ContextManager[Any] = (Receiver(kind_for(system.receiver, opts)) if system.receiver
                                        else nullcontext(None))
    with receiver_cm as receiver:
        url = receiver.url if receiver else "http://127.0.0.1:9"
        system.setup(url, gzip=bool(opts.get("gzip", True)), burst=max(count, exc_count))
        s = Session(system, receiver)
        s.cpu_run(system.emit, int(opts["warmup"]))  # threads, connections, caches
        s.verdicts.clear()
        listener = system.listener_pid()
        listener_cpu0 = _proc.cpu_seconds(listener) if listener else 0.0
        receiver_cpu0 = _proc.cpu_seconds(receiver.pid) if receiver else 0.0
        emitted0 = s.seq
        cpu = [s.cpu_run(system.emit, count) for _ in range(runs)]
        forwarded = s.seq - emitted0
        listener_cpu = _proc.cpu_seconds(listener) - listener_cpu0 if listener else None
        receiver_cpu = _proc.cpu_seconds(receiver.pid) - receiver_cpu0 if receiver else None
        exc = [s.cpu_run(system.emit_exception, exc_count) for _ in range(exc_runs)]
        start = s.seq
        took = system.emit_timed(start, count)
        s.seq += count
        s.settle()
        s.check()
        lat = sorted(took)
        system.close()
        result: Dict[str, Any] = {
            "system": system_name,
            "label": system.label,
            "notes": system.notes,
            "cpu_us": cpu,
            "cpu_us_median": statistics.median(cpu),
            "exc_us": exc,
            "exc_us_median": statistics.median(exc),
            "p50_us": lat[len(lat) // 2] / 1e3,
            "p99_us": lat[min(len(lat) - 1, int(len(lat) * 0.99))] / 1e3,
            "listener_us_per_record": (listener_cpu / forwarded * 1e6
                                       if listener_cpu is not None else None),
            "receiver_us_per_record": (receiver_cpu / forwarded * 1e6
                                       if receiver_cpu is not None else None),
            "loss": _loss.merge(s.verdicts) if receiver else {"ok": True, "n/a": True},
        }
        return result
