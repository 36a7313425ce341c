"""The application of tests/test_serverless.py's drain-down test.

With the drain down, one flush_after function raises and one returns, each after 7 error
records; prints as JSON whether each outcome was unchanged, how long each took, and what
stats() counted after each.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from astralog_logging import AstralogHandler
from astralog_logging.serverless import flush_after

# Retries every <= 50 ms, so a batch is given up 2 s after its first attempt, not sooner.
handler = AstralogHandler(flush_interval=60, retry_deadline=2, retry_max_delay=0.05,
                          max_retries=1000)
logging.getLogger().addHandler(handler)
log = logging.getLogger("down")


class Context:
    def get_remaining_time_in_millis(self) -> int:
        return 1000


class Boom(Exception):
    pass


raised = Boom("the function's own error")
result = object()


@flush_after
def failing(event: Any, context: Any) -> None:
    for k in range(7):
        log.error("failing %d", k)
    raise raised


@flush_after(flush_timeout=6)
def returning(event: Any, context: Any) -> object:
    for k in range(7):
        log.error("returning %d", k)
    return result


started = time.monotonic()
try:
    failing({}, Context())
except Boom as exc:
    same_error = exc is raised
first = time.monotonic() - started
at_first = handler.stats()
started = time.monotonic()
same_result = returning({}, None) is result
second = time.monotonic() - started
at_second = handler.stats()
print(json.dumps({
    "same_error": same_error, "first": first, "failed_first": at_first["failed"],
    "waiting_first": at_first["enqueued"] - at_first["received"] + at_first["at_risk"],
    "same_result": same_result, "second": second,
    "failed_second": at_second["failed"], "held_second": at_second["at_risk"],
}), flush=True)
os._exit(0)
