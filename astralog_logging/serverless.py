"""Serverless functions: an invocation's records reach the drain before it returns.

AWS Lambda, Cloud Functions and Cloud Run (CPU allocated during requests only) freeze or
starve the whole sandbox as soon as a function returns, the listener process with it, and
may retire a frozen sandbox without a signal. Records still in the pipe or in an open batch
then wait for the next invocation, or are lost with the sandbox. ``flush_after`` waits after
each invocation until the drain has accepted everything logged so far, bounded so that the
function still returns in time::

    from astralog_logging.serverless import flush_after

    @flush_after
    def handler(event, context): ...

The wait is a flush of every live ``AstralogHandler`` of the process (one per listener),
bounded by ``flush_timeout`` and, when the second argument has
``get_remaining_time_in_millis()`` (AWS Lambda's context), by the time left minus
``safety_margin``. Nothing of the function's outcome changes: its value is returned and its
exception raised as they were. What the wait could not see delivered is said on stderr;
records the pipeline gave up on are counted in ``stats()`` as for any flush, and records
still on their way at return are in ``stats()["at_risk"]`` or the pipe, delivered when the
sandbox runs again.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
import time
from typing import Any, Callable, Dict, Optional, Set, Tuple, TypeVar, overload

from ._bounds import MAX_SECONDS, number, seconds
from ._report import Reporter, records
from .exceptions import ConfigError
from .handler import AstralogHandler, live_handlers

__all__ = ["flush_after"]

DEFAULT_FLUSH_TIMEOUT = 3.0  # seconds; a healthy drain answers in milliseconds
DEFAULT_SAFETY_MARGIN = 0.25  # seconds kept from the invocation's remaining time
_REPORT_GRACE = 0.05  # seconds the invocation waits for its report to reach stderr

F = TypeVar("F", bound=Callable[..., Any])

_reporter = Reporter(background=True)  # stderr may be a pipe nobody reads


@overload
def flush_after(function: F) -> F: ...


@overload
def flush_after(*, flush_timeout: float = ..., safety_margin: float = ...
                ) -> Callable[[F], F]: ...


def flush_after(function: Optional[F] = None, *, flush_timeout: float = DEFAULT_FLUSH_TIMEOUT,
                safety_margin: float = DEFAULT_SAFETY_MARGIN) -> Any:
    """Decorate a function handler, sync or ``async``, bare or with options.

    Wrong options fail here, at decoration (import time), with one ConfigError.
    """
    # The handler's own rule for times: finite, in bounds, a number or its text.
    timeout: float = seconds("flush_timeout", flush_timeout)
    margin: float = number("safety_margin", safety_margin, integer=False, unit="seconds",
                           at_least=0, at_most=MAX_SECONDS)

    def decorate(fn: F) -> F:
        if not callable(fn):
            raise ConfigError(f"flush_after decorates a function; got {fn!r} (options are "
                              "keywords: @flush_after(flush_timeout=2))")
        return _wrap(fn, timeout, margin)

    return decorate if function is None else decorate(function)


def _wrap(fn: F, timeout: float, margin: float) -> F:
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def wrapper_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            finally:
                bound = _bound(timeout, margin, args, kwargs)
                try:  # a thread waits, so other tasks of the loop keep running meanwhile
                    loop = asyncio.get_running_loop()
                    await loop.run_in_executor(None, _flush_for, fn, bound)
                except RuntimeError:  # the loop's executor is shut down: wait here instead
                    _flush_for(fn, bound)

        return wrapper_async  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            _flush_for(fn, _bound(timeout, margin, args, kwargs))

    return wrapper  # type: ignore[return-value]


def _bound(timeout: float, margin: float, args: Tuple[Any, ...],
           kwargs: Dict[str, Any]) -> float:
    """Seconds the flush may take: ``flush_timeout``, or less when the context says so."""
    try:  # arguments of any shape (a __getattr__ that raises) must not break the function
        for value in (*reversed(args), *kwargs.values()):
            remaining = getattr(value, "get_remaining_time_in_millis", None)
            if remaining is not None:
                left = float(remaining()) / 1000.0 - margin
                return timeout if math.isnan(left) else max(0.0, min(timeout, left))
    except Exception:
        pass
    return timeout


def _flush_for(fn: Callable[..., Any], seconds: float) -> None:
    """Flush after one invocation of ``fn``; never raises into it."""
    try:
        _flush_all(seconds, _name(fn))
    except Exception as exc:  # the function's outcome must stand, whatever happens here
        _reporter.limited("flush-after", f"flush_after could not flush ({exc!r})")
        _reporter.wait_written(_REPORT_GRACE)


def _flush_all(timeout: float, who: str) -> bool:
    """Flush every live AstralogHandler, one per listener, within ``timeout`` seconds in
    all; True when everything was delivered and nothing was lost since the last flush."""
    deadline = time.monotonic() + timeout
    clean = True
    seen: Set[int] = set()  # one flush per listener: handlers may share one
    for handler in live_handlers():
        link = handler._link
        if link is None or handler._closed or id(link) in seen:
            continue
        seen.add(id(link))
        marked = handler._loss_mark
        if not handler.flush(max(deadline - time.monotonic(), 0.0)):
            clean = False
            ran_out = time.monotonic() >= deadline
            _say_what_is_left(handler, who, timeout, ran_out, handler._loss_mark - marked)
    return clean


def _say_what_is_left(handler: AstralogHandler, who: str, timeout: float,
                      ran_out: bool, lost: int) -> None:
    figures = handler.stats()
    if ran_out:
        waiting = _waiting(figures)
        _reporter.limited(
            "flush-after-time",
            f"flush_after: {who} returned before its records were all delivered: about "
            f"{records(waiting)} still on the way when its {timeout:.2f} s wait ran out "
            "(flush_timeout, or the invocation's remaining time); they go out when the "
            "process runs again and are lost if it never does")
    else:
        _reporter.limited(
            "flush-after-lost",
            f"flush_after: {records(lost)} could not be delivered since the previous flush, "
            f"as {who} returned (counted in stats()); last error: "
            f"{figures['last_error'] or '-'}")
    _reporter.wait_written(_REPORT_GRACE)  # a frozen sandbox writes nothing more


def _waiting(figures: Dict[str, Any]) -> int:
    """Records written but not resolved: in the pipe (written, not yet read by the
    listener) and held by the listener. A lower bound: records dropped before they were
    ever queued are subtracted too."""
    producer_dropped = figures["dropped"] - figures["listener_dropped"]
    in_pipe = figures["enqueued"] - producer_dropped - figures["received"]
    return int(max(in_pipe, 0) + figures["at_risk"])


def _name(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or fn)
