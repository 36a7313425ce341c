"""Where ``AstralogHandler.emit`` spends its time: ``python -m benchmarks.hotpath``.

Times each step of the hot path, and of the listener's per-record work, in isolation on one
pre-built record (the benchmark's message), best of several rounds so other load on the
machine counts as little as it can, then profiles whole ``logger.info`` calls with cProfile.
It measures; it fixes nothing.
The steps re-enact the encoder's work with its own helpers, so when ``_entry.py`` changes,
the sum of the steps and ``encode()`` itself drift apart: compare the two lines.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import orjson

from . import _workload
from ._exception_cost import exception_steps
from ._receiving import TOKEN, our_handler
from ._timing import best, helper


def _record(logger: logging.Logger, seq: int = 12345) -> logging.LogRecord:
    return logger.makeRecord(logger.name, logging.INFO, __file__, 42, "user %s did %s",
                             (seq, "login"), None, "handle",
                             {"seq": seq, "tenant": "acme", "plan": "pro"})


def steps(handler: Any, logger: logging.Logger, n: int) -> List[Tuple[str, float]]:
    """Per-call µs of each step, on one record, pipe writes included where they happen.

    Lines marked "replica" re-enact a piece of ``_encode`` rather than call it; a step
    whose helper is no longer where this tool looks is left out.
    """
    record = _record(logger)
    encoder = handler._encoder  # private on purpose: this tool looks inside
    channel = handler._link.channel
    data = encoder.encode(record, None)
    attrs = record.__dict__
    tail_keys = helper("astralog_logging._encode._record:tail_keys")
    reserved = helper("astralog_logging._encode._record:RESERVED_ATTRS") or frozenset()
    levels = helper("astralog_logging._encode._record:LEVELS") or {}
    host = helper("astralog_logging._encode._record:HOST") or "h"
    fields = helper("astralog_logging._context:_fields")
    faithful = helper("astralog_logging._encode._values:faithful")
    meta: Dict[str, Any] = {k: v for k, v in attrs.items()
                            if k in ("seq", "tenant", "plan")}
    entry = orjson.loads(data)
    scrubber = encoder._scrubber

    def meta_build() -> None:
        m = encoder._meta.copy()
        for key in tail_keys(attrs):
            if key not in reserved:
                m[key] = attrs[key]

    def make_record() -> None:
        _record(logger)

    message = record.getMessage()

    def message_guard() -> bool:
        return len(message) > 131072 or ("://" in message or "=" in message
                                         or "earer" in message or "EARER" in message)

    def timestamp() -> str:
        micros = int(record.created * 1e6)
        second = micros // 1_000_000
        return f"2026-11-24T10:00:00.{micros - second * 1_000_000:06d}Z"

    def entry_dict() -> Dict[str, Any]:
        return {"timestamp": "x", "level": levels.get(record.levelname),
                "message": message, "logger": record.name, "host": host,
                "pid": record.process or os.getpid(), "process_name": record.processName,
                "thread_name": record.threadName,
                "source": {"file": record.pathname, "line": record.lineno,
                           "function": record.funcName}}

    null = logging.getLogger("bench.floor")
    null.propagate = False
    null.addHandler(logging.NullHandler())
    null.setLevel(logging.INFO)

    def floor_call() -> None:
        null.info("user %s did %s", 1, "login", extra={"seq": 1, "tenant": "acme", "plan": "pro"})

    optional: List[Tuple[str, Any, Callable[[], Any]]] = [
        ("    tail_keys(record.__dict__)", tail_keys, lambda: tail_keys(attrs)),
        ("    meta: copy defaults + extras", tail_keys, meta_build),
        ("    contextvar get + otel module lookup", fields,
         lambda: (fields.get(), sys.modules.get("opentelemetry.trace"))),
        ("    orjson.dumps(entry)", faithful,
         lambda: orjson.dumps(entry, default=faithful, option=orjson.OPT_PASSTHROUGH_DATACLASS)),
    ]
    found: List[Tuple[str, float]] = [
        ("logger.info -> NullHandler (floor, for scale)", best(floor_call, n)),
        ("  of which makeRecord (LogRecord.__init__ + extra)", best(make_record, n)),
        ("handler.handle(record): filter + emit, all of it", best(
            lambda: handler.handle(record), n)),
        ("  encoder.encode(record)", best(lambda: encoder.encode(record, None), n)),
        ("    record.getMessage()", best(record.getMessage, n)),
        ("    message credential guard (replica: 4 substring scans)", best(message_guard, n)),
        ("    timestamp text (replica: cached second + f-string)", best(timestamp, n)),
        ("    entry dict literal (replica: 9 fields + source)", best(entry_dict, n)),
        ("    scrubber.clean_meta(meta)", best(lambda: scrubber.clean_meta(dict(meta), []),
                                                n)),
        ("      (dict(meta) copy inside the line above)", best(lambda: dict(meta), n)),
        *[(name, best(fn, n)) for name, needed, fn in optional if needed is not None],
        ("  channel.put(bytes) (lock, append, frame+write(2) every ~10)", best(
            lambda: channel.put(data), n // 4)),
        ("    os.write of one full frame, per record it carries", _frame_write(data, n)),
    ]
    found += exception_steps(encoder, logger, n // 10)
    return found


def _frame_write(data: bytes, n: int) -> float:
    """Writing one full frame to a pipe, per record the frame carries (reads not timed)."""
    from astralog_logging._ipc import _wire

    per_frame = max(_wire.MAX_BODY // (len(data) + 1), 1)
    frame = _wire.frame(_wire.RECORDS, 1, 1, b"\n".join([data] * per_frame))
    r, w = os.pipe()  # 64 KiB: room for 15 frames between drains
    took, frames = 0, 0
    try:
        while frames < n // per_frame:
            t0 = time.perf_counter_ns()
            for _ in range(15):
                os.write(w, frame)
            took += time.perf_counter_ns() - t0
            frames += 15
            while len(os.read(r, 1 << 16)) == 1 << 16:
                pass
    finally:
        os.close(r)
        os.close(w)
    return took / frames / per_frame / 1e3


class _TimedOs:
    """Stands in for ``os`` inside the channel module, timing each write(2) (wall time)."""

    def __init__(self) -> None:
        self.writes: List[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def write(self, fd: int, data: bytes) -> int:
        t0 = time.perf_counter_ns()
        try:
            return os.write(fd, data)
        finally:
            self.writes.append(time.perf_counter_ns() - t0)


def listener_steps(data: bytes, url: str, batch: int = 1000) -> List[Tuple[str, float]]:
    """Per-record CPU µs of the listener's steps, re-enacted on this process's entries.

    Uses the listener's own classes; only the thread hand-off and the shared counters are
    left out, so the sum undercuts the listener's measured CPU per record by their cost.
    """
    from astralog_logging._ipc import _wire
    from astralog_logging._listener._batching import Batcher
    from astralog_logging._listener._transport import Envelope, Transport

    per_frame = max(_wire.MAX_BODY // (len(data) + 1), 1)
    frame = _wire.frame(_wire.RECORDS, 1, 1, b"\n".join([data] * per_frame))
    stream = frame * (batch // per_frame + 1)
    records = (batch // per_frame + 1) * per_frame
    entries = [data] * batch

    def read_and_split() -> None:
        for _, _, _, body in _wire.FrameReader().feed(stream):
            body.split(b"\n")

    def batching() -> None:
        batcher = Batcher(batch, 1 << 20, 1.0)
        add = batcher.add
        for entry in entries:
            add(entry, 0.0)

    transport = Transport(url, TOKEN, timeout=10)
    plain = Envelope("bench", "bench", gzip=False)
    packed = Envelope("bench", "bench", gzip=True)
    body = plain.body("0" * 32, entries)
    try:
        return [
            ("listener: read frames + split into entries", best(read_and_split, 20) / records),
            ("listener: Batcher.add per entry", best(batching, 20) / batch),
            ("listener: envelope join (no gzip)", best(
                lambda: plain.body("0" * 32, entries), 20) / batch),
            ("listener: envelope join + gzip level 1", best(
                lambda: packed.body("0" * 32, entries), 20) / batch),
            ("listener: requests POST of a plain batch (counting receiver)", best(
                lambda: transport.send(body, "0" * 32, False), 10) / batch),
        ]
    finally:
        transport.close()


def _pct(values: List[int], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))] / 1e3 if values else 0.0


def latency(logger: logging.Logger, n: int) -> str:
    """How many calls are slow (wall time), and how many of those a pipe write explains."""
    from astralog_logging._app import _channel

    timed = _TimedOs()
    setattr(_channel, "os", timed)  # noqa: B010 (a diagnostic swaps the module's os)
    try:
        took = sorted(_workload.emit_timed(logger, 10_000_000, n))
    finally:
        setattr(_channel, "os", os)  # noqa: B010
    writes = sorted(timed.writes)
    slow = [t for t in took if t > 100_000]
    slow_writes = [t for t in writes if t > 100_000]
    return (f"{n} calls: p50 {_pct(took, .5):.1f} µs, p99 {_pct(took, .99):.1f} µs, "
            f"{len(slow)} over 100 µs totalling {sum(slow) / 1e6:.1f} ms\n"
            f"{len(writes)} write(2) calls from any thread: p50 {_pct(writes, .5):.1f} µs, "
            f"p99 {_pct(writes, .99):.1f} µs, {len(slow_writes)} over 100 µs totalling "
            f"{sum(slow_writes) / 1e6:.1f} ms")


def profile(logger: logging.Logger, n: int, top: int) -> str:
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    _workload.emit(logger, 0, n)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.hotpath", description=__doc__)
    p.add_argument("-n", type=int, default=20_000, help="calls per timing round")
    p.add_argument("--top", type=int, default=25, help="cProfile rows to show")
    args = p.parse_args(argv)
    logger = _workload.app_logger()
    with our_handler(logger) as (handler, receiver):
        _workload.emit(logger, 0, 2000)  # the listener and the channel thread are up
        handler.flush(timeout=60)
        data = handler._encoder.encode(_record(logger), None)
        assert data is not None  # None only when a before_send hook drops the record
        for name, us in [*steps(handler, logger, args.n),
                         *listener_steps(data, receiver.url + "/v1/drain")]:
            print(f"{us:8.2f} µs  {name}")
        print()
        handler.flush(timeout=60)
        print(latency(logger, args.n))
        handler.flush(timeout=60)
        print()
        print(profile(logger, args.n, args.top))
        handler.flush(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
