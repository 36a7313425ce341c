"""``python -m benchmarks``: run every scenario for every system, print the markdown tables.

Jobs run one after another, each in a fresh interpreter (``_worker``), because the machine
has two cores and any overlap would be measured. Progress goes to stderr, the tables to
stdout, every raw figure to ``benchmarks/results/latest.json``. The exit status is 1 when
any run lost a record or failed: such a run has no figure, only the failure.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

from . import _report
from ._plan import FULL, QUICK, Plan
from ._receiving import ROOT, child_env
from ._worker import MARK, SCENARIOS
from .systems import REGISTRY

RESULTS = os.path.join(ROOT, "benchmarks", "results", "latest.json")


def parse(argv: Optional[List[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a smoke run (< 1 min); figures are noise")
    p.add_argument("--systems", default="", help="comma-separated subset of: "
                   + ", ".join(REGISTRY))
    p.add_argument("--scenarios", default="", help="comma-separated subset of: "
                   + ", ".join(SCENARIOS))
    p.add_argument("--outage-seconds", type=float, help="drain outage length (default 30; "
                   "issue 6's full one is 600)")
    p.add_argument("--outage-rate", type=float, help="records/s logged through the outage")
    p.add_argument("--full-outage", action="store_true",
                   help="issue 6's outage: 600 s at 200 records/s (~12 minutes more)")
    p.add_argument("--json", default=RESULTS, help="where to write every raw figure")
    p.add_argument("--render", metavar="JSON", help="print the tables of an earlier run's "
                   "JSON file instead of running anything")
    return p.parse_args(argv)


def rerender(path: str) -> int:
    with open(path) as f:
        saved = json.load(f)
    fields: Dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                              for k, v in saved["plan"].items()}
    plan = Plan(**fields)
    rows = [(r["scenario"], r["system"], r["options"], r["result"]) for r in saved["results"]]
    text, failed = _report.render(saved["machine"], plan, rows, quick=saved["quick"])
    print(text)
    return 1 if failed else 0


def machine() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f
                          if line.startswith("model name")), "")
    except OSError:
        pass
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"nproc {os.cpu_count()}, Python {platform.python_version()} "
            f"({platform.python_implementation()}), {platform.system()} {platform.release()}, "
            f"{model or platform.machine()}; load average at start {load}")


def run_job(scenario: str, system: str, opts: Dict[str, Any], timeout: float) -> Dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks._worker", scenario, system, json.dumps(opts)]
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=child_env(), cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARK):
            result: Dict[str, Any] = json.loads(line[len(MARK):])
            result["wall_seconds"] = time.monotonic() - started
            return result
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-12:]
    return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}


def main(argv: Optional[List[str]] = None) -> int:
    args = parse(argv)
    if args.render:
        return rerender(args.render)
    plan: Plan = QUICK if args.quick else FULL
    if args.full_outage:
        plan = dataclasses.replace(plan, outage_seconds=600.0, outage_rate=200.0)
    if args.outage_seconds is not None:
        plan = dataclasses.replace(plan, outage_seconds=args.outage_seconds)
    if args.outage_rate is not None:
        plan = dataclasses.replace(plan, outage_rate=args.outage_rate)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()] or list(REGISTRY)
    unknown = sorted(set(systems) - set(REGISTRY))
    if unknown:
        print(f"unknown system(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()] or list(SCENARIOS)
    unknown = sorted(set(scenarios) - set(SCENARIOS))
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    header = machine()
    print(header, file=sys.stderr)
    results: List[Tuple[str, str, Dict[str, Any], Dict[str, Any]]] = []
    jobs = [job for job in plan.jobs(systems) if job[0] in scenarios]
    for n, (scenario, system, opts) in enumerate(jobs, 1):
        timeout = 600 + float(opts["seconds"]) if scenario in ("outage", "stall") else 600
        print(f"[{n}/{len(jobs)}] {scenario} {system} {json.dumps(opts)}", file=sys.stderr,
              flush=True)
        result = run_job(scenario, system, opts, timeout)
        if "error" in result:
            print(f"    FAILED: {result['error']}", file=sys.stderr)
        results.append((scenario, system, opts, result))
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"machine": header, "plan": dataclasses.asdict(plan), "quick": args.quick,
                   "results": [{"scenario": sc, "system": sy, "options": o, "result": r}
                               for sc, sy, o, r in results]}, f, indent=1)
    text, failed = _report.render(header, plan, results, quick=args.quick)
    print(text)
    return 1 if failed else 0
