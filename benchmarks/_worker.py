"""One scenario for one system in a fresh interpreter: ``python -m benchmarks._worker``.

Every measurement gets a process of its own so that no system inherits another's threads,
global state (OpenTelemetry's provider, loguru's logger, a logging configuration) or heap.
The result is one JSON line on stdout, marked, since some peers print on their own.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import List

from .systems import load

MARK = "BENCH-RESULT "
SCENARIOS = {
    "emit": "benchmarks._emit",
    "e2e": "benchmarks._e2e",
    "shutdown": "benchmarks._shutdown",
    "outage": "benchmarks._outage",
    "burst": "benchmarks._burst",
    "stall": "benchmarks._stall",
    "lifecycle": "benchmarks._lifecycle",
    "viewer": "benchmarks._viewer",
}


def main(argv: List[str]) -> int:
    scenario, system_name, raw = argv
    module = importlib.import_module(SCENARIOS[scenario])
    system = load(system_name) if scenario not in ("outage", "burst", "stall", "lifecycle",
                                                   "viewer") else None
    result = module.run(system_name, system, json.loads(raw))
    sys.stdout.write(MARK + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
