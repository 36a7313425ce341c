"""What one hostile record costs the caller's thread: ``python -m benchmarks.encode_bound``.

Encodes records whose meta holds 10^3, 10^5 and 10^6 keys, a 50 MB string, a list of 5*10^6
ints, 10^6 objects JSON cannot hold, 10^6 small lists and a 10^5-deep nesting, at the
default ``max_entry_bytes`` (64 KiB). The cases are interleaved over the rounds and the
median per case is reported: the cost is meant to depend on the limit, not on the input.
"""

from __future__ import annotations

import logging
import statistics
import time
from typing import Any, Callable, Dict, List

from astralog_logging._encode._entry import EntryEncoder

ROUNDS = 5


def _deep(depth: int) -> Dict[str, Any]:
    top: Dict[str, Any] = {}
    node = top
    for _ in range(depth):
        node["k"] = {}
        node = node["k"]
    return top


CASES: Dict[str, Callable[[], Any]] = {
    "meta keys 1e3": lambda: {f"k{n}": n for n in range(1_000)},
    "meta keys 1e5": lambda: {f"k{n}": n for n in range(100_000)},
    "meta keys 1e6": lambda: {f"k{n}": n for n in range(1_000_000)},
    "string 50 MB": lambda: {"s": "x" * 50_000_000},
    "list 5e6 ints": lambda: {"l": list(range(5_000_000))},
    "list 1e6 objects": lambda: {"l": [object()] * 1_000_000},
    "list 1e6 lists": lambda: {"l": [[n, str(n)] for n in range(1_000_000)]},
    "nesting 1e5 deep": lambda: {"d": _deep(100_000)},
}


def main() -> None:
    encoder = EntryEncoder()
    inputs = {name: make() for name, make in CASES.items()}
    times: Dict[str, List[float]] = {name: [] for name in CASES}
    for _ in range(ROUNDS):
        for name, meta in inputs.items():
            record = logging.LogRecord("app", logging.INFO, "/a.py", 1, "m", (), None)
            record.meta = meta
            started = time.perf_counter()
            encoder.encode(record)
            times[name].append(time.perf_counter() - started)
    for name, samples in times.items():
        print(f"{name:18s} {statistics.median(samples) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
