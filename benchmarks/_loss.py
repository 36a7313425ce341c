"""The zero-loss verdict every scenario attaches to every figure it reports."""

from __future__ import annotations

from typing import Any, Dict

from ._counter import Counters


def verdict(counters: Counters, expected: int, own: Dict[str, int]) -> Dict[str, Any]:
    """Did exactly the ``expected`` records arrive, each once and intact?

    ``own`` is the system's own loss accounting (its drop counters) where it has one: a
    figure is void if the receiver missed records or the system admits having dropped any.
    """
    got = counters.snapshot()
    return _judged(got, expected, max(expected - got["distinct"], 0), own,
                   admitted=any(own.values()))


def merge(verdicts: list[Dict[str, Any]]) -> Dict[str, Any]:
    """One verdict for consecutive runs against one receiver (its counts are cumulative)."""
    if not verdicts:
        return {"ok": True, "lost": 0, "runs": 0}
    bad = sum(1 for v in verdicts if not v["ok"])
    return {**verdicts[-1], "ok": bad == 0, "runs": len(verdicts), "bad_runs": bad}


def accounted(counters: Counters, expected: int, counted: Dict[str, int]) -> Dict[str, Any]:
    """Is every record either delivered or counted as lost by the system itself?

    For runs that are meant to lose (a stalled drain with small bounds): ``counted`` is the
    system's own loss counters, and the run is void only if records went missing uncounted,
    were counted lost but arrived anyway (``lost`` below zero), or arrived twice or garbled.
    """
    got = counters.snapshot()
    return _judged(got, expected, expected - got["distinct"] - sum(counted.values()), counted,
                   admitted=False)


def _judged(got: Dict[str, int], expected: int, lost: int, reported: Dict[str, int],
            admitted: bool) -> Dict[str, Any]:
    """The figures both verdicts report; ok only with nothing lost, doubled, garbled or
    refused, and no loss the system ``admitted`` to where none was allowed."""
    refused = got["rejected"] - got["rejected_in_outage"]
    return {
        "expected": expected,
        "distinct": got["distinct"],
        "lost": lost,
        "duplicates": got["duplicates"],
        "invalid": got["invalid"],
        "refused_requests": refused,
        "system_reported": reported,
        "ok": (lost == 0 and got["duplicates"] == 0 and got["invalid"] == 0 and refused == 0
               and not admitted),
    }
