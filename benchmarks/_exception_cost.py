"""``logger.exception``: what formatting the traceback costs, in ours and in logging (the
exception lines of ``python -m benchmarks.hotpath``)."""

from __future__ import annotations

import logging
import sys
from typing import Any, Callable, Dict, List, Tuple

import orjson

from . import _workload
from ._timing import best, helper


def exception_steps(encoder: Any, logger: logging.Logger, n: int) -> List[Tuple[str, float]]:
    """``logger.exception``: what formatting the traceback costs, in ours and in logging."""
    import traceback

    try:
        _workload._handle_request(1)
    except ValueError:
        exc_info = sys.exc_info()
    record = logger.makeRecord(logger.name, logging.ERROR, __file__, 42, "user %s did %s",
                               (1, "login"), exc_info, "handle",
                               {"seq": 1, "tenant": "acme", "plan": "pro"})
    plain = logging.Formatter()
    te = traceback.TracebackException(*exc_info, compact=True)
    text = "".join(te.format())
    entry = orjson.loads(encoder.encode(record, None))
    return [
        ("encoder.encode(record with exc_info)", best(lambda: encoder.encode(record, None), n)),
        *_exception_info(exc_info, encoder, n),
        ("    traceback.TracebackException(...)", best(
            lambda: traceback.TracebackException(*exc_info, compact=True), n)),
        ("    its .format() joined (source lines via linecache)", best(
            lambda: "".join(te.format()), n)),
        ("    scrubbing the stacktrace text (clean)", best(
            lambda: encoder._clean_trace(text), n)),
        ("  orjson.dumps(entry with exception)", best(lambda: orjson.dumps(entry), n)),
        ("stdlib Formatter.formatException (what QueueHandler.prepare pays)", best(
            lambda: plain.formatException(exc_info), n)),
    ]


def _exception_info(exc_info: Any, encoder: Any, n: int) -> List[Tuple[str, float]]:
    """``exception_from_info`` for a raise site logged before (the frame-text cache's case),
    for a first-seen one (the cache emptied first) and with the cache switched off (what
    every call cost before it): medians of rounds that take the three in turn, so a
    slower minute lands on all three."""
    from astralog_logging._encode import _exc

    texts = helper("astralog_logging._encode._frame_texts:_texts")
    use_cache = getattr(_exc, "use_cache", None)  # swapped in and out below

    def seen() -> None:
        _exc.exception_from_info(exc_info, encoder._clean_trace)

    def first_seen() -> None:
        texts.clear()
        seen()

    def uncached() -> None:
        setattr(_exc, "use_cache", lambda te: None)  # noqa: B010
        try:
            seen()
        finally:
            setattr(_exc, "use_cache", use_cache)  # noqa: B010

    timed: List[Tuple[str, Callable[[], None]]] = [
        ("  exception_from_info (TracebackException, format, frames), a site seen before",
         seen)]
    if texts is not None and use_cache is not None:
        timed += [("    the same, a first-seen raise site (frame-text cache emptied)",
                   first_seen),
                  ("    the same, without the frame-text cache", uncached)]
    rounds: Dict[str, List[float]] = {name: [] for name, _ in timed}
    for _ in range(5):
        for name, fn in timed:
            rounds[name].append(best(fn, n, rounds=2))
    return [(name, sorted(found)[len(found) // 2]) for name, found in rounds.items()]
