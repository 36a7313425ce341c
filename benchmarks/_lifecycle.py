"""Lifecycle: what a short-lived process pays at the edges of its life, per system.

A cron job, a CLI, a test run or a serverless cold start pays in full for importing the
handler, building it, getting its first record delivered and shutting down. Each
repetition runs every system once, one after another (interleaved), in fresh interpreters
(``_life_script``): a ``measure`` run (import, construction, construction -> first
delivery confirmed at the receiver after a ``flush``, ``close`` after that delivery) and a
``script`` run (log one record and exit, timed from outside; the record must be at the
receiver the moment the process has exited). Medians over the repetitions are reported, so
one noisy moment on a loaded machine cannot decide a figure.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from typing import Any, Dict, List, Optional

from ._receiving import ROOT, Receiver, child_env
from .systems import load

SYSTEMS = ["stream", "ours", "recipe", "logtail", "otel"]
FIELDS = ("import_ms", "construct_ms", "first_delivery_ms", "close_ms", "script_ms")


def _child(args: List[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "benchmarks._life_script", *args],
                          capture_output=True, text=True, timeout=120, env=child_env(),
                          cwd=ROOT)


def run(system_name: str, system: Any, opts: Dict[str, Any]) -> Dict[str, Any]:
    reps = int(opts["reps"])
    names = [n for n in opts.get("systems", SYSTEMS) if n in SYSTEMS]
    samples: Dict[str, Dict[str, List[float]]] = {n: {f: [] for f in FIELDS} for n in names}
    at_exit: Dict[str, int] = {n: 0 for n in names}
    errors: Dict[str, str] = {}
    seq = 0
    with ExitStack() as stack:
        receivers: Dict[str, Optional[Receiver]] = {}
        for name in names:
            kind = load(name).receiver
            receivers[name] = stack.enter_context(Receiver(kind)) if kind else None
        for _ in range(reps):
            for name in names:
                receiver = receivers[name]
                url = receiver.url if receiver else "http://127.0.0.1:9"
                path = receiver.counters.path if receiver else ""
                arrived = receiver.counters.get("distinct") if receiver else 0
                seq += 1
                proc = _child([name, url, path, str(seq), str(arrived + 1), "measure"])
                if proc.returncode != 0:
                    errors[name] = proc.stderr.strip().splitlines()[-1:][0][:300] \
                        if proc.stderr.strip() else f"exit {proc.returncode}"
                    continue
                figures = json.loads(proc.stdout.strip().splitlines()[-1])
                for field, value in figures.items():
                    samples[name][field].append(value)
                seq += 1
                started = time.perf_counter()
                proc = _child([name, url, path, str(seq), "0", "script"])
                samples[name]["script_ms"].append((time.perf_counter() - started) * 1e3)
                if receiver is None or receiver.counters.get("distinct") >= arrived + 2:
                    at_exit[name] += 1
                elif receiver.counters.wait_distinct(arrived + 2, 5.0):
                    pass  # arrived, but only after the process had exited
    medians = {name: {field: statistics.median(values) if values else None
                      for field, values in fields.items()}
               for name, fields in samples.items()}
    return {"system": "all", "reps": reps, "medians": medians, "samples": samples,
            "delivered_at_exit": at_exit, "errors": errors,
            "labels": {n: load(n).label for n in names},
            "loss": {"ok": not errors}}
