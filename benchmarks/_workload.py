"""The one log call every system is measured on, and the loops that make it.

``logger.info("user %s did %s", uid, action, extra={3 small fields})`` as issue 6 fixes it.
``uid`` is a sequence number that is unique across a whole benchmark, and it is repeated
in the ``seq`` field so that a receiver can tell exactly which records arrived (a count
alone would let a duplicate hide a loss). Loops are written out per calling style rather
than behind a shared callback, so no system pays for an extra Python call the others do not.
"""

from __future__ import annotations

import logging
import time
from array import array
from typing import Any

ACTIONS = ("login", "logout", "checkout", "search")
TENANT = "acme"
PLAN = "pro"
LOGGER_NAME = "bench.app"
PRODUCER_STRIDE = 10_000_000  # seq ranges of different producer processes never overlap


def expected_prefix(seq: int) -> str:
    """What a delivered message must start with: the arguments were applied."""
    return f"user {seq} did {ACTIONS[seq & 3]}"


def app_logger() -> logging.Logger:
    """A logger of its own, so nothing else configured in the process sees the records."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


# -- stdlib logging ------------------------------------------------------------------------

def emit(logger: logging.Logger, start: int, count: int) -> None:
    info = logger.info
    for seq in range(start, start + count):
        info("user %s did %s", seq, ACTIONS[seq & 3],
             extra={"seq": seq, "tenant": TENANT, "plan": PLAN})


def emit_timed(logger: logging.Logger, start: int, count: int) -> array[int]:
    """Like ``emit``, and the wall time of each call in ns (the timer costs ~0.1 us a call)."""
    info = logger.info
    clock = time.perf_counter_ns
    took = array("q", bytes(8 * count))
    for i, seq in enumerate(range(start, start + count)):
        t0 = clock()
        info("user %s did %s", seq, ACTIONS[seq & 3],
             extra={"seq": seq, "tenant": TENANT, "plan": PLAN})
        took[i] = clock() - t0
    return took


def emit_exception(logger: logging.Logger, start: int, count: int) -> None:
    exception = logger.exception
    for seq in range(start, start + count):
        try:
            _handle_request(seq)
        except ValueError:
            exception("user %s did %s", seq, ACTIONS[seq & 3],
                      extra={"seq": seq, "tenant": TENANT, "plan": PLAN})


# -- loguru (its call style: brace formatting, keyword arguments become extra fields) -----

def emit_loguru(logger: Any, start: int, count: int) -> None:
    info = logger.info
    for seq in range(start, start + count):
        info("user {} did {}", seq, ACTIONS[seq & 3], seq=seq, tenant=TENANT, plan=PLAN)


def emit_timed_loguru(logger: Any, start: int, count: int) -> array[int]:
    info = logger.info
    clock = time.perf_counter_ns
    took = array("q", bytes(8 * count))
    for i, seq in enumerate(range(start, start + count)):
        t0 = clock()
        info("user {} did {}", seq, ACTIONS[seq & 3], seq=seq, tenant=TENANT, plan=PLAN)
        took[i] = clock() - t0
    return took


def emit_exception_loguru(logger: Any, start: int, count: int) -> None:
    exception = logger.exception
    for seq in range(start, start + count):
        try:
            _handle_request(seq)
        except ValueError:
            exception("user {} did {}", seq, ACTIONS[seq & 3], seq=seq, tenant=TENANT,
                      plan=PLAN)


# -- a small, realistic call stack to fail in ---------------------------------------------

def _handle_request(seq: int) -> None:
    _load_user(seq)


def _load_user(seq: int) -> None:
    _parse_id(str(seq) + "x")


def _parse_id(text: str) -> int:
    return int(text)  # ValueError: invalid literal for int() with base 10
