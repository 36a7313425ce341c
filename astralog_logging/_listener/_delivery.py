"""Getting one batch accepted: envelope, compression, retries and the protocol's answers.

The listener hands over a list of serialized entries; this module wraps them in the
envelope without parsing them, compresses, and drives the transport through tenacity with
the protocol's rules: retry what is transient, split on 413, drop exactly the entry a 400
names and resend the rest, give up (and say so) on 400/401/403. Its only outputs are the
figures it returns and the lines it reports.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
import threading
import time
from typing import Callable, List, Optional

import tenacity

from .._encode._truncate import halve
from .._report import Reporter, records
from ._retry import retryable, wait_seconds
from ._transport import Envelope, SendResult, Transport


@dataclasses.dataclass
class Tally:
    """What one delivery did, in records (except ``retried``, counted in attempts)."""

    sent: int = 0
    failed: int = 0  # rejected for good (400)
    deferred: int = 0  # gave up for now: no answer, 401/403, retries exhausted
    retried: int = 0
    batches: int = 0
    bytes_sent: int = 0
    last_status: int = 0
    last_error: str = ""


def new_batch_id() -> str:
    return os.urandom(16).hex()


def derived_id(parent: str, suffix: str) -> str:
    return hashlib.sha256(f"{parent}{suffix}".encode()).hexdigest()[:32]


class _PastShutdown(tenacity.stop.stop_base):
    """No wait may end past the shutdown deadline (``inf`` until shutdown begins)."""

    def __init__(self, shutdown: Shutdown, clock: Callable[[], float]) -> None:
        self.shutdown = shutdown
        self.clock = clock

    def __call__(self, state: tenacity.RetryCallState) -> bool:
        return self.clock() + (state.upcoming_sleep or 0.0) > self.shutdown.deadline


def _last_result(state: tenacity.RetryCallState) -> SendResult:
    """Retries gave up: the last answer is the outcome (a result, never an exception)."""
    assert state.outcome is not None
    result: SendResult = state.outcome.result()
    return result


def _reason(result: SendResult) -> str:
    reason = f"HTTP {result.status}" if result.status else "no answer"
    return f"{reason}: {result.error}" if result.error else reason


class Shutdown:
    """The listener's stop as delivery sees it: from ``begin`` on, a back-off wait ends at
    once and no wait may run past the deadline. Given to every part at construction."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.deadline = float("inf")

    def begin(self, deadline: float) -> None:
        self.deadline = deadline
        self.event.set()

    @property
    def begun(self) -> bool:
        return self.event.is_set()


