"""The delivery policy against a real drain: the protocol's answers, each handled as written."""

from __future__ import annotations

import io
import time
from typing import Callable, List

import orjson

from astralog_logging._listener._delivery import Delivery
from astralog_logging._listener._transport import Transport
from astralog_logging._report import Reporter
from astralog_logging.testing import LocalDrain


def _entry(i: int, **extra: object) -> bytes:
    return orjson.dumps({
        "timestamp": "2026-11-24T10:00:00.123456Z", "level": "info", "message": f"m{i}",
        "logger": "t", "host": "h", "pid": 1, "process_name": "p", "thread_name": "t",
        "meta": {"i": i}, **extra})


def _delivery(drain: LocalDrain, *, token: str | None = None, gzip: bool = True,
              retries: int = 5, max_delay: float = 0.2, deadline: float = 30.0,
              sleep: Callable[[float], None] | None = None) -> tuple[Delivery, io.StringIO]:
    out = io.StringIO()
    transport = Transport(drain.endpoint, token or drain.token, timeout=5.0)
    delivery = Delivery(transport, project_id="p", service="s", gzip=gzip,
                        max_retries=retries, retry_max_delay=max_delay,
                        retry_deadline=deadline, reporter=Reporter(stream=out), sleep=sleep)
    return delivery, out


def _indices(drain: LocalDrain) -> List[int]:
    return [r["meta"]["i"] for r in drain.records()]


def test_accepted_batch_is_counted(drain: LocalDrain) -> None:
    """A healthy drain: every entry sent once, one batch, bytes counted."""
    delivery, _ = _delivery(drain)
    tally = delivery.deliver([_entry(i) for i in range(10)])
    assert (tally.sent, tally.failed, tally.batches, tally.retried) == (10, 0, 1, 0)
    assert tally.bytes_sent > 0
    assert _indices(drain) == list(range(10))


def test_retry_keeps_batch_id(drain: LocalDrain) -> None:
    """A retried batch carries the same batch_id and Idempotency-Key each time."""
    drain.fail_next(503, 502)
    delivery, _ = _delivery(drain)
    tally = delivery.deliver([_entry(1)])
    assert (tally.sent, tally.retried) == (1, 2)
    ids = {r.batch_id for r in drain.requests()}
    assert len(ids) == 1 and len(drain.requests()) == 3


def test_400_with_index_drops_that_entry_only(drain: LocalDrain) -> None:
    """The drain names a bad entry: it alone is dropped and counted, the rest resent."""
    drain.allow_errors = True
    entries = [_entry(0), _entry(1, level=7), _entry(2)]  # a level must be a string
    delivery, out = _delivery(drain)
    tally = delivery.deliver(entries)
    assert (tally.sent, tally.failed) == (2, 1)
    assert _indices(drain) == [0, 2]
    assert "rejected one entry" in out.getvalue() and "level" in out.getvalue()


def test_401_is_not_retried_and_said_once(drain: LocalDrain) -> None:
    """A wrong token: no retry, one loud line for any number of batches, no token in it."""
    delivery, out = _delivery(drain, token="wrong-token-value")
    for _ in range(3):
        tally = delivery.deliver([_entry(1)])
        assert (tally.deferred, tally.retried) == (1, 0)
    assert len(drain.requests()) == 3
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and "401" in lines[0] and "wrong-token-value" not in lines[0]


def test_413_splits_until_it_fits(drain: LocalDrain) -> None:
    """A body over the drain's 5 MiB limit is split in halves and all of it arrives."""
    big = "x" * (200 * 1024)
    entries = [_entry(i, meta={"i": i, "pad": big}) for i in range(30)]  # ~6 MiB
    delivery, _ = _delivery(drain, gzip=False)
    tally = delivery.deliver(entries)
    assert (tally.sent, tally.failed) == (30, 0)
    assert sorted(_indices(drain)) == list(range(30))
    assert drain.requests()[0].status == 413


def test_413_for_a_single_entry_cuts_it_to_fit(drain: LocalDrain) -> None:
    """One entry over the drain's 256 KiB limit is cut (to half, then half again, as
    needed) and arrives marked truncated, its head and required fields intact."""
    entry = orjson.dumps({
        **orjson.loads(_entry(7)), "message": "head " + "y" * (600 * 1024)})
    delivery, out = _delivery(drain, gzip=False)
    tally = delivery.deliver([entry])
    assert (tally.sent, tally.failed) == (1, 0)
    [stored] = drain.records()
    assert stored["truncated"] is True and stored["meta"] == {"i": 7}
    assert stored["message"].startswith("head yyy")
    assert [r.status for r in drain.requests()] == [413, 413, 200]
    assert "cut to fit" in out.getvalue()


def test_retries_stop_at_max_retries(drain: LocalDrain) -> None:
    """A drain that keeps failing: max_retries + 1 attempts, then the batch counts as failed."""
    drain.fail_next(*([503] * 10))
    delivery, out = _delivery(drain, retries=2)
    tally = delivery.deliver([_entry(1)])
    assert (tally.sent, tally.deferred, tally.retried) == (0, 1, 2)
    assert len(drain.requests()) == 3
    assert "could not be delivered" in out.getvalue()


def test_shutdown_deadline_bounds_retries(drain: LocalDrain) -> None:
    """During shutdown a long Retry-After is not waited for past the deadline."""
    drain.fail_next(429, retry_after=60)
    delivery, _ = _delivery(drain)
    delivery.shutdown.begin(time.monotonic() + 1.0)
    started = time.monotonic()
    tally = delivery.deliver([_entry(1)])
    assert tally.deferred == 1
    assert time.monotonic() - started < 10, "waited for the 60 s Retry-After"


def test_backoff_follows_the_outage_not_the_batch(drain: LocalDrain) -> None:
    """The batch after one that gave up waits at the outage's pace; a success resets it."""
    drain.fail_next(*([503] * 7))
    waits: List[float] = []  # recorded, not slept
    delivery, _ = _delivery(drain, retries=2, max_delay=100.0, deadline=1000.0,
                            sleep=waits.append)
    delivery.rng = lambda lo, hi: hi  # the largest wait jitter can pick
    assert delivery.deliver([_entry(1)]).deferred == 1
    assert delivery.deliver([_entry(2)]).deferred == 1
    assert waits == [0.5, 1.0, 4.0, 8.0]  # after the 1st, 2nd, 4th and 5th failure in a row
    assert delivery.deliver([_entry(3)]).sent == 1  # the 7th failure, then accepted
    assert delivery.failures_in_a_row == 0
    drain.fail_next(503)
    assert delivery.deliver([_entry(4)]).sent == 1
    assert waits == [0.5, 1.0, 4.0, 8.0, 32.0, 0.5]
