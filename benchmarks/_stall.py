"""A stall with small bounds: emit stays non-blocking, drops are counted and said, sparingly.

Two variants, one job each. ``drain``: the receiver takes every request and never answers,
so the listener's requests time out, its batches are given up (``failed``) and its memory
bound fills (``listener_dropped``). ``listener``: the listener process is SIGSTOPped, so the
pipe fills and the app's own bound, ``max_queue_size``, drops (``dropped``). Either way the
app logs at a steady rate, every call timed, after a healthy period that gives the baseline.

Then the stall is lifted and the run waits until every record either arrived or is counted
lost by the handler: anything else is an uncounted loss and voids the run. The package's
stderr lines, the app's and the listener's, are captured (``_stderr``) to check its promise
of at most one line per 10 s per kind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from array import array
from typing import Any, Callable, Dict, Optional, Tuple

from . import _loss
from ._receiving import ROOT, Receiver, child_env, end_child, kind_for
from ._stderr import StderrCapture, reports
from .systems.ours import Ours

MIB = 1024 * 1024
# Small bounds so a stall of seconds overflows them; the smallest max_buffer_bytes allowed is
# 1 MiB. A 1 s timeout and 2 retries give a batch up within ~5 s of a drain that never answers.
SETTINGS: Dict[str, Any] = {"max_queue_size": 1_000, "max_buffer_bytes": MIB, "timeout": 1.0,
                            "max_retries": 2, "retry_max_delay": 1.0}
STEP = 0.05  # seconds between the producer's small bursts
WARMUP = 200
SETTLE_TIMEOUT = 120.0  # seconds after the stall for every record to be delivered or counted
VARIANTS = {"drain": "drain stalled", "listener": "listener stopped"}


def run(system_name: str, _system: Any, opts: Dict[str, Any]) -> Dict[str, Any]:
    variant = str(opts["variant"])
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {sorted(VARIANTS)}; got {variant!r}")
    system = Ours(**SETTINGS)
    with Receiver(kind_for(system.receiver, opts)) as receiver:
        with StderrCapture() as capture:  # before setup: the listener inherits fd 2
            system.setup(receiver.url, gzip=True, burst=0)
            try:
                result = _measure(system, receiver, variant, opts)
            finally:
                system.close()  # the listener exits, so the capture sees the end of its pipe
        result.update(system=system_name, label=system.label, variant=variant,
                      title=VARIANTS[variant], settings=SETTINGS,
                      reports=reports(capture.snapshot(), result.pop("t_stall")))
        return result


def _measure(system: Ours, receiver: Receiver, variant: str,
             opts: Dict[str, Any]) -> Dict[str, Any]:
    seconds, rate = float(opts["seconds"]), float(opts["rate"])
    system.emit(0, WARMUP)
    system.flush()
    if not receiver.counters.wait_distinct(WARMUP, 60):
        raise RuntimeError("the warm-up records did not arrive from a healthy drain")
    listener = system.listener_pid()
    if variant == "listener" and listener is None:
        raise RuntimeError("no listener process to stop")
    healthy: array[int] = array("q")
    stalled: array[int] = array("q")
    seq = _paced(system, WARMUP, float(opts["baseline"]), rate, healthy)
    stall, lift = _stall_controls(receiver, variant, listener, seconds + 60)
    t_stall = time.monotonic()
    try:
        stall()
        seq = _paced(system, seq, seconds, rate, stalled)
        at_end = system.loss_counts()
    finally:
        lift()
    t_back = time.monotonic()
    system.flush()  # bounded; the listener has taken in or given up all it was handed
    settled = _wait(lambda: receiver.counters.get("distinct")
                    + sum(system.loss_counts().values()) >= seq, SETTLE_TIMEOUT)
    counts = system.loss_counts()
    return {
        "seconds": seconds,
        "rate": rate,
        "records": seq,
        "arrived": receiver.counters.get("distinct"),
        "losses_at_end_of_stall": at_end,
        "losses": counts,
        "settled": settled,
        "recovery_seconds": time.monotonic() - t_back,
        "held_requests": receiver.counters.get("stalled_requests"),
        "emit_healthy_us": _spread(healthy),
        "emit_stalled_us": _spread(stalled),
        "loss": _loss.accounted(receiver.counters, seq, counts),
        "t_stall": t_stall,
    }


def _stall_controls(receiver: Receiver, variant: str, listener: Optional[int],
                    limit: float) -> Tuple[Callable[[], None], Callable[[], None]]:
    """How to start and to lift this variant's stall; lifting is safe to call always."""
    if variant == "drain":
        return (lambda: receiver.stall(True)), (lambda: receiver.stall(False))
    assert listener is not None
    pause = _Pause(listener, limit)
    return pause.start, pause.lift


class _Pause:
    """The listener SIGSTOPped by a guard process (``_pause``) that resumes it even if this
    worker is killed; ``lift`` resumes it from here too, in case the guard could not."""

    def __init__(self, pid: int, limit: float) -> None:
        self.pid, self.limit = pid, limit
        self.guard: Optional[subprocess.Popen[str]] = None

    def start(self) -> None:
        self.guard = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._pause", str(self.pid), str(self.limit)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=child_env(),
            cwd=ROOT)
        assert self.guard.stdout is not None
        if self.guard.stdout.readline().strip() != "stopped":
            raise RuntimeError("the guard did not stop the listener")

    def lift(self) -> None:
        guard, self.guard = self.guard, None
        if guard is None:
            return
        end_child(guard)
        # It may have died meanwhile: then the handler counts what it held as lost.
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGCONT)


def _paced(system: Ours, seq: int, seconds: float, rate: float, took: array[int]) -> int:
    """Log ``rate`` records a second for ``seconds`` in small bursts, timing every call."""
    per_step = max(int(rate * STEP), 1)
    t0 = time.monotonic()
    next_step = t0
    for _ in range(max(int(seconds / STEP), 1)):
        took.extend(system.emit_timed(seq, per_step))
        seq += per_step
        next_step += STEP
        if time.monotonic() - t0 >= seconds:
            break  # calls that block would stretch the run; the time bound ends it anyway
        time.sleep(max(next_step - time.monotonic(), 0))
    return seq


def _wait(condition: Callable[[], bool], timeout: float, poll: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True


def _spread(took: array[int]) -> Dict[str, Any]:
    """Per-call wall time in µs: the median, the tail, the worst."""
    ns = sorted(took)
    if not ns:
        return {"calls": 0}

    def at(q: float) -> float:
        return ns[min(len(ns) - 1, int(len(ns) * q))] / 1e3

    return {"calls": len(ns), "p50": at(0.5), "p99": at(0.99), "p999": at(0.999),
            "max": ns[-1] / 1e3}
