"""What the encoder does when its fast path cannot: a fresh stack, an emergency entry,
an entry cut to size. Rare, so kept out of the hot module."""

from __future__ import annotations

import _thread
import contextvars
import os
import threading
import time
from typing import Any, Callable

import orjson

from ._record import HOST, LEVELS, process_name
from ._sanitize import Scrubber
from ._values import describe, faithful, safe_str

__all__ = ["FRESH_STACK", "OPTIONS", "dumps", "emergency", "fit", "on_fresh_stack"]

OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS  # dataclasses may hold secrets: strict pass
FRESH_STACK: contextvars.ContextVar[bool] = contextvars.ContextVar("_FRESH_STACK", default=False)
_FRESH_STACK_WAIT = 1.0  # seconds; the work there is bounded by max_entry_bytes


def dumps(value: Any) -> bytes:
    """Compact JSON as the encoder writes it (unknown types through ``faithful``)."""
    return orjson.dumps(value, default=faithful, option=OPTIONS)


def fit(entry: dict[str, Any], limit: int) -> bytes:
    """An oversized entry cut down to ``limit``: rare, so its module loads on first use."""
    from ._truncate import fit as cut_to_fit

    return cut_to_fit(entry, limit, dumps)


def on_fresh_stack(func: Callable[..., Any], *args: Any) -> Any:
    """``func(*args)`` on a new thread's stack, in this context, waiting for it.

    Only C-level calls happen here (no threading.Thread, whose Python frames would hit
    the very recursion limit this escapes); the new thread has its own recursion budget.
    Records logged there while encoding (a ``__repr__`` that logs) get no further retry,
    so a recursion that logs ends instead of hopping from thread to thread. The wait is
    bounded: user code run there may want a lock this thread holds.
    """
    outcome: list[Any] = []
    done = _thread.allocate_lock()
    done.acquire()

    def run() -> None:
        FRESH_STACK.set(True)
        try:
            outcome.append((True, func(*args)))
        except BaseException as exc:  # handed back to the caller below
            outcome.append((False, exc))
        finally:
            done.release()

    _thread.start_new_thread(contextvars.copy_context().run, (run,))
    if not done.acquire(timeout=_FRESH_STACK_WAIT):
        raise TimeoutError("encoding on a fresh stack took too long")
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def emergency(record: Any, error: Exception, limit: int, scrubber: Scrubber) -> bytes:
    """An entry for a record that broke the encoder itself; built from safe parts only."""
    note = f"astralog_logging could not encode this record ({describe(error)})"
    try:
        created = getattr(record, "created", None)
        created = created if isinstance(created, float) else time.time()
        entry = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
            + f".{int(created % 1 * 1_000_000):06d}Z",
            "level": LEVELS.get(safe_str(getattr(record, "levelname", "")), "error"),
            "message": safe_str(getattr(record, "msg", ""))[:limit // 4],
            "logger": safe_str(getattr(record, "name", "")),
            "host": HOST,
            "pid": os.getpid(),
            "process_name": process_name(),
            "thread_name": threading.current_thread().name,
            "notes": [note],
        }
        safe = scrubber.strict_entry(entry, [])
        data = dumps(safe)
        return data if len(data) <= limit else fit(safe, limit)
    except Exception:  # even the safe parts failed: a fixed, valid entry
        return orjson.dumps({
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime()),
            "level": "error", "message": "", "logger": "astralog_logging", "host": "unknown",
            "pid": os.getpid(), "process_name": "unknown", "thread_name": "unknown",
            "notes": ["astralog_logging could not encode a record"],
        })  # fmt: skip
