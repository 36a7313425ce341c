"""The documented setup: dictConfig with "()", settings from the environment.

Run it against your drain with ASTRALOG_TOKEN, ASTRALOG_PROJECT_ID, ASTRALOG_SERVICE and
ASTRALOG_ENDPOINT set; without them it starts a local drain on a free port first and shows
what arrived there.
"""

from __future__ import annotations

import logging
import logging.config
import os

import astralog_logging


def configure() -> None:
    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {
            "astralog": {
                "()": "astralog_logging.AstralogHandler",
                "tags": ["example"],
                "meta": {"release": "2026.11"},
            },
        },
        "root": {"level": "INFO", "handlers": ["astralog"]},
    })


def work() -> None:
    log = logging.getLogger("example.orders")
    log.info("Worker started", extra={"meta": {"worker_id": 42}})
    with astralog_logging.context(request_id="req-8f72", user_id=7):
        log.warning("Stock low for %s", "sku-123", extra={"tags": ["inventory"]})
        try:
            raise ConnectionError("connection refused")
        except ConnectionError:
            log.exception("Database connection failed", extra={"meta": {"attempt": 2}})


def main() -> None:
    if os.environ.get("ASTRALOG_TOKEN"):
        configure()
        work()
        return  # logging.shutdown at exit delivers everything
    from astralog_logging.drain import DrainServer

    with DrainServer(port=0, token="example-token") as drain:
        os.environ.update(ASTRALOG_TOKEN="example-token", ASTRALOG_PROJECT_ID="example",
                          ASTRALOG_SERVICE="example", ASTRALOG_ENDPOINT=drain.endpoint)
        configure()
        work()
        handler = logging.getLogger().handlers[0]
        assert isinstance(handler, astralog_logging.AstralogHandler)
        delivered = handler.flush(timeout=10)
        for entry in drain.store.entries():
            print(f"{entry['level']:<8} {entry['logger']:<16} {entry['message']}  "
                  f"meta={entry.get('meta')}")
        logging.getLogger().removeHandler(handler)
        handler.close()
    print("delivered" if delivered else "NOT DELIVERED")


if __name__ == "__main__":
    main()
