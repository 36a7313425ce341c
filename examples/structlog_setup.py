"""structlog on top of the stdlib handler: the event dict arrives as fields, not as a string.

structlog renders through the standard library here (``structlog.stdlib``), so every
process configured with AstralogHandler ships structlog's events like any other record.
The last processor, ``astralog_fields``, makes the event the message and every other
key/value (bound loggers, ``bind_contextvars``) a field in ``meta``, keeping its type.

    ASTRALOG_ENDPOINT=http://127.0.0.1:8080/v1/drain ASTRALOG_TOKEN=default-secret-token \
    ASTRALOG_PROJECT_ID=dev ASTRALOG_SERVICE=jobs python examples/structlog_setup.py
"""

from __future__ import annotations

import logging.config
from typing import Any, Dict, MutableMapping

import structlog

_PASSED_THROUGH = ("exc_info", "stack_info", "stacklevel")


def astralog_fields(logger: Any, method_name: str,
                    event_dict: MutableMapping[str, Any]) -> Dict[str, Any]:
    """Last processor: ``event`` -> message, ``exc_info``/``stack_info`` -> the record,
    everything else -> ``extra={"meta": ...}`` (typed fields in Astralog)."""
    kwargs: Dict[str, Any] = {key: event_dict.pop(key) for key in _PASSED_THROUGH
                              if key in event_dict}
    message = event_dict.pop("event", "")
    return {"msg": message, "extra": {"meta": dict(event_dict)}, **kwargs}


def configure_structlog() -> None:
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,  # bind_contextvars(...) -> fields
            structlog.stdlib.filter_by_level,
            structlog.stdlib.PositionalArgumentsFormatter(),  # log.info("x %s", y)
            astralog_fields,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def configure_logging() -> None:
    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"astralog": {"()": "astralog_logging.AstralogHandler"}},
        "root": {"level": "INFO", "handlers": ["astralog"]},
    })


def main() -> None:
    configure_logging()
    configure_structlog()
    log = structlog.get_logger("jobs.nightly").bind(job="nightly-report")
    structlog.contextvars.bind_contextvars(run_id="run-42")
    log.info("job started", rows=1200, dry_run=False)
    try:
        1 / 0  # noqa: B018 - a real exception, to see it arrive
    except ZeroDivisionError:
        log.exception("job failed", step="totals")
    print("sent 2 events; see them with: astralog-logging tail")


if __name__ == "__main__":
    main()
