"""The retry policy: what is retried and how long each wait is, without a network."""

from __future__ import annotations

import email.utils

import pytest

from astralog_logging._listener._retry import retryable, wait_seconds
from astralog_logging._listener._transport import SendResult, parse_retry_after


@pytest.mark.parametrize("status", [None, 408, 429, 500, 502, 503, 504])
def test_transient_answers_are_retried(status: int | None) -> None:
    """No answer, 408, 429 and 5xx are transient per the protocol table."""
    assert retryable(SendResult(status))


@pytest.mark.parametrize("status", [200, 202, 400, 401, 403, 404, 413])
def test_final_answers_are_not_retried(status: int) -> None:
    """Success and client errors are final (413 is handled by splitting)."""
    assert not retryable(SendResult(status))


def test_backoff_is_full_jitter_and_capped() -> None:
    """Waits are uniform in [0, min(cap, 0.5 * 2**(n-1))]."""
    upper = lambda lo, hi: hi  # noqa: E731 - the largest wait jitter can pick
    assert [wait_seconds(n, SendResult(503), 30.0, upper) for n in (1, 2, 3, 7, 20)] == [
        0.5, 1.0, 2.0, 30.0, 30.0]
    assert wait_seconds(3, SendResult(None), 30.0, lambda lo, hi: lo) == 0.0


def test_retry_after_is_never_undercut() -> None:
    """A drain's Retry-After wins over back-off, even past the cap."""
    assert wait_seconds(1, SendResult(429, retry_after=45.0), 30.0) == 45.0


def test_retry_after_parses_both_forms() -> None:
    """Delta-seconds and HTTP dates both give seconds from now; junk gives None."""
    assert parse_retry_after("7") == 7.0
    date = email.utils.formatdate(1_000_010.0, usegmt=True)
    assert parse_retry_after(date, now=1_000_000.0) == pytest.approx(10.0)
    assert parse_retry_after(email.utils.formatdate(5.0, usegmt=True), now=100.0) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
