"""End to end: records per second from N producer processes until the receiver has them all.

The benchmark process plays the application's parent: it configures the system (or, for
systems that ship from each process on their own, lets every child configure its copy after
the fork), forks the producers, releases them together, and stops the clock when the
receiver holds every record. Besides the rate it reports the CPU every process spent per
record (the receiver excluded) and, where there is one, the listener's share.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Any, Dict, List

from . import _loss, _proc, _workload
from ._counter import GIVE_UP_EVERY
from ._receiving import Receiver, kind_for
from .systems import System

_FORK = multiprocessing.get_context("fork")  # how servers make their workers
WARMUP = 200


def _producer(system: System, index: int, count: int, url: str, gzip: bool,
              gate: Any, report: Any) -> None:
    if system.setup_per_process:
        system.setup(url, gzip=gzip, burst=count)
    t0 = time.process_time()
    gate.wait()
    system.emit(index * _workload.PRODUCER_STRIDE, count)
    system.child_done()
    report.put(time.process_time() - t0)


def run(system_name: str, system: System, opts: Dict[str, Any]) -> Dict[str, Any]:
    producers, total, gzip = int(opts["producers"]), int(opts["total"]), bool(opts["gzip"])
    per = total // producers
    total = per * producers
    with Receiver(kind_for(system.receiver, opts)) as receiver:
        warm = 0
        if not system.setup_per_process:
            # Configure in the parent and let the listener finish starting before the clock.
            system.setup(receiver.url, gzip=gzip, burst=per)
            warm = WARMUP
            system.emit(producers * _workload.PRODUCER_STRIDE, warm)
            system.flush()
            receiver.counters.wait_distinct(warm, 60)
        gate = _FORK.Barrier(producers + 1)
        report = _FORK.SimpleQueue()
        children = [_FORK.Process(target=_producer, daemon=True, args=(
            system, i, per, receiver.url, gzip, gate, report)) for i in range(producers)]
        for child in children:
            child.start()
        listener = system.listener_pid()
        listener_cpu0 = _proc.cpu_seconds(listener) if listener else 0.0
        own_cpu0 = time.process_time()
        receiver_cpu0 = _proc.cpu_seconds(receiver.pid)
        gate.wait(timeout=120)
        t0 = time.perf_counter()
        arrived = _wait(system, receiver, children, warm + total, timeout=120 + total * 1e-3)
        elapsed = time.perf_counter() - t0
        for child in children:
            child.join(60)
        child_cpu: List[float] = [report.get() for _ in children if not report.empty()]
        listener_cpu = _proc.cpu_seconds(listener) - listener_cpu0 if listener else None
        own_cpu = time.process_time() - own_cpu0
        receiver_cpu = _proc.cpu_seconds(receiver.pid) - receiver_cpu0
        shared = not system.setup_per_process
        verdict = _loss.verdict(receiver.counters, warm + total,
                                system.losses() if shared else {})
        if shared:
            system.close()
        if not arrived:
            verdict["ok"] = False
        cpu_all = sum(child_cpu) + own_cpu + (listener_cpu or 0.0)
        return {
            "system": system_name,
            "label": system.label,
            "producers": producers,
            "gzip": gzip,
            "records": total,
            "seconds": elapsed,
            "records_per_s": total / elapsed if arrived else None,
            "cpu_us_per_record": cpu_all / total * 1e6,
            "listener_us_per_record": (listener_cpu / total * 1e6
                                       if listener_cpu is not None else None),
            "receiver_us_per_record": receiver_cpu / total * 1e6,
            "loss": verdict,
        }


def _wait(system: System, receiver: Receiver, children: List[Any], total: int,
          timeout: float) -> bool:
    """Poll the receiver; once every producer is gone, flush the parent's side once."""
    deadline = time.monotonic() + timeout
    next_ask = time.monotonic() + GIVE_UP_EVERY
    flushed = False
    while receiver.counters.get("distinct") < total:
        now = time.monotonic()
        if now >= deadline or receiver.counters.get("rejected"):
            return False
        if not system.setup_per_process and now >= next_ask:
            next_ask = now + GIVE_UP_EVERY
            if any(system.losses().values()):
                return False  # the system dropped records: they will never arrive
        if not flushed and not any(c.is_alive() for c in children):
            flushed = True
            if not system.setup_per_process:
                system.flush()  # e.g. loguru's queue thread lives here
        time.sleep(0.002)
    return True
