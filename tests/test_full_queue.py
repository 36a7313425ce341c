"""A full queue: what emit does with a record it is going to drop anyway."""

from __future__ import annotations

from astralog_logging.testing import LocalDrain

from ._procs import drain_env, run_stopping_listener


def test_a_dropped_record_is_counted_and_not_encoded(drain: LocalDrain) -> None:
    """With the queue full (listener stopped, overflow="drop_newest"), each further record
    is counted as dropped and never encoded: a stalled drain costs emit a comparison."""
    out, err = run_stopping_listener("full_queue", env=drain_env(drain.endpoint, drain.token),
                                     timeout=120)
    assert out.split() == ["True", "100", "0"], err
