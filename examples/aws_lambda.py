"""An AWS Lambda function (zip or container image) whose records reach Astralog before each
invocation returns.

Deploy with ``astralog-logging`` in the package or image, the handler set to
``aws_lambda.handler``, and ASTRALOG_TOKEN, ASTRALOG_PROJECT_ID, ASTRALOG_SERVICE (and
ASTRALOG_ENDPOINT, for a drain of your own) in the function's environment. Two lines do
the work: the handler is made once per sandbox, at import (the cold start), and
``flush_after`` waits after each invocation until its records are stored, bounded by
``flush_timeout`` and by the invocation's remaining time. Lambda freezes the sandbox, the
listener process with it, as soon as the function returns.

Locally, against a local drain, two invocations with a stand-in context::

    astralog-logging drain &
    export ASTRALOG_ENDPOINT=http://127.0.0.1:8080/v1/drain ASTRALOG_TOKEN=default-secret-token
    export ASTRALOG_PROJECT_ID=dev ASTRALOG_SERVICE=orders-fn
    python examples/aws_lambda.py
    astralog-logging tail
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Dict

from astralog_logging import AstralogHandler
from astralog_logging.serverless import flush_after

logging.getLogger().addHandler(AstralogHandler())  # settings from ASTRALOG_* variables
logging.getLogger().setLevel(logging.INFO)
log = logging.getLogger("orders")


@flush_after  # or @flush_after(flush_timeout=2)
def handler(event: Dict[str, Any], context: Any) -> Dict[str, Any]:
    meta = {"order_id": event.get("order_id"), "request_id": context.aws_request_id}
    log.info("order received", extra={"meta": meta})
    if not event.get("order_id"):
        log.warning("order without an id", extra={"meta": meta})
        return {"statusCode": 400}
    return {"statusCode": 200}


class LocalContext:
    """What Lambda passes as ``context``, the parts this example and flush_after read."""

    def __init__(self, timeout_s: float = 3.0) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._until = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return int((self._until - time.monotonic()) * 1000)


if __name__ == "__main__":
    for event in ({"order_id": 42}, {}):
        print(handler(event, LocalContext())["statusCode"])
