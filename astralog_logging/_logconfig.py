"""The dictConfig skeleton the server integrations share: Astralog plus the console.

gunicorn and uvicorn each take a whole logging configuration from the user; both get the
same shape, differing only in the filter that turns their access lines into fields and in
how their own loggers are routed.
"""

from __future__ import annotations

from typing import Any, Dict, List

CONSOLE_FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"


def server_logconfig(access_filter: str, level: str, console: bool,
                     handler_options: Dict[str, Any]) -> Dict[str, Any]:
    """Root to Astralog (and the console); ``access_filter`` is a dotted Filter class."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"access_fields": {"()": access_filter}},
        "formatters": {"console": {"format": CONSOLE_FORMAT}},
        "handlers": {
            "astralog": {"()": "astralog_logging.AstralogHandler",
                         "filters": ["access_fields"], **handler_options},
            "console": {"class": "logging.StreamHandler", "formatter": "console",
                        "stream": "ext://sys.stderr"},
        },
        "root": {"level": level, "handlers": root_handlers(console)},
    }


def root_handlers(console: bool) -> List[str]:
    return ["astralog", "console"] if console else ["astralog"]
