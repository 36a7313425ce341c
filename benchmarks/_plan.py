"""What one benchmark run measures, and how much: the full run and the ``--quick`` smoke run.

Sizes are chosen for a 2-core machine: the full run takes a few minutes, the quick one
under a minute. The quick run only checks that everything works; its figures are noise.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Tuple

from .systems import PEERS

EMIT_SYSTEMS = ["null", "ours", "recipe", *PEERS]
SHUTDOWN_SYSTEMS = ["ours", "recipe", *PEERS]
LIFECYCLE_SYSTEMS = ["stream", "ours", "recipe", "logtail", "otel"]


@dataclasses.dataclass(frozen=True)
class Plan:
    emit_count: int = 20_000
    emit_runs: int = 2  # per round; rounds interleave the systems (see _report.merge_rounds)
    emit_rounds: int = 5
    exc_count: int = 3_000
    exc_runs: int = 3
    warmup: int = 1_000
    e2e_total: int = 100_000
    e2e_peer_total: int = 50_000  # the peers are 3-10x slower; their rate is steady by then
    e2e_producers: Tuple[int, ...] = (1, 2, 4)
    e2e_peer_producers: Tuple[int, ...] = (1, 2, 4)
    shutdown_count: int = 10_000
    outage_seconds: float = 30.0
    outage_rate: float = 1_000.0
    burst_count: int = 100_000
    stall_seconds: float = 25.0  # long enough for 2-3 of the package's 10 s-limited lines
    stall_baseline_seconds: float = 5.0
    stall_rate: float = 2_000.0
    drain_check: bool = True  # one e2e run into the real drain, to show its own cost
    peers_beyond_emit: bool = True  # end to end and shutdown for the peers too
    lifecycle_reps: int = 7
    viewer_entries: int = 1_000_000  # the drain's page: its queries on a store this large
    viewer_runs: int = 5
    viewer_ingest_runs: int = 9

    def jobs(self, systems: List[str]) -> List[Tuple[str, str, Dict[str, Any]]]:
        """(scenario, system, options) in the order they run."""
        jobs: List[Tuple[str, str, Dict[str, Any]]] = []
        emit = {"count": self.emit_count, "runs": self.emit_runs, "exc_count": self.exc_count,
                "exc_runs": self.exc_runs, "warmup": self.warmup, "receiver": "drain"}
        for r in range(self.emit_rounds):
            jobs += [("emit", s, {**emit, "round": r}) for s in EMIT_SYSTEMS if s in systems]
        if self.lifecycle_reps:
            jobs.append(("lifecycle", "all", {"reps": self.lifecycle_reps, "systems": [
                s for s in LIFECYCLE_SYSTEMS if s in systems]}))
        for name in ("ours", "recipe"):
            if name in systems:
                for gzip in (True, False):
                    jobs += [("e2e", name, {"producers": p, "total": self.e2e_total,
                                            "gzip": gzip}) for p in self.e2e_producers]
        for name in PEERS if self.peers_beyond_emit else []:
            if name in systems:
                jobs += [("e2e", name, {"producers": p, "total": self.e2e_peer_total,
                                        "gzip": False}) for p in self.e2e_peer_producers]
        if self.drain_check and "ours" in systems:
            jobs.append(("e2e", "ours", {"producers": max(self.e2e_producers),
                                         "total": self.e2e_total, "gzip": True,
                                         "receiver": "drain"}))
        jobs += [("shutdown", s, {"count": self.shutdown_count, "warmup": 200,
                                  "receiver": "drain"})
                 for s in SHUTDOWN_SYSTEMS if s in systems
                 and (self.peers_beyond_emit or s not in PEERS)]
        if "ours" in systems and self.outage_seconds > 0:
            jobs.append(("outage", "ours", {"seconds": self.outage_seconds,
                                            "rate": self.outage_rate, "receiver": "drain"}))
        if "ours" in systems and self.stall_seconds > 0:
            jobs += [("stall", "ours", {"variant": v, "seconds": self.stall_seconds,
                                        "baseline": self.stall_baseline_seconds,
                                        "rate": self.stall_rate})
                     for v in ("drain", "listener")]
        if "ours" in systems and self.viewer_entries:
            jobs.append(("viewer", "ours", {"entries": self.viewer_entries,
                                            "runs": self.viewer_runs,
                                            "ingest_runs": self.viewer_ingest_runs,
                                            "ingest_batches": 100}))
        if "otel" in systems and self.burst_count:
            jobs.append(("burst", "otel", {"count": self.burst_count}))
        return jobs


FULL = Plan()
QUICK = Plan(emit_count=2_000, emit_runs=1, emit_rounds=2, lifecycle_reps=2, exc_count=300,
             exc_runs=1, warmup=200,
             e2e_total=4_000, e2e_peer_total=4_000, e2e_producers=(2,), e2e_peer_producers=(2,),
             shutdown_count=10_000, outage_seconds=3.0, outage_rate=1_000.0,
             burst_count=0, drain_check=False, peers_beyond_emit=False,
             stall_seconds=3.0, stall_baseline_seconds=1.0,
             viewer_entries=20_000, viewer_runs=1, viewer_ingest_runs=1)
