"""The application of tests/test_serverless.py's container test: 300 records, "ready", then
it waits for the SIGTERM its container's init forwards (shutdown_timeout=8)."""

from __future__ import annotations

import logging
import time

from astralog_logging import AstralogHandler

logging.getLogger().addHandler(AstralogHandler(flush_interval=60, shutdown_timeout=8))
logging.getLogger().setLevel(logging.INFO)
for i in range(300):
    logging.getLogger("run").info("record %d", i, extra={"meta": {"i": i}})
print("ready", flush=True)
time.sleep(60)
