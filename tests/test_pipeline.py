"""The whole path for real: app process(es) -> one listener process -> HTTP -> local drain."""

from __future__ import annotations

import collections
import sys
from typing import Any, List

import pytest

from astralog_logging.testing import LocalDrain

from ._procs import drain_env, run_program


def _indices(records: List[dict[str, Any]]) -> List[int]:
    return [r["meta"]["i"] for r in records]


def test_env_only_script_without_close_delivers_all_in_order(drain: LocalDrain) -> None:
    """dictConfig from env vars only; exit without close(); all 5,000 arrive once, in order."""
    run_program("pipeline", "env_only", env=drain_env(drain.endpoint, drain.token))
    records = drain.wait_for_records(5000)
    assert len(records) == 5000
    assert _indices(records) == list(range(5000))
    first = records[0]
    assert first["message"] == "record 0"
    assert first["level"] == "info" and first["logger"] == "app"


def test_forked_processes_share_one_listener(drain: LocalDrain) -> None:
    """4 forked processes x 5,000: all 20,000 once, one listener, batches mix processes."""
    out = run_program("pipeline", "forked", env=drain_env(drain.endpoint, drain.token))
    assert out.stdout.split() == ["listeners", "1"] * 4
    records = drain.wait_for_records(20001)
    assert len(records) == 20001
    per_worker = collections.defaultdict(list)
    for r in records:
        per_worker[r["meta"].get("w")].append(r["meta"]["i"])
    for w in range(4):
        assert per_worker[w] == list(range(5000)), f"worker {w} out of order or incomplete"
    mixed = [b for b in drain.batches() if len({e["pid"] for e in b["logs"]}) > 1]
    assert mixed, "no batch carried records of more than one process"


@pytest.mark.parametrize("fault", ["503", "refused", "429"])
def test_outages_are_retried_until_delivered(drain: LocalDrain, fault: str) -> None:
    """503s, refused connections and 429 + Retry-After: every record arrives exactly once."""
    if fault == "503":
        drain.fail_next(503, 503, 503, 503)
    elif fault == "429":
        drain.fail_next(429, retry_after=2)
    else:
        drain.refuse_for(2.0)
    run_program("pipeline", "outages", env=drain_env(drain.endpoint, drain.token))
    records = drain.wait_for_records(500)
    assert sorted(_indices(records)) == list(range(500))
    assert len(records) == 500
    if fault == "429":
        statuses = [(r.status, r.received) for r in drain.requests()]
        assert statuses[0][0] == 429
        accepted = next(t for s, t in statuses if s == 200)
        assert accepted - statuses[0][1] >= 2.0, "retried sooner than Retry-After"


@pytest.mark.skipif(sys.version_info[:3] == (3, 12, 1),
                    reason="CPython 3.12.1's QueueHandler dictConfig path drops keywords "
                    "(gh-111615, gh-118868); see README")
def test_class_key_works(drain: LocalDrain) -> None:
    """dictConfig's "class" form works too (3.12+ takes the QueueHandler special path)."""
    run_program("pipeline", "class_key", env=drain_env(drain.endpoint, drain.token))
    assert _indices(drain.wait_for_records(1)) == [0]


def test_close_stops_listener_after_delivery(drain: LocalDrain) -> None:
    """close() in the owner delivers everything, then the listener exits by itself soon."""
    out = run_program("pipeline", "close", env=drain_env(drain.endpoint, drain.token))
    assert out.stdout.split() == ["1", "0", "1000"]
    assert len(drain.records()) == 1000
