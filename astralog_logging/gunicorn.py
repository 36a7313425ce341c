"""gunicorn: ``from astralog_logging.gunicorn import *`` in gunicorn.conf.py is the whole setup.

That import provides ``logconfig_dict`` (root, ``gunicorn.error`` and ``gunicorn.access``
to Astralog and to the console; gunicorn sets ``propagate=False`` on its own loggers, so
they are routed explicitly) and the server hooks ``post_fork``, ``worker_exit`` and
``on_exit``. Each piece is importable on its own for
a config that has its own logging: ``build_logconfig(**handler_options)``, ``AccessFields``.

The master configures logging before it forks, so it owns the one listener and every
worker inherits the queue. A bare fork writes each record through to the pipe (nothing
is known to hand its buffer over at exit); ``post_fork`` tells the worker's handlers that
``worker_exit`` will, so workers buffer like any process. gunicorn ends a worker with
``sys.exit`` (a graceful stop, ``max_requests``, a timeout's SIGABRT), which runs
``worker_exit``; the master stops the listener after the last worker, once everything is
delivered.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, Mapping

from ._logconfig import root_handlers, server_logconfig
from .handler import live_handlers

__all__ = [
    "AccessFields", "build_logconfig", "logconfig_dict", "on_exit", "post_fork", "worker_exit",
]


class AccessFields(logging.Filter):
    """Turns gunicorn's access-log atoms into ``meta`` fields (the same keys as the web
    middleware), so access records are queryable, not only a formatted line.

    Only the named fields are taken: the atoms also hold every request header and the
    whole WSGI environ, which is no one's business.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        atoms = record.args
        if isinstance(atoms, Mapping) and "m" in atoms:
            duration_us = atoms.get("D")
            request_id = atoms.get("{x-request-id}i")
            meta: Dict[str, Any] = {
                "method": atoms.get("m"),
                "path": atoms.get("U"),
                "status": _int(atoms.get("s")),
                "duration_ms": duration_us / 1000 if isinstance(duration_us, int) else None,
                "client_ip": atoms.get("h"),
                "user_agent": atoms.get("a"),
            }
            if request_id and request_id != "-":
                meta["request_id"] = request_id
            record.meta = {**getattr(record, "meta", {}), **meta}
        return True


def _int(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def build_logconfig(level: str = "INFO", console: bool = True,
                    **handler_options: Any) -> Dict[str, Any]:
    """A logconfig_dict for gunicorn; ``handler_options`` go to AstralogHandler."""
    config = server_logconfig("astralog_logging.gunicorn.AccessFields", level, console,
                              handler_options)
    handlers = root_handlers(console)  # gunicorn's own loggers do not propagate
    config["loggers"] = {
        "gunicorn.error": {"level": level, "handlers": handlers, "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": handlers, "propagate": False},
    }
    return config


logconfig_dict = build_logconfig()


def post_fork(server: Any, worker: Any) -> None:
    """A worker was forked: ``worker_exit`` will hand its buffer over, so let it buffer."""
    for handler in live_handlers():
        handler.protect_buffer()


def worker_exit(server: Any, worker: Any) -> None:
    """A worker is leaving: put what it buffered into the queue now."""
    for handler in live_handlers():
        handler.hand_over(time.monotonic() + 5.0)


def on_exit(server: Any) -> None:
    """The master is leaving after its last worker: deliver everything, stop the listener."""
    for handler in live_handlers():
        handler.close()