class Delivery:
    def __init__(
        self,
        transport: Transport,
        *,
        project_id: str,
        service: str,
        gzip: bool,
        max_retries: int,
        retry_max_delay: float,
        retry_deadline: float,
        reporter: Reporter,
        shutdown: Optional[Shutdown] = None,
        spooling: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Optional[Callable[[float], None]] = None,
    ) -> None:
        self.transport = transport
        self.envelope = Envelope(project_id, service, gzip)
        self.retry_max_delay = retry_max_delay
        self.reporter = reporter
        self.clock = clock
        # Set when shutdown begins: an ongoing back-off wakes once, and no wait may run
        # past ``shutdown_deadline``.
        self.shutdown = shutdown or Shutdown()
        self.spooling = spooling  # what a failure's report says becomes of the records
        # Transient failures in a row, across batches: the back-off belongs to the drain's
        # outage, not to one batch, so the batch after one that gave up keeps probing at
        # the outage's pace instead of starting over at half a second.
        self.failures_in_a_row = 0
        self.rng: Callable[[float, float], float] = random.uniform
        self._retrying = tenacity.Retrying(
            retry=tenacity.retry_if_result(retryable),
            stop=(tenacity.stop_after_attempt(max_retries + 1)
                  | tenacity.stop_before_delay(retry_deadline)
                  | _PastShutdown(self.shutdown, clock)),
            wait=self._wait,
            sleep=sleep or self._sleep,
            retry_error_callback=_last_result,
        )

    def deliver(self, entries: List[bytes], batch_id: Optional[str] = None,
                on_wire: Optional[Callable[[int], None]] = None) -> Tally:
        """Send one batch until it is accepted, rejected for good, or retries give up.

        A spooled batch passes its recorded ``batch_id``; the halves of a split and the
        rest of a batch after a rejected entry get ids derived from it, so sending the
        same spooled batch again after a crash repeats the same ids and the drain's
        de-duplication holds all the way down. ``on_wire`` is told how many records each
        request carries while it is out, then 0 (see ``_sender``).
        """
        tally = Tally()
        self._deliver(entries, batch_id or new_batch_id(), tally, on_wire)
        return tally

    def _deliver(self, entries: List[bytes], batch_id: str, tally: Tally,
                 on_wire: Optional[Callable[[int], None]]) -> None:
        body = self.envelope.body(batch_id, entries)
        result = self._send_with_retries(body, batch_id, len(entries), tally, on_wire)
        status = result.status
        tally.last_status = status or 0
        if status in (200, 202):
            tally.sent += len(entries)
            tally.batches += 1
            tally.bytes_sent += len(body)
        elif status == 413 and len(entries) > 1:
            half = len(entries) // 2
            self._deliver(entries[:half], derived_id(batch_id, "a"), tally, on_wire)
            self._deliver(entries[half:], derived_id(batch_id, "b"), tally, on_wire)
        elif status == 413 and (smaller := halve(entries[0])) is not None:
            self.reporter.limited("entry-too-large", "the drain refused one entry as too "
                                  "large (HTTP 413); it was cut to fit and marked truncated")
            self._deliver([smaller], derived_id(batch_id, "t"), tally, on_wire)
        elif status == 400 and result.index is not None and 0 <= result.index < len(entries):
            tally.failed += 1
            self.reporter.limited(
                "rejected-entry",
                f"the drain rejected one entry ({result.error}); it was dropped and the rest "
                "of its batch resent")
            rest = entries[: result.index] + entries[result.index + 1 :]
            if rest:
                self._deliver(rest, derived_id(batch_id, f"-{result.index}"), tally, on_wire)
        elif status is None or status in (401, 403) or retryable(result):
            tally.deferred += len(entries)  # worth another try later (spool) or lost
            tally.last_error = _reason(result)
            self._report_failure(result, len(entries))
        else:
            tally.failed += len(entries)
            tally.last_error = _reason(result)
            self._report_failure(result, len(entries))

    def _report_failure(self, result: SendResult, count: int) -> None:
        reason = _reason(result)
        fate = "kept in the spool" if self.spooling else "not delivered"
        if result.status in (401, 403):
            self.reporter.once(
                f"auth-{result.status}",
                f"ASTRALOG REJECTED THE TOKEN ({reason}) for {self.transport.endpoint}; "
                f"{records(count)} {'was' if count == 1 else 'were'} {fate}; nothing is "
                "delivered until the token is fixed")
            return
        self.reporter.limited("failed", f"{records(count)} could not be delivered ({reason}); "
                              f"{fate}")

    def _send_with_retries(self, body: bytes, batch_id: str, count: int, tally: Tally,
                           on_wire: Optional[Callable[[int], None]]) -> SendResult:
        retrying = self._retrying
        result: SendResult = retrying(self._send_once, body, batch_id, count, on_wire)
        tally.retried += retrying.statistics["attempt_number"] - 1
        return result

    def _wait(self, state: tenacity.RetryCallState) -> float:
        outcome = state.outcome
        last = outcome.result() if outcome is not None and not outcome.failed else None
        streak = state.attempt_number
        if not self.shutdown.begun:  # at shutdown, short waits fit the time left
            streak = max(streak, self.failures_in_a_row)
        return wait_seconds(streak, last, self.retry_max_delay, self.rng)

    def _send_once(self, body: bytes, batch_id: str, count: int,
                   on_wire: Optional[Callable[[int], None]]) -> SendResult:
        left = self.shutdown.deadline - self.clock()
        if left <= 0:
            return SendResult(None, error="shutdown_timeout ran out before this batch was sent")
        timeout = min(self.transport.timeout, max(left, 0.05))
        if on_wire is not None:
            on_wire(count)
        try:
            result = self.transport.send(body, batch_id, self.envelope.gzip, timeout=timeout)
        finally:
            if on_wire is not None:
                on_wire(0)
        self.failures_in_a_row = self.failures_in_a_row + 1 if retryable(result) else 0
        return result

    def _sleep(self, seconds: float) -> None:
        if self.shutdown.begun:
            time.sleep(seconds)  # bounded: ``stop`` refuses waits past the shutdown deadline
        else:
            self.shutdown.event.wait(seconds)
