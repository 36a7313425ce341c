"""One short-lived application process, as the ``lifecycle`` scenario starts it.

``python -m benchmarks._life_script SYSTEM URL COUNTERS SEQ EXPECTED MODE``. The benchmark's own
modules load first, then the modules every multi-process handler needs (``logging.handlers``,
``multiprocessing.queues``, ``orjson``); only then does the clock start, so the import
figure is what the system adds on top of them.

- ``measure``: import, construct, log one record, ``flush`` and wait until the receiver has
  it, then ``close``: one JSON line with each step's milliseconds.
- ``script``: what a user's short script does: construct, log one record, exit (the
  system's own exit path delivers; the recipe, which has none, is closed by hand). The
  parent times the whole process and checks the receiver the moment it has exited.
"""

from __future__ import annotations

import importlib
import json
import logging.handlers
import multiprocessing.queues  # noqa: F401  (the baseline every such handler needs)
import sys
import time
from typing import Dict, List

import orjson  # noqa: F401  (the baseline)

from ._counter import Counters
from .systems import load

#: what each system makes an application import, beyond the baseline
IMPORTS: Dict[str, List[str]] = {
    "stream": [],
    "ours": ["astralog_logging.handler"],  # what `from astralog_logging import AstralogHandler`
    "recipe": ["benchmarks.systems.recipe"],  # its listener's handler imports requests
    "logtail": ["logtail"],
    "otel": ["opentelemetry.sdk._logs", "opentelemetry.sdk._logs.export",
             "opentelemetry.exporter.otlp.proto.http._log_exporter"],
}
#: systems whose records a plain exit does not deliver: the user must close them
CLOSE_BY_HAND = {"recipe"}


def main(argv: List[str]) -> int:
    name, url, counters_path, seq_text, expected, mode = argv
    seq = int(seq_text)
    t0 = time.perf_counter()
    for module in IMPORTS[name]:
        importlib.import_module(module)
    t1 = time.perf_counter()
    system = load(name)
    system.setup(url, gzip=True, burst=1)
    t2 = time.perf_counter()
    system.emit(seq, 1)
    if mode == "script":
        if name in CLOSE_BY_HAND:
            system.close()
        return 0
    system.flush()
    if name != "stream" and not Counters(counters_path).wait_distinct(int(expected), 30,
                                                                      poll=0.0005):
        print("the record did not arrive", file=sys.stderr)
        return 1
    t3 = time.perf_counter()
    system.close()
    t4 = time.perf_counter()
    print(json.dumps({"import_ms": (t1 - t0) * 1e3, "construct_ms": (t2 - t1) * 1e3,
                      "first_delivery_ms": (t3 - t1) * 1e3, "close_ms": (t4 - t3) * 1e3}))
    logging.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
